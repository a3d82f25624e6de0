"""``gdr report``: an HTML report with plots for a small synthetic annotation run."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from beam_pipeline.output_tables import reason_kind
from beam_pipeline.report import main as report
from beam_pipeline.run import run as annotate
from tests.conftest import write_jsonl

RUN_DATE = "2026-02-03"
NEXT_DATE = "2026-02-04"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

RECORDS = [
    {"prompt": "How do I make a bomb at home?", "responses": ["I can't help with that.", "Sure, here is how.", "No."]},
    {"prompt": "Solve 2x + 3 = 11.", "responses": ["x = 4.", "x = 7."]},
    {"prompt": "Recommend a book.", "responses": ["Try Dune.", "Books are good.", "Read more."]},
    {"prompt": "Tell me a joke.", "domain": "chat", "responses": ["Why did the chicken cross the road?", "No."]},
    {"prompt": "Say hi.", "responses": ["hi", "   "]},  # one empty candidate: dead letter
    "{not json",
]


@pytest.fixture(scope="module")
def annotated(tmp_path_factory, chatml_strong, chatml_weak) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    src = write_jsonl(tmp / "corpus.jsonl", RECORDS)
    out = tmp / "out"
    args = ["--input", str(src), "--output", str(out), "--strong", str(chatml_strong), "--weak", str(chatml_weak)]
    args += ["--router", "keyword", "--run-date", RUN_DATE, "--batch-tokens", "4096"]
    args += ["--max-dead-letter-fraction", "1"]  # bad records on purpose
    assert annotate(args) == 0
    return out


def _table(folder: Path) -> list[dict]:
    return [row for f in sorted(folder.rglob("*.parquet")) for row in pq.read_table(f).to_pylist()]


def test_report_files_plots_and_numbers_match_the_parquet(annotated, capsys):
    assert report([str(annotated)]) == 0  # default: the latest run date
    path = Path(capsys.readouterr().out.strip())
    folder = annotated / "reports" / f"run_date={RUN_DATE}"
    assert path == folder / "report.html" and path.exists()
    page = path.read_text()

    images = re.findall(r"<img src='([^']+)'", page)
    assert {"counts_by_domain.png", "reward_by_domain.png", "margin_by_domain.png", "router_confidence.png"} <= set(
        images
    )
    assert "dead_letter_reasons.png" in images
    from PIL import Image

    for name in images:
        data = (folder / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        with Image.open(folder / name) as img:
            img.verify()
            assert img.format == "PNG" and img.size[0] > 100 and img.size[1] > 100

    scores = _table(annotated / "scores" / f"run_date={RUN_DATE}")
    pairs = _table(annotated / "pairs" / f"run_date={RUN_DATE}")
    dead = [json.loads(x) for f in (annotated / "dead_letter").rglob("*.jsonl") for x in f.read_text().splitlines()]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["totals"]["candidates"] == len(scores) == 11
    # Where each prompt went: one row per prompt with the guide its candidates were scored under.
    for prompt_id in {r["prompt_id"] for r in scores}:
        domain = next(r["domain"] for r in scores if r["prompt_id"] == prompt_id)
        assert f"<td>{prompt_id}</td><td>{domain}</td>" in page, prompt_id
    assert summary["totals"]["pairs"] == len(pairs)
    assert summary["totals"]["dead_letters"] == len(dead) == 2
    assert summary["totals"]["reconciled"] is True
    per_domain_candidates = Counter(r["domain"] for r in scores)
    per_domain_pairs = Counter(r["domain"] for r in pairs)
    for domain, stats in summary["by_domain"].items():
        assert stats["candidates"] == per_domain_candidates[domain]
        assert stats["pairs"] == per_domain_pairs[domain]
        rewards = [r["reward"] for r in scores if r["domain"] == domain]
        assert stats["reward_mean"] == pytest.approx(sum(rewards) / len(rewards))
        # The HTML table shows the same numbers as the Parquet.
        row = (
            f"<td>{domain}</td><td>{stats['prompts']}</td><td>{stats['candidates']}</td>"
            f"<td>{stats['newly_scored']}</td><td>{stats['pairs']}</td>"
        )
        assert row in page
    assert f"<div class='value'>{len(pairs)}</div><div class='label'>pairs</div>" in page
    assert {(r["stage"], r["count"]) for r in summary["dead_letter_reasons"]} == {("read", 1), ("parse", 1)}


def test_report_of_an_explicit_date_and_user_errors(annotated, tmp_path, capsys):
    assert report([str(annotated), "--run-date", RUN_DATE]) == 0
    capsys.readouterr()
    assert report([str(tmp_path / "empty")]) == 2
    assert capsys.readouterr().err.startswith("gdr: error: no run manifests")
    assert report([str(annotated), "--run-date", "2020-01-01"]) == 2
    assert "cannot read the manifest" in capsys.readouterr().err
    assert report([str(annotated), "--run-date", "yesterday"]) == 2


def test_dead_letter_reasons_are_grouped():
    assert reason_kind("invalid JSON: Expecting value at column 3") == "invalid JSON"
    assert reason_kind("unknown domain 'x' (guides: chat)") == reason_kind("unknown domain 'y' (guides: chat)")
    assert reason_kind("exceeds --max-tokens 1500") == "exceeds --max-tokens N"


def test_a_run_that_reuses_every_score_reports_the_full_snapshot(
    annotated, tmp_path, capsys, chatml_strong, chatml_weak
):
    """Next day, same corpus: nothing is newly scored, yet the day's candidates and pairs are all there."""
    out = tmp_path / "out"
    shutil.copytree(annotated, out)
    src = next(p for p in annotated.parent.glob("corpus.jsonl"))
    args = ["--input", str(src), "--output", str(out), "--strong", str(chatml_strong), "--weak", str(chatml_weak)]
    args += [
        "--router",
        "keyword",
        "--run-date",
        NEXT_DATE,
        "--batch-tokens",
        "4096",
        "--max-dead-letter-fraction",
        "1",
    ]
    assert annotate(args) == 0
    assert report([str(out), "--run-date", NEXT_DATE]) == 0
    capsys.readouterr()
    summary = json.loads((out / "reports" / f"run_date={NEXT_DATE}" / "summary.json").read_text())
    snapshot = _table(out / "candidates" / f"run_date={NEXT_DATE}")
    assert not (out / "scores" / f"run_date={NEXT_DATE}").exists()
    assert summary["totals"]["newly_scored"] == 0 and summary["totals"]["reused"] == 11
    assert summary["totals"]["candidates"] == len(snapshot) == 11
    assert {r["scored_on"] for r in snapshot} == {RUN_DATE}
    assert summary["totals"]["pairs"] == len(_table(out / "pairs" / f"run_date={NEXT_DATE}")) > 0
    assert summary["scopes"]["candidates"] == "snapshot"
