"""Prefix reuse for response log-prob scoring: shared guide and prompt key/values computed once.

The sequences one model scores look like ``[template + guide][prompt][response]``. The guide
part is the same for every record of a domain and the prompt part is the same for the N
candidates of a record, so running every sequence in full recomputes most of its tokens.
This module finds those shared prefixes on token ids and holds their key/value (KV) states:

* **domain prefixes** (level a): the longest token prefix shared by the prompts of several
  records in a call (at least ``min_domain_tokens`` long, so a shared template header alone
  does not count). Their KV lives in a :class:`PrefixLRU` for the life of the worker, bounded
  by entry count and bytes, and later calls reuse it by longest-prefix lookup;
* **prompt prefixes** (level b): the prompt shared by the candidates of one record, computed
  once per call on top of its domain prefix and dropped after its candidates are scored.

A prefix never covers the last prompt token (``response_start - 1``): the hidden state there
predicts the first response token, so that token is always re-run as part of the suffix.

:func:`build_past` assembles a batch whose rows have different past chains (different
lengths): each row's past is copied to the front of a ``(B, heads, P, dim)`` tensor and padded
to the longest ``P``; the suffixes follow at slots ``P..P+S``, right-padded. The 2-D attention
mask covers ``P + S`` slots (ones on the real past and real suffix tokens only) and position
ids are ``past_len + j`` per row, so rotary offsets are the true token positions even though
slot indices are padded. Everything here is plain torch; the scorer owns the model calls.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from transforms.engine.templating import EncodedSequence

# A prefix shared by fewer tokens than this is not worth a cache entry (template headers).
MIN_DOMAIN_TOKENS = 32


@dataclass(frozen=True, eq=False)
class KVBlock:
    """Key/value states of one token segment for every layer, each ``(1, kv_heads, length, head_dim)``."""

    kv: tuple[tuple[torch.Tensor, torch.Tensor], ...]
    length: int

    @property
    def nbytes(self) -> int:
        return sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in self.kv)


class PrefixLRU:
    """Worker-lifetime store of domain-prefix KV blocks keyed by token ids, bounded by count and bytes."""

    def __init__(self, max_entries: int = 16, max_bytes: int = 1 << 30):
        self.max_entries = max(0, int(max_entries))
        self.max_bytes = max(0, int(max_bytes))
        self._entries: OrderedDict[tuple[int, ...], KVBlock] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.inserts = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def longest(self, ids: Sequence[int], limit: int) -> tuple[tuple[int, ...], KVBlock] | None:
        """The longest stored prefix of ``ids`` no longer than ``limit`` tokens (marks it recently used)."""
        with self._lock:
            best: tuple[int, ...] | None = None
            for key in self._entries:
                n = len(key)
                if n <= limit and (best is None or n > len(best)) and tuple(ids[:n]) == key:
                    best = key
            if best is None:
                return None
            self._entries.move_to_end(best)
            self.hits += 1
            return best, self._entries[best]

    def put(self, key: tuple[int, ...], block: KVBlock) -> None:
        size = block.nbytes
        if self.max_entries == 0 or size > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return
            self._entries[key] = block
            self._bytes += size
            self.inserts += 1
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, old = self._entries.popitem(last=False)
                self._bytes -= old.nbytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


@dataclass
class PromptGroup:
    """Sequences sharing ``key`` = ids[:response_start - 1]; ``domain`` is a prefix of ``key``."""

    key: tuple[int, ...]
    domain: tuple[int, ...]
    members: list[int] = field(default_factory=list)


def _lcp(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def plan_prefixes(
    seqs: Sequence[EncodedSequence],
    known: Callable[[tuple[int, ...]], tuple[int, ...] | None],
    min_domain_tokens: int = MIN_DOMAIN_TOKENS,
) -> list[PromptGroup]:
    """Group sequences by prompt and give each group a domain prefix (known, or new from this call).

    ``known(key)`` returns the longest already cached domain prefix of ``key`` or None. Groups
    without one are sorted by key; a run of neighbours whose pairwise shared prefix is at least
    ``min_domain_tokens`` long gets the prefix common to the whole run as a new domain prefix.
    """
    by_key: dict[tuple[int, ...], PromptGroup] = {}
    for i, s in enumerate(seqs):
        key = tuple(s.input_ids[: max(0, s.response_start - 1)])
        group = by_key.get(key)
        if group is None:
            group = by_key[key] = PromptGroup(key, ())
        group.members.append(i)
    unknown: list[PromptGroup] = []
    for group in by_key.values():
        hit = known(group.key) if len(group.key) >= min_domain_tokens else None
        if hit is not None:
            group.domain = hit
        elif len(group.key) >= min_domain_tokens:
            unknown.append(group)
    unknown.sort(key=lambda g: g.key)
    run: list[PromptGroup] = []
    shared = 0

    def close_run() -> None:
        if len(run) > 1:
            for g in run:
                g.domain = g.key[:shared]

    for group in unknown:
        common = _lcp(run[-1].key, group.key) if run else 0
        if run and common >= min_domain_tokens:
            run.append(group)
            shared = min(shared, common)
        else:
            close_run()
            run, shared = [group], len(group.key)
    close_run()
    return list(by_key.values())


def build_past(chains: Sequence[Sequence[KVBlock]], width: int) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
    """Per-layer ``(B, kv_heads, width, head_dim)`` key/value tensors: each row's chain at its front, zeros after."""
    first = next((c[0] for c in chains if c), None)
    if first is None or width == 0:
        return None
    layers = []
    for layer, (k0, v0) in enumerate(first.kv):
        k = k0.new_zeros((len(chains), k0.shape[1], width, k0.shape[3]))
        v = v0.new_zeros((len(chains), v0.shape[1], width, v0.shape[3]))
        for b, chain in enumerate(chains):
            at = 0
            for block in chain:
                bk, bv = block.kv[layer]
                k[b, :, at : at + block.length] = bk[0]
                v[b, :, at : at + block.length] = bv[0]
                at += block.length
        layers.append((k, v))
    return layers


def slice_blocks(
    layers: Sequence[tuple[torch.Tensor, torch.Tensor]], start: int, lengths: Sequence[int]
) -> list[KVBlock]:
    """Cut each row's new segment (slots ``start..start+len``) out of a batch cache, as owned tensors."""
    return [
        KVBlock(
            tuple(
                (k[b : b + 1, :, start : start + n].clone(), v[b : b + 1, :, start : start + n].clone())
                for k, v in layers
            ),
            n,
        )
        for b, n in enumerate(lengths)
    ]
