"""Reasoning pairs whose labels a program checks: computed maths answers and code run against tests.

* ``math``: arithmetic and word problems (:mod:`.math_items`). The chosen response works to the
  computed answer; the rejected one makes one plausible slip (off-by-one, wrong operator,
  dropped term, unit slip, wrong order of operations) and ends on a different number.
  ``verify = {"kind": "number", "answer", "expr"}``.
* ``code``: small Python functions (:mod:`.code_items`). The chosen code passes every test, the
  rejected code fails at least one; the expected outputs come from separate reference code.
  ``verify = {"kind": "python", "entry", "tests"}``.

Both are checked while building (and again by ``tests/test_evalsets.py``).
"""

from __future__ import annotations

import copy
import random
from decimal import Decimal
from typing import Any

from beam_pipeline.evalsets.code_items import FAMILIES, CodeFamily
from beam_pipeline.evalsets.common import BuildError, Draft, fill, finalise, rng_for, take, unique_by_prompt
from beam_pipeline.evalsets.math_items import ARITH_FAMILIES, WORD_FAMILIES, draw
from beam_pipeline.evalsets.verify import check_records, run_python

DOMAIN = "reasoning"
COUNTS = {"word": 68, "arith": 32, "code": 80}  # per split: 100 math + 80 code
CODE_INTROS = (
    "Here's one way to write it:",
    "Sure, here is the function:",
    "This should do it:",
    "Here is a straightforward implementation:",
)


def _json_number(x: Decimal) -> int | float:
    return int(x) if x == x.to_integral_value() else float(x)


def math_drafts(split: str) -> list[Draft]:
    """Word problems then plain arithmetic, cycling through the families; each family cycles its slips."""
    pool = 0 if split == "dev" else 1
    drafts: list[Draft] = []
    for group, families in (("word", WORD_FAMILIES), ("arith", ARITH_FAMILIES)):
        rng = rng_for(split, DOMAIN, f"math-{group}")
        names = list(families)
        made: list[Draft] = []
        uses: dict[str, int] = {}
        for i in range(COUNTS[group] * 5):
            if len(made) >= COUNTS[group]:
                break
            name = names[i % len(names)]
            item = draw(families[name], rng, pool)
            kind, wrong, _ = item.wrongs[uses.get(name, 0) % len(item.wrongs)]
            candidate = Draft(
                prompt=item.prompt,
                chosen=item.correct.wordings(),
                rejected=wrong.wordings(),
                subset="math",
                source=f"evalsets.math_items.{name} (template {split}/{item.template}, numbers from the seed)",
                rejected_kind=kind,
                verify={"kind": "number", "answer": _json_number(item.answer), "expr": item.expr},
            )
            before = len(made)
            made = unique_by_prompt([*made, candidate])
            if len(made) > before:
                uses[name] = uses.get(name, 0) + 1
        drafts += take(made, COUNTS[group], f"{split} {group} problems")
    return drafts


def _instances(split: str, rng: random.Random) -> list[tuple[CodeFamily, str, int, str, dict[str, Any], int]]:
    """(family, function name, prompt index, prompt, params, n-th use of the family), round-robin over families."""
    pool = 0 if split == "dev" else 1
    per_family = []
    for fam in FAMILIES:
        combos = [
            (name, pi, params)
            for params in fam.params[pool]
            for pi in range(len(fam.prompts[pool]))
            for name in fam.names[pool]
        ]
        rng.shuffle(combos)
        per_family.append((fam, combos))
    order: list[tuple[CodeFamily, str, int, str, dict[str, Any], int]] = []
    for r in range(max(len(c) for _, c in per_family)):
        for fam, combos in per_family:
            if r < len(combos):
                name, pi, params = combos[r]
                prompt = fill(fam.prompts[pool][pi], fn=name, **params)
                order.append((fam, name, pi, prompt, params, r))
    return order


def _tests(fam: CodeFamily, name: str, params: dict[str, Any], rng: random.Random) -> list[str]:
    ref = fam.ref(params)
    tests: list[str] = []
    for args in fam.cases(params, rng):
        expected = ref(*copy.deepcopy(args))
        test = f"assert {name}({', '.join(repr(a) for a in args)}) == {expected!r}"
        if test not in tests:
            tests.append(test)
    return tests


def code_drafts(split: str) -> list[Draft]:
    """Code tasks; a bug is used only if the tests catch it (the next bug of the family is tried otherwise)."""
    rng = rng_for(split, DOMAIN, "code")
    planned = []
    for fam, name, pi, prompt, params, r in _instances(split, rng)[: COUNTS["code"] * 2]:
        tests = _tests(fam, name, params, rng)
        correct = [fill(c, fn=name, **params) for c in fam.correct]
        # Cycle the bugs per family so one task family shows different kinds of mistake.
        bugs = [fam.bugs[(r + j) % len(fam.bugs)] for j in range(len(fam.bugs))]
        bugs = [(kind, fill(code, fn=name, **params)) for kind, code in bugs]
        planned.append((fam, name, pi, prompt, params, tests, correct, bugs))
    jobs = [{"code": code, "entry": p[1], "tests": p[5]} for p in planned for code in [*p[6], *(b for _, b in p[7])]]
    results = iter(run_python(jobs))
    drafts: list[Draft] = []
    for fam, name, pi, prompt, params, tests, correct, bugs in planned:
        ok = [not (res := next(results))["failed"] and res["error"] is None for _ in correct]
        caught = [bool(next(results)["failed"]) for _ in bugs]
        if not all(ok):
            raise BuildError(f"{fam.key}: a correct solution fails its tests for {prompt!r}")
        usable = [b for b, c in zip(bugs, caught) if c]
        if not usable:
            continue
        kind, bug = usable[0]
        intro = rng.choice(CODE_INTROS)
        explain = fill(fam.explain, **params)

        def framed(code: str, intro: str = intro, explain: str = explain) -> str:
            return f"{intro}\n\n```python\n{code}\n```\n\n{explain}"

        drafts.append(
            Draft(
                prompt=prompt,
                chosen=[*correct, *(framed(c) for c in correct)],
                rejected=[bug, framed(bug)],
                subset="code",
                source=f"evalsets.code_items.{fam.key} (prompt {split}/{pi}; tests from the reference function)",
                rejected_kind=kind,
                verify={"kind": "python", "entry": name, "tests": tests},
            )
        )
    return take(unique_by_prompt(drafts), COUNTS["code"], f"{split} code tasks")


def build(split: str) -> list[dict[str, Any]]:
    """The reasoning records of one split, every label re-checked by running the verifier."""
    drafts = math_drafts(split) + code_drafts(split)
    records = finalise(drafts, split, DOMAIN, rng_for(split, DOMAIN, "finalise"))
    problems = check_records(records)
    if problems:
        first = next(iter(problems.items()))
        raise BuildError(f"{len(problems)} {split} reasoning pairs fail verification, e.g. {first}")
    return records
