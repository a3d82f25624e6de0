"""``gdr evaluate``: how often does the (guided) density ratio agree with labelled preferences?

Pairs task (default): records ``{"prompt", "chosen", "rejected"}`` with optional ``domain``,
``subset`` and ``id`` run through the annotation pipeline's own steps and engine:

    ReadCorpus -> LabelledToGroup (a prompt group of 2 candidates: chosen=0, rejected=1)
      -> RouteToGuide -> ScoreCandidates [guided] (+ [unguided] with --compare-guides)
      -> pair results (Parquet, DIR/results/setting=S/) and dead letters (DIR/dead_letter/)

and the launcher computes accuracy (``transforms.evaluation``), writes
``DIR/evaluation.json`` and ``DIR/report.html`` and prints a summary. The guide follows
``--router`` as in annotate (``column`` uses the labelled domain); accuracy is *reported*
per labelled domain (the routed domain where a record has none). With
``--compare-guides`` both settings score the same routed pairs in one Beam job.

Router task (``--task router``): records ``{"prompt", "domain"}`` (optional ``id`` and
``case``, a hard-case tag) are routed by every router in ``--routers`` (default: keyword,
plus embedding and llm when a router model is known) in one Beam job, each on the same
records, and compared with their label: one table of accuracy, recall per domain, the
confusion matrix and prompts per second per router (routing time only: the model load
and the embedding router's one-off centroid pass are excluded and reported apart).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.metrics.metric import MetricsFilter

from beam_pipeline.config import (
    ConfigError,
    check_scoring_options,
    model_settings_for,
    pair_members,
    resolve_model_source,
)
from beam_pipeline.html_report import Report, bar_chart, histograms, pct, write_bytes
from beam_pipeline.options import AnnotateOptions, unknown_flags
from beam_pipeline.output_tables import read_dead_letters, read_table_rows
from beam_pipeline.run import UserError, setup_logging
from guides import NO_GUIDE_ID, Guide, GuideError, RouterExample, routing_examples
from transforms.evaluation import (
    accuracy_report,
    compare_reports,
    example_id,
    is_correct,
    parse_labelled_pair,
    parse_router_example,
    router_report,
)
from transforms.io import DEAD_LETTER, ReadCorpus, WriteJsonl, WritePartitionedParquet, dead_letter, expand_patterns
from transforms.model_pool import ModelSettings
from transforms.records import RecordError, jsonable
from transforms.routers import MODEL_ROUTERS, RouterExamplesError, check_router_examples
from transforms.routing import RouteToGuide
from transforms.schemas import MESSAGES
from transforms.scoring import ScoreCandidates

log = logging.getLogger("gdr")

TASKS = ("pairs", "router")
# What --task router compares by default: the model-free router, and the model routers when a model is known.
EVAL_ROUTERS = ("keyword", "embedding", "llm")
# annotate flags that mean nothing when evaluating: accepted (scripts may share flags) but hidden.
HIDDEN_FLAGS = ("pairing", "min_margin", "seed", "run_date", "output_shards", "rescore")

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
        ("pair_id", pa.string()),
        ("id", pa.string()),
        ("source", pa.string()),
        ("router", pa.string()),
        ("case", pa.string()),
        ("label_domain", pa.string()),
        ("routed_domain", pa.string()),
        ("router_confidence", pa.float64()),
    ]
)


# -- configuration ------------------------------------------------------------------------


@dataclass
class EvaluateConfig:
    """Settings of ``gdr evaluate`` (and the shared part of ``gdr sweep``)."""

    input: list[str]
    output: str
    strong: str | None = None
    weak: str | None = None
    guides: str = "builtin"
    router: str = "llm"
    router_model: str | None = None
    router_threshold: float = 0.5
    default_domain: str = "chat"
    reward: str = "sum"
    max_tokens: int | None = None
    batch_tokens: int = 8192
    dtype: str = "auto"
    device: str = "auto"
    score_retries: int = 2
    trust_remote_code: bool = False
    allow_pickle: bool = False
    task: str = "pairs"
    compare_guides: bool = False
    pair: str | None = None  # a registry pair name; --strong/--weak override its members
    router_examples: str | None = None  # JSONL of {prompt, domain} added to the guides' examples
    routers: str | None = None  # --task router: comma-separated routers to compare

    input_files: list[tuple[str, int]] = field(default_factory=list, repr=False)
    guide_set: dict[str, Guide] | None = field(default=None, repr=False)
    router_example_set: tuple[RouterExample, ...] = field(default=(), repr=False)
    router_list: list[str] = field(default_factory=list, repr=False)

    @property
    def reward_key(self) -> str:
        return "reward" if self.reward == "sum" else "reward_mean"

    @property
    def settings(self) -> list[str]:
        """Guide settings to score: guided and/or unguided."""
        if self.guide_set is None:
            return ["unguided"]
        return ["guided", "unguided"] if self.compare_guides else ["guided"]

    def model_settings(self, name: str) -> ModelSettings:
        return model_settings_for(self, name)

    def router_settings(self, fallback: str | None, router: str | None = None) -> ModelSettings | None:
        """A model router's model (``--router-model``, else ``fallback``); None for other routers."""
        if (router or self.router) not in MODEL_ROUTERS or self.guide_set is None:
            return None
        return self.model_settings(self.router_model or fallback)

    def _routers_to_compare(self) -> list[str]:
        has_model = bool(self.router_model or self.strong or self.pair)
        if self.routers:
            names = [r.strip() for r in self.routers.split(",") if r.strip()]
            bad = [r for r in names if r not in EVAL_ROUTERS]
            if bad or not names:
                raise ConfigError(f"--routers takes a comma-separated list of {', '.join(EVAL_ROUTERS)}")
        elif has_model:
            names = list(EVAL_ROUTERS)
        else:
            names = [self.router]
        if any(r in MODEL_ROUTERS for r in names) and not has_model:
            raise ConfigError("--task router with a model router (llm, embedding) needs --router-model (or --strong)")
        return list(dict.fromkeys(names))

    def validate(self, need_pair: bool = True) -> EvaluateConfig:
        self.guide_set = check_scoring_options(self, (("--task", self.task, TASKS),))
        if self.compare_guides and self.guide_set is None:
            raise ConfigError(
                "--compare-guides compares guided with unguided scoring; it needs guides, not --guides none"
            )
        if self.task == "router":
            if self.guide_set is None:
                raise ConfigError("--task router needs guides to route to (not --guides none)")
            if self.router == "column":
                raise ConfigError(
                    "--task router measures the llm or keyword router; --router column only copies labels"
                )
            if self.router in MODEL_ROUTERS and not (self.router_model or self.strong or self.pair):
                raise ConfigError(f"--task router with --router {self.router} needs --router-model (or --strong)")
            self.router_list = self._routers_to_compare()
        if self.guide_set is not None:
            try:
                self.router_example_set = routing_examples(self.guides, self.guide_set, self.router_examples)
                if "embedding" in (self.router_list or [self.router]):
                    check_router_examples(self.guide_set, self.router_example_set)
            except (GuideError, RouterExamplesError) as exc:
                raise ConfigError(str(exc)) from None
        # Inputs before models: preparing a registry model can take minutes, a typo in --input should not.
        files, unmatched = expand_patterns(self.input)
        if unmatched:
            raise ConfigError(f"--input matched no files: {', '.join(unmatched)}")
        self.input_files = files
        if self.pair:
            strong, weak = pair_members(self.pair)
            self.strong, self.weak = self.strong or strong, self.weak or weak
        if self.task == "pairs" and need_pair and not (self.strong and self.weak):
            raise ConfigError("missing required flag(s): --pair or --strong/--weak")
        for attr in ("strong", "weak", "router_model"):
            if getattr(self, attr):
                setattr(self, attr, resolve_model_source(getattr(self, attr), self.allow_pickle))
        return self


