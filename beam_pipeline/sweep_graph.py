"""The Beam side of ``gdr sweep``: one scoring pass per model, with a per-model log-prob cache.

Beam graph: ReadCorpus -> LabelledToGroup -> RouteToGuide (once: every model sees the same
guide for a prompt; ``beam_pipeline.evaluate_graph.read_labelled``) -> ScoreWithModel, one
element per model with the routed pairs as a side input: the DoFn loads that model, scores
chosen and rejected for every guide setting, and lets it go before the next (one model in
memory at a time per worker; a distributed runner spreads models over workers). Per-model
rows go to ``DIR/model_scores/`` (``MODEL_SCORES_SCHEMA``).

Log-probs are cached per model (``--score-cache``: Parquet files of ``SCORE_CACHE_SCHEMA``
in one folder per model content, dtype and truncation), so a rerun with one more model
scores only that model. The graph takes the command's settings
(``beam_pipeline.sweep.SweepConfig``) and only reads their attributes.
"""

from __future__ import annotations

import gc
import logging
import time
from typing import TYPE_CHECKING, Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from beam_pipeline.evaluate_graph import read_labelled
from transforms.io import DEAD_LETTER, WriteJsonl, WritePartitionedParquet, dead_letter
from transforms.keys import logprob_key, model_logprob_setting
from transforms.model_pool import ModelLoadFailed, ModelSettings, load_private
from transforms.model_step import with_retries

if TYPE_CHECKING:
    from beam_pipeline.sweep import SweepConfig


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
    return f"{cache.rstrip('/')}/{model_logprob_setting(fingerprint, settings.dtype, settings.max_tokens)}"


def _item_key(conversation: list[dict], response: str, guide: Any) -> str:
    return logprob_key(conversation, response, guide.id if guide else None, guide.version if guide else None)


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

    def __init__(
        self, base: ModelSettings, guides: dict | None, settings: list[str], cache: str | None, retries: int = 2
    ):
        self.base, self.guides, self.settings, self.cache, self.retries = base, guides, settings, cache, retries

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
                    batch = [(by_key[k][1]["conversation"], by_key[k][2], by_key[k][3]) for k in chunk]
                    try:
                        # The same retry rule as annotate's scoring and sampling steps.
                        values, _stats = with_retries(
                            lambda batch=batch: scorer.score_responses(batch), self.retries, f"sweep {label}"
                        )
                    except ModelLoadFailed:
                        raise
                    except Exception as exc:  # every item of the chunk becomes a dead letter with the reason
                        reason = f"scoring failed after {self.retries + 1} attempts: {exc}"
                        values = [ScoreFailure(k, "score", reason) for k in chunk]
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
        | "Models" >> beam.Create(sorted(config.model_paths.items()))
        | "SpreadModels" >> beam.Reshuffle()  # one model per worker on distributed runners
    )
    scored = models | "ScoreWithModel" >> beam.ParDo(
        ScoreWithModel(
            config.model_settings(""), config.guide_set, config.sweep_settings, config.score_cache, config.score_retries
        ),
        pairs=beam.pvalue.AsList(routed),
    ).with_outputs(DEAD_LETTER, main="rows")
    _ = scored.rows | "WriteModelScores" >> WritePartitionedParquet(
        f"{out}/model_scores", MODEL_SCORES_SCHEMA, "setting", lambda r: f"{r['model']}\x00{r['pair_id']}"
    )
    dead_all = [*dead, scored[DEAD_LETTER]] | "AllDeadLetters" >> beam.Flatten()
    _ = dead_all | "WriteDeadLetters" >> WriteJsonl(f"{out}/dead_letter")
    return {"model_scores": scored.rows, "dead_letter": dead_all}
