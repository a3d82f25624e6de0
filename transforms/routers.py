"""Domain routers: which guide a prompt gets. No Beam here; the DoFn is in ``routing.py``.

* ``EmbeddingRouter`` - the prompt's user text is embedded with the router model's own hidden
  states (last layer at the final user-text token, one forward of the prompt) and classified
  by a logistic regression fitted on labelled example prompts: the guides' ``examples``
  (plus exemplar prompts, the guide folder's ``router_examples*.jsonl`` and
  ``--router-examples``). The fit (or, with ``EmbeddingSpec.method``, k-NN / centroids) is
  computed once per worker process and cached by a content hash of everything it depends on.
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

import hashlib
import json
import math
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from guides import Guide, RouterExample, as_messages

ROUTER_KINDS = ("embedding", "llm", "keyword", "column")
# Routers that run a model (the strong model unless --router-model says otherwise).
MODEL_ROUTERS = ("embedding", "llm")
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


# -- embedding router -----------------------------------------------------------------------


class RouterExamplesError(ValueError):
    """The labelled examples cannot support embedding routing (a user-actionable error)."""


@dataclass(frozen=True)
class EmbeddingSpec:
    """How prompts become vectors and vectors become a domain. Defaults chosen on development data.

    ``layer``/``pooling``/``max_tokens`` go to ``CausalLMScorer.embed``. ``center`` subtracts
    the mean example embedding before comparing: a causal LM's hidden states share a large
    common direction, which otherwise makes every cosine ~0.9.

    ``method`` turns a vector into per-domain scores:

    * ``logreg`` (default): a multinomial logistic regression fitted on the labelled examples
      (unit vectors, class-balanced, L2 ``l2``, ``iterations`` full-batch gradient steps from
      zero: deterministic). Its logits are the scores. It learns which directions separate the
      domains instead of trusting every direction of the hidden state equally, which is what
      nearest-neighbour rules do; on the router development folds it was the best rule with
      the default pair's strong model (README, "Routers").
    * ``knn``: mean cosine of a domain's ``k`` nearest examples, divided by ``temperature``.
    * ``centroid``: cosine to each domain's mean example, divided by ``temperature``.

    The confidence is the softmax of the scores, so ``--router-threshold`` reads as it does for
    the llm router: below it, the prompt goes to the default domain.
    """

    layer: int = -1
    pooling: str = "last"
    max_tokens: int = 256
    center: bool = True
    method: str = "logreg"
    l2: float = 1e-4
    iterations: int = 3000
    temperature: float = 0.05  # knn and centroid only
    k: int = 3  # knn only


DEFAULT_EMBEDDING = EmbeddingSpec()


def labelled_examples(
    guides: dict[str, Guide], extra: Iterable[RouterExample] = ()
) -> list[tuple[str, list[dict[str, str]]]]:
    """Every labelled prompt the embedding router learns from: ``(domain, conversation)``, in a stable order."""
    out = [(gid, conv) for gid, g in guides.items() for conv in g.example_conversations()]
    out += [(ex.domain, as_messages(ex.conversation)) for ex in extra]
    return out


def check_router_examples(guides: dict[str, Guide], extra: Iterable[RouterExample] = ()) -> None:
    """Every guide needs labelled prompts, or the embedding router could never pick it."""
    have = {domain for domain, _ in labelled_examples(guides, extra)}
    missing = [gid for gid in guides if gid not in have]
    if missing:
        raise RouterExamplesError(
            f"the embedding router needs labelled prompts for every guide; none for {', '.join(missing)} "
            "(add 'examples:' to the guide file or records to --router-examples)"
        )


def _digest(obj) -> str:
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def router_examples_version(extra: Iterable[RouterExample]) -> str:
    """Content hash of ``--router-examples`` records (for the router setting)."""
    return _digest([[ex.domain, as_messages(ex.conversation)] for ex in extra])


def routing_versions(
    kind: str, guides: dict[str, Guide] | None, extra: Iterable[RouterExample] = (), spec: EmbeddingSpec | None = None
) -> dict[str, str]:
    """What ``transforms.keys.router_setting`` gets as ``guides``: every guide's version, and for
    the embedding router also the embedding spec and the ``--router-examples`` content.

    Guide versions already hash the guides' ``examples``; the extra file and the spec (layer,
    pooling, temperature ...) are not in any guide, so they are added here.
    """
    versions = {g.id: g.version for g in (guides or {}).values()}
    if kind == "embedding":
        extra = tuple(extra)
        versions["@embedding"] = _digest(asdict(spec or DEFAULT_EMBEDDING))
        if extra:
            versions["@router_examples"] = router_examples_version(extra)
    return versions


def fit_key(
    model_id: str, spec: EmbeddingSpec, examples: Sequence[tuple[str, list[dict[str, str]]]], guide_versions: dict
) -> str:
    """Content hash naming one fit: model, embedding spec, labelled examples, guide versions."""
    return _digest({"model": model_id, "spec": asdict(spec), "examples": examples, "guides": guide_versions})


@dataclass(frozen=True)
class RouterFit:
    """What the labelled examples teach the embedding router, for one content key."""

    labels: tuple[str, ...]
    mean: np.ndarray  # (dim,), subtracted before anything else when spec.center
    centroids: np.ndarray  # (domains, dim), unit rows
    examples: np.ndarray  # (n, dim), unit rows (k-NN)
    example_labels: np.ndarray  # (n,) index into labels
    weights: np.ndarray | None = None  # (dim, domains): logistic regression
    bias: np.ndarray | None = None  # (domains,)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def fit_softmax_regression(
    x: np.ndarray, y: np.ndarray, classes: int, l2: float, iterations: int
) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced multinomial logistic regression by full-batch gradient descent from zero.

    Rows of ``x`` are unit vectors, so the loss's gradient is 0.5-Lipschitz and a step of 2
    is safe; no randomness anywhere, so the same examples give the same routes. Balancing
    weighs each domain equally whatever its example count.
    """
    n, dim = x.shape
    counts = np.bincount(y, minlength=classes).astype(np.float64)
    sample_weight = (n / (classes * np.maximum(counts, 1.0)))[y] / n
    target = np.eye(classes)[y]
    weights, bias = np.zeros((dim, classes)), np.zeros(classes)
    step = 2.0
    for _ in range(iterations):
        logits = x @ weights + bias
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        grad = (probs - target) * sample_weight[:, None]
        weights -= step * (x.T @ grad + l2 * weights)
        bias -= step * grad.sum(axis=0)
    return weights, bias


