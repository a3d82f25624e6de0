"""``RouteToGuide``: give each prompt group its domain, router confidence and guide.

A record's own ``domain`` field is an explicit override for every router (confidence 1).
Otherwise ``--router`` decides: ``column`` (no field: the default domain, confidence 0),
``keyword``, ``embedding`` or ``llm`` (both batched; the router model is the process-wide
shared copy, the strong model unless ``--router-model`` says otherwise, so the embedding
router and the scorer share one loaded model). With ``--guides none`` there is nothing to
route to: the domain is the record's label or the default, with no guide.

Time spent routing (after the model load and, for the embedding router, the one-off
example pass and fit, which ``gdr/route_setup_microseconds`` counts) is counted in the
``gdr/route_microseconds`` counter, so ``gdr evaluate --task router`` can report prompts
per second per router.

A router that fails on a batch is retried; if it keeps failing, its prompts get the
default domain with ``route_defaulted`` set and no ``route_key``, so the fallback is
never stored as a decision for later runs to reuse. A router model that cannot be loaded
fails the job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import apache_beam as beam

from guides import NO_GUIDE_ID, Guide, RouterExample
from transforms.model_pool import ModelLoadFailed, ModelSettings, PooledModel
from transforms.model_step import batched_model_step, with_retries
from transforms.routers import MODEL_ROUTERS, EmbeddingRouter, KeywordRouter, LLMRouter, check_router_examples

log = logging.getLogger(__name__)


def _assign(group: dict[str, Any], domain: str, confidence: float, guides: dict[str, Guide] | None) -> dict[str, Any]:
    guide = guides.get(domain) if guides else None
    out = dict(group)
    out.update(
        domain=domain,
        router_confidence=float(confidence),
        guide_id=guide.id if guide else NO_GUIDE_ID,
        guide_version=guide.version if guide else NO_GUIDE_ID,
    )
    return out


class _RouteBatch(beam.DoFn):
    def __init__(
        self,
        guides: dict[str, Guide] | None,
        router: str,
        default_domain: str,
        router_model: ModelSettings | None,
        threshold: float,
        retries: int = 2,
        router_examples: Sequence[RouterExample] = (),
    ):
        self.guides, self.router, self.default_domain = guides, router, default_domain
        self.router_model, self.threshold, self.retries = router_model, threshold, max(0, retries)
        self.router_examples = tuple(router_examples)
        self._impl = None

    def setup(self):
        self._fallbacks = beam.metrics.Metrics.counter("gdr", "router_fallbacks")
        self._routed = beam.metrics.Metrics.counter("gdr", "prompts_routed")
        self._busy = beam.metrics.Metrics.counter("gdr", "route_microseconds")
        self._setup = beam.metrics.Metrics.counter("gdr", "route_setup_microseconds")
        if not self.guides:
            return
        if self.router == "keyword":
            self._impl = KeywordRouter(self.guides, self.default_domain)

    def _model_router(self) -> LLMRouter | EmbeddingRouter:
        # Loaded on first use: prompts whose routes are all reused never load the model.
        if self._impl is None:
            model = PooledModel(self.router_model).acquire()
            started = time.perf_counter()
            if self.router == "embedding":
                model_id = self.router_model.fingerprint or self.router_model.name
                impl = EmbeddingRouter(
                    model, self.guides, self.default_domain, self.threshold, self.router_examples, model_id
                )
                impl.fit()  # the one-off example pass and fit (cached per process), outside the timed routing
            else:
                impl = LLMRouter(model, self.guides, self.default_domain, self.threshold)
                impl.baseline()
            self._setup.inc(int((time.perf_counter() - started) * 1e6))
            self._impl = impl
        return self._impl

    def _route_model(self, pending: list[dict[str, Any]]) -> list[tuple[str, float]] | None:
        def attempt():
            router = self._model_router()
            started = time.perf_counter()
            decisions = router.route_many([g["conversation"] for g in pending])
            self._busy.inc(int((time.perf_counter() - started) * 1e6))
            return decisions

        try:
            return with_retries(attempt, self.retries, f"{self.router} router on {len(pending)} prompts")
        except ModelLoadFailed:
            raise
        except Exception as exc:  # the caller defaults these prompts (never stored as routes)
            log.warning("%s router gave up on %d prompts: %s", self.router, len(pending), exc)
            return None

    def process(self, batch: list[dict[str, Any]]):
        pending = []
        for group in batch:
            if group["domain_hint"]:
                yield _assign(group, group["domain_hint"], 1.0, self.guides)
            elif not self.guides or self.router == "column":
                yield _assign(group, self.default_domain, 0.0, self.guides)
            else:
                pending.append(group)
        if not pending:
            return
        self._routed.inc(len(pending))
        if self.router == "keyword":
            started = time.perf_counter()
            decisions = [self._impl.route(g["conversation"]) for g in pending]
            self._busy.inc(int((time.perf_counter() - started) * 1e6))
        else:
            decisions = self._route_model(pending)
        if decisions is None:  # routing must never lose a record: default it, and never store the fallback
            self._fallbacks.inc(len(pending))
            for group in pending:
                out = _assign(group, self.default_domain, 0.0, self.guides)
                yield {**out, "route_key": None, "route_defaulted": True}
            return
        for group, (domain, confidence) in zip(pending, decisions, strict=True):
            yield _assign(group, domain, confidence, self.guides)


class RouteToGuide(beam.PTransform):
    def __init__(
        self,
        guides: dict[str, Guide] | None,
        router: str,
        default_domain: str,
        router_model: ModelSettings | None,
        threshold: float = 0.5,
        max_batch_size: int = 16,
        accelerator_hint: str | None = None,
        router_examples: Sequence[RouterExample] = (),
    ):
        super().__init__()
        if router in MODEL_ROUTERS and guides and router_model is None:
            raise ValueError(f"the {router} router needs a router model")
        if router == "embedding" and guides:
            check_router_examples(guides, router_examples)  # at launch, not as a fallback on every worker
        self.fn = _RouteBatch(guides, router, default_domain, router_model, threshold, router_examples=router_examples)
        self.max_batch_size = max_batch_size
        # Only the model routers run a model; keyword/column routing stays on CPU workers.
        self.accelerator_hint = accelerator_hint if router in MODEL_ROUTERS else None

    def expand(self, groups):
        return batched_model_step(
            groups, beam.ParDo(self.fn), "BatchPrompts", "Route", self.max_batch_size, self.accelerator_hint
        )
