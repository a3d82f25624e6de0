"""Shared pieces of the set builders: the draft pair, length balancing, seeds and record layout.

A builder yields :class:`Draft` pairs that carry *several* acceptable wordings of the chosen
and of the rejected response (terse and fuller ones). :func:`finalise` then decides, per
subset, which half of the pairs gets the longer chosen response and picks wordings that
make it so. The label never depends on length: the same kinds of wording appear on both
sides, so a reward that only likes long (or short) text scores about 50 %.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

DOMAINS = ("chat", "safety", "reasoning")
SPLITS = ("dev", "heldout")
# Base seeds per split; every domain derives its own stream from them (see rng_for).
SPLIT_SEEDS = {"dev": 20_613, "heldout": 770_417}


class BuildError(RuntimeError):
    """A builder could not produce a valid set (a bug in the builder, not in the caller)."""


@dataclass
class Draft:
    """One labelled pair before its wordings are fixed."""

    prompt: str
    chosen: Sequence[str]  # acceptable wordings of the preferred response
    rejected: Sequence[str]  # acceptable wordings of the worse response
    subset: str
    source: str  # generator / template / rule that made the pair
    rejected_kind: str  # why the rejected response is worse
    verify: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def possible(self) -> set[bool]:
        """Which values of "chosen is longer" some pair of wordings can give."""
        return {len(c) > len(r) for c in self.chosen for r in self.rejected if c != r and len(c) != len(r)}


def rng_for(split: str, domain: str, part: str = "") -> random.Random:
    """A deterministic stream per (split, domain, part); integer seeds keep it independent of hash randomisation."""
    return random.Random(SPLIT_SEEDS[split] * 1_000_003 + zlib.crc32(f"{domain}/{part}".encode()))


def fill(template: str, **values: Any) -> str:
    """Replace ``{name}`` for the given names only, so code with f-strings or dicts keeps its braces."""
    for key, value in values.items():
        template = template.replace("{" + key + "}", str(value))
    return template


def pick_wordings(draft: Draft, longer: bool, rng: random.Random) -> tuple[str, str]:
    """Chosen and rejected wordings with ``len(chosen) > len(rejected) == longer``; close lengths preferred."""
    combos = [
        (c, r)
        for c in draft.chosen
        for r in draft.rejected
        if c != r and len(c) != len(r) and (len(c) > len(r)) == longer
    ]
    if not combos:
        raise BuildError(f"no wording of {draft.prompt[:60]!r} has chosen_is_longer={longer}")
    # The closest lengths keep the pair about content; a few candidates keep some variety.
    combos.sort(key=lambda cr: (abs(len(cr[0]) - len(cr[1])), cr))
    return rng.choice(combos[:3])


def assign_longer(drafts: Sequence[Draft], rng: random.Random) -> list[bool]:
    """Per subset, half the pairs (rounded) get the longer chosen response; forced pairs count first."""
    targets: list[bool | None] = [None] * len(drafts)
    by_subset: dict[str, list[int]] = {}
    for i, d in enumerate(drafts):
        by_subset.setdefault(d.subset, []).append(i)
    for subset in sorted(by_subset):
        idx = by_subset[subset]
        flexible = []
        for i in idx:
            can = drafts[i].possible()
            if not can:
                raise BuildError(f"pair {drafts[i].prompt[:60]!r} has no usable wording")
            if len(can) == 1:
                targets[i] = next(iter(can))
            else:
                flexible.append(i)
        want = (len(idx) + rng.randrange(2)) // 2  # an odd subset rounds either way, by the seed
        need = want - sum(1 for i in idx if targets[i])
        rng.shuffle(flexible)
        for n, i in enumerate(flexible):
            targets[i] = n < need
    return [bool(t) for t in targets]


def finalise(drafts: Sequence[Draft], split: str, domain: str, rng: random.Random) -> list[dict[str, Any]]:
    """Drafts -> records: balanced lengths, shuffled order, ids ``{split}-{domain}-NNN``."""
    drafts = list(drafts)
    rng.shuffle(drafts)  # interleave subsets so any prefix of the file is a fair sample
    longer = assign_longer(drafts, rng)
    records = []
    for n, (draft, want) in enumerate(zip(drafts, longer), 1):
        chosen, rejected = pick_wordings(draft, want, rng)
        rec: dict[str, Any] = {
            "id": f"{split}-{domain}-{n:03d}",
            "prompt": draft.prompt,
            "chosen": chosen,
            "rejected": rejected,
            "domain": domain,
            "subset": draft.subset,
            "source": draft.source,
            "rejected_kind": draft.rejected_kind,
            "chosen_is_longer": len(chosen) > len(rejected),
        }
        if draft.verify is not None:
            rec["verify"] = draft.verify
        rec.update(draft.extra)
        records.append(rec)
    return records


def unique_by_prompt(drafts: Iterable[Draft]) -> list[Draft]:
    """First draft per prompt text (builders may instantiate the same text twice by chance)."""
    seen: dict[str, Draft] = {}
    for d in drafts:
        seen.setdefault(d.prompt, d)
    return list(seen.values())


def take(drafts: Sequence[Draft], n: int, what: str) -> list[Draft]:
    """Exactly ``n`` drafts, or a build error naming what ran short."""
    if len(drafts) < n:
        raise BuildError(f"{what}: only {len(drafts)} distinct pairs, need {n}")
    return list(drafts[:n])
