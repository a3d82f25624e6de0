"""``gdr report OUTPUT``: an HTML page with plots for one annotation run.

The page puts the headline numbers first (records, candidates, pairs, dead letters, whether
counts reconcile), then per-domain plots: candidates and pairs, reward and margin
histograms, router confidence, and the dead-letter reasons. PNGs are written next to the
HTML (``OUTPUT/reports/run_date=D/``) so the folder can be copied or served as is; the
numbers shown are also written to ``summary.json`` for scripts.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections import Counter
from typing import Any

from beam_pipeline.html_report import PALETTE, Report, bar_chart, fmt, histograms, pyplot, write_bytes
from beam_pipeline.output_tables import (
    ReportError,
    latest_run_date,
    read_dead_letters,
    read_table_rows,
    reason_kind,
)
from beam_pipeline.publish import list_files, read_text

# Rows of the per-prompt routing table: enough to read a small run whole, and a big run's doubtful ones.
ROUTES_SHOWN = 100


def summarise_run(output: str, run_date: str) -> dict[str, Any]:
    """The numbers the report shows, read from the run's Parquet, dead letters and manifest."""
    root = output.rstrip("/")
    manifest_path = f"{root}/manifests/run_date={run_date}.json"
    try:
        manifest = json.loads(read_text(manifest_path))
    except Exception as exc:
        raise ReportError(f"cannot read the manifest {manifest_path}: {exc}") from None
    # Two scopes, never mixed in one figure: candidates/ and pairs/ of a date are the full
    # snapshot of that day's corpus; scores/ holds only what was first scored that day.
    columns = ["prompt_id", "domain", "reward", "reward_mean", "router_confidence"]
    scores = read_table_rows(f"{root}/scores/run_date={run_date}", columns)
    snapshot_path = f"{root}/candidates/run_date={run_date}"
    has_snapshot = bool(list_files(snapshot_path))
    candidates = read_table_rows(snapshot_path, columns) if has_snapshot else scores
    pairs = read_table_rows(f"{root}/pairs/run_date={run_date}", ["prompt_id", "domain", "margin"])
    dead = read_dead_letters(f"{root}/dead_letter/run_date={run_date}")

    domains = sorted({r["domain"] for r in candidates} | {r["domain"] for r in pairs})
    by_domain = {}
    for d in domains:
        s = [r for r in candidates if r["domain"] == d]
        p = [r for r in pairs if r["domain"] == d]
        confidences = [c for c in (_prompt_confidences(s)) if c is not None]
        rewards = [r["reward"] for r in s]
        by_domain[d] = {
            "prompts": len({r["prompt_id"] for r in s}),
            "candidates": len(s),
            "newly_scored": sum(1 for r in scores if r["domain"] == d),
            "pairs": len(p),
            "reward_mean": statistics.fmean(rewards) if rewards else None,
            "margin_median": statistics.median([r["margin"] for r in p]) if p else None,
            "router_confidence_median": statistics.median(confidences) if confidences else None,
        }
    reasons = Counter((e.get("stage", "?"), reason_kind(e.get("reason", "?"))) for e in dead)
    counts = manifest.get("counts", {})
    return {
        "run_date": run_date,
        "manifest": manifest_path,
        "models": manifest.get("models", {}),
        "guides": manifest.get("guides", {}),
        "config": {k: manifest.get("config", {}).get(k) for k in ("router", "reward", "pairing", "min_margin")},
        "wall_time_s": manifest.get("wall_time_s"),
        "scopes": {
            "candidates": "snapshot" if has_snapshot else "new only (run predates candidates/)",
            "pairs": "snapshot",
            "newly_scored": "new on this date",
        },
        "totals": {
            "prompts": len({r["prompt_id"] for r in candidates}),
            "candidates": len(candidates),
            "newly_scored": len(scores),
            "reused": counts.get("candidates_reused"),
            "pairs": len(pairs),
            "dead_letters": len(dead),
            "records_in": counts.get("records_in"),
            "candidates_in": counts.get("candidates_in"),
            "reconciled": counts.get("reconciled"),
        },
        "by_domain": by_domain,
        "dead_letter_reasons": [
            {"stage": stage, "reason": reason, "count": n} for (stage, reason), n in reasons.most_common()
        ],
        "_values": {
            "reward": {d: [r["reward"] for r in candidates if r["domain"] == d] for d in domains},
            "margin": {d: [r["margin"] for r in pairs if r["domain"] == d] for d in domains},
            "confidence": {d: _prompt_confidences([r for r in candidates if r["domain"] == d]) for d in domains},
            "routes": _prompt_routes(candidates),
        },
    }


def _prompt_confidences(score_rows: list[dict[str, Any]]) -> list[float]:
    """Router confidence once per prompt (every candidate of a prompt carries the same one)."""
    seen = {}
    for r in score_rows:
        seen.setdefault(r["prompt_id"], r.get("router_confidence"))
    return [c for c in seen.values() if c is not None]


def _prompt_routes(score_rows: list[dict[str, Any]]) -> list[tuple[str, str, float | None]]:
    """``(prompt_id, domain, confidence)`` once per prompt, least confident first, then by id."""
    seen: dict[str, tuple[str, float | None]] = {}
    for r in score_rows:
        seen.setdefault(r["prompt_id"], (r["domain"], r.get("router_confidence")))
    rows = [(pid, d, c) for pid, (d, c) in seen.items()]
    return sorted(rows, key=lambda r: (1.0 if r[2] is None else r[2], r[0]))


