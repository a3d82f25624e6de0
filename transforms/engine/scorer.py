"""The density-ratio scoring engine: batch of requests in, per-candidate scores out.

``CausalLMScorer`` computes, for one model, ``sum log p(response tokens | earlier tokens)``
over a batch of encoded sequences; ``DensityRatioScorer`` runs it for the strong and the
weak model and forms the reward ``logp_strong - logp_weak``.

What it does: the guide prefix shared by a domain's records and the prompt shared by a
record's candidates are run once (key/value cache, see ``prefix_cache``), and only each
sequence's remaining tokens go through the model; work is sorted by length and packed
under a token budget; the LM head and the log-softmax run only at the positions whose
*next* token is a response token, in row chunks, so memory never holds ``tokens x vocab``
logits. Sums accumulate in float64 whatever the model dtype (log-softmax in float32). An
out-of-memory halves the batch and retries; one sequence that fails alone comes back as
``SequenceTooLarge``.

``CausalLMScorer.embed`` gives the embedding router a vector per prompt from the same
loaded model: one layer's hidden state at the end of the prompt's user text (or their mean
over it), read in the model's own chat template; one forward of at most
``EMBED_MAX_TOKENS`` tokens per prompt, no LM head, batched under the same token budget.

No Beam import here: the engine is tested and benchmarked on its own.
"""

from __future__ import annotations

import inspect
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import DynamicCache

from guides import Guide
from transforms.engine.models import LoadedModel
from transforms.engine.prefix_cache import (
    MIN_DOMAIN_TOKENS,
    KVBlock,
    PrefixLRU,
    build_past,
    plan_prefixes,
    slice_blocks,
)
from transforms.engine.templating import (
    EncodedSequence,
    TemplateError,
    _adds_bos,
    _fallback_render,
    _render,
    encode_for_scoring,
    guided_messages,
)
from transforms.reward import density_ratio

# Marks a row whose forward failed alone (its failure was recorded by the caller).
_NO_RESULT = object()

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
        return density_ratio(self.logp_strong, self.logp_weak, self.n_tokens_strong, self.n_tokens_weak, "sum")

    @property
    def reward_mean(self) -> float:
        """Length-normalised ratio: per-token means of each model (own tokenizer each)."""
        return density_ratio(self.logp_strong, self.logp_weak, self.n_tokens_strong, self.n_tokens_weak, "mean")


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


# Tokens an embedding reads per prompt (templated conversation, after truncation): routing
# needs the gist of the request, and the bound keeps a pasted log or file from costing a
# long forward.
EMBED_MAX_TOKENS = 256
# Of those, how many come from the start; the rest from the end (see ``embedding_ids``).
EMBED_HEAD_FRACTION = 0.25
POOLINGS = ("last", "mean")


def embedding_messages(conversation: Sequence[dict[str, str]]) -> list[dict[str, str]]:
    """What a prompt is embedded by: its user and assistant turns, contents stripped.

    The system message is left out: it describes the deployment ("You are a support
    assistant for ..."), not what this user is asking for.
    """
    return [{"role": m["role"], "content": m["content"].strip()} for m in conversation if m["role"] != "system"]


# Past + suffix slots of a scoring batch may reach this multiple of the token budget: past
# slots cost memory and attention only, not the projections/MLP the budget is sized for.
CONTEXT_FACTOR = 4


@dataclass(eq=False)
class _Row:
    """One row of a forward: run ``tokens`` on top of the cached ``chain`` of KV blocks."""

    tokens: tuple[int, ...]
    chain: tuple[KVBlock, ...]
    seq: EncodedSequence  # what ``before_forward`` sees for this row
    index: int = -1  # output slot of a scoring row; -1 for a prefix row

    @property
    def past_len(self) -> int:
        return sum(b.length for b in self.chain)


def _uses_sliding_window(config) -> bool:
    if any(t != "full_attention" for t in (getattr(config, "layer_types", None) or [])):
        return True
    return bool(getattr(config, "sliding_window", None)) and getattr(config, "use_sliding_window", True)


