"""``gdr sweep``: which model pair (strong over weak), with or without guides, agrees best with labels.

k models give k(k-1) ordered pairs, but every pair's reward is a difference of two
per-model quantities, ``reward_AB(y) = logp_A(y) - logp_B(y)``; so each model scores the
labelled responses once per guide setting (k scorings, not k^2 pair runs) and the pairs
are formed from those cached log-probs (``transforms.evaluation.sweep_pairs``).

Beam graph: ReadCorpus -> LabelledToGroup -> RouteToGuide (once: every model sees the same
guide for a prompt) -> ScoreWithModel, one element per model with the routed pairs as a
side input: the DoFn loads that model, scores chosen and rejected for every guide setting,
and lets it go before the next (one model in memory at a time per worker; a distributed
runner spreads models over workers). Per-model rows go to ``DIR/model_scores/``; the
launcher writes ``DIR/sweep.json`` and ``DIR/report.html`` (heat maps of pair x domain).
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from beam_pipeline.config import ConfigError, resolve_model_source
from beam_pipeline.evaluate import (
    CONFIG_FIELDS,
    HIDDEN_FLAGS,
    EvaluateConfig,
    _dead_summary,
    _write_json,
    read_labelled,
    run_beam,
    shared_parser,
    split_args,
)
from beam_pipeline.html_report import Report, heatmap, pct, write_bytes
from beam_pipeline.output_tables import read_dead_letters, read_table_rows
from beam_pipeline.run import UserError, setup_logging
from transforms.evaluation import accuracy_report, compare_reports, rank_pairs, sweep_pairs
from transforms.io import DEAD_LETTER, WriteJsonl, WritePartitionedParquet, dead_letter
from transforms.model_pool import ModelSettings, load_private

log = logging.getLogger("gdr")

# Labelled pairs handed to the engine per call: bounds memory and gives progress lines.
CHUNK_PAIRS = 64

MODEL_SCORES_SCHEMA = pa.schema(
    [
        ("model", pa.string()),
        ("setting", pa.string()),
        ("pair_id", pa.string()),
        ("domain", pa.string()),
        ("subset", pa.string()),
        ("chosen_longer", pa.bool_()),
        ("logp_chosen", pa.float64()),
        ("n_chosen", pa.int32()),
        ("logp_rejected", pa.float64()),
        ("n_rejected", pa.int32()),
    ]
)


def _cache_folder(cache: str, fingerprint: str, settings: ModelSettings) -> str:
    """One folder per (model content, dtype, truncation, reward definition): what a log-prob depends on."""
    from transforms.keys import SCORING_DEFINITION, _digest

    key = _digest(
        {"definition": SCORING_DEFINITION, "model": fingerprint, "dtype": settings.dtype, "max": settings.max_tokens}
    )
    return f"{cache.rstrip('/')}/{key}"


def _item_key(conversation: list[dict], response: str, guide: Any) -> str:
    from transforms.keys import _digest

    return _digest([conversation, response, guide.id if guide else None, guide.version if guide else None])


def read_score_cache(folder: str) -> dict[str, tuple[float, int]]:
    """``item key -> (log-prob, tokens)`` of every file in one model's cache folder (empty when none)."""
    from beam_pipeline.output_tables import read_table_rows  # lists the folder; none yet -> no rows

    rows = read_table_rows(folder, ["item_key", "logp", "n_tokens"])
    return {r["item_key"]: (r["logp"], r["n_tokens"]) for r in rows}


def write_score_cache(folder: str, rows: list[dict[str, Any]]) -> None:
    """Add one Parquet file of new scores; written under a temporary name and renamed, so a
    reader never sees half a file and a retried bundle only duplicates content-keyed rows."""
    if not rows:
        return
    import io
    import uuid

    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=SCORE_CACHE_SCHEMA), buf)
    name = uuid.uuid4().hex
    tmp, final = f"{folder}/.tmp-{name}", f"{folder}/part-{name}.parquet"
    with FileSystems.create(tmp) as f:
        f.write(buf.getvalue())
    FileSystems.rename([tmp], [final])


SCORE_CACHE_SCHEMA = pa.schema([("item_key", pa.string()), ("logp", pa.float64()), ("n_tokens", pa.int32())])


