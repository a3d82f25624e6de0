"""``RouteToGuide``: give each prompt group its domain, router confidence and guide.

A record's own ``domain`` field is an explicit override for every router (confidence 1).
Otherwise ``--router`` decides: ``column`` (no field: the default domain, confidence 0),
``keyword``, or ``llm`` (batched; the router model is the process-wide shared copy, the
strong model unless ``--router-model`` says otherwise). With ``--guides none`` there is
nothing to route to: the domain is the record's label or the default, with no guide.
"""

from __future__ import annotations

import logging
from typing import Any

import apache_beam as beam

from guides import NO_GUIDE_ID, Guide
from transforms.model_handler import ModelSettings, acquire_model
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
    ):
        self.guides, self.router, self.default_domain = guides, router, default_domain
        self.router_model, self.threshold = router_model, threshold
        self._impl = None
        self._holder = None

    def setup(self):
        if not self.guides:
            return
        if self.router == "keyword":
            self._impl = KeywordRouter(self.guides, self.default_domain)

    def _llm_router(self) -> LLMRouter:
        # Loaded on first use: prompts whose routes are all reused never load the model.
        if self._impl is None:
            self._holder = acquire_model(self.router_model)
            self._impl = LLMRouter(self._holder.value, self.guides, self.default_domain, self.threshold)
        return self._impl

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
        if self.router == "keyword":
            decisions = [self._impl.route(g["conversation"]) for g in pending]
        else:
            try:
                decisions = self._llm_router().route_many([g["conversation"] for g in pending])
            except Exception as exc:  # routing must never lose a record: fall back, say so
                log.warning("LLM router failed on a batch of %d prompts (%s); using default domain", len(pending), exc)
                decisions = [(self.default_domain, 0.0)] * len(pending)
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
    ):
        super().__init__()
        self.fn = _RouteBatch(guides, router, default_domain, router_model, threshold)
        self.max_batch_size = max_batch_size

    def expand(self, groups):
        return (
            groups
            | "BatchPrompts" >> beam.BatchElements(min_batch_size=1, max_batch_size=self.max_batch_size)
            | "Route" >> beam.ParDo(self.fn)
        )
