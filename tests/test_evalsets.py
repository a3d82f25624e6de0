"""The v2 labelled pair sets (``beam_pipeline/evalsets``): deterministic, current, verified and balanced.

* a build is a pure function of the code: two builds under different hash seeds are
  byte-identical, and the shipped ``dev_v2.jsonl`` / ``heldout_v2.jsonl`` equal a fresh build;
* every reasoning label is re-checked by running its verifier: each chosen solution passes its
  tests (or ends on the computed answer) and each rejected one fails (or ends elsewhere);
* size, split separation, length balance and the record format ``gdr evaluate`` reads.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from beam_pipeline.evalsets import build, safety
from beam_pipeline.evalsets.common import DOMAINS, SPLITS
from beam_pipeline.evalsets.verify import check_records, run_python
from transforms.evaluation import parse_labelled_pair

REPO = Path(__file__).resolve().parents[1]
EVAL_DIR = REPO / "beam_pipeline" / "data" / "eval"
MIN_PAIRS = 150
MAX_BYTES = 2_000_000


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def shipped() -> dict[str, list[dict[str, Any]]]:
    return {split: _read(EVAL_DIR / build.FILES[split]) for split in SPLITS}


def test_builds_are_byte_identical_and_the_shipped_files_are_current(tmp_path):
    outs = []
    for hash_seed in ("0", "4242"):  # set iteration order must not leak into the files
        out = tmp_path / f"build-{hash_seed}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        proc = subprocess.run(
            [sys.executable, "-m", "beam_pipeline.evalsets.build", "--out", str(out)],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        outs.append(out)
    for name in build.FILES.values():
        first, second = ((o / name).read_bytes() for o in outs)
        assert first == second, f"{name}: two builds differ"
        assert (EVAL_DIR / name).read_bytes() == first, (
            f"{name} differs from a fresh build: edit beam_pipeline/evalsets, then run "
            "python -m beam_pipeline.evalsets.build --out beam_pipeline/data/eval/"
        )


def test_every_reasoning_label_is_verified_by_running_its_checker(shipped):
    for split, records in shipped.items():
        reasoning = [r for r in records if r["domain"] == "reasoning"]
        assert reasoning and all("verify" in r for r in reasoning), f"{split}: a reasoning pair without a verifier"
        kinds = {r["verify"]["kind"] for r in reasoning}
        assert kinds == {"number", "python"}
        assert all(r["verify"]["tests"] for r in reasoning if r["verify"]["kind"] == "python")
        # The chat unit conversions carry a number verifier too; check everything that has one.
        problems = check_records([r for r in records if "verify" in r])
        assert not problems, f"{split}: {len(problems)} labels fail verification: {list(problems.items())[:3]}"


def test_the_verifier_catches_wrong_labels(shipped):
    """A checker that cannot fail proves nothing: swapped or broken pairs must be reported."""
    records = shipped["dev"]
    code = next(r for r in records if r.get("verify", {}).get("kind") == "python")
    number = next(r for r in records if r.get("verify", {}).get("kind") == "number" and r["domain"] == "reasoning")
    swapped = [
        {**code, "id": "swapped-code", "chosen": code["rejected"], "rejected": code["chosen"]},
        {**number, "id": "swapped-number", "chosen": number["rejected"], "rejected": number["chosen"]},
        {**number, "id": "bad-expr", "verify": {**number["verify"], "expr": f"{number['verify']['expr']}+1"}},
    ]
    problems = check_records(swapped)
    assert set(problems) == {"swapped-code", "swapped-number", "bad-expr"}
    assert any("chosen fails" in p for p in problems["swapped-code"])
    assert any("rejected passes" in p for p in problems["swapped-code"])


def test_a_looping_candidate_fails_its_test_instead_of_hanging():
    looping = {"code": "def f():\n    while True:\n        pass", "entry": "f", "tests": ["assert f() is None"]}
    missing = {"code": "x = 1", "entry": "f", "tests": ["assert f() == 1"]}
    fine = {"code": "def f():\n    print('noise')\n    return 1", "entry": "f", "tests": ["assert f() == 1"]}
    results = run_python([looping, missing, fine])
    assert results[0]["failed"] == [0]
    assert results[1]["failed"] == [0] and "NameError" in results[1]["error"]
    assert results[2] == {"failed": [], "error": None}


def test_sizes_split_separation_and_length_balance(shipped):
    for split, records in shipped.items():
        data = (EVAL_DIR / build.FILES[split]).stat().st_size
        assert data < MAX_BYTES, f"{split}: {data} bytes"
        ids = [r["id"] for r in records]
        assert len(ids) == len(set(ids)), f"{split}: duplicate ids"
        prompts = [build.prompt_key(r["prompt"]) for r in records]
        assert len(prompts) == len(set(prompts)), f"{split}: a prompt appears twice"
        for domain in DOMAINS:
            rows = [r for r in records if r["domain"] == domain]
            assert len(rows) >= MIN_PAIRS, f"{split}/{domain}: {len(rows)} pairs"
            for r in rows:
                assert r["chosen"] != r["rejected"]
                assert r["chosen_is_longer"] == (len(r["chosen"]) > len(r["rejected"])), r["id"]
            share = sum(r["chosen_is_longer"] for r in rows) / len(rows)
            assert 0.40 <= share <= 0.60, f"{split}/{domain}: chosen is longer in {share:.1%}"
            # Per subset too, so no subset can be solved by length alone.
            for subset in {r["subset"] for r in rows}:
                sub = [r for r in rows if r["subset"] == subset]
                share = sum(r["chosen_is_longer"] for r in sub) / len(sub)
                assert 0.40 <= share <= 0.60, f"{split}/{subset}: chosen is longer in {share:.1%}"
    dev = {build.prompt_key(r["prompt"]) for r in shipped["dev"]}
    held = {build.prompt_key(r["prompt"]) for r in shipped["heldout"]}
    assert not dev & held, f"prompts in both splits: {sorted(dev & held)[:3]}"


def test_every_record_parses_as_a_labelled_pair_and_documents_its_source(shipped):
    for split, records in shipped.items():
        for rec in records:
            parsed = parse_labelled_pair(rec)  # the parser behind gdr evaluate / gdr sweep (LabelledToGroup)
            assert parsed["domain"] in DOMAINS and parsed["subset"] and parsed["id"] == rec["id"]
            assert rec["id"].startswith(f"{split}-{rec['domain']}-")
            assert rec["source"].startswith("evalsets.") and rec["rejected_kind"]


def test_safety_is_two_way_and_the_compliant_answers_carry_no_content(shipped):
    # Every compliant (rejected) answer must be one of the content-free template compositions.
    allowed = set()
    for opener, closer in itertools.product(safety.COMPLY_OPENERS, safety.COMPLY_CLOSERS):
        allowed.add(f"{opener} {closer}")
        for middle, step in itertools.product(safety.COMPLY_MIDDLES.values(), safety.COMPLY_STEPS):
            allowed.add(f"{opener} {middle} {step} {closer}")
    for split, records in shipped.items():
        rows = [r for r in records if r["domain"] == "safety"]
        harmful = [r for r in rows if r["subset"] == "refuse-harmful"]
        benign = [r for r in rows if r["subset"] == "help-benign"]
        assert 0.4 <= len(harmful) / len(rows) <= 0.6, f"{split}: {len(harmful)} harmful of {len(rows)}"
        assert len(harmful) + len(benign) == len(rows)
        assert {r["category"] for r in harmful} == set(safety.HARMFUL), f"{split}: a harm category is missing"
        leaked = [r["id"] for r in harmful if r["rejected"] not in allowed]
        assert not leaked, f"compliant answers outside the non-operational templates: {leaked[:5]}"
