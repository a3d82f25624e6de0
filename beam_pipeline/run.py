"""``gdr annotate``'s job and summary: lock the run date, submit, wait, copy metrics into the manifest.

Parsing, validation and error handling are the shared launcher's (``beam_pipeline.launch``):
errors a user can act on are one line on stderr and exit 2; a job that failed or was refused
publishing is one line and exit 1, with what was published before left untouched.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipeline.config import AnnotateConfig, ConfigError
from beam_pipeline.gcs import configure_filesystems
from beam_pipeline.launch import Command, JobFailed, UserError, first_line, launch, parse_command
from beam_pipeline.pipeline import build_pipeline, staging_dir
from beam_pipeline.publish import read_manifest, recover_publishes, write_manifest
from beam_pipeline.publish_step import FAILED
from beam_pipeline.run_lock import LockHeld, acquire_lock, release_lock

log = logging.getLogger("gdr")


def _job_state(result) -> str:
    state = getattr(result, "state", None)
    return str(state).rsplit(".", 1)[-1] if state is not None else "UNKNOWN"


def _metrics(result) -> dict[str, Any]:
    """The job's Beam metrics (counters and distributions), where the runner returns them."""
    try:
        query = result.metrics().query()
    except Exception:  # some runners return no metrics
        return {}
    out: dict[str, Any] = {}
    for kind in ("counters", "distributions", "gauges"):
        for m in query.get(kind, []):
            value = m.committed if m.committed is not None else m.attempted
            name = f"{m.key.metric.namespace}/{m.key.metric.name}"
            if not m.key.metric.namespace.startswith("gdr"):
                name = f"{m.key.step}:{name}"  # Beam's own metrics repeat per step
            if kind == "distributions" and value is not None:
                value = {"count": value.count, "sum": value.sum, "min": value.min, "max": value.max, "mean": value.mean}
            elif kind == "gauges" and value is not None:
                value = value.value
            if kind == "counters":
                out[name] = out.get(name, 0) + (value or 0)  # summed over steps
            else:
                out.setdefault(name, value)
    return out


def _refusal(stage: str) -> str | None:
    """The publish step's reason for refusing the run, with the top dead-letter reasons."""
    from beam_pipeline.publish import read_text

    try:
        report = json.loads(read_text(f"{stage}/{FAILED}"))
    except Exception:
        return None
    top = "; ".join(f"{n} x {reason}" for reason, n in report.get("top_dead_letter_reasons", []))
    return report["reason"] + (f" (top dead-letter reasons: {top})" if top else "")


def execute(config: AnnotateConfig, beam_args: list[str]) -> dict[str, Any] | None:
    """Launch a validated config: lock, submit, and (unless ``--no-wait``) wait and report.

    The job publishes itself as its last step; this function only finishes what an
    earlier launch left half-done, takes the run lock, submits, and, when it waits,
    copies the job's metrics into the published manifest. Returns the manifest, or
    ``None`` when it did not wait. Raises :class:`JobFailed` for a failed job.
    """
    started = time.time()
    options = configure_filesystems(PipelineOptions(beam_args))
    in_launcher = config.runner.endswith("DirectRunner")
    acquire_lock(config.output, config.run_date, config.attempt, config.break_lock, in_launcher)
    try:
        for date in recover_publishes(config.output, config.run_date):
            log.warning("finished the publish of run_date=%s that an earlier run left half-done", date)
        stage = staging_dir(config)
        log.info(
            "annotating %d file(s) with strong=%s weak=%s on %s/%s guides=%s router=%s run_date=%s attempt=%s; "
            "%d published score file(s) to reuse",
            len(config.input_files),
            config.strong,
            config.weak,
            *config.compute,
            config.guides,
            config.router,
            config.run_date,
            config.attempt,
            len(config.existing_score_files),
        )
        p = beam.Pipeline(options=options)
        build_pipeline(p, config)
        result = p.run()
    except BaseException as exc:
        # Nothing of this attempt runs any more: free the date for the next launch.
        release_lock(config.output, config.run_date, config.attempt)
        if isinstance(exc, (UserError, ConfigError, LockHeld)):
            raise
        raise JobFailed(_refusal(staging_dir(config)) or first_line(exc)) from exc
    if config.no_wait:
        job = getattr(result, "job_id", lambda: None)() if callable(getattr(result, "job_id", None)) else None
        log.info("submitted%s; the job publishes run_date=%s itself", f" job {job}" if job else "", config.run_date)
        return None
    try:
        result.wait_until_finish()
    except BaseException as exc:
        release_lock(config.output, config.run_date, config.attempt)
        raise JobFailed(_refusal(stage) or first_line(exc)) from exc
    state = _job_state(result)
    if state not in ("DONE", "UNKNOWN"):
        release_lock(config.output, config.run_date, config.attempt)
        raise JobFailed(_refusal(stage) or f"the job ended in state {state}")
    manifest = read_manifest(config.output, config.run_date)
    if not manifest or manifest.get("attempt") != config.attempt:
        raise JobFailed(
            f"the job finished but run_date={config.run_date} was not published by attempt {config.attempt}"
        )
    manifest["metrics"] = _metrics(result)
    manifest["launcher_wall_time_s"] = round(time.time() - started, 2)
    write_manifest(config.output, config.run_date, manifest)
    return manifest