class ScoreWithModel(beam.DoFn):
    """``(label, model path)`` + all routed pairs (side input) -> that model's log-probs, per guide setting.

    Log-probs are cached per model (``--score-cache``, keyed by the model's content fingerprint,
    dtype and the exact text and guide scored): adding a model to a sweep scores only that model,
    and a model whose every item is cached is not even loaded.
    """

    def __init__(self, base: ModelSettings, guides: dict | None, settings: list[str], cache: str | None):
        self.base, self.guides, self.settings, self.cache = base, guides, settings, cache

    def process(self, model: tuple[str, str], pairs: list[dict[str, Any]]):
        from dataclasses import replace

        from beam_pipeline.config import resolve_compute
        from transforms.engine.scorer import ScoreFailure
        from transforms.model_store import fingerprint_model

        label, path = model
        started = time.monotonic()
        # This worker's own device decides what "auto" means, and the cache key holds the result.
        device, dtype = resolve_compute(self.base.device, self.base.dtype, remote=False, accelerator=False)
        settings = replace(self.base, name=path, device=device, dtype=dtype)
        folder = (
            _cache_folder(self.cache, fingerprint_model(path, settings.allow_pickle), settings) if self.cache else None
        )
        cached = read_score_cache(folder) if folder else {}
        items = []  # (setting, group, conversation, response, guide, key)
        for setting in self.settings:
            for g in pairs:
                guide = self.guides.get(g["domain"]) if (self.guides and setting == "guided") else None
                for c in g["candidates"]:
                    items.append((setting, g, c["response"], guide, _item_key(g["conversation"], c["response"], guide)))
        todo = list(dict.fromkeys(i[4] for i in items if i[4] not in cached))
        by_key = {i[4]: i for i in items}
        fresh: dict[str, Any] = {}
        if todo:
            log.info("sweep: %s: %d of %d item(s) to score, %d cached", label, len(todo), len(items), len(cached))
            scorer = load_private(settings)
            try:
                for lo in range(0, len(todo), 2 * CHUNK_PAIRS):
                    chunk = todo[lo : lo + 2 * CHUNK_PAIRS]
                    values, _stats = scorer.score_responses(
                        [(by_key[k][1]["conversation"], by_key[k][2], by_key[k][3]) for k in chunk]
                    )
                    fresh.update(zip(chunk, values, strict=True))
                    if folder:  # per chunk: an interrupted sweep keeps what it scored
                        write_score_cache(
                            folder,
                            [
                                {"item_key": k, "logp": v[0], "n_tokens": v[1]}
                                for k, v in zip(chunk, values, strict=True)
                                if not isinstance(v, ScoreFailure)
                            ],
                        )
                    log.info("sweep: %s scored %d/%d item(s)", label, min(lo + len(chunk), len(todo)), len(todo))
            finally:
                # Drop this worker's reference so the model can be freed before the next one loads.
                del scorer
                gc.collect()
        else:
            log.info("sweep: %s: all %d item(s) cached, model not loaded", label, len(items))
        value = {**cached, **fresh}
        for setting in self.settings:
            for g in pairs:
                guide = self.guides.get(g["domain"]) if (self.guides and setting == "guided") else None
                chosen, rejected = (
                    value[_item_key(g["conversation"], c["response"], guide)] for c in g["candidates"][:2]
                )
                failed = next((v for v in (chosen, rejected) if isinstance(v, ScoreFailure)), None)
                if failed is not None:
                    yield beam.pvalue.TaggedOutput(
                        DEAD_LETTER,
                        dead_letter(failed.stage, f"{label}: {failed.reason}", g["source"], None, setting=setting),
                    )
                    continue
                yield {
                    "model": label,
                    "setting": setting,
                    "pair_id": g["prompt_id"],
                    "domain": g.get("label_domain") or g["domain"],
                    "subset": g.get("subset"),
                    "chosen_longer": len(g["candidates"][0]["response"]) > len(g["candidates"][1]["response"]),
                    "logp_chosen": chosen[0],
                    "n_chosen": chosen[1],
                    "logp_rejected": rejected[0],
                    "n_rejected": rejected[1],
                }
        log.info(
            "sweep: %s done in %.1fs (%d scored, %d from cache)",
            label,
            time.monotonic() - started,
            len(fresh),
            len(items) - len(fresh),
        )


