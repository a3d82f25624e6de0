"""Model folders on GCS reach workers: fingerprints from metadata, one verified copy per machine.

Runs against the real GCS emulator (``gcp-storage-emulator``) on 127.0.0.1, with a tiny
locally built model uploaded to it. Also the engine's local content fingerprint (weights
hashed, digests cached) and hub revision pinning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from google.cloud.storage.blob import Blob

from tests.gcs_emulator import GcsEmulator
from transforms import model_store
from transforms.engine import models
from transforms.engine.models import (
    ModelLoadError,
    check_model_source,
    load_causal_lm,
    model_fingerprint,
    pin_hub_revision,
    split_revision,
)
from transforms.model_store import ModelStoreError, is_remote_model, localize_model, remote_fingerprint

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def private_digest_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # model_fingerprint caches weight digests under $GDR_CACHE: keep tests out of ~/.cache/gdr.
    monkeypatch.setenv("GDR_CACHE", str(tmp_path / "gdr-cache"))


@pytest.fixture
def remote_model(gcs_emulator: GcsEmulator, bucket: str, chatml_strong: Path) -> str:
    return gcs_emulator.upload_folder(bucket, "models/strong", chatml_strong)


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Relative names of the objects localize_model downloads, in order."""
    seen: list[str] = []
    real = model_store._download_object

    def counted(f, dest, client):
        seen.append(f.rel)
        real(f, dest, client)

    monkeypatch.setattr(model_store, "_download_object", counted)
    return seen


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0xFF])


def _same_files(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir() if p.is_file())
    assert names == sorted(p.name for p in b.iterdir() if p.is_file() and not p.name.startswith("."))
    for n in names:
        assert (a / n).read_bytes() == (b / n).read_bytes(), n


# --- remote fingerprint -------------------------------------------------------------------


def test_remote_fingerprint_reads_metadata_only(gcs_emulator, bucket, remote_model, chatml_strong, monkeypatch):
    def no_body(*args, **kwargs):
        raise AssertionError("remote_fingerprint downloaded an object body")

    with monkeypatch.context() as m:
        for method in ("download_to_file", "download_to_filename", "download_as_bytes", "download_as_text", "open"):
            m.setattr(Blob, method, no_body)
        first = remote_fingerprint(remote_model)
        assert first.startswith("gcs:") and len(first) == 4 + 24
        assert remote_fingerprint(remote_model + "/") == first
        assert model_store.fingerprint_model(remote_model) == first

    # Weights retrained in place with the same size: only the checksum tells them apart.
    weights = (chatml_strong / "model.safetensors").read_bytes()
    gcs_emulator.upload(bucket, "models/strong/model.safetensors", _flip_last_byte(weights))
    changed = remote_fingerprint(remote_model)
    assert changed != first
    gcs_emulator.upload(bucket, "models/strong/model.safetensors", weights)
    assert remote_fingerprint(remote_model) == first


def test_remote_fingerprint_rejects_what_cannot_be_a_model(gcs_emulator, bucket, chatml_strong):
    with pytest.raises(ModelStoreError, match=r"gs://.*/nothing-here is empty or does not exist"):
        remote_fingerprint(f"gs://{bucket}/nothing-here")
    # A sibling prefix sharing the name's start is another folder, not this one.
    gcs_emulator.upload(bucket, "models/strong-v2/config.json", b"{}")
    with pytest.raises(ModelStoreError, match="empty or does not exist"):
        remote_fingerprint(f"gs://{bucket}/models/strong")

    gcs_emulator.upload(bucket, "weights-only/model.safetensors", b"x" * 10)
    with pytest.raises(ModelStoreError, match="has no config.json"):
        remote_fingerprint(f"gs://{bucket}/weights-only")

    gcs_emulator.upload(bucket, "pickled/config.json", b"{}")
    gcs_emulator.upload(bucket, "pickled/pytorch_model.bin", b"x" * 10)
    with pytest.raises(ModelStoreError, match="only pickle weights.*--allow-pickle"):
        remote_fingerprint(f"gs://{bucket}/pickled")
    assert remote_fingerprint(f"gs://{bucket}/pickled", allow_pickle=True).startswith("gcs:")


