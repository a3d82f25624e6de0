"""Reading corpora and writing Hive-partitioned outputs, local or on ``gs://``.

``ReadCorpus`` expands the input patterns to files, splits Parquet files by row group,
reshuffles so reading is spread over workers, and emits one element per input record
with its source (``path:line`` or ``path#row``). Anything unreadable - a bad gzip, invalid
UTF-8, a malformed JSON line, an empty file - becomes a dead-letter entry, never an
exception.

``WritePartitionedParquet`` writes ``<base>/<partition>=<value>/part-SSSSS-of-NNNNN.parquet``
directly with pyarrow through Beam's ``FileSystems``, and ``WriteJsonl`` the dead letters
the same way. Both are built for partitions of any size:

* **sized shards** - by default the number of files of a partition follows its size (a
  cheap first pass estimates the Parquet bytes; ``ceil(bytes / target)`` files), rows are
  keyed to a shard by a stable hash of a row key, so no worker holds a whole partition;
* **streaming** - a shard's rows are sorted by key in bounded memory (spilling sorted runs
  to local disk when long) and streamed into the output stream a row group at a time; no
  whole table or whole file is ever held;
* **deterministic names** - a retried bundle overwrites its own file instead of adding a
  duplicate, and a rerun over the same rows writes the same bytes;
* **values are data, not paths** - a partition value is URI-percent-encoded, as Hive,
  pyarrow (``partitioning="hive"``) and DuckDB (``hive_partitioning=true``) decode it, and
  every path is checked to stay under the base before anything is written.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import os
import pickle
import posixpath
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote

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
        # Only 'prompt' is required of the schema: a prompts-only file is valid input for
        # --generate, and without it each record is dead-lettered by the parser with its reason.
        if "prompt" not in table.column_names:
            reason = f"Parquet schema lacks the required column 'prompt' (has: {', '.join(table.column_names)})"
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


# -- writing --------------------------------------------------------------------------------

DEFAULT_FILE_MB = 128.0
MAX_SHARDS = 99_999  # part-SSSSS-of-NNNNN has five digits
# A folder name is at most 255 bytes on common filesystems; keep a margin for tools that add to it.
MAX_PARTITION_SEGMENT_BYTES = 200
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"  # Hive's (and pyarrow's, DuckDB's) folder name for a null value
ROW_GROUP_ROWS = 10_000
ROW_GROUP_BYTES = 64 << 20
SORT_RUN_ROWS = 50_000  # rows sorted in memory before a run is spilled to local disk
SORT_RUN_BYTES = 64 << 20
MAX_SORT_RUNS = 64  # open spill files before they are merged into one
SIZE_SAMPLE_ROWS = 1024  # rows per partition encoded to learn the Parquet bytes per estimated byte
_PARTITION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class UnsafePartitionError(ValueError):
    """A partition value that cannot be a folder under the output root (too long, reserved)."""


def partition_segment(name: str, value: str | None) -> str:
    """The folder name ``name=value``, the value URI-percent-encoded as Hive, pyarrow and DuckDB decode it.

    Every byte but ``A-Z a-z 0-9 _ . - ~`` is escaped, so ``/`` can never add a level, a
    ``..`` label is the harmless folder ``domain=..`` and ``=``, ``%``, spaces and non-ASCII
    labels read back unchanged.
    """
    return f"{name}={HIVE_NULL if value is None else quote(str(value), safe='')}"


def partition_value_problem(name: str, value: str | None) -> str | None:
    """Why ``value`` cannot be a partition folder of column ``name`` (a dead-letter reason), or None."""
    if value is None:
        return None
    if value == "":
        return f"'{name}' is empty and cannot name a partition"
    if value == HIVE_NULL:
        return f"'{name}' {HIVE_NULL!r} is the name Hive readers use for a missing value"
    size = len(partition_segment(name, value).encode("utf-8"))
    if size > MAX_PARTITION_SEGMENT_BYTES:
        return (
            f"'{name}' label too long for a partition folder: {len(value)} characters make a "
            f"{size}-byte percent-encoded folder name (limit {MAX_PARTITION_SEGMENT_BYTES})"
        )
    return None


def check_under(base: str, path: str) -> None:
    """Raise :class:`UnsafePartitionError` unless ``path`` lies strictly inside ``base``."""
    if "://" in base:
        scheme, _, rest = base.partition("://")
        if not path.startswith(f"{scheme}://"):
            raise UnsafePartitionError(f"{path} is not under the output root {base}")
        b = posixpath.normpath("/" + rest)
        p = posixpath.normpath("/" + path[len(scheme) + 3 :])
    else:
        # realpath: a symlink planted under the root must not lead out of it either.
        b, p = os.path.realpath(base), os.path.realpath(path)
    if p == b or os.path.commonpath([b, p]) != b:
        raise UnsafePartitionError(f"{path} is not under the output root {base}")


def partition_folder(base: str, name: str | None, value: str | None) -> str:
    """``base/name=<encoded value>`` (``base`` when unpartitioned), checked to stay under ``base``."""
    base = base.rstrip("/")
    if not name:
        return base
    if not _PARTITION_NAME.fullmatch(name):
        raise UnsafePartitionError(f"partition column name {name!r} is not a plain identifier")
    problem = partition_value_problem(name, value)
    if problem:
        raise UnsafePartitionError(problem)
    folder = f"{base}/{partition_segment(name, value)}"
    check_under(base, folder)
    return folder


def shard_file(folder: str, shard: int, num_shards: int, suffix: str) -> str:
    return f"{folder}/part-{shard:05d}-of-{num_shards:05d}{suffix}"


def _hash64(key: str) -> int:
    return int.from_bytes(hashlib.md5(key.encode("utf-8")).digest()[:8], "big")


def shard_of(key: str, num_shards: int) -> int:
    """The stable shard of a row key: the same key lands in the same file on every run and runner."""
    return _hash64(key) % num_shards


def shard_count(estimated_bytes: float, target_bytes: float) -> int:
    """Files for a partition of ``estimated_bytes``: enough that each is about ``target_bytes`` or less."""
    return max(1, min(MAX_SHARDS, math.ceil(estimated_bytes / target_bytes)))


def parse_shards(value: int | str) -> int | str:
    """``"auto"`` or a positive shard count, from a flag or a constructor argument."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    n = int(value)
    if n < 1:
        raise ValueError(f"output shards must be 'auto' or a positive integer, got {value!r}")
    return min(n, MAX_SHARDS)


