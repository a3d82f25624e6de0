"""Fault drill for nightly runs: prove nothing is lost or duplicated, whatever happens.

    python benchmarks/fault_drill.py [--workdir DIR] [--records 20] [--grow 5]

Steps, all against one output folder (a tiny locally built model pair, keyword router):

1. run            day 1 on N records
2. rerun          day 1 again: nothing new is scored, partitions are replaced
3. grow +k        day 2 with k more records: exactly their candidates are scored
4. kill + rerun   day 3 with k more: the run is SIGKILLed mid-scoring (published data must be
                  unchanged), then rerun to completion
5. bad input      day 4 with a corpus salted with every kind of bad record

For each step it prints records in / candidates scored / reused / dead-lettered and two
independent checks computed from the files, not from the job's own counts:
``duplicates`` (score keys stored twice across all dates, plus duplicate pairs in the
date) and ``lost`` (input lines or candidates found neither in the scores nor in the
dead-letter output). The drill exits non-zero unless both are zero everywhere.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def records(start: int, n: int) -> list[dict]:
    return [
        {
            "prompt_id": f"q{i:04d}",
            "prompt": f"Question {i}: what is {i} plus {i}?",
            "responses": [f"{i} plus {i} is {2 * i}.", "I don't know.", f"It is {2 * i + 1}."],
        }
        for i in range(start, start + n)
    ]


BAD_LINES = [
    b"{this is not json",
    b'{"prompt": "caf\xe9", "responses": ["x"]}',
    json.dumps({"responses": ["a"]}).encode(),
    json.dumps({"prompt": "", "responses": ["a"]}).encode(),
    json.dumps({"prompt": "hi", "responses": "not a list"}).encode(),
    json.dumps({"prompt_id": "bad-empty", "prompt": "hi", "responses": ["fine", ""]}).encode(),
    json.dumps({"prompt": [{"role": "alien", "content": "x"}], "responses": ["a"]}).encode(),
    json.dumps({"prompt": [{"role": "user", "content": 5}], "responses": ["a"]}).encode(),
    json.dumps({"prompt_id": "bad-long", "prompt": "hi", "responses": ["ok", "word " * 3000]}).encode(),
    json.dumps({"prompt_id": "q0000", "prompt": "a different prompt, same id", "responses": ["a"]}).encode(),
]


def write_corpus(path: Path, recs: list[dict], bad: list[bytes] = ()) -> None:
    with open(path, "wb") as f:
        for r in recs:
            f.write(json.dumps(r).encode() + b"\n")
        for line in bad:
            f.write(line + b"\n")


def gdr(args: list[str], env: dict | None = None, kill_after_load: bool = False, log: Path | None = None) -> int:
    cmd = [sys.executable, "-m", "beam_pipeline", "annotate", *args]
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with open(log or os.devnull, "w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT)
        if kill_after_load:
            deadline = time.time() + 300
            while time.time() < deadline and "loaded" not in Path(log).read_text():
                time.sleep(0.2)
            time.sleep(1.5)
            proc.send_signal(signal.SIGKILL)
        return proc.wait()


def snapshot(out: Path) -> dict[str, str]:
    """Published files only: staging and the run lock (left by a killed run) are not data."""
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and "_staging" not in p.parts and "_locks" not in p.parts
    }


def read_rows(root: Path) -> list[dict]:
    import pyarrow.dataset as ds

    if not root.exists():
        return []
    return ds.dataset(root, format="parquet", partitioning="hive").to_table().to_pylist()


def check(out: Path, corpus: Path, date: str) -> dict:
    """Independent accounting from the files: duplicates and lost, plus the job's counts."""
    scores = read_rows(out / "scores")
    keys = [r["score_key"] for r in scores]
    pairs = read_rows(out / "pairs" / f"run_date={date}")
    pair_ids = [(r["prompt_id"], r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in pairs]
    duplicates = (len(keys) - len(set(keys))) + (len(pair_ids) - len(set(pair_ids)))

    scored = {(r["prompt_id"], r["response"]) for r in scores}
    dead_sources, dead_cands = set(), set()
    for f in (out / "dead_letter" / f"run_date={date}").glob("*.jsonl"):
        for line in f.read_text().splitlines():
            d = json.loads(line)
            if "response_index" in d:
                rec = d.get("record") or {}
                dead_cands.add((rec.get("prompt_id"), rec.get("response")))
            else:
                dead_sources.add(d["source"])
    lost = 0
    for n, raw in enumerate(corpus.read_bytes().splitlines(), start=1):
        if not raw.strip():
            continue
        if f"{corpus}:{n}" in dead_sources:
            continue
        rec = json.loads(raw)
        for resp in rec["responses"]:
            key = (rec.get("prompt_id"), resp)
            if key not in scored and key not in dead_cands:
                lost += 1
    manifest = json.loads((out / "manifests" / f"run_date={date}.json").read_text())
    c = manifest["counts"]
    return {
        "records_in": c["records_in"],
        "scored": c["candidates_scored"],
        "reused": c["candidates_reused"],
        "dead": c["records_dead_lettered"] + c["candidates_dead_lettered"],
        "duplicates": duplicates,
        "lost": lost,
        "reconciled": c["reconciled"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default=None, help="where to build models and write output (default: a temp dir)")
    parser.add_argument("--records", type=int, default=20)
    parser.add_argument("--grow", type=int, default=5)
    args = parser.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="gdr-drill-"))
    work.mkdir(parents=True, exist_ok=True)
    from transforms.engine.tiny_models import ensure_tiny_pair

    strong, weak = ensure_tiny_pair(work / "models")
    out, corpus = work / "out", work / "corpus.jsonl"
    base = ["--input", str(corpus), "--output", str(out), "--strong", str(strong), "--weak", str(weak)]
    base += ["--router", "keyword", "--max-tokens", "2000", "--max-dead-letter-fraction", "0.5"]
    rows, ok = [], True
    n, k = args.records, args.grow

    def step(name: str, date: str, expect_scored: int | None, rc: int, note: str = "") -> None:
        nonlocal ok
        result = check(out, corpus, date)
        good = rc == 0 and result["duplicates"] == 0 and result["lost"] == 0 and result["reconciled"]
        if expect_scored is not None:
            good = good and result["scored"] == expect_scored
        ok = ok and good
        rows.append((name, date, result, note, good))

    write_corpus(corpus, records(0, n))
    step("run", "2026-01-01", 3 * n, gdr([*base, "--run-date", "2026-01-01"]))
    step("rerun", "2026-01-01", 0, gdr([*base, "--run-date", "2026-01-01"]))
    write_corpus(corpus, records(0, n + k))
    step(f"grow +{k}", "2026-01-02", 3 * k, gdr([*base, "--run-date", "2026-01-02"]))

    write_corpus(corpus, records(0, n + 2 * k))
    before = snapshot(out)
    gdr([*base, "--run-date", "2026-01-03"], {"GDR_FAULT_SCORE_DELAY_S": "2"}, True, work / "killed.log")
    unchanged = snapshot(out) == before
    ok = ok and unchanged
    step(f"kill + rerun +{k}", "2026-01-03", 3 * k, gdr([*base, "--run-date", "2026-01-03"]),
         f"published data unchanged after SIGKILL: {unchanged}")  # fmt: skip

    write_corpus(corpus, records(0, n + 2 * k), BAD_LINES)
    step("bad input", "2026-01-04", 2, gdr([*base, "--run-date", "2026-01-04"]), f"{len(BAD_LINES)} bad lines salted")

    header = (
        f"{'step':<18}{'date':<12}{'records in':>11}{'scored':>8}{'reused':>8}{'dead':>6}{'dups':>6}{'lost':>6}  ok"
    )
    print(header)
    print("-" * len(header))
    for name, date, r, note, good in rows:
        print(
            f"{name:<18}{date:<12}{r['records_in']:>11}{r['scored']:>8}{r['reused']:>8}{r['dead']:>6}"
            f"{r['duplicates']:>6}{r['lost']:>6}  {'yes' if good else 'NO'}" + (f"   ({note})" if note else "")
        )
    print(f"\nworkdir: {work}\nresult: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
