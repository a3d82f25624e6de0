"""``gdr annotate``: parse flags, validate, run the Beam job, publish, summarise.

Errors a user can act on (bad flag, unreadable input, missing model, bad guide) are one
line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipeline.config import AnnotateConfig, ConfigError
from beam_pipeline.gcs import configure_filesystems
from beam_pipeline.options import APP_FIELDS, AnnotateOptions, unknown_flags
from beam_pipeline.pipeline import build_pipeline, staging_dir
from beam_pipeline.publish import delete_tree, publish, read_counts, recover_publishes, remove_empty_dir

log = logging.getLogger("gdr")


class UserError(Exception):
    """Printed as ``gdr: error: <message>`` with exit status 2."""


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("gdr", "transforms", "beam_pipeline"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def annotate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gdr annotate",
        description=(
            "Score prompt-response candidates with a guided density ratio "
            "(sum log p_strong(y|x) - sum log p_weak(y|x)) and write preference pairs as "
            "Hive-partitioned Parquet. Any Beam pipeline option (--runner, --direct_num_workers, "
            "--direct_running_mode, Dataflow/Flink flags) is passed through to Beam."
        ),
        allow_abbrev=False,
    )
    AnnotateOptions._add_argparse_args(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def parse_annotate_args(argv: list[str]) -> tuple[AnnotateConfig, list[str]]:
    parser = annotate_parser()
    known, rest = parser.parse_known_args(argv)
    unknown = unknown_flags(rest)
    if unknown:
        raise UserError(f"unknown flag(s): {' '.join(unknown)} (see gdr annotate --help)")
    missing = [f"--{n}" for n in ("input", "output") if not getattr(known, n)]
    if not known.pair and not (known.strong and known.weak):
        missing.append("--pair or --strong/--weak")
    if missing:
        raise UserError(f"missing required flag(s): {', '.join(missing)}")
    values = {k: getattr(known, k) for k in APP_FIELDS}
    if values["run_date"] is None:
        values.pop("run_date")
    return AnnotateConfig(**values), rest


def execute(config: AnnotateConfig, beam_args: list[str]) -> dict[str, Any]:
    """Run a validated config end to end; returns the manifest.

    ``beam_args`` are handed to ``PipelineOptions``; pass the app's flags in them too, so
    the job's recorded options (Dataflow/Flink UI) show the real configuration.
    """
    started = time.time()
    # Before the first storage call: GCS credentials are resolved once per process.
    options = configure_filesystems(PipelineOptions(beam_args))
    stage = staging_dir(config)
    for date in recover_publishes(config.output):
        log.warning("finished the publish of run_date=%s that an earlier run left half-done", date)
    delete_tree(stage)  # leftovers of a run that died before publishing are never published
    log.info(
        "annotating %d file(s) with strong=%s weak=%s guides=%s router=%s run_date=%s; %d published score file(s) to reuse",
        len(config.input_files),
        config.strong,
        config.weak,
        config.guides,
        config.router,
        config.run_date,
        len(config.existing_score_files),
    )
    with beam.Pipeline(options=options) as p:
        build_pipeline(p, config)
    pipeline_s = time.time() - started
    counts = read_counts(stage)
    dead_records = sum(v for k, v in counts.items() if k.startswith("dead_records:"))
    # Rows that parsed as JSON but failed validation are in rows_ok *and* dead-lettered.
    unreadable = sum(v for k, v in counts.items() if k.startswith("dead_records:read"))
    dead_candidates = sum(v for k, v in counts.items() if k.startswith("dead_candidates:"))
    output = config.output.rstrip("/")
    manifest = {
        "run_date": config.run_date,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "config": config.as_manifest(),
        "models": {
            "strong": config.strong,
            "weak": config.weak,
            "router": config.router_model or config.strong,
            "fingerprints": config.fingerprints,
            "paths": config.model_paths,
        },
        "guides": {g.id: g.version for g in (config.guide_set or {}).values()},
        "keys": {"scoring_setting": config.scoring_setting, "router_setting": config.router_setting},
        "input_files": [
            {"path": p, "size_bytes": s, "modified": config.input_mtimes.get(p)} for p, s in config.input_files
        ],
        "reused_score_files": len(config.existing_score_files),
        "counts": {
            "records_in": counts.get("rows_ok", 0) + unreadable,
            "records_read_ok": counts.get("rows_ok", 0),
            "records_dead_lettered": dead_records,
            "candidates_in": counts.get("candidates_in", 0),
            "candidates_scored": counts.get("scored", 0),
            "candidates_reused": counts.get("reused", 0),
            "candidates_dead_lettered": dead_candidates,
            "prompts_routed": counts.get("routed", 0),
            "prompts_route_reused": counts.get("routes_reused", 0),
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
        },
        "outputs": {t: f"{output}/{t}/run_date={config.run_date}" for t in ("pairs", "scores", "dead_letter")},
        "manifest": f"{output}/manifests/run_date={config.run_date}.json",
    }
    c = manifest["counts"]
    c["reconciled"] = c["candidates_in"] == (
        c["candidates_scored"] + c["candidates_reused"] + c["candidates_dead_lettered"]
    )
    manifest["timings_s"] = {"pipeline": round(pipeline_s, 2)}
    manifest["wall_time_s"] = round(time.time() - started, 2)
    publish(config.output, stage, config.run_date, manifest)
    remove_empty_dir(f"{output}/_staging")
    manifest["wall_time_s"] = round(time.time() - started, 2)
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
        f"  pairs       {pairs}",
    ]
    if c["dead_letter_by_stage"]:
        lines.append("  dead letters by stage: " + ", ".join(f"{k} {v}" for k, v in c["dead_letter_by_stage"].items()))
    for table, path in manifest["outputs"].items():
        lines.append(f"  {table:<11} {path}")
    lines.append(f"  manifest    {manifest['manifest']}")
    print("\n".join(lines), file=out)


def run(argv: list[str] | None = None) -> int:
    """Entry point of ``gdr annotate``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    setup_logging("-v" in argv or "--verbose" in argv)
    try:
        config, _beam_args = parse_annotate_args(argv)
        beam_args = [a for a in argv if a not in ("-v", "--verbose")]
        # validate() already lists gs:// inputs and outputs: set up GCS access first.
        configure_filesystems(PipelineOptions(beam_args))
        config.validate()
        manifest = execute(config, beam_args)
    except (UserError, ConfigError) as exc:
        print(f"gdr: error: {exc}", file=sys.stderr)
        return 2
    print_summary(manifest)
    return 0 if manifest["counts"]["reconciled"] else 1
