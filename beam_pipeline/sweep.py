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
import time
from dataclasses import dataclass, field
from typing import Any

from beam_pipeline.config import resolve_model_source
from beam_pipeline.evaluate_report import dead_summary, write_json
from beam_pipeline.html_report import write_bytes
from beam_pipeline.launch import Command, launch, run_staged_job
from beam_pipeline.output_tables import read_dead_letters, read_table_rows
from beam_pipeline.settings import ConfigError, InputOutput, ModelLoading, Routing, Scoring, SweepModels, check_flags
from beam_pipeline.sweep_graph import MODEL_SCORES_SCHEMA, build_sweep_pipeline
from beam_pipeline.sweep_report import print_sweep_summary, sweep_markdown, sweep_results, write_sweep_report


@dataclass
class SweepConfig(InputOutput, ModelLoading, Routing, Scoring, SweepModels):
    """Settings of ``gdr sweep``: the flags (declared once, in ``beam_pipeline.settings``) and the
    models to pair up, resolved by ``validate()`` into ``model_paths`` (``label -> loader path``).

    ``strong`` is the model routers' model: ``--router-model``, else the first of ``--models``.
    """

    model_paths: dict[str, str] = field(default_factory=dict, repr=False)
    strong: str | None = field(default=None, repr=False)

    @property
    def sweep_settings(self) -> list[str]:
        return ["guided", "unguided"] if self.guide_set is not None else ["unguided"]

    def validate(self, options=None) -> SweepConfig:
        check_flags(self)
        self.choose_reward(None)  # both rewards are reported; this one ranks
        names = [m.strip() for arg in (self.models or []) for m in arg.split(",") if m.strip()]
        if len(names) < 2:
            raise ConfigError("--models needs at least two models (comma-separated)")
        if len(set(names)) != len(names):
            raise ConfigError("--models lists a model twice")
        self.check_routing(uses_embedding=self.router == "embedding")
        self.check_input_output()
        if self.score_cache is None:
            self.score_cache = f"{self.output.rstrip('/')}/score_cache"
        elif self.score_cache.strip().lower() == "none":
            self.score_cache = None
        self.model_paths = {
            label: resolve_model_source(n, self.allow_pickle) for label, n in model_labels(names).items()
        }
        if self.router_model:
            self.router_model = resolve_model_source(self.router_model, self.allow_pickle)
        self.strong = self.router_model or next(iter(self.model_paths.values()))
        return self


def model_labels(names: list[str]) -> dict[str, str]:
    """Short unique labels for the given model names (a path's folder name), in order."""
    labels: dict[str, str] = {}
    for name in names:
        base = os.path.basename(name.rstrip("/")) or name
        label = base if base not in labels else name
        labels[label] = name
    return labels


def run_sweep(config: SweepConfig, beam_args: list[str]) -> dict[str, Any]:
    started = time.time()
    out = config.output.rstrip("/")
    run_staged_job(build_sweep_pipeline, config, beam_args, ("model_scores", "dead_letter"))
    rows = read_table_rows(f"{out}/model_scores", [f.name for f in MODEL_SCORES_SCHEMA])
    dead = read_dead_letters(f"{out}/dead_letter")
    settings = config.sweep_settings
    # Both rewards from the same log-probs (free); --reward picks the one the ranking and report use.
    by_reward = {r: sweep_results(rows, list(config.model_paths), settings, r) for r in ("sum", "mean")}
    sweep = {
        "settings": settings,
        "models": config.model_paths,
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


SWEEP = Command(
    name="sweep",
    description=(
        "Evaluate every ordered pair (strong over weak) of --models on labelled pairs, with and without "
        "guides, ranked per domain. Each model scores the data once per guide setting (cached per model). "
        "Writes DIR/sweep.json, DIR/sweep.md and DIR/report.html. Beam pipeline options pass through."
    ),
    config_cls=SweepConfig,
    run_job=run_sweep,
    summarise=lambda sweep, config: print_sweep_summary(sweep),
)


def run(argv: list[str] | None = None) -> int:
    """Entry point of ``gdr sweep``."""
    return launch(SWEEP, argv)
