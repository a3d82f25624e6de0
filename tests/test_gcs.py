"""``gs://`` input and output against a real GCS emulator on 127.0.0.1.

The emulator (``gcp-storage-emulator``) runs in memory in a subprocess; the pipeline reads
``gs://`` JSONL and publishes Hive-partitioned Parquet to ``gs://``, which is read back with
pyarrow's own GCS filesystem. Beam's credential probe (~21 s of retries per process without
Application Default Credentials) must not run: ``STORAGE_EMULATOR_HOST`` switches Beam's GCS
clients to anonymous, and only that variable does.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pyarrow.dataset as ds
import pytest
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.gcp import gcsio
from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions
from pyarrow import fs as pafs

from beam_pipeline import gcs
from beam_pipeline.run import run
from tests.gcs_emulator import GcsEmulator

# These corpora are bad on purpose (every kind of bad input); the dead-letter threshold has its own tests.
BAD_ON_PURPOSE = ["--max-dead-letter-fraction", "1"]
RUN_DATE = "2026-01-02"
CORPUS = [
    {"prompt_id": "g-math", "prompt": "Solve 2x + 3 = 11.", "responses": ["x = 4.", "x = 7.", "No idea."]},
    {"prompt_id": "g-book", "prompt": "Recommend a science fiction book.", "responses": ["Dune.", "Books."]},
    {"prompt_id": "g-bread", "prompt": "How do I bake bread?", "responses": ["Knead, proof, bake.", "Buy it."]},
    {"prompt_id": "g-mail", "prompt": "Write a thank-you note.", "responses": ["Thank you!", "k", "Many thanks."]},
]
MALFORMED = '{"prompt": "unterminated'


def _pyarrow_gcs(emulator: GcsEmulator) -> pafs.GcsFileSystem:
    return pafs.GcsFileSystem(
        anonymous=True,
        endpoint_override=f"{emulator.host}:{emulator.port}",
        scheme="http",
        retry_time_limit=timedelta(seconds=5),
    )


def _read_text(path: str) -> str:
    with FileSystems.open(path) as f:
        return f.read().decode("utf-8")


def _annotate(bucket: str, models: tuple, *extra: str) -> tuple[int, float, dict]:
    strong, weak = models
    started = time.monotonic()
    rc = run(
        ["--input", f"gs://{bucket}/corpus/*.jsonl", "--output", f"gs://{bucket}/prefs", "--strong", str(strong)]
        + ["--weak", str(weak), "--router", "keyword", "--run-date", RUN_DATE, *BAD_ON_PURPOSE, *extra]
    )
    seconds = time.monotonic() - started
    manifest = json.loads(_read_text(f"gs://{bucket}/prefs/manifests/run_date={RUN_DATE}.json"))
    return rc, seconds, manifest


def _check_published(emulator: GcsEmulator, bucket: str, manifest: dict) -> None:
    """Everything the manifest counts is in the gs:// tables, read with pyarrow."""
    c = manifest["counts"]
    gfs = _pyarrow_gcs(emulator)
    tables = {
        t: ds.dataset(f"{bucket}/prefs/{t}/run_date={RUN_DATE}", filesystem=gfs, format="parquet", partitioning="hive")
        for t in ("scores", "pairs")
    }
    scores = tables["scores"].to_table()
    pairs = tables["pairs"].to_table()
    assert scores.num_rows == c["candidates_in"] - c["candidates_dead_lettered"] == sum(c["scored_by_domain"].values())
    assert pairs.num_rows == sum(c["pairs_by_domain"].values()) > 0
    keys = list(zip(scores.column("prompt_id").to_pylist(), scores.column("response_index").to_pylist()))
    assert len(keys) == len(set(keys)), "duplicate score rows"
    domains = sorted(set(scores.column("domain").to_pylist()))
    assert domains == sorted(c["scored_by_domain"])
    dead_files = FileSystems.match([f"gs://{bucket}/prefs/dead_letter/run_date={RUN_DATE}/**"])[0].metadata_list
    dead = [json.loads(line) for m in dead_files for line in _read_text(m.path).splitlines() if line.strip()]
    assert len(dead) == sum(c["dead_letter_by_stage"].values()) == c["records_dead_lettered"] == 1
    assert dead[0]["stage"] == "read" and "invalid JSON" in dead[0]["reason"]
    assert dead[0]["source"] == f"gs://{bucket}/corpus/part-0.jsonl:{len(CORPUS) + 1}"
    assert dead[0]["record"] == MALFORMED


