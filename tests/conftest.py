"""Shared fixtures: tiny locally built model pairs (no downloads) and corpus helpers."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SAMPLE_CORPUS = REPO / "beam_pipeline" / "data" / "sample_corpus.jsonl"


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tiny_models")


def _model(tiny_dir: Path, name: str, family: str, seed: int) -> Path:
    from transforms.engine.tiny_models import build_tiny_model

    path = tiny_dir / name
    if not (path / "config.json").exists():
        build_tiny_model(path, family=family, seed=seed)
    return path


@pytest.fixture(scope="session")
def chatml_strong(tiny_dir) -> Path:
    return _model(tiny_dir, "chatml-strong", "chatml", 1)


@pytest.fixture(scope="session")
def chatml_weak(tiny_dir) -> Path:
    return _model(tiny_dir, "chatml-weak", "chatml", 2)


@pytest.fixture(scope="session")
def inst_model(tiny_dir) -> Path:
    return _model(tiny_dir, "inst", "inst", 3)


@pytest.fixture(scope="session")
def base_model(tiny_dir) -> Path:
    return _model(tiny_dir, "base", "base", 4)


def write_jsonl(path: Path, records: list) -> Path:
    """Write records (dicts, or raw str/bytes lines written as they are)."""
    with open(path, "wb") as f:
        for r in records:
            if isinstance(r, bytes):
                f.write(r + b"\n")
            elif isinstance(r, str):
                f.write(r.encode("utf-8") + b"\n")
            else:
                f.write(json.dumps(r).encode("utf-8") + b"\n")
    return path


# -- a local GCS emulator (tests/gcs_emulator.py), shared by the gs:// tests ----------------
_buckets = itertools.count()


@pytest.fixture(scope="session")
def gcs_emulator():
    # A test extra that ./run.sh test installs: missing, it is an error, never a skip.
    from tests.gcs_emulator import GcsEmulator

    with GcsEmulator() as emulator:
        yield emulator


@pytest.fixture
def bucket(gcs_emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh bucket on the emulator, with ``STORAGE_EMULATOR_HOST`` set for this test only.

    Beam's process-wide credential cache is reset and ``google.auth.default`` is spied on, so
    a test fails if any Beam GCS client probes for real credentials.
    """
    import google.auth
    from apache_beam.internal.gcp import auth

    from beam_pipeline import gcs

    name = f"gdr-test-{next(_buckets)}"
    gcs_emulator.create_bucket(name)
    monkeypatch.setenv(gcs.EMULATOR_ENV, gcs_emulator.endpoint)
    monkeypatch.setattr(auth._Credentials, "_credentials_init", False)
    monkeypatch.setattr(auth._Credentials, "_credentials", None)
    probes: list[object] = []

    def spy(*args, **kwargs):
        probes.append(args or kwargs)
        # pytest's failure is a BaseException: Beam's retries and fallbacks do not swallow it.
        pytest.fail("Beam probed for Google credentials although STORAGE_EMULATOR_HOST is set")

    monkeypatch.setattr(google.auth, "default", spy)
    yield name
    assert probes == [], "Beam probed for credentials although STORAGE_EMULATOR_HOST was set"
