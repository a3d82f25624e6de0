"""Publish a finished run: staging -> ``pairs/``, ``scores/``, ``dead_letter/``, manifest.

A run's partitions become visible only after the Beam job has succeeded: the launcher
replaces the run date's published partitions with the staged ones (so rerunning a date
replaces, never appends), writes the manifest last, and removes the staging prefix.
Works on local paths and ``gs://`` through Beam's ``FileSystems``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from apache_beam.io.filesystems import FileSystems

TABLES = ("pairs", "scores", "dead_letter")


def is_local(path: str) -> bool:
    return "://" not in path


def list_files(prefix: str) -> list[str]:
    """All files under ``prefix`` (recursive)."""
    prefix = prefix.rstrip("/")
    if is_local(prefix):
        if not os.path.isdir(prefix):
            return []
        return sorted(os.path.join(d, f) for d, _, fs in os.walk(prefix) for f in fs)
    try:
        return sorted(m.path for m in FileSystems.match([f"{prefix}/**"])[0].metadata_list)
    except Exception:
        return []


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


def read_counts(staging: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for path in list_files(f"{staging}/_counts"):
        for line in read_text(path).splitlines():
            if line.strip():
                row = json.loads(line)
                counts[row["name"]] = counts.get(row["name"], 0) + int(row["value"])
    return counts


def publish(output: str, staging: str, run_date: str) -> dict[str, list[str]]:
    """Move staged tables into ``OUTPUT/<table>/run_date=D/``, replacing what was there."""
    output = output.rstrip("/")
    published: dict[str, list[str]] = {}
    for table in TABLES:
        src_root, dst_root = f"{staging}/{table}", f"{output}/{table}/run_date={run_date}"
        delete_tree(dst_root)
        src = list_files(src_root)
        dst = [dst_root + s[len(src_root) :] for s in src]
        if is_local(output):
            for d in {os.path.dirname(x) for x in dst}:
                os.makedirs(d, exist_ok=True)
        if src:
            FileSystems.rename(src, dst)
        published[table] = dst
    return published


def write_manifest(output: str, run_date: str, manifest: dict[str, Any]) -> str:
    path = f"{output.rstrip('/')}/manifests/run_date={run_date}.json"
    if is_local(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    write_text(path, json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
    return path