def shared_parser(prog: str, description: str, hidden: tuple[str, ...]) -> argparse.ArgumentParser:
    """annotate's flags (same names, defaults and help), with those that do not apply hidden."""
    parser = argparse.ArgumentParser(prog=prog, description=description, allow_abbrev=False)
    AnnotateOptions._add_argparse_args(parser)
    for action in parser._actions:
        if action.dest in hidden:
            action.help = argparse.SUPPRESS
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def evaluate_parser() -> argparse.ArgumentParser:
    parser = shared_parser(
        "gdr evaluate",
        "Measure the density-ratio reward against labelled preferences ({prompt, chosen, rejected} records, "
        "optional domain and subset): accuracy overall, per domain and per subset, guided and unguided "
        "(--compare-guides); or the router against {prompt, domain} records (--task router). Writes "
        "DIR/evaluation.json and DIR/report.html. Beam pipeline options pass through.",
        HIDDEN_FLAGS,
    )
    g = parser.add_argument_group("evaluation")
    g.add_argument("--task", default="pairs", choices=TASKS, help="pairs (default): reward accuracy; router: routing")
    g.add_argument(
        "--routers",
        default=None,
        help="--task router: comma-separated routers to compare on the same prompts (default: keyword, and "
        "embedding,llm when a router model is known)",
    )
    g.add_argument(
        "--compare-guides",
        dest="compare_guides",
        action="store_true",
        help="score the same pairs with the guides and without (--guides none) and report both",
    )
    return parser