def write_run_report(output: str, run_date: str | None = None) -> str:
    """Write ``OUTPUT/reports/run_date=D/report.html`` (+ PNGs, ``summary.json``); returns its path."""
    run_date = run_date or latest_run_date(output)
    summary = summarise_run(output, run_date)
    values = summary.pop("_values")
    folder = f"{output.rstrip('/')}/reports/run_date={run_date}"
    rep = Report(folder, f"gdr annotation run {run_date}")
    t = summary["totals"]
    models = summary["models"]
    rep.stat("pairs", str(t["pairs"]), "chosen/rejected rows written")
    rep.stat("candidates", str(t["candidates"]), f"of {fmt(t['candidates_in'])} in (snapshot)")
    rep.stat("newly scored", str(t["newly_scored"]), f"{fmt(t['reused'])} reused from earlier runs")
    rep.stat("prompts", str(t["prompts"]), f"of {fmt(t['records_in'])} records read")
    rep.stat("dead letters", str(t["dead_letters"]), "records + candidates")
    rep.stat("counts reconcile", fmt(t["reconciled"]) if t["reconciled"] is not None else "–")
    if summary["wall_time_s"] is not None:
        rep.stat("wall time", f"{summary['wall_time_s']:.0f} s")
    rep.note(
        f"strong {models.get('strong', '?')} over weak {models.get('weak', '?')}; "
        f"router {summary['config']['router']}; reward {summary['config']['reward']}; "
        f"pairing {summary['config']['pairing']}; guides {', '.join(summary['guides']) or 'none'}."
    )
    if models.get("pair"):
        default = " (the registry's default pair)" if models.get("default_pair_used") else ""
        measured = models.get("pair_measured") or "no measured accuracy recorded in the model registry"
        rep.note(f"Model pair {models['pair']}{default}: {measured}")
    domains = list(summary["by_domain"])
    by = summary["by_domain"]
    rep.heading("Per domain")
    rep.note(
        f"Scope: candidates, rewards, pairs and router figures cover {summary['scopes']['candidates']} of this "
        "date's corpus (reused scores included); 'newly scored' counts only the candidates first scored on this "
        "date, whose rows are in scores/run_date=D. Every candidate of the date: candidates/run_date=D "
        "(join scores/ of all dates on score_key for the text)."
    )
    rep.table(
        [
            "domain",
            "prompts",
            "candidates",
            "newly scored",
            "pairs",
            "mean reward",
            "median margin",
            "median router confidence",
        ],
        [
            [
                d,
                by[d]["prompts"],
                by[d]["candidates"],
                by[d]["newly_scored"],
                by[d]["pairs"],
                by[d]["reward_mean"],
                by[d]["margin_median"],
                by[d]["router_confidence_median"],
            ]
            for d in domains
        ],
        "domains",
    )
    if domains:
        rep.figure(
            "counts_by_domain",
            bar_chart(
                domains,
                {"candidates": [by[d]["candidates"] for d in domains], "pairs": [by[d]["pairs"] for d in domains]},
                "Candidates and pairs of this date's corpus (snapshot)",
                "rows",
            ),
        )
        rep.heading("Rewards")
        rep.figure(
            "reward_by_domain",
            histograms(values["reward"], "Reward per candidate (log p_strong − log p_weak)", "reward"),
            "Each candidate's reward, per domain. Only differences within a prompt matter.",
        )
        if any(values["margin"].values()):
            rep.figure(
                "margin_by_domain",
                histograms({d: v for d, v in values["margin"].items() if v}, "Pair margins", "chosen − rejected"),
                "Reward margin of each written pair; small margins are the least certain preferences.",
            )
        rep.heading("Router")
        rep.figure(
            "router_confidence",
            histograms(values["confidence"], "Router confidence per prompt", "confidence", bins=10),
            "1.0: the record's own domain label; 0.0: no signal, the default domain was used.",
        )
        routes = values["routes"]
        shown = routes[:ROUTES_SHOWN]
        rep.note(
            f"Where each prompt went ({len(shown)} of {len(routes)} prompts, least confident first): "
            "the guide both models saw. A prompt below --router-threshold went to the default domain."
        )
        rep.table(["prompt_id", "guide", "router confidence"], [[pid, d, c] for pid, d, c in shown])
    else:
        rep.note("No candidate was scored in this run.")
    rep.heading("Dead letters")
    reasons = summary["dead_letter_reasons"]
    if reasons:
        top = reasons[:12]
        labels = [f"{r['stage']}: {r['reason']}" for r in top][::-1]
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(8, 0.35 * len(top) + 1.2))
        ax.barh(labels, [r["count"] for r in top][::-1], color=PALETTE[3])
        ax.set_xlabel("entries")
        ax.set_title("Dead-letter reasons")
        ax.tick_params(axis="y", labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        rep.figure("dead_letter_reasons", fig)
        rep.table(["stage", "reason", "count"], [[r["stage"], r["reason"], r["count"]] for r in reasons])
    else:
        rep.note("None: every record and candidate was used.")
    write_bytes(f"{folder}/summary.json", (json.dumps(summary, indent=2, default=str) + "\n").encode("utf-8"))
    return rep.write()


def report_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gdr report",
        description="Write an HTML report with plots for one gdr annotate run (OUTPUT/reports/run_date=D/).",
        allow_abbrev=False,
    )
    parser.add_argument("output", help="the --output of gdr annotate (local or gs://)")
    parser.add_argument("--run-date", dest="run_date", default=None, help="run date to report (default: the latest)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``gdr report``."""
    args = report_parser().parse_args(argv)
    try:
        if args.run_date and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", args.run_date):
            raise ReportError(f"--run-date must be YYYY-MM-DD, got {args.run_date!r}")
        path = write_run_report(args.output, args.run_date)
    except ReportError as exc:
        print(f"gdr: error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0