def build_sweep_pipeline(p: beam.Pipeline, config: SweepConfig) -> dict[str, Any]:
    out = config.output.rstrip("/")
    routed, dead = read_labelled(p, config)
    models = (
        p
        | "Models" >> beam.Create(sorted(config.models.items()))
        | "SpreadModels" >> beam.Reshuffle()  # one model per worker on distributed runners
    )
    scored = models | "ScoreWithModel" >> beam.ParDo(
        ScoreWithModel(config.model_settings(""), config.guide_set, config.sweep_settings, config.score_cache),
        pairs=beam.pvalue.AsList(routed),
    ).with_outputs(DEAD_LETTER, main="rows")
    _ = scored.rows | "WriteModelScores" >> WritePartitionedParquet(
        f"{out}/model_scores", MODEL_SCORES_SCHEMA, "setting", lambda r: f"{r['model']}\x00{r['pair_id']}"
    )
    dead_all = [*dead, scored[DEAD_LETTER]] | "AllDeadLetters" >> beam.Flatten()
    _ = dead_all | "WriteDeadLetters" >> WriteJsonl(f"{out}/dead_letter")
    return {"model_scores": scored.rows, "dead_letter": dead_all}


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


def sweep_results(rows: list[dict[str, Any]], models: list[str], settings: list[str], reward: str) -> dict[str, Any]:
    """sweep.json's ``pairs`` and ``ranking`` from per-model score rows."""
    pairs: dict[str, dict[str, Any]] = {}
    ranking = {}
    for setting in settings:
        per_model: dict[str, dict[str, dict[str, Any]]] = {m: {} for m in models}
        meta: dict[str, dict[str, Any]] = {}
        for r in rows:
            if r["setting"] == setting and r["model"] in per_model:
                per_model[r["model"]][r["pair_id"]] = r
                meta[r["pair_id"]] = {
                    "domain": r["domain"],
                    "subset": r["subset"],
                    "chosen_longer": r.get("chosen_longer"),
                }
        reports = {}
        for (a, b), pair_rows in sweep_pairs(per_model, meta, reward).items():
            name = f"{a}>{b}"
            pairs.setdefault(name, {"strong": a, "weak": b})[setting] = accuracy_report(pair_rows)
            reports[name] = pairs[name][setting]
        ranking[setting] = rank_pairs(reports)
    if len(settings) == 2:
        for entry in pairs.values():
            entry["difference"] = compare_reports(entry["guided"], entry["unguided"])
    return {"pairs": pairs, "ranking": ranking}


def write_sweep_report(folder: str, sweep: dict[str, Any]) -> str:
    rep = Report(folder, "gdr sweep: model pairs × domains")
    settings = sweep["settings"]
    for setting in settings:
        best = sweep["ranking"][setting]["overall"][:1]
        if best:
            rep.stat(f"best pair ({setting})", pct(best[0]["accuracy"]), best[0]["pair"])
    rep.stat("models", str(len(sweep["models"])), f"{len(sweep['pairs'])} ordered pairs")
    rep.stat("labelled pairs", str(sweep["counts"]["labelled_pairs"]))
    rep.note(
        f"Reward {sweep['reward']}, router {sweep['router']}. A pair 'A>B' rewards log p_A − log p_B; "
        "accuracy is the share of labelled pairs with reward(chosen) > reward(rejected) (ties wrong); 50% is chance."
    )
    names = [e["pair"] for e in sweep["ranking"][settings[0]]["overall"]]
    domains = sorted({d for p in sweep["pairs"].values() for s in settings for d in p[s]["by_domain"]})
    cols = ["overall", *domains]
    for setting in settings:
        rep.heading(f"Accuracy, {setting}")

        def cell(name: str, d: str, key: str, s: str = setting):
            rep_ = sweep["pairs"][name][s]
            stats = rep_["overall"] if d == "overall" else rep_["by_domain"].get(d, {})
            return stats.get(key)

        rep.figure(
            f"heatmap_{setting}",
            heatmap(
                names,
                cols,
                [[cell(n, d, "accuracy") for d in cols] for n in names],
                f"Pair × domain accuracy ({setting})",
                [[cell(n, d, "n") or 0 for d in cols] for n in names],
            ),
            "Rows: strong>weak, best overall first (ranked on the first setting).",
        )
    if len(settings) == 2:
        rep.heading("What guides add (guided − unguided, points)")
        rep.table(
            ["pair", *cols],
            [
                [
                    n,
                    *[
                        (lambda v: "–" if v is None else f"{100 * v:+.1f}")(
                            sweep["pairs"][n]["difference"]["overall"]
                            if d == "overall"
                            else sweep["pairs"][n]["difference"]["by_domain"].get(d)
                        )
                        for d in cols
                    ],
                ]
                for n in names
            ],
        )
    rep.heading("Best pair per domain")
    rep.table(
        ["domain", *settings],
        [
            [
                d,
                *[
                    (lambda top: f"{top[0]['pair']} {pct(top[0]['accuracy'])} (n={top[0]['n']})" if top else "–")(
                        sweep["ranking"][s].get(d, [])
                    )
                    for s in settings
                ],
            ]
            for d in cols
        ],
    )
    return rep.write()


