"""``gdr evaluate`` / ``gdr sweep`` write staged: a failed job leaves the previous results as they were."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import apache_beam as beam
import pytest

from beam_pipeline.publish import write_text
from beam_pipeline.staged_run import JOURNAL, finish_swaps, run_staged
from transforms.io import WriteJsonl


@dataclasses.dataclass
class _Config:
    output: str
    rows: list
    fail: bool = False


def _build(p: beam.Pipeline, config: _Config) -> None:
    def check(row):
        if config.fail:
            raise RuntimeError("job failed")
        return row

    _ = p | beam.Create(config.rows) | beam.Map(check) | WriteJsonl(f"{config.output}/results", 1)


def _rows(out: Path) -> list:
    rows = [json.loads(x) for f in (out / "results").rglob("*.jsonl") for x in f.read_text().splitlines()]
    return sorted(rows, key=lambda r: r["a"])


def test_success_replaces_failure_keeps_and_a_cut_short_swap_is_finished(tmp_path):
    out = tmp_path / "eval"
    run_staged(_build, _Config(str(out), [{"a": 1}, {"a": 2}]), [], ("results",))
    assert _rows(out) == [{"a": 1}, {"a": 2}] and not (out / "_staging").exists()

    with pytest.raises(Exception, match="job failed"):
        run_staged(_build, _Config(str(out), [{"a": 3}], fail=True), [], ("results",))
    assert _rows(out) == [{"a": 1}, {"a": 2}]  # untouched: nothing was deleted before the job ran

    run_staged(_build, _Config(str(out), [{"a": 3}]), [], ("results",))
    assert _rows(out) == [{"a": 3}]  # replaced, not appended

    # A swap that died after writing its journal is finished by the next run.
    stage = out / "_staging" / "attempt=x"
    write_text(str(stage / "results" / "part-new.jsonl"), '{"a": 4}\n')
    old = [str(p) for p in (out / "results").rglob("*.jsonl")]
    write_text(
        str(stage / JOURNAL),
        json.dumps(
            {
                "moves": [[str(stage / "results" / "part-new.jsonl"), str(out / "results" / "part-new.jsonl")]],
                "delete": old,
            }
        ),
    )
    assert finish_swaps(str(out)) == 1
    assert _rows(out) == [{"a": 4}] and not stage.exists()
