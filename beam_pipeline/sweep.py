"""``gdr sweep``: which model pair (strong over weak), with or without guides, agrees best with labels.

k models give k(k-1) ordered pairs, but every pair's reward is a difference of two
per-model quantities, ``reward_AB(y) = logp_A(y) - logp_B(y)``; so each model scores the
labelled responses once per guide setting (k scorings, not k^2 pair runs) and the pairs
are formed from those cached log-probs (``transforms.evaluation.sweep_pairs``).

The command: its settings (``SweepConfig``), its flags, and the launcher that runs the
staged Beam job (the graph and the score cache: ``beam_pipeline.sweep_graph``), then writes
``DIR/sweep.json``, ``DIR/sweep.md`` and ``DIR/report.html`` and prints a summary (the
arithmetic and presentation: ``beam_pipeline.sweep_report``).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from beam_pipeline.config import ConfigError, resolve_model_source
from beam_pipeline.evaluate import (
    CONFIG_FIELDS,
    HIDDEN_FLAGS,
    EvaluateConfig,
    run_beam,
    shared_parser,
    split_args,
)
from beam_pipeline.evaluate_report import dead_summary, write_json
from beam_pipeline.html_report import write_bytes
from beam_pipeline.output_tables import read_dead_letters, read_table_rows
from beam_pipeline.run import UserError, setup_logging
from beam_pipeline.sweep_graph import MODEL_SCORES_SCHEMA, build_sweep_pipeline
from beam_pipeline.sweep_report import print_sweep_summary, sweep_markdown, sweep_results, write_sweep_report


@dataclass
class SweepConfig(EvaluateConfig):
    """EvaluateConfig plus the models (``label -> loader path``) to pair up.

    ``strong`` is the llm router's fallback model (the first of ``--models``); ``--router-model`` overrides.
    """

    models: dict[str, str] = field(default_factory=dict)
    score_cache: str | None = None  # per-model log-prob cache; default OUTPUT/score_cache, "none" turns it off

    def validate(self, need_pair: bool = False) -> SweepConfig:
        self.strong = None  # set below: the llm router's fallback, once the models are resolved
        super().validate(need_pair=False)
        if self.score_cache is None:
            self.score_cache = f"{self.output.rstrip('/')}/score_cache"
        elif self.score_cache.strip().lower() == "none":
            self.score_cache = None
        self.models = {label: resolve_model_source(n, self.allow_pickle) for label, n in self.models.items()}
        self.strong = self.router_model or next(iter(self.models.values()))
        return self

    @property
    def sweep_settings(self) -> list[str]:
        return ["guided", "unguided"] if self.guide_set is not None else ["unguided"]


def model_labels(names: list[str]) -> dict[str, str]:
    """Short unique labels for the given model names (a path's folder name), in order."""
    labels: dict[str, str] = {}
    for name in names:
        base = os.path.basename(name.rstrip("/")) or name
        label = base if base not in labels else name
        labels[label] = name
    return labels


def sweep_parser():
    parser = shared_parser(
        "gdr sweep",
        "Evaluate every ordered pair (strong over weak) of --models on labelled pairs, with and without "
        "guides, ranked per domain. Each model scores the data once per guide setting. Writes DIR/sweep.json "
        "and DIR/report.html. Beam pipeline options pass through.",
        (*HIDDEN_FLAGS, "strong", "weak", "pair"),
    )
    parser.add_argument(
        "--models",
        action="append",
        default=None,
        help="comma-separated models (folders, hub ids or registry names); at least 2; repeatable",
    )
    parser.add_argument(
        "--score-cache",
        default=None,
        help="folder (local or gs://) of per-model log-probs, keyed by model content, dtype and text; a rerun "
        "with one more model scores only that model (default OUTPUT/score_cache; 'none' turns it off)",
    )
    return parser


def parse_sweep_args(argv: list[str]) -> tuple[SweepConfig, list[str]]:
    known, rest = split_args(sweep_parser(), argv, "sweep")
    names = [m.strip() for arg in (known.models or []) for m in arg.split(",") if m.strip()]
    if len(names) < 2:
        raise UserError("--models needs at least two models (comma-separated)")
    if len(set(names)) != len(names):
        raise UserError("--models lists a model twice")
    values = {k: getattr(known, k) for k in CONFIG_FIELDS if k not in ("strong", "weak")}
    return SweepConfig(**values, models=model_labels(names), score_cache=known.score_cache), rest


def run_sweep(config: SweepConfig, beam_args: list[str]) -> dict[str, Any]:
    started = time.time()
    out = config.output.rstrip("/")
    run_beam(build_sweep_pipeline, config, beam_args, ("model_scores", "dead_letter"))
    rows = read_table_rows(f"{out}/model_scores", [f.name for f in MODEL_SCORES_SCHEMA])
    dead = read_dead_letters(f"{out}/dead_letter")
    settings = config.sweep_settings
    # Both rewards from the same log-probs (free); --reward picks the one the ranking and report use.
    by_reward = {r: sweep_results(rows, list(config.models), settings, r) for r in ("sum", "mean")}
    sweep = {
        "settings": settings,
        "models": config.models,
        "reward": config.reward,
        "router": config.router,
        "guides": {g.id: g.version for g in (config.guide_set or {}).values()},
        **by_reward[config.reward],
        "by_reward": by_reward,
        "counts": {"labelled_pairs": len({r["pair_id"] for r in rows}), "dead_letters": len(dead)},
        "dead_letter_reasons": dead_summary(dead),
        "wall_time_s": round(time.time() - started, 2),
        "paths": {
            "sweep": f"{out}/sweep.json",
            "table": f"{out}/sweep.md",
            "report": f"{out}/report.html",
            "score_cache": config.score_cache,
        },
    }
    write_sweep_report(out, sweep)
    write_json(f"{out}/sweep.json", sweep)
    write_bytes(f"{out}/sweep.md", sweep_markdown(sweep).encode("utf-8"))
    return sweep


def run(argv: list[str] | None = None) -> int:
    """Entry point of ``gdr sweep``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    setup_logging("-v" in argv or "--verbose" in argv)
    try:
        config, beam_args = parse_sweep_args(argv)
        config.validate(need_pair=False)
        sweep = run_sweep(config, beam_args)
    except (UserError, ConfigError) as exc:
        print(f"gdr: error: {exc}", file=sys.stderr)
        return 2
    print_sweep_summary(sweep)
    return 0
