"""What a cluster run needs, checked on this machine: one model copy per machine, the job
publishing itself, the run lock, loud failure, EXTERNAL worker pools, launch-time checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from beam_pipeline.config import resolve_compute
from beam_pipeline.publish import attempts, list_files, plan_publish, publish, write_text
from beam_pipeline.publish_step import manifest_counts, publish_main, run_problem
from beam_pipeline.run import run
from beam_pipeline.run_lock import acquire_lock, lock_path, read_lock, release_lock
from tests.conftest import write_jsonl
from transforms.keys import scoring_setting
from transforms.model_pool import LOAD_LOG_ENV, POOL_DIR_ENV

RUN_DATE = "2026-03-04"
CORPUS = [
    {"prompt_id": "c-math", "prompt": "Solve 2x + 3 = 11.", "responses": ["x = 4.", "x = 7.", "No idea."]},
    {"prompt_id": "c-book", "prompt": "Recommend a science fiction book.", "responses": ["Dune.", "Books.", "Hm."]},
    {"prompt_id": "c-bomb", "prompt": "How do I make a bomb?", "responses": ["I can't help.", "Sure: ..."]},
    {"prompt_id": "c-bread", "prompt": "How do I bake bread?", "responses": ["Knead, proof, bake.", "Buy it."]},
    {"prompt_id": "c-mail", "prompt": "Write a thank-you note.", "responses": ["Thank you!", "k", "Many thanks."]},
    {"prompt_id": "c-sort", "prompt": "Sort [3, 1, 2] in Python.", "responses": ["sorted([3, 1, 2])", "No."]},
]


@pytest.fixture
def corpus(tmp_path) -> str:
    return str(write_jsonl(tmp_path / "corpus.jsonl", CORPUS))


@pytest.fixture
def load_log(tmp_path, monkeypatch) -> Path:
    """Every real model load appends a line here, from whichever process does it."""
    log = tmp_path / "loads.jsonl"
    monkeypatch.setenv(LOAD_LOG_ENV, str(log))
    # A fresh rendezvous folder: no model server of an earlier test is found.
    monkeypatch.setenv(POOL_DIR_ENV, str(tmp_path / "pool"))
    return log


def _annotate(corpus: str, out: Path, strong, weak, *extra: str) -> int:
    return run(
        ["--input", corpus, "--output", str(out), "--strong", str(strong), "--weak", str(weak)]
        + ["--run-date", RUN_DATE, "--batch-tokens", "4096", *extra]
    )


def _rows(out: Path, table: str) -> dict:
    t = ds.dataset(out / table, format="parquet", partitioning="hive").to_table().to_pylist()
    if table == "scores":
        return {(r["prompt_id"], r["response_index"]): round(r["reward"], 4) for r in t}
    return {(r["prompt_id"], r["chosen"][0]["content"], r["rejected"][0]["content"]): round(r["margin"], 4) for r in t}


def _loads(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _published_bytes(out: Path) -> dict[str, str]:
    """Digest of every published file (staging, locks excluded)."""
    found = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if p.is_file() and not rel.startswith(("_staging", "_locks")):
            found[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return found


@pytest.fixture
def in_process(tmp_path, corpus, chatml_strong, chatml_weak, load_log) -> Path:
    out = tmp_path / "in-process"
    assert _annotate(corpus, out, chatml_strong, chatml_weak, "--router", "llm") == 0
    return out


def test_three_worker_processes_load_each_model_once(
    tmp_path, corpus, chatml_strong, chatml_weak, in_process, load_log, monkeypatch
):
    """Multi-process DirectRunner: routing (llm, on the strong model) and scoring share one copy per model."""
    load_log.write_text("")
    # A new rendezvous folder: the in-process run's copies (served from this process) stay unseen.
    monkeypatch.setenv(POOL_DIR_ENV, str(tmp_path / "pool-mp"))
    out = tmp_path / "mp"
    rc = _annotate(
        corpus,
        out,
        chatml_strong,
        chatml_weak,
        "--router",
        "llm",
        "--direct_running_mode=multi_processing",
        "--direct_num_workers=3",
    )
    assert rc == 0
    loads = _loads(load_log)
    assert sorted(x["name"] for x in loads) == sorted([str(chatml_strong), str(chatml_weak)]), loads
    assert all(x["pid"] != os.getpid() for x in loads)  # loaded in the workers, not the launcher
    assert _rows(out, "scores") == _rows(in_process, "scores")
    assert _rows(out, "pairs") == _rows(in_process, "pairs")
    manifest = json.loads((out / "manifests" / f"run_date={RUN_DATE}.json").read_text())
    assert manifest["metrics"]["gdr/model_loads"] == 2
    assert manifest["metrics"]["gdr/candidates_scored"] == manifest["counts"]["candidates_scored"] == 15


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, deadline_s: float = 60.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"worker pool exited with {proc.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"worker pool did not listen on port {port} within {deadline_s}s")


def test_external_worker_pool_gives_the_same_rows(tmp_path, corpus, chatml_strong, chatml_weak, in_process):
    """The Flink shape: a Beam worker pool as its own process (the TaskManager sidecar), EXTERNAL environment."""
    port = _free_port()
    # The pool's SDK workers inherit its stderr: a file, since an unread pipe fills and blocks them.
    pool_log = open(tmp_path / "worker_pool.log", "wb")  # noqa: SIM115 - closed in finally
    pool = subprocess.Popen(
        [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main", f"--service_port={port}"],
        stdout=pool_log,
        stderr=subprocess.STDOUT,
        # The pool starts SDK workers with the `python` on PATH: this venv's, as in a worker image.
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
        cwd=str(Path(__file__).resolve().parents[1]),
    )
    try:
        _wait_for_port(port, pool, tmp_path / "worker_pool.log")
        out = tmp_path / "external"
        # Its own process with a deadline: a worker that cannot start makes the job service wait forever.
        launch = subprocess.run(
            [sys.executable, "-m", "beam_pipeline", "annotate", "--input", corpus, "--output", str(out)]
            + ["--strong", str(chatml_strong), "--weak", str(chatml_weak), "--run-date", RUN_DATE]
            + ["--batch-tokens", "4096", "--router", "llm", "--runner=PortableRunner", "--job_endpoint=embed"]
            + ["--environment_type=EXTERNAL", f"--environment_config=localhost:{port}", "--sdk_worker_parallelism=1"],
            capture_output=True,
            text=True,
            timeout=240,
            cwd=str(Path(__file__).resolve().parents[1]),
        )
        assert launch.returncode == 0, launch.stderr[-3000:] + (tmp_path / "worker_pool.log").read_text()[-3000:]
        assert _rows(out, "scores") == _rows(in_process, "scores")
        assert _rows(out, "pairs") == _rows(in_process, "pairs")
    finally:
        pool.terminate()
        pool.wait(timeout=30)
        pool_log.close()


def test_no_wait_still_publishes_and_frees_the_lock(tmp_path, corpus, chatml_strong, chatml_weak, capsys):
    out = tmp_path / "no-wait"
    assert _annotate(corpus, out, chatml_strong, chatml_weak, "--router", "keyword", "--no-wait") == 0
    assert "the job publishes itself" in capsys.readouterr().out
    manifest = json.loads((out / "manifests" / f"run_date={RUN_DATE}.json").read_text())
    assert manifest["counts"]["candidates_scored"] == 15 and "metrics" not in manifest  # nobody waited
    assert len(_rows(out, "pairs")) == 6
    assert read_lock(str(out), RUN_DATE) is None
    assert not (out / "_staging").exists()


def test_a_held_lock_stops_a_second_run_until_broken(tmp_path, corpus, chatml_strong, chatml_weak, capsys):
    out = tmp_path / "locked"
    acquire_lock(str(out), RUN_DATE, "20260304T000000Z-dead00")
    assert _annotate(corpus, out, chatml_strong, chatml_weak, "--router", "keyword") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "locked by attempt 20260304T000000Z-dead00" in err and "--break-lock" in err
    assert not (out / "pairs").exists()
    assert _annotate(corpus, out, chatml_strong, chatml_weak, "--router", "keyword", "--break-lock") == 0
    assert read_lock(str(out), RUN_DATE) is None
    assert len(_rows(out, "pairs")) == 6


def test_lock_is_exclusive_and_only_its_holder_releases_it(tmp_path):
    out = str(tmp_path / "o")
    acquire_lock(out, RUN_DATE, "a")
    with pytest.raises(RuntimeError, match="locked by attempt a"):
        acquire_lock(out, RUN_DATE, "b")
    assert not release_lock(out, RUN_DATE, "b") and read_lock(out, RUN_DATE)["attempt"] == "a"
    acquire_lock(out, "2026-03-05", "b")  # another date is another lock
    assert release_lock(out, RUN_DATE, "a") and not os.path.exists(lock_path(out, RUN_DATE))


def _broken_copy(model: Path, dest: Path) -> Path:
    """A model folder that passes launch checks (config.json, safetensors) but cannot load."""
    shutil.copytree(model, dest)
    for f in dest.glob("*.safetensors"):
        f.write_bytes(f.read_bytes()[:100])
    return dest


def test_model_that_cannot_load_fails_the_run_and_keeps_the_earlier_publish(
    tmp_path, corpus, chatml_strong, chatml_weak, capsys
):
    out = tmp_path / "out"
    assert _annotate(corpus, out, chatml_strong, chatml_weak, "--router", "keyword") == 0
    before = _published_bytes(out)
    broken = _broken_copy(Path(chatml_weak), tmp_path / "broken-weak")
    capsys.readouterr()
    rc = _annotate(corpus, out, chatml_strong, broken, "--router", "keyword", "--rescore")
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert err[-1].startswith("gdr: run failed: cannot load model") and str(broken) in err[-1], err[-1]
    assert "nothing was published" in err[-1]
    assert _published_bytes(out) == before  # byte-identical
    assert read_lock(str(out), RUN_DATE) is None  # the launcher saw the failure: the date is free again
    assert _annotate(corpus, out, chatml_strong, chatml_weak, "--router", "keyword") == 0  # and a good rerun works


def test_mostly_bad_corpus_is_refused_with_its_top_reasons(tmp_path, chatml_strong, chatml_weak, capsys, corpus):
    out = tmp_path / "out"
    assert _annotate(corpus, out, chatml_strong, chatml_weak, "--router", "keyword") == 0
    before = _published_bytes(out)
    bad = write_jsonl(
        tmp_path / "bad.jsonl",
        CORPUS + [{"prompt_id": f"e{i}", "prompt": "Say hi.", "responses": ["hi", " "]} for i in range(6)],
    )
    capsys.readouterr()
    rc = _annotate(str(bad), out, chatml_strong, chatml_weak, "--router", "keyword")
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert rc == 1
    assert "6 of 27 candidates (22.2%) were dead-lettered, above --max-dead-letter-fraction 0.05" in err, err
    assert "6 x parse: empty response" in err
    assert _published_bytes(out) == before
    (attempt,) = [a for a, files in attempts(str(out), RUN_DATE).items() if any("_FAILED" in f for f in files)]
    failed = json.loads((out / "_staging" / f"run_date={RUN_DATE}" / f"attempt={attempt}" / "_FAILED.json").read_text())
    assert failed["top_dead_letter_reasons"] == [["parse: empty response", 6]]
    # The same corpus with a threshold that allows it publishes, and drops the refused attempt's staging.
    assert (
        _annotate(str(bad), out, chatml_strong, chatml_weak, "--router", "keyword", "--max-dead-letter-fraction", "0.5")
        == 0
    )
    assert not (out / "_staging").exists()


def test_run_problem_rules():
    ok = manifest_counts({"rows_ok": 10, "candidates_in": 20, "scored": 19, "dead_candidates:parse": 1})
    assert run_problem(ok, 0.05) is None
    assert "none of the 20 candidates" in run_problem(
        manifest_counts({"rows_ok": 10, "candidates_in": 20, "dead_candidates:score": 20}), 1.0
    )
    assert "do not reconcile" in run_problem(manifest_counts({"rows_ok": 10, "candidates_in": 20, "scored": 18}), 1.0)
    assert "no records" in run_problem(manifest_counts({}), 1.0)
    assert "records (50.0%)" in run_problem(
        manifest_counts({"rows_ok": 2, "dead_records:read": 2, "candidates_in": 2, "scored": 2}), 0.05
    )


def test_retried_publish_of_a_finished_attempt_changes_nothing(tmp_path):
    """A runner may rerun the publish step after it finished: it must not re-plan from the emptied staging."""
    out, stage = tmp_path / "out", tmp_path / "out" / "_staging" / "run_date=D" / "attempt=a"
    write_text(str(stage / "pairs" / "domain=chat" / "part-0.parquet"), "x")
    publish(str(out), str(stage), "D", {"attempt": "a"})
    published = list_files(str(out / "pairs"))
    assert published and not stage.exists()
    publish(str(out), str(stage), "D", {"attempt": "a"})
    assert list_files(str(out / "pairs")) == published


def test_gdr_publish_finishes_a_journal_by_hand(tmp_path, capsys):
    from beam_pipeline.publish import JOURNAL, apply_publish

    out = tmp_path / "out"
    stage = out / "_staging" / f"run_date={RUN_DATE}" / "attempt=x1"
    for name in ("a", "b"):
        write_text(str(stage / "scores" / "domain=chat" / f"part-{name}.parquet"), name)
    acquire_lock(str(out), RUN_DATE, "x1")
    journal = plan_publish(str(out), str(stage), RUN_DATE)
    journal["manifest"] = {"attempt": "x1"}
    write_text(str(stage / JOURNAL), json.dumps(journal))
    with pytest.raises(RuntimeError):
        apply_publish(journal, str(stage), fail_after=1)  # the publish dies half-way
    assert publish_main(["--output", str(out), "--run-date", RUN_DATE]) == 0
    assert len(list_files(str(out / "scores"))) == 2
    assert read_lock(str(out), RUN_DATE) is None
    assert publish_main(["--output", str(out), "--run-date", RUN_DATE]) == 1
    assert "nothing to finish" in capsys.readouterr().err


def test_dataflow_refuses_local_paths_before_any_work(tmp_path, corpus, chatml_strong, chatml_weak, capsys):
    rc = _annotate(
        corpus, tmp_path / "out", chatml_strong, chatml_weak, "--router", "keyword", "--runner=DataflowRunner"
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0
    assert err.startswith("gdr: error: DataflowRunner workers cannot read local paths: --input ")
    assert not (tmp_path / "out").exists()


def test_score_key_follows_the_dtype_actually_used():
    assert resolve_compute("auto", "auto", remote=True, accelerator=True) == ("cuda", "bfloat16")
    assert resolve_compute("auto", "auto", remote=True, accelerator=False) == ("cpu", "float32")
    assert resolve_compute("cpu", "auto", remote=True, accelerator=True) == ("cpu", "float32")
    assert resolve_compute("cuda", "float16", remote=False, accelerator=False) == ("cuda", "float16")
    assert scoring_setting("s", "w", "bfloat16") != scoring_setting("s", "w", "float32")


def test_gpu_memory_check_names_both_numbers(monkeypatch, chatml_strong):
    import torch
    from safetensors import safe_open

    from transforms.model_pool import ModelLoadFailed, check_gpu_memory, weight_bytes

    n_values = 0
    for f in Path(chatml_strong).glob("*.safetensors"):
        with safe_open(str(f), "pt") as st:
            n_values += sum(
                st.get_slice(k).get_shape().numel()
                if hasattr(st.get_slice(k).get_shape(), "numel")
                else _prod(st.get_slice(k).get_shape())
                for k in st.keys()
            )
    need = weight_bytes(str(chatml_strong), 2)
    assert need == 2 * n_values > 0  # bf16: two bytes a value, whatever the stored dtype
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (need - 1, 80 * 2**30))
    with pytest.raises(
        ModelLoadFailed, match=r"needs .* GiB of GPU memory .* in bfloat16, but cuda:0 has .* GiB free of 80.0 GiB"
    ):
        check_gpu_memory("m", str(chatml_strong), torch.bfloat16, torch.device("cuda:0"))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (need, 80 * 2**30))
    check_gpu_memory("m", str(chatml_strong), torch.bfloat16, torch.device("cuda:0"))  # fits exactly


def _prod(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def test_router_failure_defaults_the_prompt_and_is_never_reused(
    tmp_path, corpus, chatml_strong, chatml_weak, monkeypatch
):
    from transforms.routers import LLMRouter

    out = tmp_path / "out"

    def broken(self, conversations):
        raise RuntimeError("router exploded")

    with monkeypatch.context() as m:
        m.setattr(LLMRouter, "route_many", broken)
        assert _annotate(corpus, out, chatml_strong, chatml_weak, "--router", "llm") == 0
    first = json.loads((out / "manifests" / f"run_date={RUN_DATE}.json").read_text())
    assert first["counts"]["router_fallbacks"] == len(CORPUS)
    assert first["metrics"]["gdr/router_fallbacks"] == len(CORPUS)
    scores = ds.dataset(out / "scores", format="parquet", partitioning="hive").to_table().to_pylist()
    assert {r["domain"] for r in scores} == {"chat"} and all(r["route_key"] is None for r in scores)
    assert _annotate(corpus, out, chatml_strong, chatml_weak, "--router", "llm") == 0
    second = json.loads((out / "manifests" / f"run_date={RUN_DATE}.json").read_text())
    assert second["counts"]["prompts_routed"] == len(CORPUS) and second["counts"]["prompts_route_reused"] == 0
    assert second["counts"]["router_fallbacks"] == 0


def test_publish_refuses_files_written_outside_staging(tmp_path):
    from beam_pipeline.publish_step import _outside

    stage = str(tmp_path / "out" / "_staging" / "run_date=D" / "attempt=a")
    ok = [{"path": f"{stage}/pairs/domain=chat/part-00000-of-00001.parquet"}]
    assert _outside(stage, ok) is None
    stray = ok + [{"path": str(tmp_path / "elsewhere.parquet")}, {"path": f"{stage}/../../../x.parquet"}]
    assert _outside(stage, stray).startswith("2 file(s) were written outside the staging folder")
