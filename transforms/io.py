"""Reading corpora and writing Hive-partitioned outputs, local or on ``gs://``.

``ReadCorpus`` expands the input patterns to files, splits Parquet files by row group,
reshuffles so reading is spread over workers, and emits one element per input record
with its source (``path:line`` or ``path#row``). Anything unreadable - a bad gzip, invalid
UTF-8, a malformed JSON line, an empty file - becomes a dead-letter entry, never an
exception.

``WritePartitionedParquet`` writes ``<base>/<partition>=<value>/part-SSSSS-of-NNNNN``
files directly with pyarrow through Beam's ``FileSystems``: rows are keyed to a
deterministic (partition, shard) by a hash of a row key and each group writes one file
with a fixed name, so a retried bundle overwrites its own file instead of adding a
duplicate, and nothing is left in a ``.temp`` folder.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterable
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

DEAD_LETTER = "dead_letter"
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz", ".ndjson", ".ndjson.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")


def input_format(path: str) -> str | None:
    lower = path.lower()
    if lower.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    return None


def expand_patterns(patterns: Iterable[str]) -> tuple[list[tuple[str, int]], list[str]]:
    """Match input patterns; returns (files with sizes, patterns that matched nothing)."""
    files: dict[str, int] = {}
    empty = []
    for pattern in patterns:
        try:
            matched = FileSystems.match([pattern])[0].metadata_list
        except Exception:
            matched = []
        if not matched:
            empty.append(pattern)
        for m in matched:
            files[m.path] = m.size_in_bytes
    return sorted(files.items()), empty


def dead_letter(stage: str, reason: str, source: str, record: Any = None, **extra: Any) -> dict[str, Any]:
    entry = {"stage": stage, "reason": reason, "source": source, "record": record}
    entry.update(extra)
    return entry


class _SplitFiles(beam.DoFn):
    """(path, size) -> work units: a JSONL file whole, a Parquet file per row group."""

    def process(self, item: tuple[str, int]):
        path, size = item
        fmt = input_format(path)
        if fmt is None:
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER,
                dead_letter("read", "unsupported file type (expected .jsonl[.gz] or .parquet)", path),
            )
            return
        if size == 0:
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter("read", "input file is empty", path))
            return
        if fmt == "jsonl":
            yield (path, "jsonl", -1)
            return
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                n_groups = pq.ParquetFile(f).num_row_groups
        except Exception as exc:
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter("read", f"unreadable Parquet file: {exc}", path))
            return
        if n_groups == 0:
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter("read", "Parquet file has no rows", path))
        for rg in range(n_groups):
            yield (path, "parquet", rg)


class _ReadRecords(beam.DoFn):
    """Work unit -> ``{"source": ..., "raw": <parsed JSON value>}`` or dead letters."""

    def process(self, unit: tuple[str, str, int]):
        path, fmt, row_group = unit
        if fmt == "jsonl":
            yield from self._read_jsonl(path)
        else:
            yield from self._read_parquet(path, row_group)

    def _read_jsonl(self, path: str):
        n = 0
        try:
            with FileSystems.open(path) as f:  # compression detected from the extension
                for n, line in enumerate(iter(f.readline, b""), start=1):
                    source = f"{path}:{n}"
                    if not line.strip():
                        continue
                    try:
                        text = line.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        yield beam.pvalue.TaggedOutput(
                            DEAD_LETTER,
                            dead_letter(
                                "read",
                                f"invalid UTF-8 at byte {exc.start}",
                                source,
                                line.decode("utf-8", errors="replace").rstrip("\n"),
                            ),
                        )
                        continue
                    try:
                        yield {"source": source, "raw": json.loads(text)}
                    except json.JSONDecodeError as exc:
                        yield beam.pvalue.TaggedOutput(
                            DEAD_LETTER,
                            dead_letter(
                                "read", f"invalid JSON: {exc.msg} at column {exc.colno}", source, text.rstrip("\n")
                            ),
                        )
        except Exception as exc:  # truncated gzip, permission denied, vanished file
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER, dead_letter("read", f"cannot read file after line {n}: {exc}", path)
            )

    def _read_parquet(self, path: str, row_group: int):
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                parquet = pq.ParquetFile(f)  # one footer read per work unit
                table = parquet.read_row_group(row_group)
                offset = sum(parquet.metadata.row_group(i).num_rows for i in range(row_group))
        except Exception as exc:
            yield beam.pvalue.TaggedOutput(
                DEAD_LETTER, dead_letter("read", f"unreadable Parquet row group {row_group}: {exc}", path)
            )
            return
        missing = [c for c in ("prompt",) if c not in table.column_names]
        if missing or not {"responses", "response"} & set(table.column_names):
            reason = (
                "Parquet schema lacks the required columns 'prompt' and 'responses' or 'response' "
                f"(has: {', '.join(table.column_names)})"
            )
            for i in range(table.num_rows):
                yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter("read", reason, f"{path}#{offset + i}"))
            return
        for i, row in enumerate(table.to_pylist()):
            yield {"source": f"{path}#{offset + i}", "raw": row}


class ReadCorpus(beam.PTransform):
    """Input patterns -> records (``main``) and dead letters (``dead_letter``)."""

    def __init__(self, files: list[tuple[str, int]]):
        super().__init__()
        self.files = files

    def expand(self, pbegin):
        units = (
            pbegin
            | "ListFiles" >> beam.Create(self.files)
            | "SplitFiles" >> beam.ParDo(_SplitFiles()).with_outputs(DEAD_LETTER, main="units")
        )
        read = (
            units.units
            | "SpreadWork" >> beam.Reshuffle()
            | "ReadRecords" >> beam.ParDo(_ReadRecords()).with_outputs(DEAD_LETTER, main="records")
        )
        dead = (units[DEAD_LETTER], read[DEAD_LETTER]) | "FlattenReadErrors" >> beam.Flatten()
        return {"records": read.records, DEAD_LETTER: dead}


def _shard_of(key: str, num_shards: int) -> int:
    return int.from_bytes(hashlib.md5(key.encode("utf-8")).digest()[:4], "big") % num_shards


class _WriteParquetShard(beam.DoFn):
    def __init__(self, base: str, schema: pa.Schema, partition: str | None, num_shards: int, sort_key: Callable):
        self.base, self.schema, self.partition = base.rstrip("/"), schema, partition
        self.num_shards, self.sort_key = num_shards, sort_key

    def process(self, item):
        (value, shard), rows = item
        rows = sorted(rows, key=self.sort_key)
        folder = f"{self.base}/{self.partition}={value}" if self.partition else self.base
        path = f"{folder}/part-{shard:05d}-of-{self.num_shards:05d}.parquet"
        table = pa.Table.from_pylist(rows, schema=self.schema)
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        # FileSystems.create makes the parent folders on local disk and overwrites, so a
        # retried bundle replaces the same file.
        with FileSystems.create(path) as f:
            f.write(buf.getvalue())
        yield {"path": path, "rows": len(rows), "partition": value}


class WritePartitionedParquet(beam.PTransform):
    """Rows (dicts) -> ``base/<partition>=<value>/part-*.parquet`` with a fixed schema."""

    def __init__(
        self,
        base: str,
        schema: pa.Schema,
        partition: str | None,
        row_key: Callable[[dict], str],
        num_shards: int = 1,
    ):
        super().__init__()
        self.base, self.schema, self.partition = base, schema, partition
        self.row_key, self.num_shards = row_key, max(1, num_shards)

    def expand(self, rows):
        partition, row_key, n = self.partition, self.row_key, self.num_shards
        return (
            rows
            | "KeyByShard" >> beam.Map(lambda r: ((r[partition] if partition else "", _shard_of(row_key(r), n)), r))
            | "GroupShards" >> beam.GroupByKey()
            | "WriteShards" >> beam.ParDo(_WriteParquetShard(self.base, self.schema, partition, n, row_key))
        )


class _WriteJsonlShard(beam.DoFn):
    def __init__(self, base: str, num_shards: int):
        self.base, self.num_shards = base.rstrip("/"), num_shards

    def process(self, item):
        shard, rows = item
        lines = sorted(json.dumps(r, ensure_ascii=False, sort_keys=True, default=str) for r in rows)
        path = f"{self.base}/part-{shard:05d}-of-{self.num_shards:05d}.jsonl"
        with FileSystems.create(path) as f:
            f.write(("\n".join(lines) + "\n").encode("utf-8"))
        yield {"path": path, "rows": len(lines)}


class WriteJsonl(beam.PTransform):
    """Dicts -> ``base/part-*.jsonl`` (dead letters), deterministic names as above."""

    def __init__(self, base: str, num_shards: int = 1):
        super().__init__()
        self.base, self.num_shards = base, max(1, num_shards)

    def expand(self, rows):
        n = self.num_shards
        return (
            rows
            | "KeyByShard" >> beam.Map(lambda r: (_shard_of(json.dumps(r, sort_keys=True, default=str), n), r))
            | "GroupShards" >> beam.GroupByKey()
            | "WriteShards" >> beam.ParDo(_WriteJsonlShard(self.base, n))
        )
