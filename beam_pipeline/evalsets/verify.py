"""Program checks behind the reasoning labels (and the chat unit conversions).

A record's ``verify`` spec says how to check it:

* ``{"kind": "number", "answer": 32.4, "expr": "40*75/100*108/100"}``: the *last* number in a
  response is its final answer; the chosen one must equal ``answer``, the rejected one must
  not; ``expr`` recomputes ``answer`` from the prompt's numbers.
* ``{"kind": "python", "entry": "fn", "tests": ["assert fn(...) == ...", ...]}``: the response's
  code (its first fenced block, else the whole text) is run in a child process; the chosen
  code must pass every test and the rejected code must fail at least one.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re
import subprocess
import sys
from decimal import Decimal
from typing import Any

NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?")
FENCE = re.compile(r"```(?:python)?\n(.*?)```", re.DOTALL)
TOLERANCE = 1e-6
PER_TEST_TIMEOUT_S = 1.0

_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_FUNCS = {"ceil": math.ceil, "floor": math.floor, "round": round}


def final_number(text: str) -> Decimal | None:
    """The last number written in ``text`` (no thousands separators are used), or None."""
    found = NUMBER.findall(text.replace(",", ""))
    return Decimal(found[-1]) if found else None


def eval_expr(expr: str) -> float:
    """Evaluate an arithmetic expression: numbers, + - * / // % **, unary minus, ceil(), floor() and round()."""

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS:
            return _FUNCS[node.func.id](*(ev(a) for a in node.args))
        raise ValueError(f"not allowed in an answer expression: {ast.dump(node)}")

    return ev(ast.parse(expr, mode="eval"))


def number_matches(text: str, answer: float) -> bool:
    value = final_number(text)
    return value is not None and abs(float(value) - float(answer)) <= TOLERANCE


def check_number(spec: dict[str, Any], chosen: str, rejected: str) -> list[str]:
    """Problems with a number-verified pair (empty when the label is right)."""
    problems = []
    if "expr" in spec and abs(eval_expr(spec["expr"]) - spec["answer"]) > TOLERANCE:
        problems.append(f"expr {spec['expr']} != answer {spec['answer']}")
    if not number_matches(chosen, spec["answer"]):
        problems.append(f"chosen's final number {final_number(chosen)} != {spec['answer']}")
    if number_matches(rejected, spec["answer"]):
        problems.append(f"rejected's final number equals the answer {spec['answer']}")
    return problems


def extract_code(text: str) -> str:
    """The first fenced code block of a response, else the response itself."""
    m = FENCE.search(text)
    return m.group(1) if m else text


# Runs in a child process: exec each candidate in a fresh namespace, each test under a timer.
_RUNNER = r"""
import contextlib, io, json, signal, sys

def _timeout(signum, frame):
    raise TimeoutError("test timed out")

signal.signal(signal.SIGALRM, _timeout)
jobs = json.load(sys.stdin)
results = []
for job in jobs:
    ns = {"__name__": "candidate"}
    failed, error = [], None
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        try:
            signal.setitimer(signal.ITIMER_REAL, job["timeout"])
            exec(compile(job["code"], "<candidate>", "exec"), ns)
            signal.setitimer(signal.ITIMER_REAL, 0)
            if not callable(ns.get(job["entry"])):
                raise NameError("no function " + job["entry"])
        except BaseException as exc:
            signal.setitimer(signal.ITIMER_REAL, 0)
            error = type(exc).__name__ + ": " + str(exc)
        for i, test in enumerate(job["tests"]):
            if error is not None:
                failed.append(i)
                continue
            try:
                signal.setitimer(signal.ITIMER_REAL, job["timeout"])
                exec(test, ns)
            except BaseException:
                failed.append(i)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    results.append({"failed": failed, "error": error})
sys.stdout.write(json.dumps(results))
"""


def run_python(jobs: list[dict[str, Any]], timeout_s: float = 120.0) -> list[dict[str, Any]]:
    """Run ``[{"code", "entry", "tests"}]`` in one child process; per job ``{"failed": [test index], "error"}``.

    One process for all jobs keeps a full check to about a second; each test has its own
    timer, so a looping candidate fails its test instead of hanging the check.
    """
    payload = [{**job, "timeout": PER_TEST_TIMEOUT_S} for job in jobs]
    proc = subprocess.run(
        [sys.executable, "-I", "-c", _RUNNER],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"code runner failed ({proc.returncode}): {proc.stderr[-2000:]}")
    results = json.loads(proc.stdout)
    if len(results) != len(jobs):
        raise RuntimeError(f"code runner returned {len(results)} results for {len(jobs)} jobs")
    return results


def check_records(records: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Problems per record id for every record with a ``verify`` spec (an empty dict: all labels hold)."""
    problems: dict[str, list[str]] = {}
    jobs, owners = [], []
    for rec in records:
        spec = rec.get("verify")
        if spec is None:
            continue
        if spec["kind"] == "number":
            found = check_number(spec, rec["chosen"], rec["rejected"])
            if found:
                problems[rec["id"]] = found
        elif spec["kind"] == "python":
            for side in ("chosen", "rejected"):
                jobs.append({"code": extract_code(rec[side]), "entry": spec["entry"], "tests": spec["tests"]})
                owners.append((rec["id"], side))
        else:
            problems[rec["id"]] = [f"unknown verify kind {spec['kind']!r}"]
    if jobs:
        for (rid, side), result in zip(owners, run_python(jobs)):
            if side == "chosen" and (result["failed"] or result["error"]):
                problems.setdefault(rid, []).append(f"chosen fails tests {result['failed']} ({result['error']})")
            if side == "rejected" and not result["failed"]:
                problems.setdefault(rid, []).append("rejected passes every test")
    return problems
