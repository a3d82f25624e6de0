"""Model folders on GCS (``gs://bucket/path/to/model``) for workers that have no shared disk.

Dataflow and Flink workers cannot see the launcher's disk, so a model given as a ``gs://``
folder is copied to each worker machine's local disk before it is loaded:

* :func:`remote_fingerprint` identifies a ``gs://`` folder from object metadata only (names,
  sizes, crc32c/md5), so the launcher can key scores by model content without downloading
  GBs, and rejects folders that cannot be a safe transformers model.
* :func:`localize_model` copies the folder once per machine into
  ``$GDR_WORKER_MODEL_DIR/gcs-<hash>`` (default ``<tmp>/gdr-models``), under a file lock so
  the several SDK processes of one machine share one copy; every file is verified against
  the object's crc32c (or md5) and a completion marker is written last, so an interrupted
  copy is resumed, never used.

Storage clients come from Beam's ``gcsio`` (the job's credentials on real GCS); while
``STORAGE_EMULATOR_HOST`` is set they are anonymous, the project's emulator rule (see
``beam_pipeline/gcs.py``).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

log = logging.getLogger(__name__)

WORKER_MODEL_DIR_ENV = "GDR_WORKER_MODEL_DIR"
EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
MARKER = ".gdr-complete.json"
_CHUNK = 8 << 20
_PICKLE_SUFFIXES = (".bin", ".pt")


class ModelStoreError(RuntimeError):
    """A ``gs://`` model folder cannot be fingerprinted or copied (user-actionable)."""


@dataclass(frozen=True)
class RemoteFile:
    """One object of a model folder, as listed (no body read)."""

    rel: str  # path relative to the folder, "/"-separated
    size: int
    crc32c: str | None  # base64 big-endian, as GCS reports it
    md5: str | None  # base64, absent for composite objects
    blob: Any = None  # google.cloud.storage.Blob, for the download


def is_remote_model(name: str) -> bool:
    """Whether ``name`` is a ``gs://`` model folder (copied to workers, not loaded in place)."""
    return isinstance(name, str) and name.startswith("gs://")


def _split_uri(uri: str) -> tuple[str, str]:
    bucket, _, path = uri[len("gs://") :].partition("/")
    if not bucket:
        raise ModelStoreError(f"model URI {uri!r} has no bucket (expected gs://bucket/path/to/model)")
    path = path.strip("/")
    return bucket, f"{path}/" if path else ""


def storage_client(options: Any = None) -> Any:
    """A ``google.cloud.storage.Client`` made the way Beam's own GCS filesystem makes it.

    ``options`` defaults to the options registered with ``FileSystems`` (the job's, on the
    launcher and on workers), so real runs use the job's credentials; with
    ``STORAGE_EMULATOR_HOST`` set the client is anonymous and never probes for credentials.
    """
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.io.gcp import gcsio
    from apache_beam.options.pipeline_options import PipelineOptions

    if options is None:
        options = getattr(FileSystems, "_pipeline_options", None) or PipelineOptions([])
    return gcsio.create_storage_client(options, use_credentials=not os.environ.get(EMULATOR_ENV))


def list_model_files(uri: str, allow_pickle: bool = False, client: Any = None) -> list[RemoteFile]:
    """The objects of a ``gs://`` model folder (metadata only), checked to be a loadable model."""
    bucket, prefix = _split_uri(uri)
    client = client or storage_client()
    files: list[RemoteFile] = []
    for blob in client.list_blobs(bucket, prefix=prefix):
        rel = blob.name[len(prefix) :]
        if not rel or rel.endswith("/"):  # folder placeholders made by the console
            continue
        parts = rel.split("/")
        if any(p in ("", ".", "..") for p in parts):
            raise ModelStoreError(f"model folder {uri} holds object {blob.name!r}, which is not a safe file path")
        files.append(RemoteFile(rel, int(blob.size or 0), blob.crc32c, blob.md5_hash, blob))
    files.sort(key=lambda f: f.rel)
    if not files:
        raise ModelStoreError(f"model folder {uri} is empty or does not exist")
    names = {f.rel for f in files}
    if "config.json" not in names:
        raise ModelStoreError(f"model folder {uri} has no config.json (not a transformers model folder)")
    has_safetensors = any(n.endswith(".safetensors") for n in names)
    has_pickle = any(n.endswith(_PICKLE_SUFFIXES) for n in names)
    if has_pickle and not has_safetensors and not allow_pickle:
        raise ModelStoreError(
            f"model folder {uri} holds only pickle weights (.bin/.pt), which can run code when "
            "loaded; convert them to safetensors or pass --allow-pickle"
        )
    return files


def _fingerprint_of(files: list[RemoteFile]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.rel}\0{f.size}\0crc32c={f.crc32c or ''}\0md5={f.md5 or ''}\n".encode())
    return f"gcs:{h.hexdigest()[:24]}"


def remote_fingerprint(uri: str, allow_pickle: bool = False, options: Any = None) -> str:
    """``gcs:<hash>`` of a ``gs://`` model folder from its listing alone (no object is read).

    The hash covers every object's relative name, size and crc32c/md5, so content replaced
    in place (same size) changes it. Raises :class:`ModelStoreError` for an empty prefix, a
    folder without ``config.json`` or one with only pickle weights (unless ``allow_pickle``).
    """
    return _fingerprint_of(list_model_files(uri, allow_pickle, storage_client(options)))


def fingerprint_model(name: str, allow_pickle: bool = False, options: Any = None) -> str:
    """The fingerprint of any model argument: ``gs://`` folders here, the rest by the engine."""
    if is_remote_model(name):
        return remote_fingerprint(name, allow_pickle, options)
    from transforms.engine.models import model_fingerprint

    return model_fingerprint(name)


