"""``ScoreCandidates`` and ``BuildPairs``: the density-ratio scores and the pairs from them.

Scoring batches prompt groups, hands all their candidates to the engine in one call
(the engine packs them by tokens), and emits per group the scored candidates; candidates
the engine cannot score (template cannot render, over ``--max-tokens``, out of memory
alone) go to the dead-letter output with the engine's reason. An exception from the
engine is retried (``--score-retries``); if it keeps failing, the batch's candidates are
dead-lettered with the error rather than failing the job.

Every row also says where its candidate came from (``lineage``): ``candidate_source``
(``input``, or ``generated`` by ``--generate``), the ``policy_model`` that sampled it and
its ``generation_key`` (both null for input candidates).
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import apache_beam as beam

from guides import Guide
from transforms.io import DEAD_LETTER, dead_letter
from transforms.model_pool import ModelLoadFailed, ModelSettings, PooledModel
from transforms.model_step import batched_model_step, with_retries
from transforms.pairing import make_pairs
from transforms.records import candidate_order

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 30.0
LINEAGE_FIELDS = ("candidate_source", "policy_model", "generation_key")


def lineage(c: dict[str, Any]) -> dict[str, Any]:
    """Where a candidate came from: the input, or a policy's sample (and which)."""
    return {"candidate_source": c.get("candidate_source") or "input", **{f: c.get(f) for f in LINEAGE_FIELDS[1:]}}


