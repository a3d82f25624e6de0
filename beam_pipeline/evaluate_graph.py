"""The Beam side of ``gdr evaluate``: its steps, its two graphs and the tables they write.

Pairs task: records ``{"prompt", "chosen", "rejected"}`` with optional ``domain``,
``subset`` and ``id`` run through the annotation pipeline's own steps and engine:

    ReadCorpus -> LabelledToGroup (a prompt group of 2 candidates: chosen=0, rejected=1)
      -> RouteToGuide -> ScoreCandidates [guided] (+ [unguided] with --compare-guides)
      -> pair results (Parquet, DIR/results/setting=S/) and dead letters (DIR/dead_letter/)

The guide follows ``--router`` as in annotate (``column`` uses the labelled domain). Routing
runs once (``read_labelled``, which ``gdr sweep`` builds on too); with ``--compare-guides``
both settings score the same routed pairs in one Beam job.

Router task: records ``{"prompt", "domain"}`` (optional ``id`` and ``case``) are routed by
every compared router, one ``RouteToGuide[router]`` step each, on the same records; the
(label, routed) rows go to DIR/results/router=R/. ``route_seconds`` reads each step's
routing time back from the job's Beam metrics.

The graphs take the command's settings (``beam_pipeline.evaluate.EvaluateConfig``) and
only read their attributes; this module does not import the command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.metrics.metric import MetricsFilter

from guides import NO_GUIDE_ID
from transforms.evaluation import example_id, is_correct, parse_labelled_pair, parse_router_example
from transforms.io import DEAD_LETTER, ReadCorpus, WriteJsonl, WritePartitionedParquet, dead_letter
from transforms.records import RecordError, jsonable
from transforms.routing import RouteToGuide
from transforms.schemas import MESSAGES
from transforms.scoring import ScoreCandidates

if TYPE_CHECKING:
    from apache_beam.runners.runner import PipelineResult

    from beam_pipeline.evaluate import EvaluateConfig


RESULTS_SCHEMA = pa.schema(
    [
        ("pair_id", pa.string()),
        ("id", pa.string()),
        ("source", pa.string()),
        ("setting", pa.string()),  # guided | unguided
        ("domain", pa.string()),  # reported under: the label, else the routed domain
        ("label_domain", pa.string()),
        ("routed_domain", pa.string()),
        ("router_confidence", pa.float64()),
        ("guide_id", pa.string()),
        ("subset", pa.string()),
        ("prompt", MESSAGES),
        ("chosen", pa.string()),
        ("rejected", pa.string()),
        ("reward", pa.string()),  # sum | mean: which reward chosen_reward/rejected_reward are
        ("chosen_reward", pa.float64()),
        ("rejected_reward", pa.float64()),
        ("margin", pa.float64()),
        ("correct", pa.bool_()),
        ("chosen_longer", pa.bool_()),  # len(chosen) > len(rejected) in characters: the length split
        ("chosen_logp_strong", pa.float64()),
        ("chosen_logp_weak", pa.float64()),
        ("rejected_logp_strong", pa.float64()),
        ("rejected_logp_weak", pa.float64()),
        ("chosen_n_strong", pa.int32()),
        ("chosen_n_weak", pa.int32()),
        ("rejected_n_strong", pa.int32()),
        ("rejected_n_weak", pa.int32()),
    ]
)

ROUTER_SCHEMA = pa.schema(
    [
        ("example_id", pa.string()),  # a labelled prompt, not a preference pair
        ("id", pa.string()),
        ("source", pa.string()),
        ("router", pa.string()),
        ("case", pa.string()),
        ("label_domain", pa.string()),
        ("routed_domain", pa.string()),
        ("router_confidence", pa.float64()),
    ]
)


class LabelledToGroup(beam.DoFn):
    """``{"source", "raw"}`` labelled record -> prompt group with candidates chosen (0) and rejected (1).

    The labelled domain becomes the routing hint only for ``--router column`` (there it must
    name a guide); other routers decide the guide themselves and the label is kept for reporting.
    """

    def __init__(self, router: str, known_domains: frozenset[str] | None):
        self.router, self.known_domains = router, known_domains

    def process(self, item: dict[str, Any]):
        source, raw = item["source"], item["raw"]
        try:
            rec = parse_labelled_pair(raw)
            hint = rec["domain"] if self.router == "column" else None
            if hint and self.known_domains is not None and hint not in self.known_domains:
                raise RecordError(f"unknown domain {hint!r} (guides: {', '.join(sorted(self.known_domains))})")
        except RecordError as exc:
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter("parse", str(exc), source, jsonable(raw)))
            return
        yield {
            "prompt_id": example_id(source, rec["conversation"]),
            "conversation": rec["conversation"],
            "domain_hint": hint,
            "metadata": None,
            "label_domain": rec["domain"],
            "subset": rec["subset"],
            "record_id": rec["id"],
            "source": source,
            "candidates": [
                {"response_index": 0, "response": rec["chosen"], "source": source},
                {"response_index": 1, "response": rec["rejected"], "source": source},
            ],
        }


class RouterExampleToGroup(beam.DoFn):
    def process(self, item: dict[str, Any]):
        source, raw = item["source"], item["raw"]
        try:
            rec = parse_router_example(raw)
        except RecordError as exc:
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter("parse", str(exc), source, jsonable(raw)))
            return
        case = raw.get("case")
        yield {
            "prompt_id": example_id(source, rec["conversation"]),
            "conversation": rec["conversation"],
            "domain_hint": None,  # the label is what the router is measured against, never a hint
            "metadata": None,
            "label_domain": rec["domain"],
            "record_id": rec["id"],
            "case": None if case is None else str(case),
            "source": source,
        }


class PairResult(beam.DoFn):
    """A scored group (chosen and rejected) -> one result row; a pair missing a score -> dead letter."""

    def __init__(self, setting: str, reward: str):
        self.setting, self.reward = setting, reward

    def process(self, group: dict[str, Any]):
        by_index = {s["response_index"]: s for s in group["scored"]}
        if 0 not in by_index or 1 not in by_index:
            # The failing candidate is dead-lettered by ScoreCandidates with the engine's reason.
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER,
                dead_letter(
                    "evaluate",
                    "pair left out: its chosen or rejected response could not be scored (see the 'score' entry)",
                    group["source"],
                    {"prompt": group["conversation"]},
                    setting=self.setting,
                ),
            )
            return
        key = "reward" if self.reward == "sum" else "reward_mean"
        c, r = by_index[0], by_index[1]
        yield {
            "pair_id": group["prompt_id"],
            "id": group.get("record_id"),
            "source": group["source"],
            "setting": self.setting,
            "domain": group.get("label_domain") or group["domain"],
            "label_domain": group.get("label_domain"),
            "routed_domain": group["domain"],
            "router_confidence": group["router_confidence"],
            "guide_id": group["guide_id"] if self.setting == "guided" else NO_GUIDE_ID,
            "subset": group.get("subset"),
            "prompt": group["conversation"],
            "chosen": c["response"],
            "rejected": r["response"],
            "reward": self.reward,
            "chosen_reward": c[key],
            "rejected_reward": r[key],
            "margin": c[key] - r[key],
            "correct": is_correct(c[key], r[key]),
            "chosen_longer": len(c["response"]) > len(r["response"]),
            "chosen_logp_strong": c["logp_strong"],
            "chosen_logp_weak": c["logp_weak"],
            "rejected_logp_strong": r["logp_strong"],
            "rejected_logp_weak": r["logp_weak"],
            "chosen_n_strong": c["n_tokens_strong"],
            "chosen_n_weak": c["n_tokens_weak"],
            "rejected_n_strong": r["n_tokens_strong"],
            "rejected_n_weak": r["n_tokens_weak"],
        }


def read_labelled(p: beam.Pipeline, config: EvaluateConfig) -> tuple[beam.PCollection, list[beam.PCollection]]:
    """ReadCorpus -> labelled prompt groups -> RouteToGuide: (routed groups, dead letters).

    Routing runs once; every scoring branch (guide setting, model) reads the same decisions.
    """
    guides = config.guide_set
    read = p | "ReadCorpus" >> ReadCorpus(config.input_files)
    groups = read["records"] | "LabelledToGroup" >> beam.ParDo(
        LabelledToGroup(config.router, frozenset(guides) if guides else None)
    ).with_outputs(DEAD_LETTER, main="groups")
    routed = groups.groups | "RouteToGuide" >> RouteToGuide(
        guides,
        config.router,
        config.default_domain,
        config.router_settings(config.strong),
        config.router_threshold,
        router_examples=config.router_example_set,
    )
    return routed, [read[DEAD_LETTER], groups[DEAD_LETTER]]


def build_evaluate_pipeline(p: beam.Pipeline, config: EvaluateConfig) -> dict[str, Any]:
    """Add the pairs-task steps to ``p``; results go to ``DIR/results``, dead letters to ``DIR/dead_letter``."""
    out = config.output.rstrip("/")
    routed, dead = read_labelled(p, config)
    strong, weak = config.model_settings(config.strong), config.model_settings(config.weak)
    results = []
    for setting in config.settings:
        guides = config.guide_set if setting == "guided" else None
        scored = routed | f"Score[{setting}]" >> ScoreCandidates(strong, weak, guides, config.score_retries)
        rows = scored["scored"] | f"PairResults[{setting}]" >> beam.ParDo(
            PairResult(setting, config.reward)
        ).with_outputs(DEAD_LETTER, main="rows")
        results.append(rows.rows)
        stamp = beam.Map(lambda e, s: {**e, "setting": s}, setting)
        dead += [scored[DEAD_LETTER] | f"StampScoreDead[{setting}]" >> stamp, rows[DEAD_LETTER]]
    rows = results | "AllResults" >> beam.Flatten()
    _ = rows | "WriteResults" >> WritePartitionedParquet(
        f"{out}/results", RESULTS_SCHEMA, "setting", lambda r: r["pair_id"]
    )
    dead_all = dead | "AllDeadLetters" >> beam.Flatten()
    _ = dead_all | "WriteDeadLetters" >> WriteJsonl(f"{out}/dead_letter")
    return {"results": rows, "dead_letter": dead_all}


def _router_row(g: dict[str, Any], router: str) -> dict[str, Any]:
    return {
        "example_id": g["prompt_id"],
        "id": g["record_id"],
        "source": g["source"],
        "router": router,
        "case": g.get("case"),
        "label_domain": g["label_domain"],
        "routed_domain": g["domain"],
        "router_confidence": g["router_confidence"],
    }


def route_step_name(router: str) -> str:
    return f"RouteToGuide[{router}]"


def build_router_pipeline(p: beam.Pipeline, config: EvaluateConfig) -> dict[str, Any]:
    """Add the router-task steps to ``p``: every router routes the same labelled prompts; (label, routed) rows.

    The model routers share one loaded copy of the router model (the machine's pooled copy).
    """
    out = config.output.rstrip("/")
    guides = config.guide_set
    read = p | "ReadCorpus" >> ReadCorpus(config.input_files)
    groups = read["records"] | "RouterExamples" >> beam.ParDo(RouterExampleToGroup()).with_outputs(
        DEAD_LETTER, main="groups"
    )
    branches = []
    for router in config.router_list or [config.router]:
        routed = groups.groups | route_step_name(router) >> RouteToGuide(
            guides,
            router,
            config.default_domain,
            config.router_settings(config.strong, router),
            config.router_threshold,
            router_examples=config.router_example_set,
        )
        branches.append(routed | f"RouterRows[{router}]" >> beam.Map(_router_row, router))
    rows = branches | "AllRouterRows" >> beam.Flatten()
    _ = rows | "WriteResults" >> WritePartitionedParquet(
        f"{out}/results", ROUTER_SCHEMA, "router", lambda r: r["example_id"]
    )
    dead = (read[DEAD_LETTER], groups[DEAD_LETTER]) | "AllDeadLetters" >> beam.Flatten()
    _ = dead | "WriteDeadLetters" >> WriteJsonl(f"{out}/dead_letter")
    return {"results": rows, "dead_letter": dead}


def route_seconds(
    result: PipelineResult, routers: list[str], counter: str = "route_microseconds"
) -> dict[str, float | None]:
    """Seconds each router spent routing (``gdr/route_microseconds`` of its step); None where unknown."""
    found: dict[str, float] = {}
    try:
        counters = result.metrics().query(MetricsFilter().with_name(counter))["counters"]
    except Exception:  # a runner without metrics: the table says "–"
        return dict.fromkeys(routers)
    for c in counters:
        for r in routers:
            if route_step_name(r) in c.key.step:
                value = c.committed if c.committed is not None else c.attempted
                found[r] = found.get(r, 0.0) + (value or 0) / 1e6
    return {r: found.get(r) for r in routers}