def row_bytes(value: Any) -> int:
    """A cheap, deterministic estimate of a row's bytes before compression (strings' UTF-8 plus levels)."""
    t = type(value)
    if t is str:
        return len(value.encode("utf-8")) + 4
    if t is dict:
        return sum(row_bytes(v) for v in value.values())
    if t is list or t is tuple:
        return 4 + sum(row_bytes(v) for v in value)
    if value is None:
        return 1
    if t is bytes:
        return len(value) + 4
    return 8


# -- bounded-memory ordering ------------------------------------------------------------------
# A shard's rows are written sorted by row key, so a rerun (or a retried bundle) writes the
# same bytes whatever order the runner hands them over in. Sorting happens in runs of at most
# SORT_RUN_ROWS rows / SORT_RUN_BYTES; longer groups spill sorted runs to local temp files and
# are merged, so memory does not grow with the group. Items are (key, nbytes, ...) tuples.


def _item_key(item: tuple) -> str:
    return item[0]


def _spill(items: Iterable[tuple]):
    f = tempfile.TemporaryFile()
    for item in items:
        pickle.dump(item, f, protocol=pickle.HIGHEST_PROTOCOL)
    f.seek(0)
    return f


def _read_run(f) -> Iterator[tuple]:
    while True:
        try:
            yield pickle.load(f)
        except EOFError:
            return


