"""HTML pages with plots (:class:`Report`, matplotlib charts, number formatting) for gdr report/evaluate/sweep.

Plots use matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from apache_beam.io.filesystems import FileSystems

from beam_pipeline.publish import is_local

if TYPE_CHECKING:
    from types import ModuleType

    from matplotlib.figure import Figure

PALETTE = ("#3b6ea8", "#e0893a", "#5a9e5a", "#b8504b", "#8567a8", "#8a6d5a", "#cf7fb8", "#7f7f7f")


# -- writing ------------------------------------------------------------------------------


def write_bytes(path: str, data: bytes) -> None:
    """Write a file locally or on an object store (local parent folders are created)."""
    if is_local(path):
        import os

        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with FileSystems.create(path) as f:
        f.write(data)


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the headless Agg backend."""
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
    """A fraction as a percentage with one decimal (None/NaN as an en dash)."""
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}%"


class Report:
    """An HTML page assembled from headline numbers, plots, tables and notes."""

    def __init__(self, folder: str, title: str) -> None:
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

    def figure(self, name: str, fig: Figure, caption: str = "") -> str:
        """Save a matplotlib figure as ``name.png`` next to the page and show it."""
        plt = pyplot()
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
) -> Figure:
    """Grouped vertical bars: one group per category, one bar per series, values written on top."""
    plt = pyplot()
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
) -> Figure:
    """One small histogram per key (domain), sharing the x axis.

    ``overlay`` draws several named series per key instead (e.g. guided and unguided).
    """
    plt = pyplot()
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
) -> Figure:
    """Accuracy matrix (rows x cols, values 0..1) with the numbers written in the cells."""
    plt = pyplot()
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
