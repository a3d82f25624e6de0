"""What ``gdr sweep`` makes of its per-model score rows: pair accuracies, rankings and their presentation.

``sweep_results`` forms every ordered pair (strong over weak) from the per-model log-probs
(``transforms.evaluation.sweep_pairs``) and ranks them per domain; the rest presents
``sweep.json``'s content: ``report.html`` (heat maps of pair x domain), ``sweep.md`` (accuracy
with 95 % intervals, split by length) and the printed summary.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from beam_pipeline.html_report import Report, heatmap, pct
from transforms.evaluation import accuracy_report, compare_reports, rank_pairs, sweep_pairs


def sweep_results(rows: list[dict[str, Any]], models: list[str], settings: list[str], reward: str) -> dict[str, Any]:
    """sweep.json's ``pairs`` and ``ranking`` from per-model score rows."""
    pairs: dict[str, dict[str, Any]] = {}
    ranking = {}
    for setting in settings:
        per_model: dict[str, dict[str, dict[str, Any]]] = {m: {} for m in models}
        meta: dict[str, dict[str, Any]] = {}
        for r in rows:
            if r["setting"] == setting and r["model"] in per_model:
                per_model[r["model"]][r["pair_id"]] = r
                meta[r["pair_id"]] = {
                    "domain": r["domain"],
                    "subset": r["subset"],
                    "chosen_longer": r.get("chosen_longer"),
                }
        reports = {}
        for (a, b), pair_rows in sweep_pairs(per_model, meta, reward).items():
            name = f"{a}>{b}"
            pairs.setdefault(name, {"strong": a, "weak": b})[setting] = accuracy_report(pair_rows)
            reports[name] = pairs[name][setting]
        ranking[setting] = rank_pairs(reports)
    if len(settings) == 2:
        for entry in pairs.values():
            entry["difference"] = compare_reports(entry["guided"], entry["unguided"])
    return {"pairs": pairs, "ranking": ranking}


def write_sweep_report(folder: str, sweep: dict[str, Any]) -> str:
    rep = Report(folder, "gdr sweep: model pairs × domains")
    settings = sweep["settings"]
    for setting in settings:
        best = sweep["ranking"][setting]["overall"][:1]
        if best:
            rep.stat(f"best pair ({setting})", pct(best[0]["accuracy"]), best[0]["pair"])
    rep.stat("models", str(len(sweep["models"])), f"{len(sweep['pairs'])} ordered pairs")
    rep.stat("labelled pairs", str(sweep["counts"]["labelled_pairs"]))
    rep.note(
        f"Reward {sweep['reward']}, router {sweep['router']}. A pair 'A>B' rewards log p_A − log p_B; "
        "accuracy is the share of labelled pairs with reward(chosen) > reward(rejected) (ties wrong); 50% is chance."
    )
    names = [e["pair"] for e in sweep["ranking"][settings[0]]["overall"]]
    domains = sorted({d for p in sweep["pairs"].values() for s in settings for d in p[s]["by_domain"]})
    cols = ["overall", *domains]
    for setting in settings:
        rep.heading(f"Accuracy, {setting}")

        def cell(name: str, d: str, key: str, s: str = setting):
            rep_ = sweep["pairs"][name][s]
            stats = rep_["overall"] if d == "overall" else rep_["by_domain"].get(d, {})
            return stats.get(key)

        rep.figure(
            f"heatmap_{setting}",
            heatmap(
                names,
                cols,
                [[cell(n, d, "accuracy") for d in cols] for n in names],
                f"Pair × domain accuracy ({setting})",
                [[cell(n, d, "n") or 0 for d in cols] for n in names],
            ),
            "Rows: strong>weak, best overall first (ranked on the first setting).",
        )
    if len(settings) == 2:
        rep.heading("What guides add (guided − unguided, points)")
        rep.table(
            ["pair", *cols],
            [
                [
                    n,
                    *[
                        (lambda v: "–" if v is None else f"{100 * v:+.1f}")(
                            sweep["pairs"][n]["difference"]["overall"]
                            if d == "overall"
                            else sweep["pairs"][n]["difference"]["by_domain"].get(d)
                        )
                        for d in cols
                    ],
                ]
                for n in names
            ],
        )
    rep.heading("Best pair per domain")
    rep.table(
        ["domain", *settings],
        [
            [
                d,
                *[
                    (lambda top: f"{top[0]['pair']} {pct(top[0]['accuracy'])} (n={top[0]['n']})" if top else "–")(
                        sweep["ranking"][s].get(d, [])
                    )
                    for s in settings
                ],
            ]
            for d in cols
        ],
    )
    return rep.write()


def _cell(stats: dict[str, Any] | None) -> str:
    """``61.3 (56.9–65.5)``: accuracy and its 95 % interval in points; ``–`` without pairs."""
    if not stats or not stats.get("n"):
        return "–"
    lo, hi = stats["ci95"]
    return f"{100 * stats['accuracy']:.1f} ({100 * lo:.1f}–{100 * hi:.1f})"


def sweep_markdown(sweep: dict[str, Any]) -> str:
    """sweep.md: per reward and guide setting, every pair's accuracy with 95 % intervals, per
    domain, and split by whether the chosen response is the longer one (a length artefact shows
    as a large gap between the last two columns)."""
    lines = [
        f"Labelled pairs: {sweep['counts']['labelled_pairs']}; router {sweep['router']}; "
        "accuracy in % with 95 % Wilson intervals; ties count as wrong; 50 % is chance.",
    ]
    rewards = [sweep["reward"], *[r for r in sweep["by_reward"] if r != sweep["reward"]]]
    for reward in rewards:
        result = sweep["by_reward"][reward]
        for setting in sweep["settings"]:
            order = [e["pair"] for e in result["ranking"][setting]["overall"]]
            domains = sorted({d for p in result["pairs"].values() for d in p[setting]["by_domain"]})
            lines += [
                "",
                f"### {setting}, {reward} reward",
                "",
                "| pair (strong > weak) | overall | " + " | ".join(domains) + " | chosen longer | chosen shorter |",
                "| --- " * (4 + len(domains)) + "|",
            ]
            for name in order:
                rep = result["pairs"][name][setting]
                split = rep.get("by_length") or {}
                cells = [_cell(rep["overall"]), *[_cell(rep["by_domain"].get(d)) for d in domains]]
                cells += [_cell(split.get("chosen_longer")), _cell(split.get("chosen_shorter"))]
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def print_sweep_summary(sweep: dict[str, Any], out: TextIO = sys.stdout) -> None:
    lines = [
        f"gdr sweep: {len(sweep['models'])} models, {len(sweep['pairs'])} pairs, "
        f"{sweep['counts']['labelled_pairs']} labelled pair(s) in {sweep['wall_time_s']:.1f}s, "
        f"{sweep['counts']['dead_letters']} dead letter(s)"
    ]
    for setting in sweep["settings"]:
        for d, entries in sweep["ranking"][setting].items():
            top = ", ".join(f"{e['pair']} {pct(e['accuracy'])}" for e in entries[:3])
            lines.append(f"  {setting:<9} {d:<12} n={entries[0]['n'] if entries else 0:<4} best: {top}")
    lines.append(f"  sweep       {sweep['paths']['sweep']}")
    lines.append(f"  table       {sweep['paths']['table']}")
    lines.append(f"  report      {sweep['paths']['report']}")
    print("\n".join(lines), file=out)