class CausalLMScorer:
    """Sum of response-token log-probs under one causal LM.

    With ``prefix_reuse`` (the default where the model allows it) shared guide and prompt
    prefixes are run once and only the remaining tokens of each sequence go through the model
    (see :mod:`transforms.engine.prefix_cache`); without it every sequence runs in full. Both
    paths apply the LM head only where the next token is a response token.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        batch_tokens: int = 8192,
        max_tokens: int | None = None,
        prefix_reuse: bool = True,
        prefix_cache_entries: int = 16,
        prefix_cache_bytes: int = 1 << 30,
        min_prefix_tokens: int = MIN_DOMAIN_TOKENS,
    ):
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
        params = inspect.signature(self.body.forward).parameters
        self._cache_kw = next((k for k in ("cache", "past_key_values") if k in params), None)
        # Sliding-window layers mask by slot distance, which padded pasts would break.
        self.prefix_reuse = bool(prefix_reuse) and self._cache_kw is not None
        self.prefix_reuse = self.prefix_reuse and not _uses_sliding_window(self.model.config)
        self.prefix_cache = PrefixLRU(prefix_cache_entries, prefix_cache_bytes)
        self.min_prefix_tokens = max(1, int(min_prefix_tokens))
        # Work counters (tokens run, padded slots, head rows ...) for benchmarks and logs.
        self.stats: Counter[str] = Counter()
        # Beam's DirectRunner calls one shared model from several threads.
        self._lock = threading.RLock()
        # Test hook: called before each forward with one EncodedSequence per row (fault injection);
        # a prefix row shows as its prefix ids with no response tokens.
        self.before_forward: Callable[[list[EncodedSequence]], None] | None = None

    @property
    def name(self) -> str:
        return self.loaded.name

    def encode(self, conversation: list[dict[str, str]], response: str, guide: Guide | None) -> EncodedSequence:
        return encode_for_scoring(self.tokenizer, guided_messages(guide, conversation), response, self.max_tokens)

    # -- batching -------------------------------------------------------------------------

    def _pack(self, rows: list[_Row]) -> list[list[_Row]]:
        """Length-sorted greedy packing: padded tokens under the budget, padded context under a multiple of it."""
        batches: list[list[_Row]] = []
        current: list[_Row] = []
        longest = widest = 0
        for row in sorted(rows, key=lambda r: (len(r.tokens), r.past_len)):
            n, ctx = len(row.tokens), row.past_len + len(row.tokens)
            grow, wide = max(longest, n), max(widest, ctx)
            if current and (
                grow * (len(current) + 1) > self.batch_tokens
                or wide * (len(current) + 1) > CONTEXT_FACTOR * self.batch_tokens
            ):
                batches.append(current)
                current, grow, wide = [], n, ctx
            current.append(row)
            longest, widest = grow, wide
        if current:
            batches.append(current)
        return batches

    # -- one forward ----------------------------------------------------------------------

    def _forward(self, rows: list[_Row], want_kv: bool) -> list:
        """Run one padded batch; prefix rows return their new KV blocks, scoring rows their log-prob sums."""
        if self.before_forward is not None:
            self.before_forward([r.seq for r in rows])
        pasts = [r.past_len for r in rows]
        width, past_width = max(len(r.tokens) for r in rows), max(pasts)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), past_width + width), dtype=torch.long)
        positions = torch.arange(width).repeat(len(rows), 1)
        for b, r in enumerate(rows):
            ids[b, : len(r.tokens)] = torch.tensor(r.tokens, dtype=torch.long)
            mask[b, : pasts[b]] = 1
            mask[b, past_width : past_width + len(r.tokens)] = 1
            positions[b] += pasts[b]  # true positions: rotary offsets ignore the padded slots
        kwargs = {}
        past = build_past([r.chain for r in rows], past_width)
        if past is not None:
            kwargs[self._cache_kw] = DynamicCache(ddp_cache_data=past, config=self.model.config)
        self.stats["forwards"] += 1
        self.stats["tokens_run"] += sum(len(r.tokens) for r in rows)
        self.stats["token_slots"] += width * len(rows)
        self.stats["past_tokens"] += sum(pasts)
        out = self.body(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device),
            use_cache=want_kv or past is not None,
            **kwargs,
        )
        if want_kv:
            cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
            layers = [(layer.keys, layer.values) for layer in cache.layers]
            return slice_blocks(layers, past_width, [len(r.tokens) for r in rows])
        hidden = out.last_hidden_state
        del out, kwargs, past
        sel_rows, sel_cols, targets, owner = [], [], [], []
        for b, r in enumerate(rows):
            # hidden at sequence position t-1 (slot t-1-past) predicts response token t.
            span = range(r.seq.response_start, len(r.seq))
            sel_rows.extend([b] * len(span))
            sel_cols.extend(t - 1 - pasts[b] for t in span)
            targets.extend(r.seq.input_ids[t] for t in span)
            owner.extend([b] * len(span))
        return self._head_logprobs(hidden, sel_rows, sel_cols, targets, owner, len(rows))

    def _head_logprobs(self, hidden, rows, cols, targets, owner, n_out: int) -> list[float]:
        """LM head + log-softmax at the selected positions only, in row chunks; float64 sums per owner."""
        dev = self.device
        picked = hidden[torch.tensor(rows, device=dev), torch.tensor(cols, device=dev)]
        target_t = torch.tensor(targets, device=dev)
        vocab = self.head.weight.shape[0]
        chunk = max(1, LOGIT_CHUNK_ELEMENTS // vocab)
        token_lp = torch.empty(len(rows), dtype=torch.float64, device=dev)
        self.stats["head_rows"] += len(rows)
        for lo in range(0, len(rows), chunk):
            logits = self.head(picked[lo : lo + chunk]).float()
            if self.softcap:
                logits = torch.tanh(logits / self.softcap) * self.softcap
            # log_softmax is one fused pass on CPU; logsumexp + gather measured ~1.5x slower.
            logp = torch.log_softmax(logits, dim=-1)
            token_lp[lo : lo + chunk] = logp.gather(1, target_t[lo : lo + chunk, None]).squeeze(1).double()
        sums = torch.zeros(n_out, dtype=torch.float64, device=dev)
        sums.index_add_(0, torch.tensor(owner, device=dev), token_lp)
        return sums.cpu().tolist()

    def _halving_on_oom(self, rows: list, run: Callable[[list], list], alone: Callable[[Any], Any]) -> list:
        """``run(rows)``; on out-of-memory halve and retry; a single row that still fails gives ``alone(row)``."""
        try:
            return run(rows)
        except Exception as exc:
            if not _is_oom(exc):
                raise
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            self.stats["oom_splits"] += 1
            if len(rows) == 1:
                return [alone(rows[0])]
            half = len(rows) // 2
            return self._halving_on_oom(rows[:half], run, alone) + self._halving_on_oom(rows[half:], run, alone)

    def _guarded(self, rows: list[_Row], want_kv: bool, results: dict[int, object], failed: Callable[[_Row], None]):
        """Forward ``rows`` (halving on out-of-memory); a single row that still fails goes to ``failed``."""
        values = self._halving_on_oom(rows, lambda rs: self._forward(rs, want_kv), lambda r: failed(r) or _NO_RESULT)
        for r, v in zip(rows, values, strict=True):
            if v is not _NO_RESULT:
                results[id(r)] = v

    def _too_large(self, out: list, seqs: Sequence[EncodedSequence]) -> Callable[[_Row], None]:
        def fail(row: _Row) -> None:
            out[row.index] = SequenceTooLarge(
                f"out of memory scoring a {len(seqs[row.index])}-token sequence alone with {self.name}"
            )

        return fail

    def _score_rows(self, rows: list[_Row], seqs: Sequence[EncodedSequence], out: list) -> None:
        results: dict[int, object] = {}
        fail = self._too_large(out, seqs)
        for batch in self._pack(rows):
            self._guarded(batch, False, results, fail)
        for r in rows:
            if id(r) in results:
                out[r.index] = results[id(r)]

    def _prefix_blocks(self, items: list[tuple[tuple[int, ...], tuple[KVBlock, ...]]]) -> list[KVBlock | None]:
        """KV blocks for token segments on top of their chains (None where one does not fit in memory)."""
        rows = [
            _Row(key[sum(b.length for b in chain) :], chain, EncodedSequence(key, len(key))) for key, chain in items
        ]
        results: dict[int, object] = {}
        for batch in self._pack(rows):
            self._guarded(batch, True, results, lambda _r: None)
        return [results.get(id(r)) for r in rows]

    # -- public ---------------------------------------------------------------------------

    def logprobs(self, seqs: Sequence[EncodedSequence]) -> list[float | SequenceTooLarge]:
        """Summed response log-prob per sequence, in input order."""
        out: list = [None] * len(seqs)
        with self._lock, torch.inference_mode():
            if not self.prefix_reuse:
                rows = [_Row(tuple(s.input_ids), (), s, i) for i, s in enumerate(seqs)]
                self._score_rows(rows, seqs, out)
                return out
            self._logprobs_with_reuse(seqs, out)
        return out

    def score_responses(
        self, items: Sequence[tuple[list[dict[str, str]], str, Guide | None]]
    ) -> tuple[list[tuple[float, int] | ScoreFailure], dict[str, int]]:
        """``(conversation, response, guide)`` triples -> ``(logp, n_response_tokens)`` or a failure each.

        The one call a model pool serves across processes: text in, floats out, one round
        trip per batch. Also returns the work counters this call added (forwards, tokens run,
        OOM splits), so a caller in another process can report them.
        """
        with self._lock:
            before = Counter(self.stats)
            encoded, out = [], [None] * len(items)
            for i, (conversation, response, guide) in enumerate(items):
                try:
                    encoded.append((i, self.encode(conversation, response, guide)))
                except TemplateError as exc:
                    out[i] = ScoreFailure("", "template", str(exc))
            values = self.logprobs([seq for _, seq in encoded])
            for (i, seq), value in zip(encoded, values, strict=True):
                if isinstance(value, Exception):
                    out[i] = ScoreFailure("", "score", str(value))
                else:
                    out[i] = (value, seq.n_response)
            delta = {k: v - before.get(k, 0) for k, v in self.stats.items() if v != before.get(k, 0)}
        return out, delta

    # -- embeddings (the embedding router) ------------------------------------------------

    def _embedding_text(self, messages: list[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
        """The conversation in the model's chat template, and the character spans of its user turns."""
        try:
            text = _render(self.tokenizer, messages, False)
        except Exception:  # a template that rejects this conversation: the plain fallback format
            text = _fallback_render(self.tokenizer, messages, False)
        spans, at = [], 0
        for m in messages:
            start = text.find(m["content"], at)
            if start < 0:  # the template rewrote a turn: use the format whose spans are known
                return self._embedding_text_plain(messages)
            at = start + len(m["content"])
            if m["role"] == "user" and m["content"]:
                spans.append((start, at))
        return text, spans

    def _embedding_text_plain(self, messages: list[dict[str, str]]) -> tuple[str, list[tuple[int, int]]]:
        text = _fallback_render(self.tokenizer, messages, False)
        spans, at = [], 0
        for m in messages:
            start = text.index(m["content"], at)
            at = start + len(m["content"])
            if m["role"] == "user" and m["content"]:
                spans.append((start, at))
        return text, spans

    def embedding_ids(
        self, conversation: Sequence[dict[str, str]], max_tokens: int | None
    ) -> tuple[list[int], list[int]]:
        """Token ids of the templated conversation, truncated, and the positions of its user-text tokens.

        Over ``max_tokens`` the middle is cut: the first quarter of the budget keeps the
        opening (the template's preamble, what the conversation started with) and the rest
        keeps the end (the latest request, and the question that usually follows a pasted
        document or code, which is what the guide has to fit; ``last`` pooling reads the
        final user token, so the end must survive).
        """
        messages = embedding_messages(conversation)
        if not any(m["content"] for m in messages if m["role"] == "user"):
            raise TemplateError("the prompt has no user text to embed")
        text, spans = self._embedding_text(messages)
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = list(enc["input_ids"])
        # A token overlapping user text counts as user text (a space may merge into its first word).
        user = [e > s and any(s < b and e > a for a, b in spans) for s, e in enc["offset_mapping"]]
        # A model trained with a BOS sees one; its hidden state (an attention sink) is never pooled.
        if _adds_bos(self.tokenizer) and (not ids or ids[0] != self.tokenizer.bos_token_id):
            ids, user = [self.tokenizer.bos_token_id, *ids], [False, *user]
        limit = min(x for x in (max_tokens, self.max_tokens) if x) if (max_tokens or self.max_tokens) else None
        if limit and len(ids) > limit:
            head = int(limit * EMBED_HEAD_FRACTION)
            keep = [*range(head), *range(len(ids) - (limit - head), len(ids))]
            ids, user = [ids[i] for i in keep], [user[i] for i in keep]
        pooled = [i for i, u in enumerate(user) if u]
        if not pooled:
            raise TemplateError("no user-text token left to embed after truncation")
        return ids, pooled

    def _embed_batch(self, rows: list[tuple[list[int], int]], layer: int, pooling: str) -> list[list[float]]:
        width = max(len(ids) for ids, _ in rows)
        ids_t = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for b, (ids, _pooled) in enumerate(rows):
            ids_t[b, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[b, : len(ids)] = 1
        # Right padding: real tokens keep positions 0..n-1 and, the attention being causal,
        # never see a pad, so a prompt's vector does not depend on its batch.
        positions = torch.arange(width).repeat(len(rows), 1)
        self.stats["embed_forwards"] += 1
        self.stats["embed_tokens"] += int(mask.sum())
        out = self.body(
            input_ids=ids_t.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device),
            use_cache=False,
            output_hidden_states=layer != -1,
        )
        hidden = out.last_hidden_state if layer == -1 else out.hidden_states[layer]
        vectors = []
        for b, (_ids, pooled) in enumerate(rows):
            if pooling == "last":
                vectors.append(hidden[b, pooled[-1]].float().cpu().tolist())
            else:
                index = torch.tensor(pooled, device=hidden.device)
                vectors.append(hidden[b].index_select(0, index).float().mean(dim=0).cpu().tolist())
        return vectors

    def _embed_guarded(self, rows, layer: int, pooling: str) -> list[list[float]]:
        def alone(row):
            raise SequenceTooLarge(f"out of memory embedding a {len(row[0])}-token prompt with {self.name}")

        return self._halving_on_oom(rows, lambda rs: self._embed_batch(rs, layer, pooling), alone)

    def embed(
        self,
        conversations: Sequence[Sequence[dict[str, str]]],
        layer: int = -1,
        pooling: str = "last",
        max_tokens: int | None = EMBED_MAX_TOKENS,
    ) -> list[list[float]]:
        """One vector per conversation, from layer ``layer``'s hidden states over its user text.

        The conversation (system message dropped) is rendered with the model's chat
        template, so the model reads it as the request it is; ``pooling`` is ``last`` (the
        state at the final user-text token, which has attended to the whole conversation)
        or ``mean`` (over every user-text token). ``layer`` indexes ``hidden_states`` as
        transformers does: 0 is the token embeddings, -1 the last layer after the final
        norm. Prompts are sorted by length and packed under ``batch_tokens`` padded tokens
        per forward; an out-of-memory halves the batch. Raises ``TemplateError`` for a
        prompt without user text, ``SequenceTooLarge`` for one that does not fit alone;
        callers treat the batch as failed.
        """
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if max_tokens is None:
            max_tokens = EMBED_MAX_TOKENS
        if not conversations:
            return []
        with self._lock, torch.inference_mode():
            rows = [self.embedding_ids(c, max_tokens) for c in conversations]
            order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))
            batches: list[list[int]] = [[]]
            for i in order:  # ascending length: the newest row is the widest of its batch
                if batches[-1] and len(rows[i][0]) * (len(batches[-1]) + 1) > self.batch_tokens:
                    batches.append([])
                batches[-1].append(i)
            out: list[list[float]] = [[] for _ in rows]
            for batch in batches:
                for j, v in zip(batch, self._embed_guarded([rows[j] for j in batch], layer, pooling), strict=True):
                    out[j] = v
        return out

    def _logprobs_with_reuse(self, seqs: Sequence[EncodedSequence], out: list) -> None:
        cached: dict[tuple[int, ...], KVBlock] = {}

        def known(key: tuple[int, ...]) -> tuple[int, ...] | None:
            hit = self.prefix_cache.longest(key, len(key))
            if hit is None:
                return None
            cached[hit[0]] = hit[1]
            return hit[0]

        groups = plan_prefixes(seqs, known, self.min_prefix_tokens)
        # Level a: new domain prefixes, computed once and kept for the worker's life.
        new = sorted({g.domain for g in groups if g.domain and g.domain not in cached})
        for key, block in zip(new, self._prefix_blocks([(k, ()) for k in new]), strict=True):
            if block is not None:
                cached[key] = block
                self.prefix_cache.put(key, block)
        self.stats["domain_prefix_tokens_run"] += sum(len(k) for k in new)
        # Level b: prompts shared by several candidates, a window of groups at a time so that
        # their KV (dropped after use) stays bounded.
        window_tokens = CONTEXT_FACTOR * self.batch_tokens
        groups.sort(key=lambda g: g.key)
        at = 0
        while at < len(groups):
            window, size = [], 0
            while at < len(groups) and (not window or size + len(groups[at].key) <= window_tokens):
                window.append(groups[at])
                size += len(groups[at].key)
                at += 1
            self._score_window(window, seqs, cached, out)

    def _score_window(self, window, seqs, cached: dict[tuple[int, ...], KVBlock], out: list) -> None:
        chains: dict[int, tuple[KVBlock, ...]] = {}
        shared = []
        for g in window:
            domain = (cached[g.domain],) if g.domain in cached else ()
            chains[id(g)] = domain
            if len(g.members) > 1 and len(g.key) > sum(b.length for b in domain):
                shared.append(g)
        for g, block in zip(shared, self._prefix_blocks([(g.key, chains[id(g)]) for g in shared]), strict=True):
            if block is not None:
                chains[id(g)] = (*chains[id(g)], block)
        rows = []
        for g in window:
            chain = chains[id(g)]
            start = sum(b.length for b in chain)
            for i in g.members:
                rows.append(_Row(tuple(seqs[i].input_ids[start:]), chain, seqs[i], i))
        self._score_rows(rows, seqs, out)


