"""Nightly refresh: incremental and idempotent runs, atomic publish, faults survived."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from beam_pipeline.publish import apply_publish, list_files, plan_publish, recover_publishes, write_text
from beam_pipeline.run import run
from tests.conftest import REPO, write_jsonl
from transforms.model_pool import PooledModel

D1, D2 = "2026-03-01", "2026-03-02"
# Some corpora here are bad on purpose; the dead-letter threshold has its own tests (test_cluster.py).
BAD_ON_PURPOSE = ["--max-dead-letter-fraction", "1"]


def _records(start: int, n: int) -> list[dict]:
    return [
        {
            "prompt_id": f"q{i}",
            "prompt": f"Question number {i}: how do I sort a list of {i} numbers?",
            "responses": [f"Use sorted() on the {i} numbers.", "No idea.", f"Sort them by hand, all {i}."],
        }
        for i in range(start, start + n)
    ]


def _args(inp, out, strong, weak, date, *extra) -> list[str]:
    return [
        "--input", str(inp), "--output", str(out), "--strong", str(strong), "--weak", str(weak),
        "--router", "keyword", "--run-date", date, *BAD_ON_PURPOSE, *extra,
    ]  # fmt: skip


def _manifest(out: Path, date: str) -> dict:
    return json.loads((out / "manifests" / f"run_date={date}.json").read_text())


def _snapshot(out: Path) -> dict[str, str]:
    """Every published file and a hash of its bytes (staging and run locks excluded)."""
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file() and "_staging" not in p.parts and "_locks" not in p.parts
    }


def _table(out: Path, table: str, date: str | None = None):
    root = out / table if date is None else out / table / f"run_date={date}"
    return ds.dataset(root, format="parquet", partitioning="hive").to_table().to_pylist()


def test_rerun_reuses_and_grown_corpus_scores_exactly_the_new_records(
    tmp_path, monkeypatch, chatml_strong, chatml_weak
):
    out = tmp_path / "out"
    corpus = write_jsonl(tmp_path / "c.jsonl", _records(0, 5))
    assert run(_args(corpus, out, chatml_strong, chatml_weak, D1)) == 0
    first = _manifest(out, D1)["counts"]
    assert first["candidates_scored"] == 15 and first["candidates_reused"] == 0
    snap = _snapshot(out)

    # Same date again: nothing is scored (no model is even acquired), the partitions come out identical.
    # Positive control: the first run did run scoring batches, which the metric shows.
    assert _manifest(out, D1)["metrics"]["gdr/scoring_batch_ms"]["count"] > 0
    acquired = []
    real_acquire = PooledModel.acquire
    monkeypatch.setattr(PooledModel, "acquire", lambda self: acquired.append(self.name) or real_acquire(self))
    assert run(_args(corpus, out, chatml_strong, chatml_weak, D1)) == 0
    monkeypatch.setattr(PooledModel, "acquire", real_acquire)
    assert acquired == [] and "gdr/scoring_batch_ms" not in _manifest(out, D1)["metrics"]
    again = _manifest(out, D1)["counts"]
    assert again["candidates_scored"] == 0 and again["candidates_reused"] == 15
    assert again["prompts_routed"] == 0 and again["prompts_route_reused"] == 5
    now = _snapshot(out)
    assert {k: v for k, v in now.items() if "manifests" not in k} == {
        k: v for k, v in snap.items() if "manifests" not in k
    }

    # Next day, corpus grown by k=2 records: exactly their 6 candidates are scored.
    write_jsonl(corpus, _records(0, 7))
    assert run(_args(corpus, out, chatml_strong, chatml_weak, D2)) == 0
    day2 = _manifest(out, D2)["counts"]
    assert (day2["candidates_scored"], day2["candidates_reused"]) == (6, 15)
    assert day2["reconciled"]
    assert {r["prompt_id"] for r in _table(out, "scores", D2)} == {"q5", "q6"}
    assert {r["prompt_id"] for r in _table(out, "pairs", D2)} == {f"q{i}" for i in range(7)}
    keys = [r["score_key"] for r in _table(out, "scores")]
    assert len(keys) == len(set(keys)) == 21  # every candidate stored once across dates

    # Reused rewards equal freshly computed ones.
    assert run(_args(corpus, tmp_path / "fresh", chatml_strong, chatml_weak, D2)) == 0
    fresh = {(r["prompt_id"], r["chosen"][0]["content"]): r["margin"] for r in _table(tmp_path / "fresh", "pairs")}
    reused = {(r["prompt_id"], r["chosen"][0]["content"]): r["margin"] for r in _table(out, "pairs", D2)}
    assert fresh.keys() == reused.keys()
    assert all(abs(fresh[k] - reused[k]) <= 1e-4 for k in fresh)

    # --rescore scores everything again; a changed guide set rescores too.
    assert run(_args(corpus, out, chatml_strong, chatml_weak, D2, "--rescore")) == 0
    assert _manifest(out, D2)["counts"]["candidates_scored"] == 21


def test_transient_scoring_failures_are_retried_to_an_identical_output(
    tmp_path, monkeypatch, chatml_strong, chatml_weak
):
    corpus = write_jsonl(tmp_path / "c.jsonl", _records(0, 4))
    assert run(_args(corpus, tmp_path / "clean", chatml_strong, chatml_weak, D1)) == 0
    monkeypatch.setenv("GDR_FAULT_SCORE_FAILURES", "2")
    assert run(_args(corpus, tmp_path / "faulty", chatml_strong, chatml_weak, D1, "--score-retries", "2")) == 0
    # Same files, same rows. Floats agree to the engine's tolerance, not bit for bit: the
    # model copy outlives a run, and a warm prefix cache batches the guide differently.
    clean = {k for k in _snapshot(tmp_path / "clean") if "manifests" not in k}
    assert clean == {k for k in _snapshot(tmp_path / "faulty") if "manifests" not in k}
    for table in ("scores", "pairs"):
        a, b = _table(tmp_path / "clean", table), _table(tmp_path / "faulty", table)
        assert len(a) == len(b) > 0
        for x, y in zip(a, b, strict=True):
            assert {k: v for k, v in x.items() if not isinstance(v, float)} == {
                k: v for k, v in y.items() if not isinstance(v, float)
            }
            assert all(abs(x[k] - y[k]) <= 1e-4 for k, v in x.items() if isinstance(v, float))
    assert _manifest(tmp_path / "faulty", D1)["metrics"]["gdr/scoring_batches_retried"] == 2

    # A failure that outlasts the retries dead-letters the batch; with every candidate
    # dead-lettered the run did not do its job: it fails and publishes nothing, and its
    # staging keeps the dead letters and the reason.
    monkeypatch.setenv("GDR_FAULT_SCORE_FAILURES", "1000")
    assert run(_args(corpus, tmp_path / "broken", chatml_strong, chatml_weak, D1, "--score-retries", "1")) == 1
    assert not (tmp_path / "broken" / "manifests").exists() and not (tmp_path / "broken" / "pairs").exists()
    (failed,) = (tmp_path / "broken" / "_staging").glob(f"run_date={D1}/attempt=*/_FAILED.json")
    report = json.loads(failed.read_text())
    assert report["reason"] == "none of the 12 candidates was scored (all dead-lettered)"
    c = report["counts"]
    assert c["candidates_scored"] == 0 and c["candidates_dead_lettered"] == 12 and c["reconciled"]
    dead = (failed.parent / "dead_letter").glob("*.jsonl")
    reasons = [json.loads(line)["reason"] for f in dead for line in f.read_text().splitlines()]
    assert len(reasons) == 12 and all("after 2 attempts" in r for r in reasons)


def test_killed_run_leaves_published_data_untouched_and_rerun_matches(tmp_path, chatml_strong, chatml_weak):
    out = tmp_path / "out"
    corpus = write_jsonl(tmp_path / "c.jsonl", _records(0, 4))
    assert run(_args(corpus, out, chatml_strong, chatml_weak, D1)) == 0
    before = _snapshot(out)

    write_jsonl(corpus, _records(0, 8))
    # Its own model pool folder: the killed run loads (and logs) its own copies instead of
    # using the ones this test process already serves.
    env = {
        **os.environ,
        "GDR_FAULT_SCORE_DELAY_S": "2",
        "PYTHONUNBUFFERED": "1",
        "GDR_POOL_DIR": str(tmp_path / "pool"),
    }
    log = open(tmp_path / "killed.log", "w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "beam_pipeline", "annotate", *_args(corpus, out, chatml_strong, chatml_weak, D2)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and "loaded" not in (tmp_path / "killed.log").read_text():
        time.sleep(0.2)
    time.sleep(1.0)  # inside the (slowed) scoring step
    assert proc.poll() is None, (tmp_path / "killed.log").read_text()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _snapshot(out) == before  # nothing of the dead run is visible
    assert not (out / "manifests" / f"run_date={D2}.json").exists()
    assert (out / "_locks" / f"run_date={D2}.lock").exists()  # the dead run's lock is left behind...

    assert run(_args(corpus, out, chatml_strong, chatml_weak, D2)) == 0  # ...and taken over: its process is gone
    assert run(_args(corpus, tmp_path / "uninterrupted", chatml_strong, chatml_weak, D2)) == 0
    got = sorted((r["prompt_id"], r["chosen"][0]["content"]) for r in _table(out, "pairs", D2))
    want = sorted((r["prompt_id"], r["chosen"][0]["content"]) for r in _table(tmp_path / "uninterrupted", "pairs"))
    assert got == want
    assert not list(out.glob("_staging/**/*.parquet"))


def test_publish_cut_short_is_finished_by_the_next_run(tmp_path):
    out, staging = tmp_path / "out", tmp_path / "out" / "_staging" / f"run_date={D1}"
    for table, name in (("pairs", "domain=chat/part-0.parquet"), ("scores", "domain=chat/part-0.parquet")):
        write_text(str(staging / table / name), f"new {table}")
    write_text(str(out / "pairs" / f"run_date={D1}" / "domain=old" / "part-0.parquet"), "stale")
    journal = plan_publish(str(out), str(staging), D1)
    journal["manifest"] = {"run_date": D1}
    write_text(str(staging / "_PUBLISH.json"), json.dumps(journal))
    with pytest.raises(RuntimeError, match="interrupted"):
        apply_publish(journal, str(staging), fail_after=1)
    assert not (out / "manifests").exists()  # not committed yet
    assert recover_publishes(str(out)) == [D1]
    files = sorted(str(Path(p).relative_to(out)) for p in list_files(str(out)))
    assert files == [
        f"manifests/run_date={D1}.json",
        f"pairs/run_date={D1}/domain=chat/part-0.parquet",
        f"scores/run_date={D1}/domain=chat/part-0.parquet",
    ]


def test_template_that_cannot_render_is_dead_lettered_and_logs_hold_no_content(tmp_path, caplog, inst_model):
    secret = "ZEBRA-SECRET-42"
    corpus = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"prompt_id": "ok", "prompt": f"Tell me about {secret}.", "responses": ["Sure.", "No."]},
            {  # two user turns in a row: the [INST] template refuses to render it
                "prompt_id": "bad",
                "prompt": [{"role": "user", "content": "a"}, {"role": "user", "content": secret}],
                "responses": ["x", "y"],
            },
        ],
    )
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO):
        assert run(_args(corpus, out, inst_model, inst_model, D1)) == 0
    c = _manifest(out, D1)["counts"]
    assert (c["candidates_scored"], c["candidates_dead_lettered"], c["reconciled"]) == (2, 2, True)
    dead = [json.loads(x) for f in out.glob("dead_letter/*/*.jsonl") for x in f.read_text().splitlines()]
    assert all(d["stage"] == "template" and "roles must alternate" in d["reason"] for d in dead)
    assert secret not in caplog.text  # prompts may be sensitive: never logged at info