def sorted_by_key(
    items: Iterable[tuple], run_rows: int = SORT_RUN_ROWS, run_bytes: int = SORT_RUN_BYTES
) -> Iterator[tuple]:
    """``items`` ordered by their first element (stable), holding at most one run in memory."""
    runs: list = []
    buf: list[tuple] = []
    buf_bytes = 0
    try:
        for item in items:
            buf.append(item)
            buf_bytes += item[1]
            if len(buf) >= run_rows or buf_bytes >= run_bytes:
                buf.sort(key=_item_key)
                runs.append(_spill(buf))
                buf, buf_bytes = [], 0
                if len(runs) >= MAX_SORT_RUNS:  # bound open files: fold the runs so far into one
                    merged = _spill(heapq.merge(*(_read_run(r) for r in runs), key=_item_key))
                    for r in runs:
                        r.close()
                    runs = [merged]
        buf.sort(key=_item_key)
        if not runs:
            yield from buf
            return
        yield from heapq.merge(*(_read_run(r) for r in runs), iter(buf), key=_item_key)
    finally:
        for r in runs:
            r.close()


# -- streaming file writers --------------------------------------------------------------------


class _CountingSink:
    """A write-only stream over a ``FileSystems.create`` handle that counts what went through it.

    pyarrow asks its sink for ``tell()``; not every filesystem's upload stream answers it.
    """

    def __init__(self, raw):
        self.raw, self.position, self.closed = raw, 0, False

    def write(self, data) -> int:
        n = len(data) if isinstance(data, bytes) else memoryview(data).nbytes
        self.raw.write(data)
        self.position += n
        return n

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        self.raw.flush()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True  # the caller's ``with FileSystems.create(...)`` closes the real stream


def write_parquet_stream(
    path: str,
    schema: pa.Schema,
    items: Iterable[tuple],
    row_group_rows: int = ROW_GROUP_ROWS,
    row_group_bytes: int = ROW_GROUP_BYTES,
) -> tuple[int, int]:
    """Stream ``(key, nbytes, row)`` items into one Parquet file, a row group at a time; (rows, bytes).

    Only one row group's rows are ever held; bytes go straight into the ``FileSystems.create``
    stream (local file or object upload), which overwrites ``path``.
    """
    rows = 0
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as raw:
        sink = _CountingSink(raw)
        with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
            batch: list[dict] = []
            batch_bytes = 0
            for _key, nbytes, row in items:
                batch.append(row)
                batch_bytes += nbytes
                if len(batch) >= row_group_rows or batch_bytes >= row_group_bytes:
                    writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
                    rows += len(batch)
                    batch, batch_bytes = [], 0
            if batch:
                writer.write_batch(pa.RecordBatch.from_pylist(batch, schema=schema))
                rows += len(batch)
    return rows, sink.position


def write_jsonl_stream(path: str, items: Iterable[tuple], chunk_bytes: int = 1 << 20) -> tuple[int, int]:
    """Stream ``(line, nbytes)`` items into one JSONL file in ~1 MB writes; (rows, bytes)."""
    rows = written = 0
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        chunk: list[str] = []
        chunk_bytes_now = 0
        for line, nbytes in items:
            chunk.append(line)
            chunk_bytes_now += nbytes
            rows += 1
            if chunk_bytes_now >= chunk_bytes:
                data = ("\n".join(chunk) + "\n").encode("utf-8")
                f.write(data)
                written += len(data)
                chunk, chunk_bytes_now = [], 0
        if chunk:
            data = ("\n".join(chunk) + "\n").encode("utf-8")
            f.write(data)
            written += len(data)
    return rows, written


# -- sizing ------------------------------------------------------------------------------------


