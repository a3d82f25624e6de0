"""The labelled router sets in beam_pipeline/data: valid records, and fresh, balanced held-out sets.

Fast and model-free. Every router set parses, with a known domain, a known `case` tag (the
tags of beam_pipeline/data/README.md, each on the domains it describes) and unique ids. Each
fresh held-out set (v2: 60 prompts per domain, at least 8 of them multi-turn; v3: 80 per
domain, at least 12 multi-turn) is balanced, and none of its prompts appears in another router
set (the other held-out set included), the sample corpus, the on-policy demo prompts or the
guides' examples and exemplars: not the latest user turn, not the whole conversation
(lower-cased, whitespace collapsed), and no 80 % word overlap of the user text. The last test
plants faults to show that these checks do fail.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from tests.conftest import REPO

DATA = REPO / "beam_pipeline" / "data"
GUIDES = REPO / "guides"
DOMAINS = ("chat", "reasoning", "safety")
ROLES = ("system", "user", "assistant")

# The `case` tags listed in beam_pipeline/data/README.md, with the domains each can label.
CASES = {
    "plain": {"chat", "reasoning", "safety"},
    "scary-benign": {"chat", "reasoning"},
    "harmful-no-keyword": {"safety"},
    "harmful-technical": {"safety"},
    "dual-use": {"safety"},
    "math-words": {"reasoning"},
    "code-review": {"reasoning"},
    "near-reasoning": {"chat"},
    "near-chat": {"reasoning"},
    "multi-turn": {"chat", "reasoning", "safety"},
}

# Router sets checked record by record; router_sample.jsonl carries no `case` tags.
ROUTER_SETS = {
    "dev": GUIDES / "router_examples_dev.jsonl",
    "heldout": GUIDES / "router_examples.jsonl",  # the first held-out set, now the shipped router examples
    "heldout_v2": GUIDES / "router_examples_v2.jsonl",
    "heldout_v3": GUIDES / "router_examples_v3.jsonl",
    "heldout_v4": DATA / "router_heldout_v4.jsonl",
    "sample": DATA / "router_sample.jsonl",
}
CASE_TAGGED = {"dev", "heldout", "heldout_v2", "heldout_v3", "heldout_v4"}


class Fresh(NamedTuple):
    """What a fresh held-out set promises, per domain."""

    id_prefix: str
    per_domain: int
    min_multi_turn: int


# The held-out sets written after everything else and never tuned on.
FRESH = {
    "heldout_v2": Fresh("heldout2", per_domain=60, min_multi_turn=8),
    "heldout_v3": Fresh("heldout3", per_domain=80, min_multi_turn=12),
    "heldout_v4": Fresh("heldout4", per_domain=80, min_multi_turn=12),
}
NEAR_DUPLICATE = 0.8  # share of words (Jaccard) at which two prompts count as the same


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in _lines(path)]


def _conversation(prompt) -> list[dict]:
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt


def _prompt_problems(prompt) -> list[str]:
    if isinstance(prompt, str):
        return [] if prompt.strip() else ["empty prompt"]
    if not isinstance(prompt, list) or not prompt:
        return [f"prompt is neither a string nor a list of messages: {prompt!r}"]
    problems = []
    for m in prompt:
        if not isinstance(m, dict) or set(m) != {"role", "content"}:
            problems.append(f"message is not {{role, content}}: {m!r}")
        elif m["role"] not in ROLES or not isinstance(m["content"], str) or not m["content"].strip():
            problems.append(f"bad message: {m!r}")
    if not problems and prompt[-1]["role"] != "user":
        problems.append("the conversation does not end with a user turn")
    return problems


def record_problems(lines: list[str], case_tagged: bool) -> list[str]:
    """Everything wrong with one router set's lines, as readable strings (empty: all good)."""
    problems, ids = [], Counter()
    for n, line in enumerate(lines, 1):
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(f"line {n}: not JSON ({err})")
            continue
        if not isinstance(rec, dict):
            problems.append(f"line {n}: not an object")
            continue
        where = f"line {n} ({rec.get('id')})"
        if not isinstance(rec.get("id"), str) or not rec["id"]:
            problems.append(f"{where}: no id")
        ids[rec.get("id")] += 1
        if rec.get("domain") not in DOMAINS:
            problems.append(f"{where}: unknown domain {rec.get('domain')!r}")
        if "prompt" not in rec:
            problems.append(f"{where}: no prompt")
            continue
        problems += [f"{where}: {p}" for p in _prompt_problems(rec["prompt"])]
        if not case_tagged and "case" not in rec:
            continue
        case = rec.get("case")
        if case not in CASES:
            problems.append(f"{where}: unknown case {case!r}")
        elif rec.get("domain") not in CASES[case]:
            problems.append(f"{where}: case {case!r} does not label {rec.get('domain')!r} prompts")
        elif (case == "multi-turn") != isinstance(rec["prompt"], list):
            problems.append(f"{where}: case {case!r} disagrees with the prompt's shape")
    problems += [f"id {i!r} used {c} times" for i, c in ids.items() if c > 1]
    return problems


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def _keys(prompt) -> set[tuple[str, str]]:
    """The latest user turn and the whole conversation, normalised."""
    conv = _conversation(prompt)
    last = next(m["content"] for m in reversed(conv) if m["role"] == "user")
    whole = " ".join(f"{m['role']}: {m['content']}" for m in conv)
    return {("latest user turn", _normalise(last)), ("conversation", _normalise(whole))}