def test_configure_filesystems_changes_nothing_without_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []

    def fake_create(pipeline_options, use_credentials=True):
        calls.append(use_credentials)
        return object()

    monkeypatch.setattr(gcsio, "create_storage_client", fake_create)
    monkeypatch.setattr(FileSystems, "_pipeline_options", None)
    monkeypatch.delenv(gcs.EMULATOR_ENV, raising=False)
    options = gcs.configure_filesystems(PipelineOptions(["--impersonate_service_account", "sa@p.iam"]))
    assert gcsio.create_storage_client is fake_create  # production: Beam's client creation untouched
    assert not options.view_as(SetupOptions).beam_plugins
    assert FileSystems._pipeline_options is options  # launcher-side gs:// calls use the job's GCP options

    monkeypatch.setenv(gcs.EMULATOR_ENV, "http://127.0.0.1:9")
    options = gcs.configure_filesystems(PipelineOptions([]))
    assert options.view_as(SetupOptions).beam_plugins == ["beam_pipeline.gcs"]
    gcs.configure_filesystems(options)
    assert options.view_as(SetupOptions).beam_plugins == ["beam_pipeline.gcs"]
    gcsio.create_storage_client(options)
    monkeypatch.delenv(gcs.EMULATOR_ENV)
    gcsio.create_storage_client(options)  # the wrapper re-checks the variable on every client
    assert calls == [False, True]


def test_gs_input_and_output_through_the_emulator(gcs_emulator, bucket, chatml_strong, chatml_weak, capsys):
    body = "".join(json.dumps(r) + "\n" for r in CORPUS) + MALFORMED + "\n"
    gcs_emulator.upload(bucket, "corpus/part-0.jsonl", body.encode())

    rc, seconds, manifest = _annotate(bucket, (chatml_strong, chatml_weak))
    assert rc == 0, capsys.readouterr()
    c = manifest["counts"]
    assert c["reconciled"]
    assert c["records_in"] == len(CORPUS) + 1 and c["records_dead_lettered"] == 1
    assert c["candidates_in"] == sum(len(r["responses"]) for r in CORPUS)
    assert manifest["input_files"][0]["path"] == f"gs://{bucket}/corpus/part-0.jsonl"
    _check_published(gcs_emulator, bucket, manifest)
    first = gcs_emulator.list(bucket, "prefs/")

    # Rerunning the date replaces the published partitions on GCS: same files, no duplicates.
    rc, rerun_seconds, manifest = _annotate(bucket, (chatml_strong, chatml_weak))
    assert rc == 0, capsys.readouterr()
    _check_published(gcs_emulator, bucket, manifest)
    assert gcs_emulator.list(bucket, "prefs/") == first
    assert not [n for n in first if "/_staging/" in n]
    print(f"gs:// run {seconds:.1f}s, rerun {rerun_seconds:.1f}s")