def test_is_remote_model_and_engine_checks_leave_gs_alone():
    assert is_remote_model("gs://b/models/m") and not is_remote_model("/models/m")
    assert not is_remote_model("org/name")
    check_model_source("gs://b/models/m")  # not a local path: the remote check is remote_fingerprint
    with pytest.raises(ModelLoadError, match="remote_fingerprint"):
        model_fingerprint("gs://b/models/m")
    with pytest.raises(ModelLoadError, match="localize_model"):
        load_causal_lm("gs://b/models/m")


# --- localize_model -----------------------------------------------------------------------


def test_localize_model_copies_once_and_verified(remote_model, chatml_strong, tmp_path, downloads, caplog):
    assert localize_model(str(chatml_strong), cache_dir=str(tmp_path)) == str(chatml_strong)
    assert localize_model("org/name@abc", cache_dir=str(tmp_path)) == "org/name@abc"
    assert downloads == []

    with caplog.at_level(logging.INFO, logger=model_store.__name__):
        local = Path(localize_model(remote_model, cache_dir=str(tmp_path / "cache")))
    assert local.name == remote_fingerprint(remote_model).replace(":", "-")
    _same_files(chatml_strong, local)
    assert sorted(downloads) == sorted(p.name for p in chatml_strong.iterdir() if p.is_file())
    assert not list(local.rglob("*.partial"))
    messages = [r.getMessage() for r in caplog.records if r.name == model_store.__name__]
    assert any(m.startswith("copying model") and "MB" in m for m in messages), messages
    assert any(m.startswith("copied model") and " s" in m for m in messages), messages
    # The copy answers like the source: same content fingerprint, same log-probs.
    assert model_fingerprint(str(local)) == model_fingerprint(str(chatml_strong))

    downloads.clear()
    assert localize_model(remote_model, cache_dir=str(tmp_path / "cache")) == str(local)
    assert downloads == []

    ids = torch.tensor([[1, 5, 9, 20, 3]])
    a, b = (load_causal_lm(p, dtype="float32", device="cpu") for p in (str(chatml_strong), str(local)))
    with torch.no_grad():
        assert torch.equal(a.model(ids).logits, b.model(ids).logits)


def test_localize_model_defaults_to_the_worker_model_dir(remote_model, tmp_path, monkeypatch):
    monkeypatch.setenv(model_store.WORKER_MODEL_DIR_ENV, str(tmp_path / "workers"))
    local = localize_model(remote_model)
    assert Path(local).parent == tmp_path / "workers" and (Path(local) / "config.json").exists()


def test_localize_model_redownloads_only_what_is_damaged(remote_model, chatml_strong, tmp_path, downloads):
    local = Path(localize_model(remote_model, cache_dir=str(tmp_path)))
    downloads.clear()

    # Same size, different bytes, marker still there: its changed mtime sends it to re-hashing.
    time.sleep(0.05)  # mtime has clock-tick granularity
    weights = local / "model.safetensors"
    weights.write_bytes(_flip_last_byte(weights.read_bytes()))
    assert localize_model(remote_model, cache_dir=str(tmp_path)) == str(local)
    assert downloads == ["model.safetensors"]
    _same_files(chatml_strong, local)

    # An interrupted copy: a file missing and no marker. The good files are kept.
    downloads.clear()
    (local / "tokenizer.json").unlink()
    (local / model_store.MARKER).unlink()
    assert localize_model(remote_model, cache_dir=str(tmp_path)) == str(local)
    assert downloads == ["tokenizer.json"]
    _same_files(chatml_strong, local)

    # Only the marker gone: every file verifies against its checksum, nothing is fetched.
    downloads.clear()
    (local / model_store.MARKER).unlink()
    assert localize_model(remote_model, cache_dir=str(tmp_path)) == str(local)
    assert downloads == [] and (local / model_store.MARKER).exists()