class DensityRatioScorer:
    """Reward = sum log p_strong(y|x) - sum log p_weak(y|x), each with its own template."""

    def __init__(self, strong: CausalLMScorer, weak: CausalLMScorer):
        # Either may be a proxy to a model held by another process (transforms.model_pool):
        # only ``name`` and ``score_responses`` are used, one round trip per model per batch.
        self.strong = strong
        self.weak = weak
        self.stats: Counter[str] = Counter()  # work counters of both models, "strong_"/"weak_" prefixed

    def _model_pass(
        self, scorer: CausalLMScorer, requests: Sequence[ScoreRequest], failures: dict[str, ScoreFailure], role: str
    ) -> dict[str, tuple[float, int]]:
        todo = [r for r in requests if r.key not in failures]
        values, stats = scorer.score_responses([(r.conversation, r.response, r.guide) for r in todo])
        for k, v in stats.items():
            self.stats[f"{role}_{k}"] += v
        result = {}
        for r, v in zip(todo, values, strict=True):
            if isinstance(v, ScoreFailure):
                what = f"{role} model ({scorer.name})" if v.stage == "template" else f"{role} model"
                failures[r.key] = ScoreFailure(r.key, v.stage, f"{what}: {v.reason}")
            else:
                result[r.key] = v
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