def _cell(stats: dict[str, Any] | None) -> str:
    """``61.3 (56.9–65.5)``: accuracy and its 95 % interval in points; ``–`` without pairs."""
    if not stats or not stats.get("n"):
        return "–"
    lo, hi = stats["ci95"]
    return f"{100 * stats['accuracy']:.1f} ({100 * lo:.1f}–{100 * hi:.1f})"


def sweep_markdown(sweep: dict[str, Any]) -> str:
    """sweep.md: per reward and guide setting, every pair's accuracy with 95 % intervals, per
    domain, and split by whether the chosen response is the longer one (a length artefact shows
    as a large gap between the last two columns)."""
    lines = [
        f"Labelled pairs: {sweep['counts']['labelled_pairs']}; router {sweep['router']}; "
        "accuracy in % with 95 % Wilson intervals; ties count as wrong; 50 % is chance.",
    ]
    rewards = [sweep["reward"], *[r for r in sweep["by_reward"] if r != sweep["reward"]]]
    for reward in rewards:
        result = sweep["by_reward"][reward]
        for setting in sweep["settings"]:
            order = [e["pair"] for e in result["ranking"][setting]["overall"]]
            domains = sorted({d for p in result["pairs"].values() for d in p[setting]["by_domain"]})
            lines += [
                "",
                f"### {setting}, {reward} reward",
                "",
                "| pair (strong > weak) | overall | " + " | ".join(domains) + " | chosen longer | chosen shorter |",
                "| --- " * (4 + len(domains)) + "|",
            ]
            for name in order:
                rep = result["pairs"][name][setting]
                split = rep.get("by_length") or {}
                cells = [_cell(rep["overall"]), *[_cell(rep["by_domain"].get(d)) for d in domains]]
                cells += [_cell(split.get("chosen_longer")), _cell(split.get("chosen_shorter"))]
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


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
        "dead_letter_reasons": _dead_summary(dead),
        "wall_time_s": round(time.time() - started, 2),
        "paths": {
            "sweep": f"{out}/sweep.json",
            "table": f"{out}/sweep.md",
            "report": f"{out}/report.html",
            "score_cache": config.score_cache,
        },
    }
    write_sweep_report(out, sweep)
    _write_json(f"{out}/sweep.json", sweep)
    write_bytes(f"{out}/sweep.md", sweep_markdown(sweep).encode("utf-8"))
    return sweep


def print_sweep_summary(sweep: dict[str, Any], out=sys.stdout) -> None:
    lines = [
        f"gdr sweep: {len(sweep['models'])} models, {len(sweep['pairs'])} pairs, "
        f"{sweep['counts']['labelled_pairs']} labelled pair(s) in {sweep['wall_time_s']:.1f}s, "
        f"{sweep['counts']['dead_letters']} dead letter(s)"
    ]
    for setting in sweep["settings"]:
        for d, entries in sweep["ranking"][setting].items():
            top = ", ".join(f"{e['pair']} {pct(e['accuracy'])}" for e in entries[:3])
            lines.append(f"  {setting:<9} {d:<12} n={entries[0]['n'] if entries else 0:<4} best: {top}")
    lines.append(f"  sweep       {sweep['paths']['sweep']}")
    lines.append(f"  table       {sweep['paths']['table']}")
    lines.append(f"  report      {sweep['paths']['report']}")
    print("\n".join(lines), file=out)


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
