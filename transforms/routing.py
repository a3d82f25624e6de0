"""``RouteToGuide``: give each prompt group its domain, router confidence and guide.

A record's own ``domain`` field is an explicit override for every router (confidence 1).
Otherwise ``--router`` decides: ``column`` (no field: the default domain, confidence 0),
``keyword``, or ``llm`` (batched; the router model is the process-wide shared copy, the
strong model unless ``--router-model`` says otherwise). With ``--guides none`` there is
nothing to route to: the domain is the record's label or the default, with no guide.

A router that fails on a batch is retried; if it keeps failing, its prompts get the
default domain with ``route_defaulted`` set and no ``route_key``, so the fallback is
never stored as a decision for later runs to reuse. A router model that cannot be loaded
fails the job.
"""

from __future__ import annotations

import logging
from typing import Any

import apache_beam as beam

from guides import NO_GUIDE_ID, Guide
from transforms.model_pool import ModelLoadFailed, ModelSettings, PooledModel
from transforms.routers import KeywordRouter, LLMRouter

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
    ):
        self.guides, self.router, self.default_domain = guides, router, default_domain
        self.router_model, self.threshold, self.retries = router_model, threshold, max(0, retries)
        self._impl = None

    def setup(self):
        self._fallbacks = beam.metrics.Metrics.counter("gdr", "router_fallbacks")
        self._routed = beam.metrics.Metrics.counter("gdr", "prompts_routed")
        if not self.guides:
            return
        if self.router == "keyword":
            self._impl = KeywordRouter(self.guides, self.default_domain)

    def _llm_router(self) -> LLMRouter:
        # Loaded on first use: prompts whose routes are all reused never load the model.
        if self._impl is None:
            model = PooledModel(self.router_model).acquire()
            self._impl = LLMRouter(model, self.guides, self.default_domain, self.threshold)
        return self._impl

    def _route_llm(self, pending: list[dict[str, Any]]) -> list[tuple[str, float]] | None:
        for attempt in range(self.retries + 1):
            try:
                return self._llm_router().route_many([g["conversation"] for g in pending])
            except ModelLoadFailed:
                raise
            except Exception as exc:
                log.warning(
                    "LLM router failed on %d prompts (attempt %d/%d): %s",
                    len(pending),
                    attempt + 1,
                    self.retries + 1,
                    exc,
                )
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
            decisions = [self._impl.route(g["conversation"]) for g in pending]
        else:
            decisions = self._route_llm(pending)
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
    ):
        super().__init__()
        self.fn = _RouteBatch(guides, router, default_domain, router_model, threshold)
        self.max_batch_size = max_batch_size
        # Only the llm router runs a model; keyword/column routing stays on CPU workers.
        self.accelerator_hint = accelerator_hint if router == "llm" else None

    def expand(self, groups):
        route = beam.ParDo(self.fn)
        if self.accelerator_hint:
            route = route.with_resource_hints(accelerator=self.accelerator_hint)
        return (
            groups
            | "BatchPrompts" >> beam.BatchElements(min_batch_size=1, max_batch_size=self.max_batch_size)
            | "Route" >> route
        )
