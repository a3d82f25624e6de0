"""The output writers: sized shards, streaming in bounded memory, deterministic bytes, safe partition folders."""

from __future__ import annotations

import json
import os
import pickle
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import apache_beam as beam
import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO
from transforms.io import (
    MAX_PARTITION_SEGMENT_BYTES,
    UnsafePartitionError,
    WriteJsonl,
    WritePartitionedParquet,
    _PartitionSizeFn,
    _read_run,
    _WriteParquetShard,
    check_under,
    partition_folder,
    partition_segment,
    partition_value_problem,
    row_bytes,
    shard_count,
    shard_of,
    sorted_by_key,
)

SCHEMA = pa.schema([("id", pa.string()), ("domain", pa.string()), ("x", pa.int64()), ("text", pa.string())])
HOSTILE = ["..", "../../../../tmp/x", "x/y", "a=b", "100%", "with space", "sécurité", "安全", "a+b", "-", "."]
LONG_LABEL = "L" * 1000


def _rows(n: int, domain: str = "d", start: int = 0) -> list[dict]:
    return [{"id": f"r{i:08d}", "domain": domain, "x": i, "text": f"row {i} of the corpus"} for i in range(start, n)]


def _run(rows: list[dict], build) -> None:
    with beam.Pipeline() as p:
        _ = p | beam.Create(rows, reshuffle=False) | build


def _files(root: Path) -> list[Path]:
    return sorted(Path(d) / f for d, _, fs in os.walk(root) for f in fs)


# -- partition values are data, not paths -----------------------------------------------------


def test_partition_segments_are_percent_encoded_by_hand():
    # Expected values written by hand from RFC 3986 (unreserved: ALPHA DIGIT - . _ ~), not by the code.
    assert partition_segment("domain", "x/y") == "domain=x%2Fy"
    assert partition_segment("domain", "a=b") == "domain=a%3Db"
    assert partition_segment("domain", "100%") == "domain=100%25"
    assert partition_segment("domain", "with space") == "domain=with%20space"
    assert partition_segment("domain", "sécurité") == "domain=s%C3%A9curit%C3%A9"
    assert partition_segment("domain", "安全") == "domain=%E5%AE%89%E5%85%A8"
    assert partition_segment("domain", "..") == "domain=.."  # one folder level, named "domain=.."
    assert partition_segment("domain", "../../../../tmp/x") == "domain=..%2F..%2F..%2F..%2Ftmp%2Fx"
    assert partition_segment("domain", "chat") == "domain=chat"  # plain labels keep their folder names
    assert partition_segment("domain", None) == "domain=__HIVE_DEFAULT_PARTITION__"


def test_labels_that_cannot_be_folders_are_named_with_a_reason():
    reason = partition_value_problem("domain", LONG_LABEL)
    assert reason and "too long" in reason and "1000 characters" in reason
    assert partition_value_problem("domain", "a" * (MAX_PARTITION_SEGMENT_BYTES - len("domain="))) is None
    assert partition_value_problem("domain", "a" * (MAX_PARTITION_SEGMENT_BYTES - len("domain=") + 1))
    # 22 CJK characters are 66 UTF-8 bytes but 198 percent-encoded ones: the folder name is what counts.
    assert partition_value_problem("domain", "安" * 22) is not None
    assert "missing value" in partition_value_problem("domain", "__HIVE_DEFAULT_PARTITION__")
    for label in HOSTILE:
        assert partition_value_problem("domain", label) is None, label
    with pytest.raises(UnsafePartitionError, match="too long"):
        partition_folder("/out", "domain", LONG_LABEL)
    with pytest.raises(UnsafePartitionError, match="plain identifier"):
        partition_folder("/out", "../domain", "x")


def test_paths_outside_the_base_are_refused(tmp_path):
    base = tmp_path / "out"
    base.mkdir()
    check_under(str(base), str(base / "domain=x" / "part-00000-of-00001.parquet"))
    for bad in (str(base / ".." / "x"), str(base), str(tmp_path / "outside"), "/etc/passwd"):
        with pytest.raises(UnsafePartitionError, match="not under the output root"):
            check_under(str(base), bad)
    check_under("gs://b/prefs", "gs://b/prefs/domain=x/part-0.parquet")
    for bad in ("gs://b/prefs/../other/f", "gs://b/other/f", "gs://c/prefs/f", "/local/prefs/f"):
        with pytest.raises(UnsafePartitionError):
            check_under("gs://b/prefs", bad)
    # A symlink planted under the root that points out of it does not lead the writer out.
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (base / "domain=evil").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePartitionError):
        partition_folder(str(base), "domain", "evil")
    assert partition_folder(str(base), "domain", "good") == f"{base}/domain=good"


