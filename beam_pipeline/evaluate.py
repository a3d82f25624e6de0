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
and the embedding router's one-off centroid pass are excluded and reported apart).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from beam_pipeline.config import (
    ConfigError,
    check_scoring_options,
    model_settings_for,
    pair_members,
    resolve_model_source,
)
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
from beam_pipeline.options import AnnotateOptions, unknown_flags
from beam_pipeline.output_tables import read_dead_letters, read_table_rows
from beam_pipeline.run import UserError, setup_logging
from guides import Guide, GuideError, RouterExample, routing_examples
from transforms.io import expand_patterns
from transforms.model_pool import ModelSettings
from transforms.routers import MODEL_ROUTERS, RouterExamplesError, check_router_examples

log = logging.getLogger("gdr")

TASKS = ("pairs", "router")
# What --task router compares by default: the model-free router, and the model routers when a model is known.
EVAL_ROUTERS = ("keyword", "embedding", "llm")
# annotate flags that mean nothing when evaluating: accepted (scripts may share flags) but hidden.
HIDDEN_FLAGS = ("pairing", "min_margin", "seed", "run_date", "output_shards", "rescore")


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


# -- the launcher ------------------------------------------------------------------------


def run_beam(build, config: EvaluateConfig, beam_args: list[str], tables=("results", "dead_letter")):
    """Run the graph staged; only when it succeeded do its tables replace the previous ones. Returns the result."""
    from beam_pipeline.staged_run import run_staged

    return run_staged(build, config, beam_args, tables)


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