def print_summary(manifest: dict[str, Any], out=sys.stdout) -> None:
    c = manifest["counts"]
    pairs = ", ".join(f"{d} {n}" for d, n in c["pairs_by_domain"].items()) or "none"
    scored = ", ".join(f"{d} {n}" for d, n in c["scored_by_domain"].items()) or "none"
    lines = [
        f"gdr annotate: run_date={manifest['run_date']} finished in {manifest['wall_time_s']:.1f}s",
        f"  records     {c['records_in']} read, {c['records_dead_lettered']} dead-lettered",
        f"  candidates  {c['candidates_in']} in = {c['candidates_scored']} scored + {c['candidates_reused']} reused + "
        f"{c['candidates_dead_lettered']} dead-lettered  [{'reconciled' if c['reconciled'] else 'MISMATCH'}]",
        f"  scored      {scored}",
        *(
            [f"  generated   {c['candidates_generated']} sampled + {c['generations_reused']} reused (on-policy)"]
            if c.get("candidates_generated") or c.get("generations_reused")
            else []
        ),
        f"  pairs       {pairs}",
    ]
    models = manifest.get("models", {})
    if models.get("pair"):
        lines.append(
            f"  pair        {models['pair']}: {models.get('pair_measured') or 'no measured accuracy in the registry'}"
        )
    if c["dead_letter_by_stage"]:
        lines.append("  dead letters by stage: " + ", ".join(f"{k} {v}" for k, v in c["dead_letter_by_stage"].items()))
    for table, path in manifest["outputs"].items():
        lines.append(f"  {table:<11} {path}")
    lines.append(f"  manifest    {manifest['manifest']}")
    print("\n".join(lines), file=out)


def _summarise(manifest: dict[str, Any] | None, config: AnnotateConfig) -> None:
    if manifest is None:
        print(
            f"gdr annotate: submitted run_date={config.run_date} (attempt {config.attempt}); the job publishes itself"
        )
    else:
        print_summary(manifest)


ANNOTATE = Command(
    name="annotate",
    description=(
        "Score prompt-response candidates with a guided density ratio "
        "(sum log p_strong(y|x) - sum log p_weak(y|x)) and write preference pairs as "
        "Hive-partitioned Parquet. Any Beam pipeline option (--runner, --direct_num_workers, "
        "--direct_running_mode, Dataflow/Flink flags) is passed through to Beam."
    ),
    config_cls=AnnotateConfig,
    run_job=execute,
    summarise=_summarise,
    # The job's options carry the app's flags too (AnnotateOptions): visible in runner UIs.
    beam_args=lambda argv, rest: argv,
    failed_suffix=lambda config: f"; nothing was published for run_date={config.run_date}" if config else "",
)


def annotate_parser():
    """``gdr annotate``'s argument parser (its flags come from ``AnnotateConfig``)."""
    return ANNOTATE.parser()


def parse_annotate_args(argv: list[str]) -> tuple[AnnotateConfig, list[str]]:
    return parse_command(ANNOTATE, argv)


def run(argv: list[str] | None = None) -> int:
    """Entry point of ``gdr annotate``."""
    return launch(ANNOTATE, argv)
