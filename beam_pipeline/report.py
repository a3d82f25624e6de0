"""``gdr report OUTPUT``: an HTML page with plots for one annotation run, and the shared report helpers.

The page puts the headline numbers first (records, candidates, pairs, dead letters, whether
counts reconcile), then per-domain plots: candidates and pairs, reward and margin
histograms, router confidence, and the dead-letter reasons. PNGs are written next to the
HTML (``OUTPUT/reports/run_date=D/``) so the folder can be copied or served as is; the
numbers shown are also written to ``summary.json`` for scripts.

The helpers (:class:`Report`, the plot functions) are used by ``gdr evaluate`` and ``gdr
sweep`` too. Plots use matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import argparse
import html
import io
import json
import math
import re
import statistics
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from beam_pipeline.publish import is_local, list_files, read_text

PALETTE = ("#3b6ea8", "#e0893a", "#5a9e5a", "#b8504b", "#8567a8", "#8a6d5a", "#cf7fb8", "#7f7f7f")


class ReportError(Exception):
    """Printed as ``gdr: error: <message>`` with exit status 2."""


# -- writing ------------------------------------------------------------------------------


def write_bytes(path: str, data: bytes) -> None:
    """Write a file locally or on an object store (local parent folders are created)."""
    if is_local(path):
        import os

        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with FileSystems.create(path) as f:
        f.write(data)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # headless: workers and CI have no display
    import matplotlib.pyplot as plt

    return plt


def fmt(value: Any, digits: int = 3) -> str:
    """A number as shown in reports (None/NaN as an en dash)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def pct(value: float | None) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}%"