CONFIG_FIELDS = (
    "input",
    "output",
    "strong",
    "weak",
    "guides",
    "router",
    "router_model",
    "router_threshold",
    "default_domain",
    "reward",
    "max_tokens",
    "batch_tokens",
    "dtype",
    "device",
    "score_retries",
    "trust_remote_code",
    "allow_pickle",
)


def split_args(parser: argparse.ArgumentParser, argv: list[str], command: str) -> tuple[argparse.Namespace, list[str]]:
    """App flags and the rest (Beam options); unknown flags are a user error."""
    known, rest = parser.parse_known_args(argv)
    unknown = unknown_flags(rest)
    if unknown:
        raise UserError(f"unknown flag(s): {' '.join(unknown)} (see gdr {command} --help)")
    for name in ("input", "output"):
        if not getattr(known, name):
            raise UserError(f"missing required flag(s): --{name}")
    return known, rest


def parse_evaluate_args(argv: list[str]) -> tuple[EvaluateConfig, list[str]]:
    known, rest = split_args(evaluate_parser(), argv, "evaluate")
    values = {k: getattr(known, k) for k in CONFIG_FIELDS}
    return (
        EvaluateConfig(
            **values,
            task=known.task,
            compare_guides=known.compare_guides,
            pair=getattr(known, "pair", None),
            # --router-examples is an annotate flag (options.py); read it where it exists.
            router_examples=getattr(known, "router_examples", None),
            routers=known.routers,
        ),
        rest,
    )


# -- Beam steps ---------------------------------------------------------------------------


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


class _RouterExampleToGroup(beam.DoFn):
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


class _PairResult(beam.DoFn):
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


def read_labelled(p: beam.Pipeline, config: EvaluateConfig):
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
            _PairResult(setting, config.reward)
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
        "pair_id": g["prompt_id"],
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
    groups = read["records"] | "RouterExamples" >> beam.ParDo(_RouterExampleToGroup()).with_outputs(
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
        f"{out}/results", ROUTER_SCHEMA, "router", lambda r: r["pair_id"]
    )
    dead = (read[DEAD_LETTER], groups[DEAD_LETTER]) | "AllDeadLetters" >> beam.Flatten()
    _ = dead | "WriteDeadLetters" >> WriteJsonl(f"{out}/dead_letter")
    return {"results": rows, "dead_letter": dead}


def run_beam(build, config: EvaluateConfig, beam_args: list[str], tables=("results", "dead_letter")):
    """Run the graph staged; only when it succeeded do its tables replace the previous ones. Returns the result."""
    from beam_pipeline.staged_run import run_staged

    return run_staged(build, config, beam_args, tables)


def route_seconds(result, routers: list[str], counter: str = "route_microseconds") -> dict[str, float | None]:
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


# -- metrics and report -------------------------------------------------------------------


def pair_metrics(rows: list[dict[str, Any]], settings: list[str]) -> dict[str, Any]:
    """evaluation.json's metric part: one accuracy report, or guided/unguided/difference."""
    reports = {s: accuracy_report(r for r in rows if r["setting"] == s) for s in settings}
    if len(settings) == 1:
        return {**reports[settings[0]], "setting": settings[0]}
    return {**reports, "difference": compare_reports(reports["guided"], reports["unguided"])}