def test_localize_model_rejects_a_download_that_does_not_match_the_listing(remote_model, tmp_path, monkeypatch):
    # The object changes between listing and download: the copy must fail, not keep other bytes.
    real = Blob.download_to_file

    def tampered(self, file_obj, *args, **kwargs):
        real(self, file_obj, *args, **kwargs)
        if self.name.endswith("config.json"):
            file_obj.write(b" ")

    monkeypatch.setattr(Blob, "download_to_file", tampered)
    with pytest.raises(ModelStoreError, match=r"config\.json does not match its GCS metadata"):
        localize_model(remote_model, cache_dir=str(tmp_path))
    assert not list(tmp_path.rglob(model_store.MARKER))
    assert not list(tmp_path.rglob("*.partial"))


_WORKER = r"""
import os, sys, time
from pathlib import Path

import apache_beam.io.gcp.gcsio  # noqa: F401  imported before the start signal, to tighten the race
from transforms import model_store

log_path, ready, go, uri, cache = sys.argv[1:]
real = model_store._download_object

def counted(f, dest, client):
    with open(log_path, "a") as fh:
        fh.write(f"{os.getpid()} {f.rel}\n")
    time.sleep(0.05)  # widen the window in which another process could start a second copy
    real(f, dest, client)

model_store._download_object = counted
Path(ready).touch()
while not os.path.exists(go):
    time.sleep(0.005)
print(model_store.localize_model(uri, cache_dir=cache))
"""


def test_localize_model_three_processes_make_one_copy(remote_model, chatml_strong, tmp_path):
    log_path, go, cache = tmp_path / "downloads.log", tmp_path / "go", tmp_path / "cache"
    ready = [tmp_path / f"ready-{i}" for i in range(3)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(log_path), str(r), str(go), remote_model, str(cache)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in ready
    ]
    try:
        deadline = time.monotonic() + 120
        while not all(r.exists() for r in ready):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "workers did not start"
            time.sleep(0.05)
        go.touch()  # all three call localize_model at once
        results = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0, 0, 0], [err[-2000:] for _, err in results]
    paths = {out.strip() for out, _ in results}
    assert len(paths) == 1
    lines = log_path.read_text().splitlines()
    files = sorted(p.name for p in chatml_strong.iterdir() if p.is_file())
    assert sorted(line.split()[1] for line in lines) == files  # each object downloaded once in all
    assert len({line.split()[0] for line in lines}) == 1  # by one process
    local = Path(paths.pop())
    assert [d.name for d in cache.iterdir() if d.is_dir()] == [local.name]
    _same_files(chatml_strong, local)


# --- local content fingerprint ------------------------------------------------------------


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = models._hash_file

    def counted(path: str) -> str:
        calls.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr(models, "_hash_file", counted)
    return calls


def _age(path: Path, seconds: float = 3600) -> None:
    """Make a file old enough for its digest to be cached (recent files are "racily clean")."""
    t = time.time_ns() - int(seconds * 1e9)
    os.utime(path, ns=(t, t))