class _ScoreBatch(beam.DoFn):
    def __init__(
        self,
        strong: ModelSettings,
        weak: ModelSettings,
        guides: dict[str, Guide] | None,
        retries: int,
        run_date: str | None = None,
    ):
        self.strong, self.weak, self.guides, self.retries = strong, weak, guides, max(0, retries)
        self.run_date = run_date  # stamped on new scores: the scores/ partition that will hold them
        self._scorer = None

    def setup(self):
        # Models load on the first batch that needs scoring, not here: a nightly rerun
        # whose candidates are all reused never pays for loading them.
        self._scorer = None
        self._done, self._t0, self._last = 0, time.monotonic(), time.monotonic()
        self._injected_failures = 0
        self._stats_seen: dict[str, int] = {}
        m = beam.metrics.Metrics
        self._scored = m.counter("gdr", "candidates_scored")
        self._failed = m.counter("gdr", "candidates_dead_lettered_scoring")
        self._retried = m.counter("gdr", "scoring_batches_retried")
        self._loads = m.counter("gdr", "model_loads")
        self._load_ms = m.distribution("gdr", "model_load_ms")
        self._batch_ms = m.distribution("gdr", "scoring_batch_ms")
        self._tokens_per_forward = m.distribution("gdr", "tokens_per_forward")
        self._oom_splits = m.counter("gdr", "oom_splits")

    def _inject_faults(self) -> None:
        """Test hooks (environment variables, so they reach worker processes too)."""
        delay = float(os.environ.get("GDR_FAULT_SCORE_DELAY_S", "0") or 0)
        if delay:
            time.sleep(delay)
        if self._injected_failures < int(os.environ.get("GDR_FAULT_SCORE_FAILURES", "0") or 0):
            self._injected_failures += 1
            raise RuntimeError("injected transient scoring failure")

    def _load(self):
        """The machine's shared strong and weak models; a load failure fails the job (not retried here)."""
        from transforms.engine.scorer import DensityRatioScorer

        if self._scorer is None:
            models = [PooledModel(s).acquire() for s in (self.strong, self.weak)]
            for model in models:
                if model.loaded_here:  # reported once, by the process that did the load
                    self._loads.inc()
                    self._load_ms.update(int(model.load_info["load_seconds"] * 1000))
            self._scorer = DensityRatioScorer(*models)
        return self._scorer

    def _report_work(self, scorer, started: float) -> None:
        self._batch_ms.update(int((time.monotonic() - started) * 1000))
        delta = {k: v - self._stats_seen.get(k, 0) for k, v in scorer.stats.items()}
        self._stats_seen = dict(scorer.stats)
        for role in ("strong", "weak"):
            forwards = delta.get(f"{role}_forwards", 0)
            if forwards:
                self._tokens_per_forward.update(delta.get(f"{role}_tokens_run", 0) // forwards)
            self._oom_splits.inc(delta.get(f"{role}_oom_splits", 0))

    def _score_with_retries(self, requests):
        scorer = self._load()

        def attempt():
            started = time.monotonic()
            self._inject_faults()
            results = scorer.score(requests)
            self._report_work(scorer, started)
            return results

        return with_retries(attempt, self.retries, "scoring", self._retried.inc)

    def process(self, batch: list[dict[str, Any]]):
        from transforms.engine.scorer import ScoreFailure, ScoreRequest

        requests, index = [], {}
        scored: dict[str, list] = {}
        for g in batch:
            guide = self.guides.get(g["domain"]) if self.guides else None
            for c in g["candidates"]:
                if c.get("reused"):  # a stored score (ReuseScores): nothing to compute
                    scored.setdefault(g["prompt_id"], []).append(c)
                    continue
                key = f"{g['prompt_id']}\x00{c['source']}\x00{c['response_index']}"
                index[key] = (g, c)
                requests.append(ScoreRequest(key, g["conversation"], c["response"], guide))
        try:
            # No request, no model: a rerun that reuses every score never loads one.
            results = self._score_with_retries(requests) if requests else []
        except ModelLoadFailed:
            raise  # the job fails: dead-lettering every candidate would hide a broken model
        except Exception as exc:
            results = [
                ScoreFailure(r.key, "score", f"scoring failed after {self.retries + 1} attempts: {exc}")
                for r in requests
            ]
        for res in results:
            g, c = index[res.key]
            if isinstance(res, ScoreFailure):
                self._failed.inc()
                yield beam.pvalue.TaggedOutput(
                    DEAD_LETTER,
                    dead_letter(
                        res.stage,
                        res.reason,
                        c["source"],
                        {"prompt_id": g["prompt_id"], "prompt": g["conversation"], "response": c["response"]},
                        response_index=c["response_index"],
                        domain=g["domain"],
                    ),
                )
                continue
            self._scored.inc()
            scored.setdefault(g["prompt_id"], []).append(
                {
                    "response_index": c["response_index"],
                    "source": c["source"],
                    "response": c["response"],
                    "score_key": c.get("score_key"),
                    "reward": res.reward,
                    "reward_mean": res.reward_mean,
                    "logp_strong": res.logp_strong,
                    "logp_weak": res.logp_weak,
                    "n_tokens_strong": res.n_tokens_strong,
                    "n_tokens_weak": res.n_tokens_weak,
                    "origin_run_date": self.run_date,
                    "reused": False,
                    **lineage(c),
                }
            )
        for g in batch:
            if g["prompt_id"] in scored:
                out = {k: v for k, v in g.items() if k != "candidates"}
                out["scored"] = sorted(scored[g["prompt_id"]], key=candidate_order)
                out["n_candidates"] = len(out["scored"])
                yield out
        self._done += len(requests)
        now = time.monotonic()
        if now - self._last >= PROGRESS_EVERY_S:
            self._last = now
            log.info("scored %d candidates in this worker (%.1f/s)", self._done, self._done / (now - self._t0))


class ScoreCandidates(beam.PTransform):
    """Routed prompt groups -> ``scored`` groups and ``dead_letter`` candidates.

    Candidates already carrying a stored score (``reused``) pass through unscored; a group
    is emitted when at least one of its candidates has a score.

    ``accelerator_hint`` (a Beam resource hint, e.g. ``type:nvidia-l4;count:1;install-nvidia-driver``)
    is put on the scoring step only, so runners that honour hints can keep reading,
    joining and writing on CPU workers.
    """

    def __init__(
        self,
        strong: ModelSettings,
        weak: ModelSettings,
        guides: dict[str, Guide] | None,
        retries: int = 2,
        max_batch_size: int = 8,
        accelerator_hint: str | None = None,
        run_date: str | None = None,
    ):
        super().__init__()
        self.fn = _ScoreBatch(strong, weak, guides, retries, run_date)
        self.max_batch_size = max_batch_size
        self.accelerator_hint = accelerator_hint

    def expand(self, groups):
        score = beam.ParDo(self.fn).with_outputs(DEAD_LETTER, main="scored")
        out = batched_model_step(
            groups, score, "BatchGroups", "DensityRatio", self.max_batch_size, self.accelerator_hint
        )
        return {"scored": out.scored, DEAD_LETTER: out[DEAD_LETTER]}


def score_rows(group: dict[str, Any], strong: str, weak: str, only_run_date: str | None = None) -> list[dict[str, Any]]:
    """One ``scores`` table row per scored candidate (of ``only_run_date``'s origin, if given).

    A run's ``scores`` partition holds the candidates scored on that date (plus any it
    reused from that same date, so a rerun rewrites the same rows); candidates reused from
    earlier dates stay in their own partitions, so every key is stored once.
    """
    return [
        {
            "prompt_id": group["prompt_id"],
            "prompt": group["conversation"],
            "domain": group["domain"],
            "router_confidence": group["router_confidence"],
            "guide_id": group["guide_id"],
            "guide_version": group["guide_version"],
            "route_key": group.get("route_key"),
            "strong_model": strong,
            "weak_model": weak,
            **s,
            **lineage(s),
        }
        for s in group["scored"]
        if only_run_date is None or s.get("origin_run_date") == only_run_date
    ]


def candidate_rows(group: dict[str, Any]) -> list[dict[str, Any]]:
    """The snapshot rows of one prompt: every candidate, new or reused, with the date it was scored."""
    return [
        {
            "prompt_id": group["prompt_id"],
            "source": s["source"],
            "response_index": s["response_index"],
            "domain": group["domain"],
            "router_confidence": group["router_confidence"],
            "guide_id": group["guide_id"],
            "guide_version": group["guide_version"],
            "reward": s["reward"],
            "reward_mean": s["reward_mean"],
            "score_key": s.get("score_key"),
            "scored_on": s.get("origin_run_date"),
            **lineage(s),
        }
        for s in group["scored"]
    ]


def pair_rows(
    group: dict[str, Any], strategy: str, min_margin: float, reward_key: str, strong: str, weak: str, seed: int = 0
) -> list[dict[str, Any]]:
    """TRL conversational preference rows for one scored group."""
    pairs = make_pairs(group["scored"], strategy, min_margin, reward_key, group["prompt_id"], seed)
    meta = json.dumps(group["metadata"], ensure_ascii=False, sort_keys=True) if group["metadata"] is not None else None
    return [
        {
            "prompt_id": group["prompt_id"],
            "prompt": group["conversation"],
            "chosen": [{"role": "assistant", "content": c["response"]}],
            "rejected": [{"role": "assistant", "content": r["response"]}],
            "chosen_reward": c[reward_key],
            "rejected_reward": r[reward_key],
            "margin": c[reward_key] - r[reward_key],
            "domain": group["domain"],
            "guide_id": group["guide_id"],
            "guide_version": group["guide_version"],
            "strong_model": strong,
            "weak_model": weak,
            "n_candidates": group["n_candidates"],
            "metadata": meta,
            # lineage: the input line and list position of each side
            "chosen_source": c["source"],
            "chosen_response_index": c["response_index"],
            "rejected_source": r["source"],
            "rejected_response_index": r["response_index"],
            **{f"chosen_{k}": v for k, v in lineage(c).items()},
            **{f"rejected_{k}": v for k, v in lineage(r).items()},
            # not a column: keeps "all" pairs of one prompt apart when sharding/sorting
            "_pair": f"{c['source']}:{c['response_index']}-{r['source']}:{r['response_index']}",
        }
        for c, r in pairs
    ]