class _PartitionSizeFn(beam.CombineFn):
    """Per partition: estimated bytes of all rows, and a sample that calibrates them to Parquet bytes.

    The sample is the ``SIZE_SAMPLE_ROWS`` rows with the smallest key hashes (a bottom-k
    sample), which does not depend on bundling or merge order, so the estimate - and with it
    the shard count and every file name - is the same on every rerun. Encoding the sample
    with the real schema and codec gives the compressed bytes per estimated byte, so files
    come out near the target whether the data compresses 1.2x or 50x.
    """

    def __init__(self, schema: pa.Schema, sample_rows: int = SIZE_SAMPLE_ROWS):
        self.schema, self.sample_rows = schema, sample_rows

    def create_accumulator(self):
        return [0, []]

    def _trim(self, sample: list) -> list:
        if len(sample) > self.sample_rows:
            sample.sort(key=lambda s: (s[0], s[1]))
            del sample[self.sample_rows :]
        return sample

    def add_input(self, acc, item):
        key, nbytes, row = item
        acc[0] += nbytes
        acc[1].append((_hash64(key), key, nbytes, row))
        if len(acc[1]) >= 2 * self.sample_rows:
            self._trim(acc[1])
        return acc

    def merge_accumulators(self, accs):
        total, sample = 0, []
        for a in accs:
            total += a[0]
            sample.extend(a[1])
            if len(sample) >= 2 * self.sample_rows:
                self._trim(sample)
        return [total, sample]

    def extract_output(self, acc) -> float:
        total, sample = acc[0], sorted(acc[1], key=lambda s: (s[0], s[1]))[: self.sample_rows]
        sample_bytes = sum(s[2] for s in sample)
        if not sample_bytes:
            return float(total)
        buf = pa.BufferOutputStream()
        table = pa.Table.from_pylist([s[3] for s in sample], schema=self.schema)
        pq.write_table(table, buf, compression="zstd", row_group_size=len(sample))
        meta = pq.ParquetFile(pa.BufferReader(buf.getvalue())).metadata
        encoded = sum(
            meta.row_group(g).column(c).total_compressed_size
            for g in range(meta.num_row_groups)
            for c in range(meta.num_columns)
        )
        return total * encoded / sample_bytes


# -- transforms ----------------------------------------------------------------------------------


def _keyed_row(row: dict, partition: str | None, row_key: Callable[[dict], str]):
    return (row[partition] if partition else "", (row_key(row), row_bytes(row), row))


def _assign_shard(kv, counts):
    value, item = kv
    n = counts[value]
    return (value, shard_of(item[0], n), n), item


def _assign_fixed_shard(kv, n):
    value, item = kv
    return (value, shard_of(item[0], n), n), item


class _WriteParquetShard(beam.DoFn):
    def __init__(
        self,
        base: str,
        schema: pa.Schema,
        partition: str | None,
        row_group_rows: int = ROW_GROUP_ROWS,
        row_group_bytes: int = ROW_GROUP_BYTES,
        sort_run_rows: int = SORT_RUN_ROWS,
        sort_run_bytes: int = SORT_RUN_BYTES,
    ):
        self.base, self.schema, self.partition = base.rstrip("/"), schema, partition
        self.row_group_rows, self.row_group_bytes = row_group_rows, row_group_bytes
        self.sort_run_rows, self.sort_run_bytes = sort_run_rows, sort_run_bytes

    def process(self, item):
        (value, shard, n), items = item
        path = shard_file(partition_folder(self.base, self.partition, value), shard, n, ".parquet")
        check_under(self.base, path)
        ordered = sorted_by_key(items, self.sort_run_rows, self.sort_run_bytes)
        rows, size = write_parquet_stream(path, self.schema, ordered, self.row_group_rows, self.row_group_bytes)
        yield {"path": path, "rows": rows, "bytes": size, "partition": value}


