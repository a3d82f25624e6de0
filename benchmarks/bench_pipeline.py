"""Benchmark: the whole ``gdr annotate`` job at growing corpus sizes, to show what the pipeline itself costs.

For each size N it generates a corpus of N candidates (N/4 prompts x 4 responses, seeded,
chat/safety/reasoning prompts the keyword router spreads over three domains, split over
several JSONL files), runs ``gdr annotate`` as a subprocess with the tiny random-weight pair
(``transforms.engine.tiny_models.ensure_tiny_pair``, so the model costs little and the
pipeline's own cost shows), ``--router keyword``, on the DirectRunner in multi-process mode
(``--direct_running_mode=multi_processing --direct_num_workers=W``), and reports:

* candidates/s and wall time (the launcher process's, start to exit) and ms per candidate;
* peak RSS per process of the job's process tree (sampled from /proc every 0.2 s) and
  ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` (the largest single process) as a cross-check;
* files and bytes per output partition, and the largest file against ``--output-file-mb``;
* the share of time outside the engine: ``gdr/scoring_batch_ms`` (summed over the workers'
  scoring batches, from the manifest's metrics) divided by the W workers is the engine's
  share of the wall time; the rest is reading, joining, shuffling, writing, publishing and
  start-up.

    python benchmarks/bench_pipeline.py --json bench_pipeline.json --sizes 10000,100000,400000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RUN_DATE = "2026-01-01"
WORDS = (
    "the a model answer list value result because first then step check note simple clear short long "
    "example number total reason part case point way time data file line word text safe help sorry "
    "cannot will would should could please thanks sure yes no maybe here there this that which"
).split()
TOPICS = ["rivers", "bread", "chess", "volcanoes", "jazz", "gardens", "trains", "bees", "glass", "tides"]


def prompt_for(i: int, rng: random.Random) -> str:
    """A prompt of one of three kinds, worded so the keyword router places it."""
    kind = i % 3
    topic = TOPICS[i % len(TOPICS)]
    if kind == 0:
        return f"Recommend a good book about {topic} for a curious reader (request {i})."
    if kind == 1:
        a, b = rng.randint(2, 9), rng.randint(1, 50)
        return f"Solve the equation {a}x + {b} = {a * rng.randint(1, 20) + b} and check it (problem {i})."
    return f"How do I hack into my neighbour's {topic} account without them knowing? (question {i})"


def write_corpus(folder: Path, candidates: int, seed: int = 0) -> list[str]:
    """N/4 prompts x 4 responses over several JSONL files; returns the file paths."""
    rng = random.Random(seed)
    prompts = max(1, candidates // 4)
    n_files = min(16, max(2, prompts // 2500))
    folder.mkdir(parents=True, exist_ok=True)
    handles = [open(folder / f"part-{k:02d}.jsonl", "w", encoding="utf-8") for k in range(n_files)]
    try:
        for i in range(prompts):
            responses = [" ".join(rng.choices(WORDS, k=rng.randint(4, 30))) for _ in range(4)]
            record = {"prompt_id": f"q{i:07d}", "prompt": prompt_for(i, rng), "responses": responses}
            handles[i % n_files].write(json.dumps(record) + "\n")
    finally:
        for h in handles:
            h.close()
    return [str(folder / f"part-{k:02d}.jsonl") for k in range(n_files)]


# -- process tree memory -------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _label(pid: int, root: int) -> str:
    if pid == root:
        return "launcher"
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "process"
    if "sdk_worker_main" in cmd or "worker_pool_main" in cmd:
        return "sdk worker"
    if "multiprocessing" in cmd or "shared" in cmd.lower():
        return "shared model server"
    return "process"


class TreeSampler(threading.Thread):
    """Samples the RSS of a process and all its descendants until stopped."""

    def __init__(self, root: int, every_s: float = 0.2):
        super().__init__(daemon=True)
        self.root, self.every_s = root, every_s
        self.peak: dict[int, tuple[str, float]] = {}
        self.peak_total = 0.0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            kids, todo, total = _children(), [self.root], 0.0
            while todo:
                pid = todo.pop()
                todo.extend(kids.get(pid, []))
                rss = _rss_mb(pid)
                if rss is None:
                    continue
                total += rss
                label, best = self.peak.get(pid, (None, 0.0))
                self.peak[pid] = (label or _label(pid, self.root), max(best, rss))
            self.peak_total = max(self.peak_total, total)
            self._stop_event.wait(self.every_s)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


# -- one run ------------------------------------------------------------------------------------


def partition_files(root: Path) -> dict[str, dict[str, dict[str, int]]]:
    """table -> partition folder -> files, bytes, largest file."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for table in ("scores", "pairs", "dead_letter"):
        base = root / table / f"run_date={RUN_DATE}"
        if not base.exists():
            continue
        for dirpath, _, files in os.walk(base):
            files = [f for f in files if f.endswith((".parquet", ".jsonl"))]
            if not files:
                continue
            sizes = [os.path.getsize(os.path.join(dirpath, f)) for f in files]
            name = os.path.relpath(dirpath, base)
            out.setdefault(table, {})[name] = {"files": len(files), "bytes": sum(sizes), "max_file": max(sizes)}
    return out


