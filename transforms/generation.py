"""``GenerateCandidates``: sample the on-policy candidates a prompt group still needs.

This step runs after ``ReuseGenerations`` (``transforms.incremental``) and before routing:
each group arrives with its given candidates, the stored samples a rerun reuses, and
``pending_samples`` - the slots nothing could be reused for. Pending slots of a batch of
groups go to the policy model in one call; the model is the machine's shared copy
(``transforms.model_pool``), so a policy that is also the strong model is loaded once,
and a batch with nothing to sample loads nothing.

Every slot ends as a candidate or a dead letter (stage ``generate``, with the slot's
``source`` and ``response_index``): a prompt the policy's template refuses, a prompt too
long for ``--max-tokens`` with ``--max-new-tokens`` on top, an empty sample, or a batch
that kept failing after ``--score-retries`` retries. A group left with no candidate is
not emitted (its slots are all in the dead letters). A policy that cannot load fails the job.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import apache_beam as beam

from transforms.engine.generator import SamplingSettings
from transforms.io import DEAD_LETTER, dead_letter
from transforms.keys import generation_seed
from transforms.model_pool import ModelLoadFailed, ModelSettings, PooledModel
from transforms.model_step import batched_model_step, with_retries
from transforms.records import candidate_order

log = logging.getLogger(__name__)
GENERATION_STAGE = "generate"


class _GenerateBatch(beam.DoFn):
    def __init__(
        self, policy: ModelSettings, sampling: SamplingSettings, policy_name: str, retries: int, count_load: bool
    ):
        self.policy, self.sampling, self.policy_name = policy, sampling, policy_name
        self.retries = max(0, retries)
        self.count_load = count_load
        self._model = None

    def setup(self):
        # The policy loads on the first batch with something to sample: a rerun that reuses
        # every sample never loads it.
        self._model = None
        m = beam.metrics.Metrics
        self._generated = m.counter("gdr", "candidates_generated")
        self._failed = m.counter("gdr", "candidates_dead_lettered_generation")
        self._tokens = m.counter("gdr", "tokens_generated")
        self._retried = m.counter("gdr", "generation_batches_retried")
        self._loads = m.counter("gdr", "model_loads")
        self._load_ms = m.distribution("gdr", "model_load_ms")
        self._batch_ms = m.distribution("gdr", "generation_batch_ms")

    def _load(self) -> PooledModel:
        if self._model is None:
            model = PooledModel(self.policy).acquire()
            # Reported once, by the process that did the load; a policy that is also the strong
            # or weak model is the scoring step's to report.
            if self.count_load and model.loaded_here:
                self._loads.inc()
                self._load_ms.update(int(model.load_info["load_seconds"] * 1000))
            self._model = model
        return self._model

    def _generate_with_retries(self, requests) -> list:
        model = self._load()

        def attempt():
            started = time.monotonic()
            results = model.generate(requests, self.sampling)
            self._batch_ms.update(int((time.monotonic() - started) * 1000))
            return results

        # Transient failures (device, I/O) are retried; the engine fails bad prompts one by one.
        return with_retries(attempt, self.retries, "generation", self._retried.inc)

    def _dead(self, group: dict[str, Any], slot: dict[str, Any], reason: str):
        self._failed.inc()
        return beam.pvalue.TaggedOutput(
            DEAD_LETTER,
            dead_letter(
                GENERATION_STAGE,
                reason,
                slot["source"],
                {"prompt_id": group["prompt_id"], "prompt": group["conversation"]},
                response_index=slot["response_index"],
                generation_key=slot["generation_key"],
                policy_model=self.policy_name,
            ),
        )

    def process(self, batch: list[dict[str, Any]]):
        from transforms.engine.generator import GenerationFailure, GenerationRequest

        requests, index = [], {}
        for g in batch:
            for slot in g["pending_samples"]:
                key = f"{g['prompt_id']}\x00{slot['sample_index']}"
                index[key] = (g, slot)
                requests.append(GenerationRequest(key, g["conversation"], generation_seed(slot["generation_key"])))
        new: dict[str, list] = {}
        try:
            # No slot, no model: groups whose samples were all reused pass straight through.
            results = self._generate_with_retries(requests) if requests else []
        except ModelLoadFailed:
            raise  # the job fails: dead-lettering every prompt would hide a broken policy
        except Exception as exc:
            results = [
                GenerationFailure(
                    r.key, GENERATION_STAGE, f"generation failed after {self.retries + 1} attempts: {exc}"
                )
                for r in requests
            ]
        for res in results:
            g, slot = index[res.key]
            if isinstance(res, GenerationFailure):
                yield self._dead(g, slot, f"policy model ({self.policy_name}): {res.reason}")
                continue
            if not res.text.strip():
                yield self._dead(g, slot, f"policy model ({self.policy_name}) sampled an empty response")
                continue
            self._generated.inc()
            self._tokens.inc(res.n_tokens)
            new.setdefault(g["prompt_id"], []).append(
                {
                    "response_index": slot["response_index"],
                    "source": slot["source"],
                    "response": res.text,
                    "candidate_source": "generated",
                    "policy_model": self.policy_name,
                    "generation_key": slot["generation_key"],
                    "generation_reused": False,
                }
            )
        for g in batch:
            candidates = [*g["candidates"], *new.get(g["prompt_id"], [])]
            if not candidates:
                continue  # every slot is a dead letter, and nothing was given
            out = {k: v for k, v in g.items() if k != "pending_samples"}
            out["candidates"] = sorted(candidates, key=candidate_order)
            yield out


class GenerateCandidates(beam.PTransform):
    """Groups with ``pending_samples`` -> ``groups`` with every sample as a candidate, and ``dead_letter``.

    New candidates carry ``candidate_source="generated"``, ``policy_model`` and
    ``generation_key`` (given ones carry nothing: the output rows read them as ``input``).
    ``accelerator_hint`` goes on the sampling step only, as on the scoring step. ``count_load``:
    whether this step reports the policy's load in ``gdr/model_loads`` (not when the policy is
    a scoring model, whose load the scoring step reports).
    """

    def __init__(
        self,
        policy: ModelSettings,
        sampling: SamplingSettings,
        policy_name: str,
        retries: int = 2,
        max_batch_size: int = 8,
        accelerator_hint: str | None = None,
        count_load: bool = True,
    ):
        super().__init__()
        self.fn = _GenerateBatch(policy, sampling, policy_name, retries, count_load)
        self.max_batch_size = max_batch_size
        self.accelerator_hint = accelerator_hint

    def expand(self, groups):
        generate = beam.ParDo(self.fn).with_outputs(DEAD_LETTER, main="groups")
        out = batched_model_step(
            groups, generate, "BatchSampling", "Sample", self.max_batch_size, self.accelerator_hint
        )
        return {"groups": out.groups, DEAD_LETTER: out[DEAD_LETTER]}