class WritePartitionedParquet(beam.PTransform):
    """Rows (dicts) -> ``base/<partition>=<value>/part-SSSSS-of-NNNNN.parquet`` with a fixed schema.

    ``num_shards="auto"`` (default): a first pass estimates each partition's Parquet bytes
    (``_PartitionSizeFn``) and gives it ``ceil(bytes / target_file_mb)`` files, so a large
    partition is spread over many workers and files; an integer fixes the files per partition.
    Rows go to a shard by a hash of ``row_key``; each shard's rows are sorted by that key in
    bounded memory and streamed into the file a row group at a time. Partition values are
    URI-percent-encoded (``partition_segment``); a value that cannot be a folder raises
    :class:`UnsafePartitionError` (callers dead-letter such values before they get here).
    Yields ``{"path", "rows", "bytes", "partition"}`` per file.
    """

    def __init__(
        self,
        base: str,
        schema: pa.Schema,
        partition: str | None,
        row_key: Callable[[dict], str],
        num_shards: int | str = "auto",
        target_file_mb: float = DEFAULT_FILE_MB,
    ):
        super().__init__()
        self.base, self.schema, self.partition = base, schema, partition
        self.row_key, self.num_shards = row_key, parse_shards(num_shards)
        if not target_file_mb > 0:
            raise ValueError(f"target_file_mb must be > 0, got {target_file_mb}")
        self.target_bytes = target_file_mb * (1 << 20)

    def expand(self, rows):
        keyed = rows | "KeyRows" >> beam.Map(_keyed_row, self.partition, self.row_key)
        if self.num_shards == "auto":
            target = self.target_bytes
            counts = (
                keyed
                | "EstimateBytes" >> beam.CombinePerKey(_PartitionSizeFn(self.schema))
                | "ShardCounts" >> beam.MapTuple(lambda value, size: (value, shard_count(size, target)))
            )
            sharded = keyed | "KeyByShard" >> beam.Map(_assign_shard, counts=beam.pvalue.AsDict(counts))
        else:
            sharded = keyed | "KeyByShard" >> beam.Map(_assign_fixed_shard, self.num_shards)
        return (
            sharded
            | "GroupShards" >> beam.GroupByKey()
            | "WriteShards" >> beam.ParDo(_WriteParquetShard(self.base, self.schema, self.partition))
        )


def _jsonl_item(row: Any) -> tuple[str, int]:
    line = json.dumps(row, ensure_ascii=False, sort_keys=True, default=str)
    return line, len(line.encode("utf-8")) + 1


class _WriteJsonlShard(beam.DoFn):
    def __init__(self, base: str, sort_run_rows: int = SORT_RUN_ROWS, sort_run_bytes: int = SORT_RUN_BYTES):
        self.base = base.rstrip("/")
        self.sort_run_rows, self.sort_run_bytes = sort_run_rows, sort_run_bytes

    def process(self, item):
        (shard, n), lines = item
        path = shard_file(self.base, shard, n, ".jsonl")
        check_under(self.base, path)
        rows, size = write_jsonl_stream(path, sorted_by_key(lines, self.sort_run_rows, self.sort_run_bytes))
        yield {"path": path, "rows": rows, "bytes": size}


class WriteJsonl(beam.PTransform):
    """Dicts -> ``base/part-SSSSS-of-NNNNN.jsonl`` (dead letters), sized and streamed like the Parquet writer.

    With ``num_shards="auto"`` the file count is ``ceil(total bytes / target_file_mb)``
    (JSONL is not compressed, so the byte count is exact); lines are sorted within a file.
    """

    def __init__(self, base: str, num_shards: int | str = "auto", target_file_mb: float = DEFAULT_FILE_MB):
        super().__init__()
        self.base, self.num_shards = base, parse_shards(num_shards)
        if not target_file_mb > 0:
            raise ValueError(f"target_file_mb must be > 0, got {target_file_mb}")
        self.target_bytes = target_file_mb * (1 << 20)

    def expand(self, rows):
        lines = rows | "ToLines" >> beam.Map(_jsonl_item)
        if self.num_shards == "auto":
            target = self.target_bytes
            total = lines | "LineBytes" >> beam.Map(lambda item: item[1]) | "SumBytes" >> beam.CombineGlobally(sum)
            sharded = lines | "KeyByShard" >> beam.Map(
                lambda item, size: ((shard_of(item[0], n := shard_count(size, target)), n), item),
                size=beam.pvalue.AsSingleton(total),
            )
        else:
            n = self.num_shards
            sharded = lines | "KeyByShard" >> beam.Map(lambda item: ((shard_of(item[0], n), n), item))
        return sharded | "GroupShards" >> beam.GroupByKey() | "WriteShards" >> beam.ParDo(_WriteJsonlShard(self.base))