def default_cache_dir() -> str:
    """``$GDR_WORKER_MODEL_DIR``, else ``<tempfile.gettempdir()>/gdr-models``."""
    return os.environ.get(WORKER_MODEL_DIR_ENV) or os.path.join(tempfile.gettempdir(), "gdr-models")


class _Hashes:
    """crc32c, md5 and byte count of a stream, fed chunk by chunk."""

    def __init__(self) -> None:
        import google_crc32c

        self.crc = google_crc32c.Checksum()
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self.crc.update(chunk)
        self.md5.update(chunk)
        self.size += len(chunk)

    def matches(self, f: RemoteFile) -> bool:
        if self.size != f.size:
            return False
        if f.crc32c:
            return base64.b64encode(self.crc.digest()).decode() == f.crc32c
        if f.md5:
            return base64.b64encode(self.md5.digest()).decode() == f.md5
        return True  # GCS always reports crc32c; an object without any hash is checked by size


class _HashingWriter:
    """A write-only file wrapper that hashes what the download streams through it."""

    def __init__(self, f: BinaryIO, hashes: _Hashes) -> None:
        self._f, self._hashes = f, hashes

    def write(self, chunk: bytes) -> int:
        self._hashes.update(chunk)
        return self._f.write(chunk)

    def flush(self) -> None:
        self._f.flush()


def _local_matches(path: str, f: RemoteFile) -> bool:
    try:
        if os.path.getsize(path) != f.size:
            return False
        hashes = _Hashes()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                hashes.update(chunk)
    except OSError:
        return False
    return hashes.matches(f)


def _download_object(f: RemoteFile, dest: str, client: Any) -> None:
    """Stream one object to ``dest`` (via ``dest.partial``), verified against its listed metadata."""
    partial = dest + ".partial"
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    hashes = _Hashes()
    with open(partial, "wb") as out:
        # checksum=None: the library would hash again; the listed crc32c is checked below, and
        # the listed generation is what is downloaded, so a replaced object cannot slip in.
        f.blob.download_to_file(_HashingWriter(out, hashes), client=client, checksum=None)
        out.flush()
        os.fsync(out.fileno())
    if not hashes.matches(f) or os.path.getsize(partial) != f.size:
        os.unlink(partial)
        raise ModelStoreError(
            f"downloaded {f.blob.name} does not match its GCS metadata (size or checksum); the object "
            "may have been replaced during the copy - retry"
        )
    os.replace(partial, dest)


def _marker_ok(target: str, fingerprint: str) -> bool:
    """The folder is complete: marker for this fingerprint, every file of the size and mtime recorded."""
    try:
        with open(os.path.join(target, MARKER), encoding="utf-8") as fh:
            marker = json.load(fh)
        if marker.get("fingerprint") != fingerprint:
            return False
        for rel, meta in marker["files"].items():
            st = os.stat(os.path.join(target, rel))
            # mtime too: a file edited in place keeps its size; then the slow path re-hashes it.
            if st.st_size != meta["size"] or st.st_mtime_ns != meta["mtime_ns"]:
                return False
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
    return True


@contextmanager
def _machine_lock(path: str) -> Iterator[None]:
    # flock is per open file description, so it serialises threads and processes alike; the
    # lock file is never deleted, as deleting it would let two holders lock different inodes.
    with open(path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def localize_model(name: str, cache_dir: str | None = None, options: Any = None) -> str:
    """A local folder to load ``name`` from: ``gs://`` folders are copied once per machine.

    Local paths and hub ids come back unchanged. A ``gs://`` folder is copied into
    ``<cache_dir>/gcs-<hash>`` (hash = :func:`remote_fingerprint`), under an exclusive lock
    so concurrent processes on the machine make one copy; files already there with the
    right size and checksum are kept (a partial copy is resumed), the others downloaded and
    verified, and a completion marker written last.
    """
    if not is_remote_model(name):
        return name
    client = storage_client(options)
    # Pickle weights are copied: the loader applies --allow-pickle to the local copy (and
    # the launcher already did, through remote_fingerprint).
    files = list_model_files(name, allow_pickle=True, client=client)
    fingerprint = _fingerprint_of(files)
    root = cache_dir or default_cache_dir()
    target = os.path.join(root, fingerprint.replace(":", "-"))
    if _marker_ok(target, fingerprint):
        return target
    os.makedirs(root, exist_ok=True)
    with _machine_lock(target + ".lock"):
        if _marker_ok(target, fingerprint):  # another process finished the copy while we waited
            return target
        marker_path = os.path.join(target, MARKER)
        if os.path.exists(marker_path):
            os.unlink(marker_path)  # stale: must not vouch for files while they are being replaced
        total = sum(f.size for f in files)
        log.info("copying model %s (%d files, %.1f MB) to %s", name, len(files), total / 1e6, target)
        started = time.monotonic()
        fetched = 0
        for f in files:
            dest = os.path.join(target, *f.rel.split("/"))
            if _local_matches(dest, f):
                continue
            _download_object(f, dest, client)
            fetched += f.size
        record = {
            f.rel: {
                "size": f.size,
                "crc32c": f.crc32c,
                "md5": f.md5,
                "mtime_ns": os.stat(os.path.join(target, *f.rel.split("/"))).st_mtime_ns,
            }
            for f in files
        }
        tmp = marker_path + ".partial"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"source": name, "fingerprint": fingerprint, "files": record}, fh, indent=1)
        os.replace(tmp, marker_path)
        log.info(
            "copied model %s: %.1f MB downloaded (%.1f MB already present) in %.1f s",
            name,
            fetched / 1e6,
            (total - fetched) / 1e6,
            time.monotonic() - started,
        )
    return target
