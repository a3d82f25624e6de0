"""Domain routers: which guide a prompt gets. No Beam here; the DoFn is in ``routing.py``.

* ``KeywordRouter`` - whole-word keyword hits from each guide's ``keywords``; cheap.
* ``LLMRouter`` - zero-shot with a causal LM: one classification prompt built from the
  guides' descriptions, each domain label scored as the assistant's continuation
  (label log-likelihoods compared, softmax over labels). Nothing is parsed from generated
  text, so there are no parse failures.
* column routing needs no class: the record's ``domain`` field is used as is.

Every router returns ``(domain, confidence)``; a prompt whose best label is not clear
(confidence below the threshold) falls back to the default domain.

The LLM router is calibrated (contextual calibration, Zhao et al. 2021): small models put
a strong prior on some labels whatever the request ("chat" is a common word), so each
label's log-likelihood for a content-free request is subtracted before comparing. On the
built-in router set this took Qwen2.5-0.5B from answering "chat" for everything to
routing by content (figures in the README).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from guides import Guide

ROUTER_KINDS = ("llm", "keyword", "column")
# How much of the conversation the LLM router reads: routing needs the gist, not all of it.
ROUTER_MAX_CHARS = 2000
# The content-free request whose label likelihoods are the calibration baseline.
CONTENT_FREE = [{"role": "user", "content": "N/A"}]


def conversation_text(conversation: list[dict[str, str]], max_chars: int = ROUTER_MAX_CHARS) -> str:
    turns = [f"{m['role']}: {m['content']}" for m in conversation if m["role"] != "system"]
    text = "\n".join(turns)
    return text if len(text) <= max_chars else text[: max_chars // 2] + "\n...\n" + text[-max_chars // 2 :]


class KeywordRouter:
    def __init__(self, guides: dict[str, Guide], default_domain: str):
        self.default_domain = default_domain
        self.patterns = {
            gid: [re.compile(r"\b" + re.escape(k) + r"\b", re.IGNORECASE) for k in g.keywords]
            for gid, g in guides.items()
        }

    def route(self, conversation: list[dict[str, str]]) -> tuple[str, float]:
        text = " ".join(m["content"] for m in conversation if m["role"] == "user")
        hits = {gid: sum(1 for p in pats if p.search(text)) for gid, pats in self.patterns.items()}
        total = sum(hits.values())
        if total == 0:
            return self.default_domain, 0.0
        best = max(sorted(hits), key=lambda g: hits[g])
        if list(hits.values()).count(hits[best]) > 1:  # a tie is not a clear answer
            return self.default_domain, hits[best] / total
        return best, hits[best] / total


def classification_messages(guides: dict[str, Guide], conversation: list[dict[str, str]]) -> list[dict[str, str]]:
    domains = "\n".join(f"- {gid}: {g.description}" for gid, g in guides.items())
    system = (
        "You sort requests into domains. The domains are:\n"
        f"{domains}\n"
        "Reply with the name of the one domain the request belongs to, and nothing else."
    )
    user = f"Request:\n{conversation_text(conversation)}\n\nWhich domain ({', '.join(guides)})?"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def softmax(values: Sequence[float]) -> list[float]:
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


class LLMRouter:
    """Zero-shot routing by comparing label log-likelihoods under a causal LM."""

    def __init__(
        self, scorer, guides: dict[str, Guide], default_domain: str, threshold: float = 0.5, calibrate: bool = True
    ):
        # ``scorer`` is a transforms.engine.scorer.CausalLMScorer (kept untyped: no torch import here).
        self.scorer = scorer
        self.guides = guides
        self.labels = list(guides)
        self.default_domain = default_domain
        self.threshold = threshold
        self.calibrate = calibrate
        self._baseline: list[float] | None = None

    def _label_logprobs(self, conversations: Sequence[list[dict[str, str]]]) -> list[list[float] | None]:
        items = []
        for conv in conversations:
            msgs = classification_messages(self.guides, conv)
            items.extend((msgs, label, None) for label in self.labels)
        # One call per batch: the scorer may be a proxy to a model in another process.
        values, _stats = self.scorer.score_responses(items)
        k = len(self.labels)
        rows = [values[i : i + k] for i in range(0, len(values), k)]
        return [None if any(not isinstance(v, tuple) for v in row) else [v[0] for v in row] for row in rows]

    def baseline(self) -> list[float]:
        """Label log-likelihoods for a content-free request (zeros when not calibrating)."""
        if self._baseline is None:
            row = self._label_logprobs([CONTENT_FREE])[0] if self.calibrate else None
            self._baseline = row or [0.0] * len(self.labels)
        return self._baseline

    def route_many(self, conversations: Sequence[list[dict[str, str]]]) -> list[tuple[str, float]]:
        base = self.baseline()
        out = []
        for lps in self._label_logprobs(conversations):
            if lps is None:
                out.append((self.default_domain, 0.0))
                continue
            probs = softmax([v - b for v, b in zip(lps, base)])
            best = max(range(len(probs)), key=lambda i: probs[i])
            if probs[best] < self.threshold:
                out.append((self.default_domain, probs[best]))
            else:
                out.append((self.labels[best], probs[best]))
        return out
