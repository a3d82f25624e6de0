"""The density-ratio scoring engine: batch of requests in, per-candidate scores out.

``CausalLMScorer`` computes, for one model, ``sum log p(response tokens | earlier tokens)``
over a batch of encoded sequences; ``DensityRatioScorer`` runs it for the strong and the
weak model and forms the reward ``logp_strong - logp_weak``.

What it does per batch (the part later optimisations replace, behind the same interface):
sequences are sorted by length and packed into sub-batches whose padded size stays under
a token budget; one forward of the transformer body runs under ``inference_mode``; the LM
head and the log-softmax run only at the positions whose *next* token is a response
token, in row chunks, so memory never holds ``tokens x vocab`` logits. Sums accumulate in
float64 whatever the model dtype.

No Beam import here: the engine is tested and benchmarked on its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from guides import Guide
from transforms.engine.models import LoadedModel
from transforms.engine.templating import EncodedSequence, TemplateError, encode_for_scoring, guided_messages

# Rows of logits materialised at once: bounded to ~64M floats (256 MB in float32).
LOGIT_CHUNK_ELEMENTS = 1 << 26


@dataclass(frozen=True)
class ScoreRequest:
    """One candidate to score: a conversation, a response and the guide to put in front."""

    key: str
    conversation: list[dict[str, str]]
    response: str
    guide: Guide | None = None


@dataclass(frozen=True)
class ScoreResult:
    key: str
    logp_strong: float
    logp_weak: float
    n_tokens_strong: int
    n_tokens_weak: int

    @property
    def reward(self) -> float:
        """The paper's annotation reward: summed log-density ratio."""
        return self.logp_strong - self.logp_weak

    @property
    def reward_mean(self) -> float:
        """Length-normalised ratio: per-token means of each model (own tokenizer each)."""
        return self.logp_strong / self.n_tokens_strong - self.logp_weak / self.n_tokens_weak


@dataclass(frozen=True)
class ScoreFailure:
    key: str
    stage: str
    reason: str


class SequenceTooLarge(RuntimeError):
    """A single sequence does not fit in memory even alone."""


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


