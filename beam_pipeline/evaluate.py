"""``gdr evaluate``: how often does the (guided) density ratio agree with labelled preferences?

The command: its settings (``EvaluateConfig``, which ``gdr sweep`` extends), its flags, and
the launcher that runs one of two tasks as a staged Beam job (the graphs:
``beam_pipeline.evaluate_graph``), then writes and prints what it measured (metrics and
presentation: ``beam_pipeline.evaluate_report``).

Pairs task (default): records ``{"prompt", "chosen", "rejected"}`` with optional ``domain``,
``subset`` and ``id`` are scored by the annotation pipeline's own steps and engine, and the
launcher computes accuracy (``transforms.evaluation``), writes ``DIR/evaluation.json`` and
``DIR/report.html`` and prints a summary. The guide follows ``--router`` as in annotate
(``column`` uses the labelled domain); accuracy is *reported* per labelled domain (the
routed domain where a record has none). With ``--compare-guides`` both settings score the
same routed pairs in one Beam job.

Router task (``--task router``): records ``{"prompt", "domain"}`` (optional ``id`` and
``case``, a hard-case tag) are routed by every router in ``--routers`` (default: keyword,
plus embedding and llm when a router model is known) in one Beam job, each on the same
records, and compared with their label: one table of accuracy, recall per domain, the
confusion matrix and prompts per second per router (routing time only: the model load
and the embedding router's one-off example pass and fit are excluded and reported apart).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from beam_pipeline.config import resolve_model_source
from beam_pipeline.evaluate_graph import (
    RESULTS_SCHEMA,
    ROUTER_SCHEMA,
    build_evaluate_pipeline,
    build_router_pipeline,
    route_seconds,
)
from beam_pipeline.evaluate_report import (
    dead_summary,
    pair_metrics,
    print_pairs_summary,
    print_router_summary,
    router_metrics,
    write_json,
    write_pairs_report,
    write_router_report,
)
from beam_pipeline.launch import Command, launch, run_staged_job
from beam_pipeline.output_tables import read_dead_letters, read_table_rows
from beam_pipeline.settings import (
    ConfigError,
    EvaluateTask,
    InputOutput,
    ModelLoading,
    PairChoice,
    Routing,
    Scoring,
    check_flags,
)
from transforms.routers import MODEL_ROUTERS

# What --task router compares by default: the model-free router, and the model routers when a model is known.
EVAL_ROUTERS = ("keyword", "embedding", "llm")


@dataclass
class EvaluateConfig(InputOutput, PairChoice, ModelLoading, Routing, Scoring, EvaluateTask):
    """Settings of ``gdr evaluate``: the flags (declared once, in ``beam_pipeline.settings``) and what
    ``validate()`` derives from them."""

    router_list: list[str] = field(default_factory=list, repr=False)

    @property
    def settings(self) -> list[str]:
        """Guide settings to score: guided and/or unguided."""
        if self.guide_set is None:
            return ["unguided"]
        return ["guided", "unguided"] if self.compare_guides else ["guided"]

    def _routers_to_compare(self) -> list[str]:
        """``--routers``, else every router when a model was named, else ``--router`` alone."""
        named_model = bool(self.router_model or self.strong or self.pair)
        if self.routers:
            names = [r.strip() for r in self.routers.split(",") if r.strip()]
            if not names or any(r not in EVAL_ROUTERS for r in names):
                raise ConfigError(f"--routers takes a comma-separated list of {', '.join(EVAL_ROUTERS)}")
        elif named_model:
            names = list(EVAL_ROUTERS)
        else:
            names = [self.router]
        return list(dict.fromkeys(names))

    def validate(self, options=None) -> EvaluateConfig:
        check_flags(self)
        if self.task == "router":
            if self.guides == "none":
                raise ConfigError("--task router needs guides to route to (not --guides none)")
            if self.router == "column":
                raise ConfigError(
                    "--task router measures the llm or keyword router; --router column only copies labels"
                )
            self.router_list = self._routers_to_compare()
        self.check_routing(uses_embedding="embedding" in (self.router_list or [self.router]))
        if self.compare_guides and self.guide_set is None:
            raise ConfigError(
                "--compare-guides compares guided with unguided scoring; it needs guides, not --guides none"
            )
        self.check_input_output()
        # The one model rule (settings.PairChoice): the pairs task always needs a pair (the default
        # when none is named); the router task only a router model, --router-model, else the
        # strong model, else the (default) pair's strong model.
        if self.task == "router":
            model_router = any(r in MODEL_ROUTERS for r in self.router_list)
            self.choose_models(required=model_router and not (self.router_model or self.strong))
        else:
            self.choose_models(required=True)
        self.choose_reward(self.pair)
        for attr in ("strong", "weak", "router_model"):
            if getattr(self, attr):
                setattr(self, attr, resolve_model_source(getattr(self, attr), self.allow_pickle))
        return self


def run_beam(build, config: EvaluateConfig, beam_args: list[str], tables=("results", "dead_letter")):
    """Run the graph staged; only when it succeeded do its tables replace the previous ones. Returns the result."""
    return run_staged_job(build, config, beam_args, tables)


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
        "dead_letter_reasons": dead_summary(dead),
    }
    evaluation["wall_time_s"] = round(time.time() - started, 2)
    evaluation["paths"] = {
        "evaluation": f"{out}/evaluation.json",
        "report": f"{out}/report.html",
        "results": f"{out}/results",
        "dead_letter": f"{out}/dead_letter",
    }
    write_pairs_report(out, evaluation, rows)
    write_json(f"{out}/evaluation.json", evaluation)
    return evaluation


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
        "dead_letter_reasons": dead_summary(dead),
        "wall_time_s": round(time.time() - started, 2),
        "paths": {"evaluation": f"{out}/evaluation.json", "report": f"{out}/report.html"},
    }
    write_router_report(out, evaluation)
    write_json(f"{out}/evaluation.json", evaluation)
    return evaluation


def _run_job(config: EvaluateConfig, beam_args: list[str]) -> dict[str, Any]:
    return evaluate_router(config, beam_args) if config.task == "router" else evaluate_pairs(config, beam_args)


def _summarise(evaluation: dict[str, Any], config: EvaluateConfig) -> None:
    (print_router_summary if config.task == "router" else print_pairs_summary)(evaluation)


EVALUATE = Command(
    name="evaluate",
    description=(
        "Measure the density-ratio reward against labelled preferences ({prompt, chosen, rejected} records, "
        "optional domain and subset): accuracy overall, per domain and per subset, guided and unguided "
        "(--compare-guides); or the router against {prompt, domain} records (--task router). Writes "
        "DIR/evaluation.json and DIR/report.html. Beam pipeline options pass through."
    ),
    config_cls=EvaluateConfig,
    run_job=_run_job,
    summarise=_summarise,
)


def run(argv: list[str] | None = None) -> int:
    """Entry point of ``gdr evaluate``."""
    return launch(EVALUATE, argv)
