"""One run at a time per output and run date: a lock object taken at launch, released by the publish step.

Two runs of the same ``--output`` and ``--run-date`` (a nightly retry racing a manual
rerun, a scheduler that launched twice) would interleave their publishes. The lock is
``OUTPUT/_locks/run_date=D.lock``, created only if absent: on local disk with an
exclusive create, on GCS with ``if_generation_match=0`` (the object store's own
compare-and-swap). It names its holder (attempt id, host, pid, user, start time); the
job's publish step releases it when done, and ``--break-lock`` takes over a lock whose
run died. Release only deletes a lock the same attempt holds, so a retried publish step
never frees a lock that a later run has taken.

A lock left by a job that ran inside its launcher (the DirectRunner) on this host, whose
process is gone, is provably dead and is taken over without ``--break-lock``; for a job
on a cluster the launcher's death says nothing about the job, so that needs a person.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
from typing import Any

from beam_pipeline.publish import is_local


class LockHeld(RuntimeError):
    """Another run holds the lock (the message names it and how to take it over)."""


def lock_path(output: str, run_date: str) -> str:
    return f"{output.rstrip('/')}/_locks/run_date={run_date}.lock"


def holder_info(attempt: str, in_launcher: bool = False) -> dict[str, Any]:
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = "unknown"
    return {
        "attempt": attempt,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "user": user,
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "job_in_launcher": in_launcher,
    }


def _provably_dead(holder: dict[str, Any]) -> bool:
    if not holder.get("job_in_launcher") or holder.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return True
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return False


def _gcs_blob(path: str):
    from apache_beam.io.gcp import gcsio
    from apache_beam.options.pipeline_options import PipelineOptions

    from beam_pipeline.gcs import use_anonymous_credentials_for_emulator

    use_anonymous_credentials_for_emulator()
    bucket, name = gcsio.parse_gcs_path(path)
    client = gcsio.create_storage_client(PipelineOptions([]))
    return client.bucket(bucket).blob(name)


def _create_exclusive(path: str, body: str) -> bool:
    """Create ``path`` with ``body`` only if it does not exist; False if it does."""
    if is_local(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(body)
        return True
    from google.api_core.exceptions import PreconditionFailed

    try:
        _gcs_blob(path).upload_from_string(body, content_type="application/json", if_generation_match=0)
    except PreconditionFailed:
        return False
    return True


def read_lock(output: str, run_date: str) -> dict[str, Any] | None:
    path = lock_path(output, run_date)
    try:
        if is_local(path):
            with open(path, encoding="utf-8") as f:
                text = f.read()
        else:
            from google.api_core.exceptions import NotFound

            try:
                text = _gcs_blob(path).download_as_text()
            except NotFound:
                return None
    except FileNotFoundError:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return {"attempt": "unreadable lock"}


def _delete(path: str) -> None:
    if is_local(path):
        try:
            os.remove(path)
            os.rmdir(os.path.dirname(path))  # only when no other date holds a lock
        except OSError:
            pass
        return
    from google.api_core.exceptions import NotFound

    try:
        _gcs_blob(path).delete()
    except NotFound:
        pass


def describe(holder: dict[str, Any]) -> str:
    return (
        f"attempt {holder.get('attempt')} (host {holder.get('host')}, pid {holder.get('pid')}, "
        f"user {holder.get('user')}, started {holder.get('started_at')})"
    )


def acquire_lock(
    output: str, run_date: str, attempt: str, break_lock: bool = False, in_launcher: bool = False
) -> dict[str, Any]:
    """Take the lock for ``output``/``run_date`` or raise :class:`LockHeld` naming the holder.

    ``in_launcher``: the job runs in this process (DirectRunner), which the lock records.
    """
    path = lock_path(output, run_date)
    me = holder_info(attempt, in_launcher)
    body = json.dumps(me, sort_keys=True)
    if _create_exclusive(path, body):
        return me
    holder = read_lock(output, run_date) or {}
    if not break_lock and not _provably_dead(holder):
        raise LockHeld(
            f"run_date={run_date} of {output} is locked by {describe(holder)}; if that run is no longer "
            "running, rerun with --break-lock"
        )
    _delete(path)
    if _create_exclusive(path, body):
        return me
    raise LockHeld(f"run_date={run_date} of {output} was taken by another run while breaking the lock")


def release_lock(output: str, run_date: str, attempt: str) -> bool:
    """Delete the lock if ``attempt`` holds it (idempotent); returns whether it was ours."""
    holder = read_lock(output, run_date)
    if not holder or holder.get("attempt") != attempt:
        return False
    _delete(lock_path(output, run_date))
    return True