def test_hostile_labels_read_back_unchanged_with_pyarrow_and_duckdb(tmp_path):
    root = tmp_path / "root"
    rows = [r for i, label in enumerate(HOSTILE) for r in _rows(3 * (i + 1), label, 3 * i)]
    _run(rows, WritePartitionedParquet(str(root / "t"), SCHEMA, "domain", lambda r: r["id"]))

    for f in _files(tmp_path):  # nothing outside the root, and one folder level per partition
        assert f.resolve().is_relative_to(root.resolve()), f
        assert f.parent.parent == root / "t" and f.parent.name.startswith("domain="), f
    expected = {(r["id"], r["domain"]) for r in rows}
    table = ds.dataset(root / "t", format="parquet", partitioning="hive").to_table()
    assert {(r["id"], r["domain"]) for r in table.to_pylist()} == expected
    got = duckdb.sql(f"select id, domain from read_parquet('{root}/t/**/*.parquet', hive_partitioning=true)").fetchall()
    assert set(got) == expected
    stripped = tmp_path / "stripped"  # the same files without the domain column: only the folder names it
    for f in _files(root / "t"):
        dst = stripped / f.relative_to(root / "t")
        dst.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pq.read_table(f).drop_columns(["domain"]), dst)
    assert {
        (r["id"], r["domain"]) for r in ds.dataset(stripped, partitioning="hive").to_table().to_pylist()
    } == expected
    got = duckdb.sql(f"select id, domain from read_parquet('{stripped}/**/*.parquet', hive_partitioning=true)")
    assert set(got.fetchall()) == expected


# -- ordering in bounded memory ---------------------------------------------------------------


def test_sorted_by_key_spills_merges_and_is_stable():
    rng = random.Random(7)
    items = [(f"k{rng.randrange(500):04d}", 1, i) for i in range(5000)]
    # 10-item runs: 500 runs, more than MAX_SORT_RUNS, so runs are folded together too.
    got = list(sorted_by_key(iter(items), run_rows=10, run_bytes=10**9))
    assert got == sorted(items, key=lambda t: t[0])  # Python's sort is stable: equal keys keep arrival order
    assert list(sorted_by_key(iter(items))) == got  # in memory, no spill
    assert list(sorted_by_key(iter([]))) == []


def test_a_shard_file_is_the_same_bytes_whatever_order_rows_arrive_in(tmp_path):
    rows = _rows(30_000)
    paths = []
    for seed in (1, 2):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        items = ((r["id"], row_bytes(r), r) for r in shuffled)
        writer = _WriteParquetShard(
            str(tmp_path / str(seed)), SCHEMA, "domain", row_group_rows=4000, sort_run_rows=7000
        )
        (out,) = writer.process((("d", 0, 1), items))
        assert out["rows"] == len(rows) and out["bytes"] == os.path.getsize(out["path"])
        paths.append(out["path"])
        meta = pq.ParquetFile(out["path"]).metadata
        assert meta.num_row_groups == 8  # streamed: 4,000-row groups, never one table
    assert Path(paths[0]).read_bytes() == Path(paths[1]).read_bytes()
    assert pq.read_table(paths[0]).column("id").to_pylist() == [r["id"] for r in rows]


def test_pipeline_reruns_write_identical_files(tmp_path):
    rows = _rows(6000, "a") + _rows(9000, "b", 6000)
    outs = []
    for name in ("one", "two"):
        random.Random(name).shuffle(rows)
        _run(rows, WritePartitionedParquet(str(tmp_path / name), SCHEMA, "domain", lambda r: r["id"], "auto", 0.02))
        outs.append({str(f.relative_to(tmp_path / name)): f.read_bytes() for f in _files(tmp_path / name)})
    assert len(outs[0]) > 2 and outs[0] == outs[1]


# -- sized shards ------------------------------------------------------------------------------