def _dead_summary(dead: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in dead:
        key = f"{e.get('stage')}: {e.get('reason')}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def write_pairs_report(folder: str, evaluation: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """DIR/report.html: headline accuracy, per-domain bars (guided vs unguided), margin histograms, tables."""
    settings = evaluation["settings"]
    per = {s: (evaluation[s] if len(settings) > 1 else evaluation) for s in settings}
    rep = Report(folder, "gdr evaluate: reward accuracy on labelled pairs")
    for s in settings:
        o = per[s]["overall"]
        rep.stat(f"accuracy ({s})", pct(o["accuracy"]), f"{o['correct']} of {o['n']} pairs")
    if len(settings) > 1:
        d = evaluation["difference"]["overall"]
        rep.stat("guides add", "–" if d is None else f"{100 * d:+.1f} pts", "guided − unguided")
    rep.stat("dead letters", str(evaluation["counts"]["dead_letters"]))
    m = evaluation["models"]
    rep.note(
        f"strong {m['strong']} over weak {m['weak']}; reward {evaluation['reward']}; router {evaluation['router']}. "
        "Correct means reward(chosen) > reward(rejected) strictly (ties are wrong). Accuracy is per pair; "
        "'subset mean' weighs every subset equally (RewardBench-style); 50% is chance."
    )
    domains = sorted({d for s in settings for d in per[s]["by_domain"]})
    rep.heading("Accuracy per domain")
    if domains:
        rep.figure(
            "accuracy_by_domain",
            bar_chart(
                domains,
                {s: [per[s]["by_domain"].get(d, {}).get("accuracy") for d in domains] for s in settings},
                "Share of pairs where reward(chosen) > reward(rejected)",
                "accuracy",
                ylim=(0.0, 1.08),
                percent=True,
                reference=0.5,
            ),
        )
    header = ["domain", "n"] + [f"accuracy {s}" for s in settings] + [f"subset mean {s}" for s in settings]
    if len(settings) > 1:
        header.append("difference")
    table = []
    for d in domains:
        n = max(per[s]["by_domain"].get(d, {}).get("n", 0) for s in settings)
        line: list[Any] = [d, n]
        line += [pct(per[s]["by_domain"].get(d, {}).get("accuracy")) for s in settings]
        line += [pct(per[s]["by_domain"].get(d, {}).get("subset_mean")) for s in settings]
        if len(settings) > 1:
            diff = evaluation["difference"]["by_domain"].get(d)
            line.append("–" if diff is None else f"{100 * diff:+.1f} pts")
        table.append(line)
    rep.table(header, table)
    rep.heading("Reward margin: reward(chosen) − reward(rejected)")
    if rows:
        overlay = {
            d: {s: [r["margin"] for r in rows if r["domain"] == d and r["setting"] == s] for s in settings}
            for d in domains
        }
        rep.figure(
            "margin_by_domain",
            histograms({}, "reward(chosen) − reward(rejected) per pair", "margin", vline=0.0, overlay=overlay),
            "Right of the dashed line: the reward agrees with the label.",
        )
    subsets = sorted({k for s in settings for k in per[s]["by_subset"]})
    rep.heading("Per subset")
    rep.table(
        ["subset", "n"] + [f"accuracy {s}" for s in settings],
        [
            [k, max(per[s]["by_subset"].get(k, {}).get("n", 0) for s in settings)]
            + [pct(per[s]["by_subset"].get(k, {}).get("accuracy")) for s in settings]
            for k in subsets
        ],
    )
    if evaluation["dead_letter_reasons"]:
        rep.heading("Dead letters")
        rep.table(["reason", "count"], list(evaluation["dead_letter_reasons"].items()))
    return rep.write()


def router_table(evaluation: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """One row per router: accuracy, recall per domain, hard-case accuracy, prompts/s (the README's table)."""
    routers = evaluation["routers"]
    domains = sorted({d for r in routers.values() for d in r["recall"]})
    header = ["router", "accuracy", *[f"{d} recall" for d in domains], "hard cases", "prompts/s"]
    rows = []
    for name, r in routers.items():
        speed = r["prompts_per_s"]
        rows.append(
            [
                name,
                pct(r["accuracy"]),
                *[pct(r["recall"].get(d)) for d in domains],
                pct(r["hard_case_accuracy"]),
                "–" if speed is None else f"{speed:.1f}",
            ]
        )
    return header, rows


def write_router_report(folder: str, evaluation: dict[str, Any]) -> str:
    rep = Report(folder, "gdr evaluate: routers")
    for name, r in evaluation["routers"].items():
        rep.stat(f"{name} accuracy", pct(r["accuracy"]), f"{r['n']} prompts")
    rep.stat("dead letters", str(evaluation["counts"]["dead_letters"]))
    rep.note(
        f"router model {evaluation['router_model'] or 'none'}; every router routed the same prompts. "
        "Prompts/s counts routing time only (model load and the embedding router's centroid pass excluded)."
    )
    header, rows = router_table(evaluation)
    rep.table(header, rows)
    routers = evaluation["routers"]
    domains = sorted({d for r in routers.values() for d in r["recall"]})
    if domains:
        rep.figure(
            "recall_by_domain",
            bar_chart(
                domains,
                {name: [r["recall"].get(d) for d in domains] for name, r in routers.items()},
                "Recall per true domain",
                "recall",
                ylim=(0.0, 1.08),
                percent=True,
            ),
        )
    cases = sorted({c for r in routers.values() for c in r["by_case"]})
    if cases:
        rep.heading("Accuracy per case (hard-case tags of the router set)")
        rep.table(
            ["case", "n", *routers],
            [
                [c, max(r["by_case"].get(c, {}).get("n", 0) for r in routers.values())]
                + [pct(r["by_case"].get(c, {}).get("accuracy")) for r in routers.values()]
                for c in cases
            ],
        )
    for name, r in routers.items():
        labels = list(r["confusion"])
        rep.heading(f"{name}: confusion matrix (rows: true domain, columns: routed)")
        rep.table(["true \\ routed", *labels], [[t, *[r["confusion"][t][p] for p in labels]] for t in labels])
    return rep.write()


def print_pairs_summary(evaluation: dict[str, Any], out=sys.stdout) -> None:
    settings = evaluation["settings"]
    per = {s: (evaluation[s] if len(settings) > 1 else evaluation) for s in settings}
    lines = [
        f"gdr evaluate: {evaluation['counts']['pairs_evaluated']} pair(s) scored in {evaluation['wall_time_s']:.1f}s, "
        f"{evaluation['counts']['dead_letters']} dead letter(s)"
    ]
    for s in settings:
        o = per[s]["overall"]
        lines.append(f"  {s:<9} accuracy {pct(o['accuracy'])} ({o['correct']}/{o['n']})")
    domains = sorted({d for s in settings for d in per[s]["by_domain"]})
    for d in domains:
        parts = [f"{s} {pct(per[s]['by_domain'].get(d, {}).get('accuracy'))}" for s in settings]
        n = max(per[s]["by_domain"].get(d, {}).get("n", 0) for s in settings)
        diff = evaluation.get("difference", {}).get("by_domain", {}).get(d)
        extra = "" if diff is None else f"  ({100 * diff:+.1f} pts)"
        lines.append(f"  {d:<12} n={n:<4} " + ", ".join(parts) + extra)
    lines.append(f"  evaluation  {evaluation['paths']['evaluation']}")
    lines.append(f"  report      {evaluation['paths']['report']}")
    print("\n".join(lines), file=out)


def evaluate_pairs(config: EvaluateConfig, beam_args: list[str]) -> dict[str, Any]:
    """Run the pairs task end to end; returns evaluation.json's content."""
    started = time.time()
    out = config.output.rstrip("/")
    run_beam(build_evaluate_pipeline, config, beam_args)
    rows = read_table_rows(f"{out}/results", [f.name for f in RESULTS_SCHEMA])
    dead = read_dead_letters(f"{out}/dead_letter")
    evaluation = {
        "task": "pairs",
        "settings": config.settings,
        **pair_metrics(rows, config.settings),
        "reward": config.reward,
        "router": config.router,
        "models": {"strong": config.strong, "weak": config.weak, "router": config.router_model},
        "guides": {g.id: g.version for g in (config.guide_set or {}).values()},
        "input_files": [p for p, _ in config.input_files],
        "counts": {
            "pairs_evaluated": len({r["pair_id"] for r in rows}),
            "dead_letters": len(dead),
        },
        "dead_letter_reasons": _dead_summary(dead),
    }
    evaluation["wall_time_s"] = round(time.time() - started, 2)
    evaluation["paths"] = {
        "evaluation": f"{out}/evaluation.json",
        "report": f"{out}/report.html",
        "results": f"{out}/results",
        "dead_letter": f"{out}/dead_letter",
    }
    write_pairs_report(out, evaluation, rows)
    _write_json(f"{out}/evaluation.json", evaluation)
    return evaluation


# Cases in the router sets that are not hard: everything else counts towards "hard cases".
PLAIN_CASES = ("plain", None)


def router_metrics(rows: list[dict[str, Any]], seconds: float | None) -> dict[str, Any]:
    """One router's report: accuracy, recall, confusion, accuracy per case, prompts/s."""
    report = router_report((r["label_domain"], r["routed_domain"]) for r in rows)
    by_case: dict[str, dict[str, Any]] = {}
    for case in sorted({r["case"] for r in rows if r["case"]}):
        sub = [r for r in rows if r["case"] == case]
        by_case[case] = {
            "n": len(sub),
            "accuracy": sum(r["label_domain"] == r["routed_domain"] for r in sub) / len(sub),
        }
    hard = [r for r in rows if r["case"] not in PLAIN_CASES]
    report["by_case"] = by_case
    report["hard_case_accuracy"] = (
        sum(r["label_domain"] == r["routed_domain"] for r in hard) / len(hard) if hard else None
    )
    report["route_seconds"] = None if seconds is None else round(seconds, 3)
    report["prompts_per_s"] = round(len(rows) / seconds, 2) if seconds and rows else None
    return report


def evaluate_router(config: EvaluateConfig, beam_args: list[str]) -> dict[str, Any]:
    started = time.time()
    out = config.output.rstrip("/")
    routers = config.router_list or [config.router]
    result = run_beam(build_router_pipeline, config, beam_args)
    seconds = route_seconds(result, routers)
    setup = route_seconds(result, routers, "route_setup_microseconds")
    rows = read_table_rows(f"{out}/results", [f.name for f in ROUTER_SCHEMA])
    dead = read_dead_letters(f"{out}/dead_letter")
    per_router = {r: router_metrics([x for x in rows if x["router"] == r], seconds[r]) for r in routers}
    for r in routers:
        per_router[r]["setup_seconds"] = None if setup[r] is None else round(setup[r], 3)
    # The top-level figures are --router's (or the first compared router's), as before.
    primary = config.router if config.router in per_router else routers[0]
    uses_model = any(r in MODEL_ROUTERS for r in routers)
    evaluation = {
        "task": "router",
        **{k: per_router[primary][k] for k in ("accuracy", "n", "recall", "confusion")},
        "router": primary,
        "routers": per_router,
        "router_model": (config.router_model or config.strong) if uses_model else None,
        "router_threshold": config.router_threshold,
        "default_domain": config.default_domain,
        "router_examples": config.router_examples,
        "input_files": [p for p, _ in config.input_files],
        "guides": {g.id: g.version for g in (config.guide_set or {}).values()},
        "counts": {"dead_letters": len(dead)},
        "dead_letter_reasons": _dead_summary(dead),
        "wall_time_s": round(time.time() - started, 2),
        "paths": {"evaluation": f"{out}/evaluation.json", "report": f"{out}/report.html"},
    }
    write_router_report(out, evaluation)
    _write_json(f"{out}/evaluation.json", evaluation)
    return evaluation


def print_router_summary(evaluation: dict[str, Any], out=None) -> None:
    header, rows = router_table(evaluation)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    lines = [f"gdr evaluate --task router: {evaluation['n']} prompt(s), router model {evaluation['router_model']}"]
    for line in [header, *rows]:
        lines.append("  " + "  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip())
    lines.append(f"  evaluation  {evaluation['paths']['evaluation']}")
    lines.append(f"  report      {evaluation['paths']['report']}")
    print("\n".join(lines), file=out or sys.stdout)


def _write_json(path: str, obj: Any) -> None:
    write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode("utf-8"))


def run(argv: list[str] | None = None) -> int:
    """Entry point of ``gdr evaluate``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    setup_logging("-v" in argv or "--verbose" in argv)
    try:
        config, beam_args = parse_evaluate_args(argv)
        config.validate()
        if config.task == "router":
            ev = evaluate_router(config, beam_args)
        else:
            ev = evaluate_pairs(config, beam_args)
    except (UserError, ConfigError) as exc:
        print(f"gdr: error: {exc}", file=sys.stderr)
        return 2
    if config.task == "router":
        print_router_summary(ev)
    else:
        print_pairs_summary(ev)
    return 0
