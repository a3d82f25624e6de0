"""Run a result-writing job (``gdr evaluate``, ``gdr sweep``) staged, then swap its tables in.

Like ``gdr annotate``: the job's filesystems are set up from its options before the first
storage call, the job writes under ``OUTPUT/_staging/attempt=A/``, and only a job that
succeeded replaces the previous results — through a journal, so a swap cut short is
finished by the next run — instead of deleting the old results before running.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipeline.gcs import configure_filesystems
from beam_pipeline.publish import delete_tree, is_local, list_files, read_text, remove_empty_dir, write_text

JOURNAL = "_SWAP.json"


def _swap(journal: dict[str, Any], stage: str) -> None:
    """Carry out a swap journal; idempotent (rerunning it after a crash finishes it)."""
    old = [p for p in journal["delete"] if FileSystems.exists(p)]
    if old:
        FileSystems.delete(old)
    for src, dst in journal["moves"]:
        if not FileSystems.exists(src):
            continue  # moved before an interruption
        if is_local(dst):
            import os

            os.makedirs(os.path.dirname(dst), exist_ok=True)
        if FileSystems.exists(dst):
            FileSystems.delete([dst])
        FileSystems.rename([src], [dst])
    delete_tree(stage)


def finish_swaps(output: str) -> int:
    """Finish swaps an earlier run left half-done; drop staging of runs that never finished."""
    root = f"{output.rstrip('/')}/_staging"
    done = 0
    for path in list_files(root):
        if path.endswith("/" + JOURNAL):
            stage = path[: -len(JOURNAL) - 1]
            _swap(json.loads(read_text(path)), stage)
            done += 1
    return done


def run_staged(
    build: Callable[[beam.Pipeline, Any], Any], config: Any, beam_args: list[str], tables: Sequence[str]
) -> Any:
    """Build ``build(p, config)`` writing under a staging copy of ``config.output``; swap ``tables`` in on success."""
    from beam_pipeline.config import new_attempt_id

    options = configure_filesystems(PipelineOptions(beam_args))
    out = config.output.rstrip("/")
    finish_swaps(out)
    stage = f"{out}/_staging/attempt={new_attempt_id()}"
    p = beam.Pipeline(options=options)
    build(p, dataclasses.replace(config, output=stage))
    result = p.run()
    result.wait_until_finish()  # raises for a failed job: the previous results stay as they were
    moves, delete = [], []
    for table in tables:
        src = list_files(f"{stage}/{table}")
        dst = [f"{out}/{table}" + s[len(f"{stage}/{table}") :] for s in src]
        moves += list(zip(src, dst, strict=True))
        delete += [old for old in list_files(f"{out}/{table}") if old not in set(dst)]
    journal = {"moves": moves, "delete": delete}
    write_text(f"{stage}/{JOURNAL}", json.dumps(journal))
    _swap(journal, stage)
    remove_empty_dir(f"{out}/_staging")
    return result
