"""Publish a finished run: staging -> ``pairs/``, ``scores/``, ``dead_letter/``, manifest.

A run's partitions become visible only after every write of its Beam job has finished:
the job's last step (``beam_pipeline.publish_step``) replaces the run date's published
partitions with the staged ones (so rerunning a date replaces, never appends), writes
the manifest last, and removes its staging folder. Staging is per attempt
(``_staging/run_date=D/attempt=A``), so a relaunch never deletes what a still-running
job writes. The publish goes through a journal and is idempotent: a retried publish step,
the next launch, or ``gdr publish`` finishes one that was cut short. Works on local paths
and ``gs://`` through Beam's ``FileSystems``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from apache_beam.io.filesystems import FileSystems

TABLES = ("pairs", "scores", "candidates", "dead_letter")


def is_local(path: str) -> bool:
    return "://" not in path


def list_files(prefix: str) -> list[str]:
    """All files under ``prefix`` (recursive)."""
    prefix = prefix.rstrip("/")
    if is_local(prefix):
        if not os.path.isdir(prefix):
            return []
        return sorted(os.path.join(d, f) for d, _, fs in os.walk(prefix) for f in fs)
    # An empty prefix matches nothing without an error; an error (no bucket, no permission,
    # network) must stop a publish or a recovery, not read as "no files there".
    return sorted(m.path for m in FileSystems.match([f"{prefix}/**"])[0].metadata_list)


def delete_tree(prefix: str) -> None:
    files = list_files(prefix)
    if files:
        FileSystems.delete(files)
    if is_local(prefix) and os.path.isdir(prefix):
        for d, _, _ in sorted(os.walk(prefix), key=lambda t: -len(t[0])):
            try:
                os.rmdir(d)
            except OSError:
                pass


def remove_empty_dir(path: str) -> None:
    """Local disk keeps empty folders; object stores have none to remove."""
    if is_local(path):
        try:
            os.rmdir(path)
        except OSError:
            pass


def read_text(path: str) -> str:
    with FileSystems.open(path) as f:
        return f.read().decode("utf-8")


def write_text(path: str, text: str) -> None:
    with FileSystems.create(path) as f:
        f.write(text.encode("utf-8"))


JOURNAL = "_PUBLISH.json"


def plan_publish(output: str, staging: str, run_date: str) -> dict[str, Any]:
    """Which staged files move where, and which published files they replace."""
    output = output.rstrip("/")
    moves, delete, published = [], [], {}
    for table in TABLES:
        src_root, dst_root = f"{staging}/{table}", f"{output}/{table}/run_date={run_date}"
        src = list_files(src_root)
        dst = [dst_root + x[len(src_root) :] for x in src]
        moves += list(zip(src, dst))
        delete += [old for old in list_files(dst_root) if old not in set(dst)]
        published[table] = dst
    return {"output": output, "run_date": run_date, "moves": moves, "delete": delete, "published": published}


def apply_publish(journal: dict[str, Any], staging: str, fail_after: int | None = None) -> None:
    """Carry out a journal; idempotent, so a publish cut short is finished by rerunning it.

    ``fail_after`` (tests only) stops after that many renames, as a crash would.
    """
    old = [p for p in journal["delete"] if _exists(p)]
    if old:
        FileSystems.delete(old)
    for i, (src, dst) in enumerate(journal["moves"]):
        if fail_after is not None and i >= fail_after:
            raise RuntimeError("publish interrupted (injected)")
        if not _exists(src):
            continue  # moved before an interruption
        if is_local(dst):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
        if _exists(dst):
            FileSystems.delete([dst])
        FileSystems.rename([src], [dst])
    # The manifest is written last: it is the run's commit record.
    write_manifest(journal["output"], journal["run_date"], journal["manifest"])
    delete_tree(staging)


def _exists(path: str) -> bool:
    return FileSystems.exists(path)


def staging_root(output: str, run_date: str) -> str:
    return f"{output.rstrip('/')}/_staging/run_date={run_date}"


def attempt_staging(output: str, run_date: str, attempt: str) -> str:
    return f"{staging_root(output, run_date)}/attempt={attempt}"


def manifest_path(output: str, run_date: str) -> str:
    return f"{output.rstrip('/')}/manifests/run_date={run_date}.json"


def read_manifest(output: str, run_date: str) -> dict[str, Any] | None:
    path = manifest_path(output, run_date)
    if not _exists(path):
        return None
    return json.loads(read_text(path))


def publish(output: str, staging: str, run_date: str, manifest: dict[str, Any]) -> dict[str, list[str]]:
    """Replace ``OUTPUT/<table>/run_date=D/`` with the staged tables, through a journal.

    The journal is written before anything published changes; if the process dies while
    publishing, rerunning this (a retried publish step), ``recover_publishes`` (the next
    launch) or ``gdr publish`` finishes the job. A call for an attempt whose manifest is
    already published does nothing: re-planning from an emptied staging folder would
    otherwise delete the partitions just published.
    """
    attempt = manifest.get("attempt")
    done = read_manifest(output, run_date)
    if attempt and done and done.get("attempt") == attempt:
        return done.get("files", {})
    journal_file = f"{staging}/{JOURNAL}"
    if _exists(journal_file):
        journal = json.loads(read_text(journal_file))
        apply_publish(journal, staging)
        return journal["published"]
    journal = plan_publish(output, staging, run_date)
    manifest["files"] = journal["published"]
    journal["manifest"] = manifest
    write_text(f"{staging}/{JOURNAL}", json.dumps(journal, sort_keys=True, default=str))
    apply_publish(journal, staging, _fault("GDR_FAULT_PUBLISH_AFTER"))
    return journal["published"]


def recover_publishes(output: str, run_date: str | None = None) -> list[str]:
    """Finish publishes (of ``run_date``, or of every date) that a dead process left half-done."""
    finished = []
    root = staging_root(output, run_date) if run_date else f"{output.rstrip('/')}/_staging"
    for path in list_files(root):
        if path.endswith("/" + JOURNAL):
            staging = path[: -len(JOURNAL) - 1]
            journal = json.loads(read_text(path))
            apply_publish(journal, staging)
            finished.append(journal["run_date"])
    return finished


def _fault(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


def write_manifest(output: str, run_date: str, manifest: dict[str, Any]) -> str:
    path = manifest_path(output, run_date)
    text = json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"
    if is_local(path):
        # Readers take the manifest as the commit record: never let them see half of one.
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
    else:
        write_text(path, text)  # a GCS object appears whole or not at all
    return path


def attempts(output: str, run_date: str) -> dict[str, list[str]]:
    """Staged files per attempt id of ``run_date``."""
    root = staging_root(output, run_date)
    found: dict[str, list[str]] = {}
    for path in list_files(root):
        rest = path[len(root) + 1 :]
        if rest.startswith("attempt="):
            found.setdefault(rest.split("/", 1)[0][len("attempt=") :], []).append(path)
    return found


def clean_failed_attempts(output: str, run_date: str, keep: str) -> list[str]:
    """After a successful publish: drop the staging of earlier attempts of the date that failed.

    Only attempts without a journal (never reached publishing) are dropped; the caller
    holds the run lock, so none of them is still writing.
    """
    dropped = []
    for attempt, files in attempts(output, run_date).items():
        if attempt != keep and not any(f.endswith("/" + JOURNAL) for f in files):
            delete_tree(attempt_staging(output, run_date, attempt))
            dropped.append(attempt)
    remove_empty_dir(staging_root(output, run_date))
    remove_empty_dir(f"{output.rstrip('/')}/_staging")
    return dropped
