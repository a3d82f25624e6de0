"""The job's last step: check the run did its job, then publish it and release the run lock.

``PublishRun`` runs once, after every write of the job has finished (the writes' results
are its side inputs, so no runner can start it earlier). It builds the manifest from the
counts computed in the graph, refuses to publish a run that did not do its job - counts
that do not reconcile, nothing scored, or more than ``--max-dead-letter-fraction`` of the
records or candidates dead-lettered - and otherwise publishes through the journal of
``beam_pipeline.publish``. Because it runs inside the job, a launcher that only submits
(``--no-wait``, a Flex Template) still gets a published, or a loudly failed, run.

A refused run writes ``_FAILED.json`` (the reason and the top dead-letter reasons) into its
staging folder, leaves every published partition as it was, releases the lock and fails
the job. ``gdr publish --output O --run-date D`` finishes a publish that was cut short.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
from typing import Any

import apache_beam as beam

from beam_pipeline.publish import (
    JOURNAL,
    attempts,
    clean_failed_attempts,
    publish,
    read_text,
    recover_publishes,
    write_text,
)
from beam_pipeline.run_lock import read_lock, release_lock

log = logging.getLogger("gdr")
FAILED = "_FAILED.json"
TOP_REASONS = 5


class RunRefused(RuntimeError):
    """The run finished but did not do its job; nothing was published."""


def manifest_counts(counts: dict[str, int]) -> dict[str, Any]:
    """The manifest's ``counts`` section from the graph's named counts."""
    dead_records = sum(v for k, v in counts.items() if k.startswith("dead_records:"))
    # Rows that parsed as JSON but failed validation are in rows_ok *and* dead-lettered.
    unreadable = sum(v for k, v in counts.items() if k.startswith("dead_records:read"))
    c = {
        "records_in": counts.get("rows_ok", 0) + unreadable,
        "records_read_ok": counts.get("rows_ok", 0),
        "records_dead_lettered": dead_records,
        "candidates_in": counts.get("candidates_in", 0),
        "candidates_scored": counts.get("scored", 0),
        "candidates_reused": counts.get("reused", 0),
        "candidates_dead_lettered": sum(v for k, v in counts.items() if k.startswith("dead_candidates:")),
        # --generate: sampled this run vs reused from earlier runs (both are part of candidates_in).
        "candidates_generated": counts.get("generated", 0),
        "generations_reused": counts.get("generations_reused", 0),
        "prompts_routed": counts.get("routed", 0),
        "prompts_route_reused": counts.get("routes_reused", 0),
        "router_fallbacks": counts.get("router_fallbacks", 0),
        "dead_letter_by_stage": {
            k.split(":", 1)[1] + f" ({k.split(':')[0][5:]})": v
            for k, v in sorted(counts.items())
            if k.startswith("dead_")
        },
        "scored_by_domain": {
            k.split(":", 1)[1]: v for k, v in sorted(counts.items()) if k.startswith("scored_by_domain:")
        },
        "pairs_by_domain": {
            k.split(":", 1)[1]: v for k, v in sorted(counts.items()) if k.startswith("pairs_by_domain:")
        },
    }
    c["reconciled"] = c["candidates_in"] == (
        c["candidates_scored"] + c["candidates_reused"] + c["candidates_dead_lettered"]
    )
    return c


def run_problem(c: dict[str, Any], max_dead_fraction: float) -> str | None:
    """Why a finished run must not be published, or None."""
    if c["records_in"] == 0:
        return "no records were read from the input"
    if not c["reconciled"]:
        return (
            f"counts do not reconcile: {c['candidates_in']} candidates in, {c['candidates_scored']} scored + "
            f"{c['candidates_reused']} reused + {c['candidates_dead_lettered']} dead-lettered"
        )
    if c["candidates_in"] and c["candidates_scored"] + c["candidates_reused"] == 0:
        return f"none of the {c['candidates_in']} candidates was scored (all dead-lettered)"
    for unit, dead, total in (
        ("records", c["records_dead_lettered"], c["records_in"]),
        ("candidates", c["candidates_dead_lettered"], c["candidates_in"]),
    ):
        if total and dead / total > max_dead_fraction:
            return (
                f"{dead} of {total} {unit} ({dead / total:.1%}) were dead-lettered, above "
                f"--max-dead-letter-fraction {max_dead_fraction:g}"
            )
    return None


def reason_key(entry: dict[str, Any]) -> str:
    """Dead letters grouped by cause: the stage and the reason up to its first detail."""
    return f"{entry.get('stage')}: {str(entry.get('reason'))[:100]}"


class PublishRun(beam.DoFn):
    """Singleton step: check, publish, release the lock; yields the published manifest."""

    def __init__(self, launch: dict[str, Any], stage: str, max_dead_fraction: float):
        self.launch, self.stage, self.max_dead_fraction = launch, stage, max_dead_fraction

    def _outside_staging(self, written: list) -> str | None:
        """A data field must never choose where files go: refuse the run if any write left staging."""
        return _outside(self.stage, written)

    def process(self, _trigger, counts: list[dict[str, Any]], top_dead: list[tuple[str, int]], written: list):
        launch = self.launch
        output, run_date, attempt = launch["output"], launch["run_date"], launch["attempt"]
        named: dict[str, int] = {}
        for row in counts:
            named[row["name"]] = named.get(row["name"], 0) + int(row["value"])
        c = manifest_counts(named)
        top = sorted(top_dead, key=lambda kv: (-kv[1], kv[0]))[:TOP_REASONS]
        problem = run_problem(c, self.max_dead_fraction) or self._outside_staging(written)
        if problem:
            report = {"attempt": attempt, "reason": problem, "counts": c, "top_dead_letter_reasons": top}
            write_text(f"{self.stage}/{FAILED}", json.dumps(report, indent=2, sort_keys=True) + "\n")
            release_lock(output, run_date, attempt)
            reasons = "; ".join(f"{n} x {k}" for k, n in top)
            raise RunRefused(
                f"run_date={run_date} not published: {problem}" + (f" (top reasons: {reasons})" if top else "")
            )
        manifest = {
            **{k: v for k, v in launch.items() if k != "launched_at_s"},
            "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "counts": c,
            "top_dead_letter_reasons": top,
            "files_written": len(written),
            "wall_time_s": round(time.time() - launch["launched_at_s"], 2),
        }
        publish(output, self.stage, run_date, manifest)
        clean_failed_attempts(output, run_date, keep=attempt)
        release_lock(output, run_date, attempt)
        yield manifest


def _outside(stage: str, written: list) -> str | None:
    from transforms.io import UnsafePartitionError, check_under

    stray = []
    for w in written:
        try:
            check_under(stage, w["path"])
        except UnsafePartitionError:
            stray.append(w["path"])
    return f"{len(stray)} file(s) were written outside the staging folder, e.g. {stray[0]}" if stray else None


def publish_main(argv: list[str] | None = None) -> int:
    """``gdr publish --output O --run-date D``: finish a publish that was cut short."""
    from apache_beam.options.pipeline_options import PipelineOptions

    from beam_pipeline.gcs import configure_filesystems

    parser = argparse.ArgumentParser(
        prog="gdr publish",
        description="Finish the publish of a run date that a job or launcher left half-done (its journal is "
        "in the staging folder), and release the run lock that attempt held.",
    )
    parser.add_argument("--output", required=True)
    parser.add_argument("--run-date", dest="run_date", required=True)
    args, beam_args = parser.parse_known_args(argv)
    configure_filesystems(PipelineOptions(beam_args))
    found = attempts(args.output, args.run_date)
    journaled = [a for a, files in found.items() if any(f.endswith("/" + JOURNAL) for f in files)]
    if not journaled:
        failed = [a for a, files in found.items() if any(f.endswith("/" + FAILED) for f in files)]
        detail = ""
        if failed:
            stage = f"{args.output.rstrip('/')}/_staging/run_date={args.run_date}/attempt={failed[-1]}"
            detail = f"; attempt {failed[-1]} was refused: {json.loads(read_text(f'{stage}/{FAILED}'))['reason']}"
        elif found:
            detail = f"; attempt(s) {', '.join(sorted(found))} never reached publishing (rerun the job)"
        print(
            f"gdr publish: nothing to finish for run_date={args.run_date} under {args.output}{detail}", file=sys.stderr
        )
        return 1
    recover_publishes(args.output, args.run_date)
    holder = read_lock(args.output, args.run_date)
    for attempt in journaled:
        release_lock(args.output, args.run_date, attempt)
    print(f"gdr publish: finished run_date={args.run_date} (attempt {', '.join(journaled)})")
    if holder and holder.get("attempt") not in journaled:
        print(f"gdr publish: the lock is held by another attempt ({holder.get('attempt')}); left as it is")
    return 0
