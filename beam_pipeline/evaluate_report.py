"""What ``gdr evaluate`` makes of its result rows: metrics, ``report.html`` and the printed summary.

Pairs task: accuracy (``transforms.evaluation``) overall, per domain and per subset, for
each guide setting and, with ``--compare-guides``, their difference; the report adds
per-domain bars and margin histograms. Router task: one table of accuracy, recall per
domain, hard-case accuracy and prompts per second per router (routing time only: the model
load and the embedding router's one-off example pass and fit are excluded and reported apart),
plus a confusion matrix per router.

``dead_summary`` and ``write_json`` serve ``gdr sweep`` too.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from beam_pipeline.html_report import Report, bar_chart, histograms, pct, write_bytes
from transforms.evaluation import accuracy_report, compare_reports, router_report


def pair_metrics(rows: list[dict[str, Any]], settings: list[str]) -> dict[str, Any]:
    """evaluation.json's metric part: one accuracy report, or guided/unguided/difference."""
    reports = {s: accuracy_report(r for r in rows if r["setting"] == s) for s in settings}
    if len(settings) == 1:
        return {**reports[settings[0]], "setting": settings[0]}
    return {**reports, "difference": compare_reports(reports["guided"], reports["unguided"])}


def dead_summary(dead: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in dead:
        key = f"{e.get('stage')}: {e.get('reason')}"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def write_pairs_report(folder: str, evaluation: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """DIR/report.html: headline accuracy, per-domain bars (guided vs unguided), margin histograms, tables."""
    settings = evaluation["settings"]
    per = {s: (evaluation[s] if len(settings) > 1 else evaluation) for s in settings}
    rep = Report(folder, "gdr evaluate: reward accuracy on labelled pairs")
    for s in settings:
        o = per[s]["overall"]
        rep.stat(f"accuracy ({s})", pct(o["accuracy"]), f"{o['correct']} of {o['n']} pairs")
    if len(settings) > 1:
        d = evaluation["difference"]["overall"]
        rep.stat("guides add", "–" if d is None else f"{100 * d:+.1f} pts", "guided − unguided")
    rep.stat("dead letters", str(evaluation["counts"]["dead_letters"]))
    m = evaluation["models"]
    rep.note(
        f"strong {m['strong']} over weak {m['weak']}; reward {evaluation['reward']}; router {evaluation['router']}. "
        "Correct means reward(chosen) > reward(rejected) strictly (ties are wrong). Accuracy is per pair; "
        "'subset mean' weighs every subset equally (RewardBench-style); 50% is chance."
    )
    domains = sorted({d for s in settings for d in per[s]["by_domain"]})
    rep.heading("Accuracy per domain")
    if domains:
        rep.figure(
            "accuracy_by_domain",
            bar_chart(
                domains,
                {s: [per[s]["by_domain"].get(d, {}).get("accuracy") for d in domains] for s in settings},
                "Share of pairs where reward(chosen) > reward(rejected)",
                "accuracy",
                ylim=(0.0, 1.08),
                percent=True,
                reference=0.5,
            ),
        )
    header = ["domain", "n"] + [f"accuracy {s}" for s in settings] + [f"subset mean {s}" for s in settings]
    if len(settings) > 1:
        header.append("difference")
    table = []
    for d in domains:
        n = max(per[s]["by_domain"].get(d, {}).get("n", 0) for s in settings)
        line: list[Any] = [d, n]
        line += [pct(per[s]["by_domain"].get(d, {}).get("accuracy")) for s in settings]
        line += [pct(per[s]["by_domain"].get(d, {}).get("subset_mean")) for s in settings]
        if len(settings) > 1:
            diff = evaluation["difference"]["by_domain"].get(d)
            line.append("–" if diff is None else f"{100 * diff:+.1f} pts")
        table.append(line)
    rep.table(header, table)
    rep.heading("Reward margin: reward(chosen) − reward(rejected)")
    if rows:
        overlay = {
            d: {s: [r["margin"] for r in rows if r["domain"] == d and r["setting"] == s] for s in settings}
            for d in domains
        }
        rep.figure(
            "margin_by_domain",
            histograms({}, "reward(chosen) − reward(rejected) per pair", "margin", vline=0.0, overlay=overlay),
            "Right of the dashed line: the reward agrees with the label.",
        )
    subsets = sorted({k for s in settings for k in per[s]["by_subset"]})
    rep.heading("Per subset")
    rep.table(
        ["subset", "n"] + [f"accuracy {s}" for s in settings],
        [
            [k, max(per[s]["by_subset"].get(k, {}).get("n", 0) for s in settings)]
            + [pct(per[s]["by_subset"].get(k, {}).get("accuracy")) for s in settings]
            for k in subsets
        ],
    )
    if evaluation["dead_letter_reasons"]:
        rep.heading("Dead letters")
        rep.table(["reason", "count"], list(evaluation["dead_letter_reasons"].items()))
    return rep.write()


def router_table(evaluation: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """One row per router: accuracy, recall per domain, hard-case accuracy, prompts/s (the README's table)."""
    routers = evaluation["routers"]
    domains = sorted({d for r in routers.values() for d in r["recall"]})
    header = ["router", "accuracy", *[f"{d} recall" for d in domains], "hard cases", "prompts/s"]
    rows = []
    for name, r in routers.items():
        speed = r["prompts_per_s"]
        rows.append(
            [
                name,
                pct(r["accuracy"]),
                *[pct(r["recall"].get(d)) for d in domains],
                pct(r["hard_case_accuracy"]),
                "–" if speed is None else f"{speed:.1f}",
            ]
        )
    return header, rows


def write_router_report(folder: str, evaluation: dict[str, Any]) -> str:
    rep = Report(folder, "gdr evaluate: routers")
    for name, r in evaluation["routers"].items():
        rep.stat(f"{name} accuracy", pct(r["accuracy"]), f"{r['n']} prompts")
    rep.stat("dead letters", str(evaluation["counts"]["dead_letters"]))
    rep.note(
        f"router model {evaluation['router_model'] or 'none'}; every router routed the same prompts. "
        "Prompts/s counts routing time only (model load and the embedding router's example pass and fit excluded)."
    )
    header, rows = router_table(evaluation)
    rep.table(header, rows)
    routers = evaluation["routers"]
    domains = sorted({d for r in routers.values() for d in r["recall"]})
    if domains:
        rep.figure(
            "recall_by_domain",
            bar_chart(
                domains,
                {name: [r["recall"].get(d) for d in domains] for name, r in routers.items()},
                "Recall per true domain",
                "recall",
                ylim=(0.0, 1.08),
                percent=True,
            ),
        )
    cases = sorted({c for r in routers.values() for c in r["by_case"]})
    if cases:
        rep.heading("Accuracy per case (hard-case tags of the router set)")
        rep.table(
            ["case", "n", *routers],
            [
                [c, max(r["by_case"].get(c, {}).get("n", 0) for r in routers.values())]
                + [pct(r["by_case"].get(c, {}).get("accuracy")) for r in routers.values()]
                for c in cases
            ],
        )
    for name, r in routers.items():
        labels = list(r["confusion"])
        rep.heading(f"{name}: confusion matrix (rows: true domain, columns: routed)")
        rep.table(["true \\ routed", *labels], [[t, *[r["confusion"][t][p] for p in labels]] for t in labels])
    return rep.write()


def print_pairs_summary(evaluation: dict[str, Any], out: TextIO = sys.stdout) -> None:
    settings = evaluation["settings"]
    per = {s: (evaluation[s] if len(settings) > 1 else evaluation) for s in settings}
    lines = [
        f"gdr evaluate: {evaluation['counts']['pairs_evaluated']} pair(s) scored in {evaluation['wall_time_s']:.1f}s, "
        f"{evaluation['counts']['dead_letters']} dead letter(s)"
    ]
    for s in settings:
        o = per[s]["overall"]
        lines.append(f"  {s:<9} accuracy {pct(o['accuracy'])} ({o['correct']}/{o['n']})")
    domains = sorted({d for s in settings for d in per[s]["by_domain"]})
    for d in domains:
        parts = [f"{s} {pct(per[s]['by_domain'].get(d, {}).get('accuracy'))}" for s in settings]
        n = max(per[s]["by_domain"].get(d, {}).get("n", 0) for s in settings)
        diff = evaluation.get("difference", {}).get("by_domain", {}).get(d)
        extra = "" if diff is None else f"  ({100 * diff:+.1f} pts)"
        lines.append(f"  {d:<12} n={n:<4} " + ", ".join(parts) + extra)
    lines.append(f"  evaluation  {evaluation['paths']['evaluation']}")
    lines.append(f"  report      {evaluation['paths']['report']}")
    print("\n".join(lines), file=out)


# Cases in the router sets that are not hard: everything else counts towards "hard cases".
PLAIN_CASES = ("plain", None)


def router_metrics(rows: list[dict[str, Any]], seconds: float | None) -> dict[str, Any]:
    """One router's report: accuracy, recall, confusion, accuracy per case, prompts/s."""
    report = router_report((r["label_domain"], r["routed_domain"]) for r in rows)
    by_case: dict[str, dict[str, Any]] = {}
    for case in sorted({r["case"] for r in rows if r["case"]}):
        sub = [r for r in rows if r["case"] == case]
        by_case[case] = {
            "n": len(sub),
            "accuracy": sum(r["label_domain"] == r["routed_domain"] for r in sub) / len(sub),
        }
    hard = [r for r in rows if r["case"] not in PLAIN_CASES]
    report["by_case"] = by_case
    report["hard_case_accuracy"] = (
        sum(r["label_domain"] == r["routed_domain"] for r in hard) / len(hard) if hard else None
    )
    report["route_seconds"] = None if seconds is None else round(seconds, 3)
    report["prompts_per_s"] = round(len(rows) / seconds, 2) if seconds and rows else None
    return report


def print_router_summary(evaluation: dict[str, Any], out: TextIO | None = None) -> None:
    header, rows = router_table(evaluation)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    lines = [f"gdr evaluate --task router: {evaluation['n']} prompt(s), router model {evaluation['router_model']}"]
    for line in [header, *rows]:
        lines.append("  " + "  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip())
    lines.append(f"  evaluation  {evaluation['paths']['evaluation']}")
    lines.append(f"  report      {evaluation['paths']['report']}")
    print("\n".join(lines), file=out or sys.stdout)


def write_json(path: str, obj: Any) -> None:
    write_bytes(path, (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode("utf-8"))