def test_gs_model_folders_reach_the_workers_and_score_like_local_ones(
    gcs_emulator, bucket, chatml_strong, chatml_weak, tmp_path, monkeypatch, capsys
):
    """--strong/--weak as gs:// folders: fingerprinted from listings, copied once per machine, same rewards.

    With three worker processes and a fresh worker model folder, each model is downloaded
    once (the copy is shared through a file lock) and loaded once (the model pool).
    """
    from transforms.model_pool import LOAD_LOG_ENV, POOL_DIR_ENV

    body = "".join(json.dumps(r) + "\n" for r in CORPUS)
    gcs_emulator.upload(bucket, "corpus/part-0.jsonl", body.encode())
    strong = gcs_emulator.upload_folder(bucket, "models/strong", chatml_strong)
    weak = gcs_emulator.upload_folder(bucket, "models/weak", chatml_weak)
    monkeypatch.setenv("GDR_WORKER_MODEL_DIR", str(tmp_path / "worker-models"))
    monkeypatch.setenv(POOL_DIR_ENV, str(tmp_path / "pool"))
    monkeypatch.setenv(LOAD_LOG_ENV, str(tmp_path / "loads.jsonl"))

    rc, _, local = _annotate(bucket, (chatml_strong, chatml_weak))
    assert rc == 0, capsys.readouterr()
    gfs = _pyarrow_gcs(gcs_emulator)

    def rewards() -> dict:
        t = ds.dataset(
            f"{bucket}/prefs/scores/run_date={RUN_DATE}", filesystem=gfs, format="parquet", partitioning="hive"
        )
        return {(r["prompt_id"], r["response_index"]): r["reward"] for r in t.to_table().to_pylist()}

    expected = rewards()
    (tmp_path / "loads.jsonl").write_text("")
    monkeypatch.setenv(POOL_DIR_ENV, str(tmp_path / "pool-mp"))
    rc, _, remote = _annotate(
        bucket, (strong, weak), "--direct_running_mode=multi_processing", "--direct_num_workers=3"
    )
    assert rc == 0, capsys.readouterr()
    assert remote["models"]["fingerprints"]["strong"].startswith("gcs:")
    assert remote["keys"]["scoring_setting"] != local["keys"]["scoring_setting"]  # new content key: rescored
    assert remote["counts"]["candidates_scored"] == len(expected)
    got = rewards()
    assert got.keys() == expected.keys()
    assert max(abs(got[k] - expected[k]) for k in got) <= 1e-4
    copies = sorted(p.name for p in (tmp_path / "worker-models").iterdir() if p.is_dir())
    assert len(copies) == 2, copies  # one local copy per model on this "machine"
    loads = [json.loads(line) for line in (tmp_path / "loads.jsonl").read_text().splitlines()]
    assert sorted(x["name"] for x in loads) == sorted([strong, weak])


def test_run_lock_on_gcs_is_a_compare_and_swap(bucket, monkeypatch):
    """On GCS the lock is created with if_generation_match=0, and a refused create names the holder.

    gcp-storage-emulator ignores preconditions, so the refusal itself is what GCS answers
    (412 PreconditionFailed) played by a patched upload; reading, naming and releasing the
    holder go over HTTP to the emulator.
    """
    from google.api_core.exceptions import PreconditionFailed
    from google.cloud.storage.blob import Blob

    from beam_pipeline.run_lock import LockHeld, acquire_lock, read_lock, release_lock

    sent = []
    real_upload = Blob.upload_from_string

    def upload(self, data, *args, **kwargs):
        sent.append(kwargs.get("if_generation_match"))
        if read_lock(out, RUN_DATE) is not None and kwargs.get("if_generation_match") == 0:
            raise PreconditionFailed("object exists")  # what GCS answers
        return real_upload(self, data, *args, **kwargs)

    monkeypatch.setattr(Blob, "upload_from_string", upload)
    out = f"gs://{bucket}/prefs"
    acquire_lock(out, RUN_DATE, "first")
    with pytest.raises(LockHeld, match="locked by attempt first"):
        acquire_lock(out, RUN_DATE, "second")
    assert sent == [0, 0]
    assert read_lock(out, RUN_DATE)["attempt"] == "first"
    assert not release_lock(out, RUN_DATE, "second")  # not the holder: nothing deleted
    assert acquire_lock(out, RUN_DATE, "second", break_lock=True)["attempt"] == "second"
    assert release_lock(out, RUN_DATE, "second") and read_lock(out, RUN_DATE) is None