class CausalLMScorer:
    """Sum of response-token log-probs under one causal LM."""

    def __init__(self, loaded: LoadedModel, batch_tokens: int = 8192, max_tokens: int | None = None):
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.device = loaded.device
        self.batch_tokens = max(1, int(batch_tokens))
        limit = getattr(self.model.config, "max_position_embeddings", None)
        self.max_tokens = min(x for x in (max_tokens, limit) if x) if (max_tokens or limit) else None
        self.body = getattr(self.model, self.model.base_model_prefix)
        self.head = self.model.get_output_embeddings()
        self.softcap = getattr(self.model.config, "final_logit_softcapping", None)
        self.pad_id = next((t for t in (self.tokenizer.pad_token_id, self.tokenizer.eos_token_id) if t is not None), 0)
        # Beam's DirectRunner calls one shared model from several threads.
        self._lock = threading.Lock()
        # Test hook: called with the batch before each forward (fault injection).
        self.before_forward: Callable[[list[EncodedSequence]], None] | None = None

    @property
    def name(self) -> str:
        return self.loaded.name

    def encode(self, conversation: list[dict[str, str]], response: str, guide: Guide | None) -> EncodedSequence:
        return encode_for_scoring(self.tokenizer, guided_messages(guide, conversation), response, self.max_tokens)

    def _pack(self, order: list[int], seqs: Sequence[EncodedSequence]) -> list[list[int]]:
        """Greedy packing of length-sorted sequences under the padded token budget."""
        batches: list[list[int]] = []
        current: list[int] = []
        for i in order:
            longest = max([len(seqs[j]) for j in current] + [len(seqs[i])])
            if current and longest * (len(current) + 1) > self.batch_tokens:
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
        return batches

    def _forward_logprobs(self, batch: list[EncodedSequence]) -> list[float]:
        if self.before_forward is not None:
            self.before_forward(batch)
        width = max(len(s) for s in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        rows, cols, targets, owner = [], [], [], []
        for b, s in enumerate(batch):
            n = len(s)
            ids[b, :n] = torch.tensor(s.input_ids, dtype=torch.long)
            mask[b, :n] = 1
            # logits at position t-1 predict token t, for every response token t.
            span = range(s.response_start, n)
            rows.extend([b] * len(span))
            cols.extend(t - 1 for t in span)
            targets.extend(s.input_ids[t] for t in span)
            owner.extend([b] * len(span))
        ids, mask = ids.to(self.device), mask.to(self.device)
        hidden = self.body(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
        picked = hidden[torch.tensor(rows, device=self.device), torch.tensor(cols, device=self.device)]
        target_t = torch.tensor(targets, device=self.device)
        vocab = self.head.weight.shape[0]
        chunk = max(1, LOGIT_CHUNK_ELEMENTS // vocab)
        token_lp = torch.empty(len(rows), dtype=torch.float64, device=self.device)
        for lo in range(0, len(rows), chunk):
            logits = self.head(picked[lo : lo + chunk]).float()
            if self.softcap:
                logits = torch.tanh(logits / self.softcap) * self.softcap
            lse = torch.logsumexp(logits, dim=-1)
            tgt = logits.gather(1, target_t[lo : lo + chunk, None]).squeeze(1)
            token_lp[lo : lo + chunk] = (tgt - lse).double()
        sums = torch.zeros(len(batch), dtype=torch.float64, device=self.device)
        sums.index_add_(0, torch.tensor(owner, device=self.device), token_lp)
        return sums.cpu().tolist()

    def _run(self, batch_idx: list[int], seqs: Sequence[EncodedSequence], out: list) -> None:
        try:
            with self._lock, torch.inference_mode():
                values = self._forward_logprobs([seqs[i] for i in batch_idx])
        except Exception as exc:
            if not _is_oom(exc):
                raise
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            if len(batch_idx) == 1:
                out[batch_idx[0]] = SequenceTooLarge(
                    f"out of memory scoring a {len(seqs[batch_idx[0]])}-token sequence alone with {self.name}"
                )
                return
            half = len(batch_idx) // 2  # halve and retry
            self._run(batch_idx[:half], seqs, out)
            self._run(batch_idx[half:], seqs, out)
            return
        for i, v in zip(batch_idx, values, strict=True):
            out[i] = v

    def logprobs(self, seqs: Sequence[EncodedSequence]) -> list[float | SequenceTooLarge]:
        """Summed response log-prob per sequence, in input order."""
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        out: list = [None] * len(seqs)
        for batch_idx in self._pack(order, seqs):
            self._run(batch_idx, seqs, out)
        return out


class DensityRatioScorer:
    """Reward = sum log p_strong(y|x) - sum log p_weak(y|x), each with its own template."""

    def __init__(self, strong: CausalLMScorer, weak: CausalLMScorer):
        self.strong = strong
        self.weak = weak

    def _model_pass(
        self, scorer: CausalLMScorer, requests: Sequence[ScoreRequest], failures: dict[str, ScoreFailure], role: str
    ) -> dict[str, tuple[float, int]]:
        encoded: dict[str, EncodedSequence] = {}
        for r in requests:
            if r.key in failures:
                continue
            try:
                encoded[r.key] = scorer.encode(r.conversation, r.response, r.guide)
            except TemplateError as exc:
                failures[r.key] = ScoreFailure(r.key, "template", f"{role} model ({scorer.name}): {exc}")
        keys = list(encoded)
        values = scorer.logprobs([encoded[k] for k in keys])
        result = {}
        for k, v in zip(keys, values, strict=True):
            if isinstance(v, Exception):
                failures[k] = ScoreFailure(k, "score", f"{role} model: {v}")
            else:
                result[k] = (v, encoded[k].n_response)
        return result

    def score(self, requests: Sequence[ScoreRequest]) -> list[ScoreResult | ScoreFailure]:
        """Score every request; a request that cannot be scored comes back as a failure."""
        failures: dict[str, ScoreFailure] = {}
        strong = self._model_pass(self.strong, requests, failures, "strong")
        weak = self._model_pass(self.weak, [r for r in requests if r.key in strong], failures, "weak")
        out: list[ScoreResult | ScoreFailure] = []
        for r in requests:
            if r.key in failures:
                out.append(failures[r.key])
            else:
                (ls, ns), (lw, nw) = strong[r.key], weak[r.key]
                out.append(ScoreResult(r.key, ls, lw, ns, nw))
        return out