def _words(prompt) -> set[str]:
    text = " ".join(m["content"] for m in _conversation(prompt) if m["role"] == "user")
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def overlap_problems(fresh: list[dict], others: list[tuple[str, object]]) -> list[str]:
    """Prompts of `fresh` repeated within it, or found (exactly or nearly) among `others`."""
    problems, seen = [], {}
    for r in fresh:
        for key in _keys(r["prompt"]):
            if key in seen:
                problems.append(f"{r['id']}: {key[0]} repeats {seen[key]}")
            seen.setdefault(key, r["id"])
    index = {}
    for source, prompt in others:
        for key in _keys(prompt):
            index.setdefault(key, source)
    other_words = [(source, _words(prompt)) for source, prompt in others]
    for r in fresh:
        for key in _keys(r["prompt"]):
            if key in index:
                problems.append(f"{r['id']}: {key[0]} also in {index[key]}: {key[1]!r}")
        mine = _words(r["prompt"])
        for source, theirs in other_words:
            union = mine | theirs
            if union and len(mine & theirs) / len(union) >= NEAR_DUPLICATE:
                problems.append(f"{r['id']}: shares {NEAR_DUPLICATE:.0%}+ of its words with a prompt in {source}")
    return problems


def guide_prompts() -> list[tuple[str, object]]:
    """Every `examples` entry (a string or a list of messages) and exemplar prompt of the guides."""
    found = []
    for path in sorted(GUIDES.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        found += [(f"{path.name} examples", ex) for ex in raw.get("examples") or []]
        found += [(f"{path.name} exemplars", ex["prompt"]) for ex in raw.get("exemplars") or []]
    return found


def other_prompts(fresh: str) -> list[tuple[str, object]]:
    """Every labelled or demo prompt the fresh set `fresh` must not repeat."""
    found = [(name, r["prompt"]) for name, path in ROUTER_SETS.items() if name != fresh for r in _records(path)]
    found += [("eval", r["prompt"]) for r in _records(DATA / "router_eval.jsonl")]
    found += [("sample corpus", r["prompt"]) for r in _records(DATA / "sample_corpus.jsonl")]
    found += [("sample prompts", r["prompt"]) for r in _records(DATA / "sample_prompts.jsonl")]
    return found + guide_prompts()


# --- the checks ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ROUTER_SETS))
def test_every_router_set_has_valid_records(name):
    lines = _lines(ROUTER_SETS[name])
    assert lines, name
    assert record_problems(lines, case_tagged=name in CASE_TAGGED) == []


def test_ids_are_unique_across_router_sets():
    ids = Counter(r["id"] for path in ROUTER_SETS.values() for r in _records(path))
    assert [i for i, c in ids.items() if c > 1] == []


@pytest.mark.parametrize("name", sorted(FRESH))
def test_fresh_heldout_is_balanced_and_hard(name):
    spec, recs = FRESH[name], _records(ROUTER_SETS[name])
    assert Counter(r["domain"] for r in recs) == dict.fromkeys(DOMAINS, spec.per_domain)
    for domain in DOMAINS:
        mine = [r for r in recs if r["domain"] == domain]
        assert sum(isinstance(r["prompt"], list) for r in mine) >= spec.min_multi_turn, domain
        cases = Counter(r["case"] for r in mine)
        assert cases["plain"] <= len(mine) // 2, (domain, cases)  # hard cases are the point
        assert len(cases) >= 4, (domain, cases)
        assert all(re.fullmatch(rf"{spec.id_prefix}-{domain}-\d{{3}}", r["id"]) for r in mine), domain


def test_guides_examples_are_read():
    """The disjointness check below is only as good as the guide prompts it compares against."""
    found = guide_prompts()
    for domain in DOMAINS:
        assert sum(s == f"{domain}.yaml examples" for s, _ in found) >= 30, domain
        assert any(s == f"{domain}.yaml examples" and isinstance(p, list) for s, p in found), domain
        assert any(s == f"{domain}.yaml exemplars" for s, _ in found), domain


@pytest.mark.parametrize("name", sorted(FRESH))
def test_fresh_heldout_is_disjoint_from_every_other_prompt(name):
    assert overlap_problems(_records(ROUTER_SETS[name]), other_prompts(name)) == []


@pytest.mark.parametrize("name", sorted(FRESH))
def test_the_checks_catch_planted_faults(name):
    fresh = _records(ROUTER_SETS[name])
    others = other_prompts(name)
    dev = _records(ROUTER_SETS["dev"])
    guide_conv = next(p for s, p in guide_prompts() if isinstance(p, list))
    single, multi = dev[0]["prompt"], next(r["prompt"] for r in dev if isinstance(r["prompt"], list))
    long_words = next(r["prompt"] for r in fresh if isinstance(r["prompt"], str) and len(r["prompt"].split()) > 20)
    other_fresh = next(n for n in sorted(FRESH) if n != name)
    planted = {
        "a prompt of the other fresh held-out set": _records(ROUTER_SETS[other_fresh])[-1]["prompt"],
        "an on-policy demo prompt": _records(DATA / "sample_prompts.jsonl")[0]["prompt"],
        "dev prompt, recased and spaced": "  " + single.upper().replace(" ", "   ") + " ",
        "guide conversation's last user turn, alone": guide_conv[-1]["content"],
        "dev conversation copied": multi,
        "dev prompt as the latest turn of a new chat": [
            {"role": "user", "content": "Hi there."},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": single},
        ],
    }
    for what, prompt in planted.items():
        fake = {"id": "planted", "prompt": prompt, "domain": "chat", "case": "plain"}
        assert overlap_problems(fresh + [fake], others), what
    assert overlap_problems(fresh + [dict(fresh[0], id="again")], []), f"a duplicate within {name}"
    reworded = {"id": "near", "prompt": long_words.rsplit(" ", 1)[0] + " now?"}
    assert overlap_problems([reworded], [(name, long_words)]), "a one-word rewording"

    good = _lines(ROUTER_SETS[name])[:3]
    assert record_problems(good, case_tagged=True) == []
    first = json.loads(good[0])
    bad = {
        "unknown domain": dict(first, domain="smalltalk"),
        "unknown case": dict(first, case="tricky"),
        "case of another domain": dict(first, case="dual-use"),
        "no case": {k: v for k, v in first.items() if k != "case"},
        "conversation ends with the assistant": dict(
            first, prompt=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
        ),
    }
    for what, rec in bad.items():
        assert record_problems([json.dumps(rec)], case_tagged=True), what
    assert record_problems(good + [good[0]], case_tagged=True), "a duplicate id"
    assert record_problems(good + ["{not json"], case_tagged=True), "a broken line"