class Report:
    """An HTML page assembled from headline numbers, plots, tables and notes."""

    def __init__(self, folder: str, title: str):
        self.folder = folder.rstrip("/")
        self.title = title
        self.headline: list[tuple[str, str, str]] = []
        self.parts: list[str] = []
        self.images: list[str] = []

    def stat(self, label: str, value: str, note: str = "") -> None:
        self.headline.append((label, value, note))

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def note(self, text: str) -> None:
        self.parts.append(f"<p class='note'>{html.escape(text)}</p>")

    def raw(self, markup: str) -> None:
        self.parts.append(markup)

    def figure(self, name: str, fig, caption: str = "") -> str:
        """Save a matplotlib figure as ``name.png`` next to the page and show it."""
        plt = _pyplot()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        filename = f"{name}.png"
        write_bytes(f"{self.folder}/{filename}", buf.getvalue())
        self.images.append(filename)
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self.parts.append(f"<figure><img src='{filename}' alt='{html.escape(name)}'>{cap}</figure>")
        return filename

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]], css: str = "") -> None:
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c if isinstance(c, str) else fmt(c))}</td>" for c in row) + "</tr>"
            for row in rows
        )
        self.parts.append(f"<table class='{css}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def write(self, filename: str = "report.html") -> str:
        cards = "".join(
            f"<div class='card'><div class='value'>{html.escape(v)}</div><div class='label'>{html.escape(label)}</div>"
            + (f"<div class='sub'>{html.escape(n)}</div>" if n else "")
            + "</div>"
            for label, v, n in self.headline
        )
        page = _PAGE.format(title=html.escape(self.title), cards=cards, body="\n".join(self.parts))
        path = f"{self.folder}/{filename}"
        write_bytes(path, page.encode("utf-8"))
        return path


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #222; padding: 0 1rem; }}
h1 {{ font-size: 1.5rem; margin-bottom: .2rem; }}
h2 {{ font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }}
.cards {{ display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }}
.card {{ background: #f4f6f9; border-radius: 8px; padding: .7rem 1rem; min-width: 120px; }}
.card .value {{ font-size: 1.6rem; font-weight: 600; }}
.card .label {{ color: #555; font-size: .85rem; }}
.card .sub {{ color: #888; font-size: .75rem; }}
table {{ border-collapse: collapse; margin: .6rem 0; font-size: .9rem; }}
th, td {{ border: 1px solid #ddd; padding: .25rem .6rem; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
th {{ background: #f4f6f9; }}
figure {{ margin: 1rem 0; }}
img {{ max-width: 100%; }}
figcaption, .note {{ color: #666; font-size: .85rem; }}
</style></head><body>
<h1>{title}</h1>
<div class="cards">{cards}</div>
{body}
</body></html>
"""


# -- plots --------------------------------------------------------------------------------


def bar_chart(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    title: str,
    ylabel: str,
    ylim: tuple[float, float] | None = None,
    percent: bool = False,
    reference: float | None = None,
):
    """Grouped vertical bars: one group per category, one bar per series, values written on top."""
    plt = _pyplot()
    n_series = max(1, len(series))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(categories) * n_series + 2), 3.6))
    width = 0.8 / n_series
    for i, (label, values) in enumerate(series.items()):
        xs = [j + (i - (n_series - 1) / 2) * width for j in range(len(categories))]
        ys = [0.0 if v is None else v for v in values]
        bars = ax.bar(xs, ys, width, label=label, color=PALETTE[i % len(PALETTE)])
        for bar, v in zip(bars, values, strict=True):
            text = "–" if v is None else (f"{100 * v:.0f}%" if percent else fmt(v, 0 if float(v).is_integer() else 2))
            ax.annotate(
                text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=8
            )
    if reference is not None:
        ax.axhline(reference, color="#999", linestyle="--", linewidth=1)
    ax.set_xticks(range(len(categories)))
    ax.set_xticklabels(categories, rotation=20 if max((len(c) for c in categories), default=0) > 10 else 0)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if ylim:
        ax.set_ylim(*ylim)
    if percent:
        ax.yaxis.set_major_formatter(lambda v, _pos: f"{100 * v:.0f}%")
    if len(series) > 1:
        ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def histograms(
    data: Mapping[str, Sequence[float]],
    title: str,
    xlabel: str,
    bins: int = 20,
    vline: float | None = None,
    overlay: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
):
    """One small histogram per key (domain), sharing the x axis.

    ``overlay`` draws several named series per key instead (e.g. guided and unguided).
    """
    plt = _pyplot()
    keys = list(overlay if overlay is not None else data)
    n = max(1, len(keys))
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), sharex=True, squeeze=False)
    everything = [
        v
        for k in keys
        for vals in ((overlay[k].values()) if overlay is not None else [data[k]])
        for v in vals
        if v is not None and math.isfinite(v)
    ]
    lo, hi = (min(everything), max(everything)) if everything else (0.0, 1.0)
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    edges = [lo + (hi - lo) * i / bins for i in range(bins + 1)]
    for idx, key in enumerate(keys):
        ax = axes[idx // cols][idx % cols]
        named = overlay[key] if overlay is not None else {key: data[key]}
        for i, (label, values) in enumerate(named.items()):
            vals = [v for v in values if v is not None and math.isfinite(v)]
            if vals:
                ax.hist(
                    vals, bins=edges, alpha=0.6 if len(named) > 1 else 0.9, color=PALETTE[i % len(PALETTE)], label=label
                )
        total = max((len(v) for v in named.values()), default=0)
        ax.set_title(f"{key} (n={total})", fontsize=9)
        if vline is not None:
            ax.axvline(vline, color="#444", linestyle="--", linewidth=1)
        if overlay is not None and idx == 0:
            ax.legend(frameon=False, fontsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    for idx in range(len(keys), rows * cols):
        axes[idx // cols][idx % cols].axis("off")
    for ax in axes[-1]:
        ax.set_xlabel(xlabel, fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def heatmap(
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    values: Sequence[Sequence[float | None]],
    title: str,
    counts: Sequence[Sequence[int]] | None = None,
):
    """Accuracy matrix (rows x cols, values 0..1) with the numbers written in the cells."""
    plt = _pyplot()
    import numpy as np

    grid = np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)
    fig, ax = plt.subplots(figsize=(1.3 * len(col_labels) + 3.5, 0.42 * len(row_labels) + 1.6))
    im = ax.imshow(np.ma.masked_invalid(grid), cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(col_labels)))
    ax.set_xticklabels(col_labels)
    ax.set_yticks(range(len(row_labels)))
    ax.set_yticklabels(row_labels, fontsize=8)
    for i in range(len(row_labels)):
        for j in range(len(col_labels)):
            v = grid[i, j]
            text = "–" if np.isnan(v) else f"{100 * v:.0f}%"
            if counts is not None and not np.isnan(v):
                text += f"\n(n={counts[i][j]})"
            ax.text(j, i, text, ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax, fraction=0.04, format=lambda v, _pos: f"{100 * v:.0f}%")
    ax.set_title(title)
    return fig


# -- gdr report ---------------------------------------------------------------------------


def latest_run_date(output: str) -> str:
    dates = []
    for path in list_files(f"{output.rstrip('/')}/manifests"):
        m = re.search(r"run_date=(\d{4}-\d{2}-\d{2})\.json$", path)
        if m:
            dates.append(m.group(1))
    if not dates:
        raise ReportError(f"no run manifests under {output.rstrip('/')}/manifests (is this a gdr annotate output?)")
    return max(dates)


def read_table_rows(folder: str, columns: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of every Parquet file under ``folder`` (its own columns, not Hive-inferred ones)."""
    rows: list[dict[str, Any]] = []
    for path in list_files(folder):
        if not path.endswith(".parquet"):
            continue
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            table = pq.read_table(f)
        present = [c for c in columns if c in table.column_names]
        rows.extend(table.select(present).to_pylist())
    return rows


def read_dead_letters(folder: str) -> list[dict[str, Any]]:
    out = []
    for path in list_files(folder):
        if path.endswith(".jsonl"):
            out.extend(json.loads(line) for line in read_text(path).splitlines() if line.strip())
    return out


def reason_kind(reason: str) -> str:
    """Group similar dead-letter reasons: numbers and quoted values replaced, the detail after ':' cut."""
    text = re.sub(r"'[^']*'", "'…'", str(reason))
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    head = text.split(": ", 1)[0] if text.startswith(("invalid JSON", "scoring failed", "cannot read")) else text
    return head if len(head) <= 70 else head[:67] + "..."


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
        },
    }


def _prompt_confidences(score_rows: list[dict[str, Any]]) -> list[float]:
    """Router confidence once per prompt (every candidate of a prompt carries the same one)."""
    seen = {}
    for r in score_rows:
        seen.setdefault(r["prompt_id"], r.get("router_confidence"))
    return [c for c in seen.values() if c is not None]


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
    else:
        rep.note("No candidate was scored in this run.")
    rep.heading("Dead letters")
    reasons = summary["dead_letter_reasons"]
    if reasons:
        top = reasons[:12]
        labels = [f"{r['stage']}: {r['reason']}" for r in top][::-1]
        plt = _pyplot()
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