def test_auto_shards_follow_partition_size_and_stay_near_the_target(tmp_path):
    target_mb = 0.25
    rows = _rows(60_000, "big") + _rows(60_500, "small", 60_000)
    _run(rows, WritePartitionedParquet(str(tmp_path / "t"), SCHEMA, "domain", lambda r: r["id"], "auto", target_mb))
    files = {}
    for f in _files(tmp_path / "t"):
        files.setdefault(f.parent.name, []).append(f)
    assert set(files) == {"domain=big", "domain=small"}
    assert len(files["domain=small"]) == 1 and files["domain=small"][0].name == "part-00000-of-00001.parquet"
    big = files["domain=big"]
    n = len(big)
    assert n >= 3, "60,000 rows make more than 0.75 MB of Parquet"
    assert sorted(f.name for f in big) == [f"part-{i:05d}-of-{n:05d}.parquet" for i in range(n)]
    sizes = [f.stat().st_size for f in big]
    assert max(sizes) <= 2 * target_mb * 2**20, sizes
    assert sum(sizes) > 0.5 * n * target_mb * 2**20, "shards far below the target: the size estimate is off"
    table = ds.dataset(tmp_path / "t", partitioning="hive").to_table()
    assert table.num_rows == len(rows) and len(set(table.column("id").to_pylist())) == len(rows)
    for f in big:  # each row sits in the shard its key hashes to
        ids = pq.read_table(f, columns=["id"]).column("id").to_pylist()
        shard = int(f.name[5:10])
        assert all(shard_of(i, n) == shard for i in ids)


def test_fixed_shards_and_the_old_four_argument_call(tmp_path):
    rows = _rows(500)
    _run(rows, WritePartitionedParquet(str(tmp_path / "fixed"), SCHEMA, "domain", lambda r: r["id"], 3))
    assert sorted(f.name for f in _files(tmp_path / "fixed")) == [f"part-0000{i}-of-00003.parquet" for i in range(3)]
    # evaluate/sweep call it with four arguments and no partition value escaping concerns
    _run(rows, WritePartitionedParquet(str(tmp_path / "plain"), SCHEMA, None, lambda r: r["id"]))
    assert [f.name for f in _files(tmp_path / "plain")] == ["part-00000-of-00001.parquet"]
    assert pq.read_table(tmp_path / "plain" / "part-00000-of-00001.parquet").num_rows == 500


def test_shard_count_by_hand():
    mb = 2**20
    assert shard_count(0, 128 * mb) == 1
    assert shard_count(128 * mb, 128 * mb) == 1
    assert shard_count(128 * mb + 1, 128 * mb) == 2
    assert shard_count(1000 * mb, 128 * mb) == 8
    assert shard_count(10**15, 1) == 99_999


def test_size_estimate_tracks_the_encoded_bytes(tmp_path):
    rows = _rows(40_000)
    fn = _PartitionSizeFn(SCHEMA)
    # Two accumulators merged, as a runner's combiner lifting does: the estimate must not depend on it.
    accs = [fn.create_accumulator(), fn.create_accumulator()]
    for i, r in enumerate(rows):
        fn.add_input(accs[i % 2], (r["id"], row_bytes(r), r))
    split = fn.extract_output(fn.merge_accumulators(accs))
    whole = fn.create_accumulator()
    for r in reversed(rows):
        fn.add_input(whole, (r["id"], row_bytes(r), r))
    assert fn.extract_output(whole) == split
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), tmp_path / "all.parquet", compression="zstd")
    actual = (tmp_path / "all.parquet").stat().st_size
    assert actual <= split <= 4 * actual, (actual, split)  # conservative, not wildly so


def test_dead_letter_jsonl_is_sized_sorted_and_complete(tmp_path):
    target_mb = 0.05
    rows = [
        {"stage": "parse", "reason": f"bad record {i}", "source": f"f.jsonl:{i}", "record": "x" * 40}
        for i in range(4000)
    ]
    _run(rows, WriteJsonl(str(tmp_path / "dl"), "auto", target_mb))
    files = _files(tmp_path / "dl")
    n = len(files)
    assert n >= 4 and [f.name for f in files] == [f"part-{i:05d}-of-{n:05d}.jsonl" for i in range(n)]
    got = []
    for f in files:
        assert f.stat().st_size <= 2 * target_mb * 2**20
        lines = f.read_text(encoding="utf-8").splitlines()
        assert lines == sorted(lines)
        got += [json.loads(line) for line in lines]
    assert sorted(got, key=lambda r: r["source"]) == sorted(rows, key=lambda r: r["source"])
    _run(rows[:10], WriteJsonl(str(tmp_path / "one"), 1))
    assert [f.name for f in _files(tmp_path / "one")] == ["part-00000-of-00001.jsonl"]