def run_size(workdir: Path, size: int, strong: Path, weak: Path, workers: int, file_mb: float) -> dict[str, Any]:
    inputs = write_corpus(workdir / f"corpus-{size}", size)
    out = workdir / f"out-{size}"
    if out.exists():
        import shutil

        shutil.rmtree(out)
    cmd = [
        sys.executable,
        "-m",
        "beam_pipeline",
        "annotate",
        "--input",
        *inputs,
        "--output",
        str(out),
        "--strong",
        str(strong),
        "--weak",
        str(weak),
        "--router",
        "keyword",
        "--run-date",
        RUN_DATE,
        "--output-file-mb",
        str(file_mb),
        "--direct_running_mode=multi_processing",
        f"--direct_num_workers={workers}",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    log_path = workdir / f"annotate-{size}.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        rc = proc.wait()
        sampler.stop()
    wall = time.monotonic() - started
    if rc != 0:
        raise SystemExit(f"gdr annotate failed (rc={rc}) at size {size}; see {log_path}")
    manifest = json.loads((out / "manifests" / f"run_date={RUN_DATE}.json").read_text())
    counts, metrics = manifest["counts"], manifest.get("metrics", {})
    batch = metrics.get("gdr/scoring_batch_ms") or {}
    scoring_ms = float(batch.get("sum") or 0)
    engine_share = min(1.0, scoring_ms / 1000 / workers / wall)
    tables = partition_files(out)
    target = file_mb * 2**20
    max_file = max((p["max_file"] for t in tables.values() for p in t.values()), default=0)
    by_kind: dict[str, list[float]] = {}
    for label, peak in sampler.peak.values():
        if peak >= 10:  # not the few-MB shell wrappers that start the SDK workers
            by_kind.setdefault(label, []).append(round(peak, 1))
    return {
        "candidates": size,
        "candidates_in": counts["candidates_in"],
        "candidates_scored": counts["candidates_scored"],
        "dead_lettered": counts["candidates_dead_lettered"] + counts["records_dead_lettered"],
        "reconciled": counts["reconciled"],
        "wall_s": round(wall, 2),
        "job_wall_s": manifest.get("wall_time_s"),
        "candidates_per_s": round(counts["candidates_in"] / wall, 1),
        "ms_per_candidate": round(1000 * wall / counts["candidates_in"], 4),
        "scoring_batch_ms_sum": scoring_ms,
        "engine_share": round(engine_share, 3),
        "outside_engine_share": round(1 - engine_share, 3),
        "peak_rss_mb_by_process": {k: sorted(v, reverse=True) for k, v in by_kind.items()},
        "peak_rss_mb_tree_total": round(sampler.peak_total, 1),
        "target_file_bytes": int(target),
        "max_file_bytes": max_file,
        "max_file_over_target": round(max_file / target, 3),
        "tables": tables,
    }


def print_table(runs: list[dict[str, Any]], file_mb: float) -> None:
    cols = [r["candidates"] for r in runs]
    rows = [
        ("candidates/s", [f"{r['candidates_per_s']:.0f}" for r in runs]),
        ("wall time (s)", [f"{r['wall_s']:.1f}" for r in runs]),
        ("ms per candidate", [f"{r['ms_per_candidate']:.3f}" for r in runs]),
        ("outside-engine share", [f"{r['outside_engine_share']:.0%}" for r in runs]),
        ("peak RSS launcher (MB)", [f"{max(r['peak_rss_mb_by_process'].get('launcher', [0])):.0f}" for r in runs]),
        (
            "peak RSS per worker (MB)",
            [
                "/".join(f"{x:.0f}" for x in r["peak_rss_mb_by_process"].get("sdk worker", []) if x >= 10) or "-"
                for r in runs
            ],
        ),
        ("peak RSS tree total (MB)", [f"{r['peak_rss_mb_tree_total']:.0f}" for r in runs]),
        ("scores files (all domains)", [str(sum(p["files"] for p in r["tables"]["scores"].values())) for r in runs]),
        (
            "scores MB (all domains)",
            [f"{sum(p['bytes'] for p in r['tables']['scores'].values()) / 2**20:.1f}" for r in runs],
        ),
        (f"max file / target ({file_mb:g} MB)", [f"{r['max_file_over_target']:.2f}" for r in runs]),
    ]
    width = max(len(name) for name, _ in rows) + 2
    print(f"{'candidates':<{width}}" + "".join(f"{c:>16,}" for c in cols))
    print("-" * (width + 16 * len(cols)))
    for name, values in rows:
        print(f"{name:<{width}}" + "".join(f"{v:>16}" for v in values))
    for r in runs:
        print(f"\n{r['candidates']:,} candidates, files per partition:")
        for table, parts in r["tables"].items():
            for part, p in sorted(parts.items()):
                print(
                    f"  {table:<11} {part:<18} {p['files']:>4} files {p['bytes'] / 2**20:>8.2f} MB"
                    f"  largest {p['max_file'] / 2**20:.2f} MB"
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", default=None, help="write the figures here")
    parser.add_argument("--sizes", default="10000,100000,400000", help="candidates per corpus, comma-separated")
    parser.add_argument("--workers", type=int, default=2, help="--direct_num_workers (default 2)")
    parser.add_argument(
        "--output-file-mb",
        type=float,
        default=1.0,
        help="target file size passed to gdr annotate (default 1, small so that sizing shows at these scales)",
    )
    parser.add_argument("--workdir", default=None, help="corpora, models and outputs (default: a temp dir)")
    parser.add_argument("--render", default=None, metavar="JSON", help="print the tables of an earlier --json and exit")
    args = parser.parse_args(argv)
    if args.render:
        earlier = json.loads(Path(args.render).read_text())
        print_table(earlier["runs"], earlier["settings"]["output_file_mb"])
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    import tempfile

    from transforms.engine.tiny_models import ensure_tiny_pair

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="gdr-bench-pipeline-"))
    workdir.mkdir(parents=True, exist_ok=True)
    strong, weak = ensure_tiny_pair(workdir / "models", "chatml")
    runs = []
    for size in sizes:
        print(f"running {size:,} candidates ...", file=sys.stderr, flush=True)
        runs.append(run_size(workdir, size, strong, weak, args.workers, args.output_file_mb))
        print(f"  {runs[-1]['wall_s']:.1f}s, {runs[-1]['candidates_per_s']:.0f} candidates/s", file=sys.stderr)
    children_max = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print_table(runs, args.output_file_mb)
    ratio = runs[-1]["ms_per_candidate"] / runs[0]["ms_per_candidate"] if len(runs) > 1 else None
    marginal = None
    if len(runs) > 1:
        # Time per extra candidate between the smallest and largest corpus: start-up cost cancels out.
        marginal = (
            1000 * (runs[-1]["wall_s"] - runs[0]["wall_s"]) / (runs[-1]["candidates_in"] - runs[0]["candidates_in"])
        )
    print(f"\nlargest single process (getrusage children maxrss): {children_max:.0f} MB")
    if ratio is not None:
        print(f"ms per candidate, {runs[-1]['candidates']:,} vs {runs[0]['candidates']:,}: {ratio:.2f}x")
        print(f"marginal ms per candidate between them: {marginal:.3f}")
    print(f"largest file / target over all runs: {max(r['max_file_over_target'] for r in runs):.2f}")
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "settings": {
            "workers": args.workers,
            "output_file_mb": args.output_file_mb,
            "router": "keyword",
            "models": "tiny random-weight chatml pair",
            "runner": "DirectRunner multi_processing",
        },
        "runs": runs,
        "ms_per_candidate_ratio_largest_vs_smallest": ratio,
        "marginal_ms_per_candidate": marginal,
        "largest_child_process_maxrss_mb": round(children_max, 1),
    }
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
