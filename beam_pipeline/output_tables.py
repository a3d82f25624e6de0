"""Reading a ``gdr annotate`` output folder back: its Parquet tables, dead letters and run dates."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from beam_pipeline.publish import list_files, read_text


class ReportError(Exception):
    """An output folder cannot be read back; ``gdr report`` prints it as ``gdr: error: <message>`` (exit 2)."""


def latest_run_date(output: str) -> str:
    """The newest ``run_date`` with a manifest under ``OUTPUT/manifests``."""
    dates = []
    for path in list_files(f"{output.rstrip('/')}/manifests"):
        m = re.search(r"run_date=(\d{4}-\d{2}-\d{2})\.json$", path)
        if m:
            dates.append(m.group(1))
    if not dates:
        raise ReportError(f"no run manifests under {output.rstrip('/')}/manifests (is this a gdr annotate output?)")
    return max(dates)


def read_table_rows(folder: str, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of every Parquet file under ``folder`` (its own columns, not Hive-inferred ones)."""
    rows: list[dict[str, Any]] = []
    for path in list_files(folder):
        if not path.endswith(".parquet"):
            continue
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            table = pq.read_table(f)
        present = [c for c in columns if c in table.column_names]
        rows.extend(table.select(present).to_pylist())
    return rows


def read_dead_letters(folder: str) -> list[dict[str, Any]]:
    """Entries of every JSONL dead-letter file under ``folder``."""
    out = []
    for path in list_files(folder):
        if path.endswith(".jsonl"):
            out.extend(json.loads(line) for line in read_text(path).splitlines() if line.strip())
    return out


def reason_kind(reason: str) -> str:
    """Group similar dead-letter reasons: numbers and quoted values replaced, the detail after ':' cut."""
    text = re.sub(r"'[^']*'", "'…'", str(reason))
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    head = text.split(": ", 1)[0] if text.startswith(("invalid JSON", "scoring failed", "cannot read")) else text
    return head if len(head) <= 70 else head[:67] + "..."