# -- memory does not grow with the partition ---------------------------------------------------


def _rss_kb(field: str) -> int:
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def _memory_probe(n_rows: int, target_mb: float, out: str, one_group: bool) -> None:
    """Write one partition of ``n_rows`` rows as the job does; print peak memory and files as JSON.

    Runs in a fresh process. The three passes are the transform's: the size estimate
    (``_PartitionSizeFn``, streaming), the shuffle (simulated with one spill file per shard,
    as a runner's shuffle hands a group over lazily), and the writer DoFn on each group.
    ``one_group`` writes all rows as a single group instead (``--output-shards 1``), in
    an order the writer has to sort.
    """
    import pyarrow as pa

    def rows():
        for j in range(n_rows):
            i = (j * 7919) % n_rows if one_group else j  # a permutation: arrival order is not key order
            yield {"id": f"r{i:08d}", "domain": "big", "x": i, "text": f"row {i} of the corpus"}

    _WriteParquetShard(out + "-warm", SCHEMA, "domain").process((("w", 0, 1), iter([("a", 9, _rows(1)[0])])))
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM: the peak from here on is this write's
    base_rss = _rss_kb("VmRSS")
    writer = _WriteParquetShard(out, SCHEMA, "domain")
    if one_group:
        n = 1
        list(writer.process((("big", 0, 1), ((r["id"], row_bytes(r), r) for r in rows()))))
    else:
        fn = _PartitionSizeFn(SCHEMA)
        acc = fn.create_accumulator()
        for r in rows():
            fn.add_input(acc, (r["id"], row_bytes(r), r))
        n = shard_count(fn.extract_output(acc), target_mb * 2**20)
        buckets = [tempfile.TemporaryFile() for _ in range(n)]
        for r in rows():
            pickle.dump((r["id"], row_bytes(r), r), buckets[shard_of(r["id"], n)])
        for s, bucket in enumerate(buckets):
            bucket.seek(0)
            list(writer.process((("big", s, n), _read_run(bucket))))
            bucket.close()
    sizes = [f.stat().st_size for f in _files(Path(out))]
    rows_written = sum(pq.ParquetFile(f).metadata.num_rows for f in _files(Path(out)))
    peak = {
        "peak_rss_mb": (_rss_kb("VmHWM") - base_rss) / 1024,
        "arrow_peak_mb": pa.default_memory_pool().max_memory() / 2**20,
    }
    print(json.dumps({**peak, "shards": n, "sizes": sizes, "rows": rows_written}))


def _probe(tmp_path: Path, n_rows: int, target_mb: float, one_group: bool) -> dict:
    out = tmp_path / f"{n_rows}-{one_group}"
    code = f"from tests.test_io import _memory_probe; _memory_probe({n_rows}, {target_mb}, {str(out)!r}, {one_group})"
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc to read peak RSS")
def test_writer_memory_does_not_grow_with_the_partition(tmp_path):
    """1M rows cost the writer no more memory than 200k: sized shards, and streaming within a shard."""
    target_mb = 1.0
    small, large = _probe(tmp_path, 200_000, target_mb, False), _probe(tmp_path, 1_000_000, target_mb, False)
    print("auto shards, 200k:", small, "\nauto shards, 1M:", large)
    assert small["rows"] == 200_000 and large["rows"] == 1_000_000
    assert large["shards"] >= 4 * small["shards"] >= 4  # several files, growing with the data
    assert max(large["sizes"] + small["sizes"]) <= 2 * target_mb * 2**20
    assert large["peak_rss_mb"] < 1.5 * max(small["peak_rss_mb"], 20) and large["peak_rss_mb"] < 100
    # One group of all rows (--output-shards 1), arriving out of order: sorted by spilling runs.
    small1, large1 = _probe(tmp_path, 200_000, target_mb, True), _probe(tmp_path, 1_000_000, target_mb, True)
    print("one group, 200k:", small1, "\none group, 1M:", large1)
    assert large1["rows"] == 1_000_000
    assert large1["peak_rss_mb"] < 1.5 * max(small1["peak_rss_mb"], 20) and large1["peak_rss_mb"] < 150
    assert large1["arrow_peak_mb"] < 1.5 * max(small1["arrow_peak_mb"], 20)