def fit_router(
    vectors: np.ndarray, domains: Sequence[str], labels: Sequence[str], spec: EmbeddingSpec | None = None
) -> RouterFit:
    spec = spec or DEFAULT_EMBEDDING
    vectors = np.asarray(vectors, dtype=np.float64)
    mean = vectors.mean(axis=0) if spec.center else np.zeros(vectors.shape[1])
    unit = _unit(vectors - mean)
    index = np.array([list(labels).index(d) for d in domains])
    cents = np.stack([unit[index == i].mean(axis=0) for i in range(len(labels))])
    weights = bias = None
    if spec.method == "logreg":
        weights, bias = fit_softmax_regression(unit, index, len(labels), spec.l2, spec.iterations)
    return RouterFit(tuple(labels), mean, _unit(cents), unit, index, weights, bias)


def domain_scores(fit: RouterFit, vectors: np.ndarray, spec: EmbeddingSpec) -> np.ndarray:
    """Per-domain scores ``(prompts, domains)`` whose softmax is the routing confidence."""
    unit = _unit(np.asarray(vectors, dtype=np.float64) - fit.mean)
    if spec.method == "logreg":
        return unit @ fit.weights + fit.bias
    if spec.method == "centroid":
        return (unit @ fit.centroids.T) / spec.temperature
    sims = unit @ fit.examples.T  # (prompts, examples)
    out = np.full((len(unit), len(fit.labels)), -1.0)
    for j in range(len(fit.labels)):
        own = np.sort(sims[:, fit.example_labels == j], axis=1)[:, ::-1][:, : spec.k]
        out[:, j] = own.mean(axis=1)
    return out / spec.temperature


# Per process: the fit by content key. A worker builds it once (one embedding pass over the
# examples, then the fit) and every routing DoFn instance of that process reuses it.
_FIT_CACHE: dict[str, RouterFit] = {}
_FIT_LOCK = threading.Lock()


class EmbeddingRouter:
    """Routing by a classifier (logistic regression, k-NN or centroids) on the router model's own hidden states."""

    def __init__(
        self,
        model,
        guides: dict[str, Guide],
        default_domain: str,
        threshold: float = 0.5,
        extra_examples: Iterable[RouterExample] = (),
        model_id: str = "",
        spec: EmbeddingSpec = DEFAULT_EMBEDDING,
    ):
        # ``model`` has ``embed`` (a CausalLMScorer, or a PooledModel proxy to the shared copy).
        self.model = model
        self.guides = guides
        self.labels = list(guides)
        self.default_domain = default_domain
        self.threshold = threshold
        self.spec = spec
        self.examples = labelled_examples(guides, extra_examples)
        check_router_examples(guides, extra_examples)
        self.key = fit_key(
            model_id or getattr(model, "name", ""), spec, self.examples, {g.id: g.version for g in guides.values()}
        )

    def _embed(self, conversations: Sequence[list[dict[str, str]]]) -> np.ndarray:
        s = self.spec
        return np.asarray(self.model.embed(list(conversations), s.layer, s.pooling, s.max_tokens), dtype=np.float64)

    def fit(self) -> RouterFit:
        """This setting's fit: computed on first use in the process, then cached by content key."""
        with _FIT_LOCK:
            cached = _FIT_CACHE.get(self.key)
            if cached is None:
                vectors = self._embed([conv for _, conv in self.examples])
                domains = [d for d, _ in self.examples]
                cached = fit_router(vectors, domains, self.labels, self.spec)
                _FIT_CACHE[self.key] = cached
        return cached

    def scores(self, conversations: Sequence[list[dict[str, str]]]) -> np.ndarray:
        """Per-domain scores, ``(prompts, domains)``; their softmax is the confidence."""
        return domain_scores(self.fit(), self._embed(conversations), self.spec)

    def route_many(self, conversations: Sequence[list[dict[str, str]]]) -> list[tuple[str, float]]:
        if not conversations:
            return []
        out = []
        for row in self.scores(conversations):
            probs = softmax([float(v) for v in row])
            best = max(range(len(probs)), key=lambda i: probs[i])
            if probs[best] < self.threshold:
                out.append((self.default_domain, probs[best]))
            else:
                out.append((self.labels[best], probs[best]))
        return out