def test_local_fingerprint_hashes_weight_bytes_and_caches_digests(chatml_strong, tmp_path, monkeypatch, hash_calls):
    model = Path(shutil.copytree(chatml_strong, tmp_path / "m"))
    weights = model / "model.safetensors"
    _age(weights)

    first = model_fingerprint(str(model))
    assert first.startswith("local:") and len(first) == 6 + 24
    assert hash_calls == ["model.safetensors"]
    cache_file = tmp_path / "gdr-cache" / models.DIGEST_CACHE_FILE
    entry = json.loads(cache_file.read_text())[os.path.realpath(weights)]
    assert entry["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert model_fingerprint(str(model)) == first
    assert hash_calls == ["model.safetensors"]  # second call: digest from the cache

    # Retrained in place: same size, different bytes.
    size = weights.stat().st_size
    with open(weights, "r+b") as f:
        f.seek(size - 1)
        last = f.read(1)
        f.seek(size - 1)
        f.write(bytes([last[0] ^ 0xFF]))
    assert weights.stat().st_size == size
    retrained = model_fingerprint(str(model))
    assert retrained != first
    assert len(hash_calls) == 2

    # Just written: not cached, since a same-tick rewrite would keep (size, mtime).
    assert model_fingerprint(str(model)) == retrained and len(hash_calls) == 3

    _age(weights, 1800)
    assert model_fingerprint(str(model)) == retrained and len(hash_calls) == 4
    assert model_fingerprint(str(model)) == retrained and len(hash_calls) == 4

    cache_file.write_text("{not json")  # corrupt cache: recomputed, then rewritten whole
    assert model_fingerprint(str(model)) == retrained and len(hash_calls) == 5
    assert os.path.realpath(weights) in json.loads(cache_file.read_text())

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("GDR_CACHE", str(blocker))  # cache cannot be written: still a fingerprint
    assert model_fingerprint(str(model)) == retrained and len(hash_calls) == 6

    # The tokenizer (it holds the chat template) is part of it too; hidden files are not.
    (model / ".gdr-complete.json").write_text("{}")
    assert model_fingerprint(str(model)) == retrained
    (model / "chat_template.jinja").write_text("{{ messages }}")
    assert model_fingerprint(str(model)) != retrained


# --- hub ids ------------------------------------------------------------------------------


def test_split_revision_and_hub_fingerprints(tmp_path, monkeypatch, caplog):
    from huggingface_hub import constants

    assert split_revision("org/name@abc123") == ("org/name", "abc123")
    assert split_revision("gpt2@v1") == ("gpt2", "v1")
    assert split_revision("org/name") == ("org/name", None)
    assert split_revision("gs://b/m@1") == ("gs://b/m@1", None)
    local = tmp_path / "my@model"
    local.mkdir()
    assert split_revision(str(local)) == (str(local), None)

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert model_fingerprint("org/name@abc123") == "hub:org/name@abc123"

    commit = "0123456789abcdef0123456789abcdef01234567"
    ref = tmp_path / "hub" / "models--org--cached" / "refs" / "main"
    ref.parent.mkdir(parents=True)
    ref.write_text(commit)
    assert model_fingerprint("org/cached") == f"hub:org/cached@{commit}"
    assert pin_hub_revision("org/cached") == f"org/cached@{commit}"
    assert pin_hub_revision("org/cached@v2") == "org/cached@v2"
    assert pin_hub_revision(str(local)) == str(local)

    with caplog.at_level(logging.WARNING, logger=models.__name__):
        assert model_fingerprint("org/nowhere") == "hub:org/nowhere@unpinned"
    assert any("org/nowhere" in r.getMessage() and "exact weights" in r.getMessage() for r in caplog.records)
    assert pin_hub_revision("org/nowhere") == "org/nowhere"


def test_load_causal_lm_passes_the_revision(monkeypatch):
    import transformers

    calls: list[tuple[str, str, str | None]] = []

    class FakeTokenizer:
        is_fast = True

        @classmethod
        def from_pretrained(cls, src, revision=None, **kwargs):
            calls.append(("tokenizer", src, revision))
            return cls()

    class FakeModel:
        @classmethod
        def from_pretrained(cls, src, revision=None, **kwargs):
            calls.append(("model", src, revision))
            raise OSError("stop here: no weights in this test")

    monkeypatch.setattr(transformers, "AutoTokenizer", FakeTokenizer)
    monkeypatch.setattr(transformers, "AutoModelForCausalLM", FakeModel)
    with pytest.raises(ModelLoadError, match="stop here"):
        load_causal_lm("org/name@abc123", device="cpu")
    assert calls == [("tokenizer", "org/name", "abc123"), ("model", "org/name", "abc123")]
    calls.clear()
    with pytest.raises(ModelLoadError):
        load_causal_lm("org/name", device="cpu")
    assert calls[0] == ("tokenizer", "org/name", None)
