"""Turn N scored candidates of one prompt into chosen/rejected pairs. Pure Python.

Strategies (``--pairing``):

* ``best-worst`` - highest reward vs lowest reward;
* ``best-random`` - highest vs a seeded random other candidate (UltraFeedback-binarised
  style; the seed is derived from the prompt id, so reruns give the same pairs);
* ``all`` - every pair whose margin is at least ``min_margin``.

Rules for every strategy: a pair needs ``margin >= min_margin`` and a strictly positive
margin (equal rewards say nothing about preference, so a prompt whose candidates all
score the same yields no pair), and identical chosen/rejected texts are never paired.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Any

from transforms.records import candidate_order

PAIRING_STRATEGIES = ("best-worst", "best-random", "all")


def _seed(prompt_id: str, seed: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{prompt_id}".encode()).digest()[:8], "big")


def make_pairs(
    candidates: Sequence[dict[str, Any]],
    strategy: str = "best-worst",
    min_margin: float = 0.0,
    reward_key: str = "reward",
    prompt_id: str = "",
    seed: int = 0,
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Return ``(chosen, rejected)`` candidate pairs. Candidates need ``response`` and ``reward_key``."""
    if strategy not in PAIRING_STRATEGIES:
        raise ValueError(f"unknown pairing strategy {strategy!r}")
    # Stable order: by reward descending, ties by input order, so output is reproducible.
    ranked = sorted(candidates, key=lambda c: (-c[reward_key], candidate_order(c)))
    if len(ranked) < 2:
        return []

    def ok(chosen: dict, rejected: dict) -> bool:
        margin = chosen[reward_key] - rejected[reward_key]
        return margin > 0 and margin >= min_margin and chosen["response"] != rejected["response"]

    if strategy == "all":
        return [(a, b) for i, a in enumerate(ranked) for b in ranked[i + 1 :] if ok(a, b)]
    best = ranked[0]
    if strategy == "best-worst":
        # The lowest-scoring candidate whose text differs from the best one.
        for worst in reversed(ranked[1:]):
            if worst["response"] != best["response"]:
                return [(best, worst)] if ok(best, worst) else []
        return []
    others = [c for c in ranked[1:] if c["response"] != best["response"] and c[reward_key] < best[reward_key]]
    if not others:
        return []
    rejected = random.Random(_seed(prompt_id, seed)).choice(others)
    return [(best, rejected)] if ok(best, rejected) else []
