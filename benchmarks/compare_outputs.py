"""Compare the rows two gdr runs wrote (e.g. before and after a refactor): same rows or not.

Usage: ``python benchmarks/compare_outputs.py BEFORE AFTER [TABLE ...]`` where BEFORE and AFTER
are folders holding the same runs' outputs (default tables: ``annotate/scores``,
``annotate/pairs``, ``annotate/candidates``, ``evaluate/results``, ``sweep/model_scores``).

Rows are matched by their lineage (prompt id, source, response index, setting, model, router);
on the columns both sides have, text and integers must be equal and floats within ``--tol``
(default 1e-4: float32 batches of different composition — Beam batches adaptively — differ by
noise, as the engine's own tests allow). Columns only one side has are listed, not compared.
Exit status 0 when every table matches.
"""

from __future__ import annotations

import argparse
import glob
import sys

import pyarrow.parquet as pq

TABLES = ("annotate/scores", "annotate/pairs", "annotate/candidates", "evaluate/results", "sweep/model_scores")
LAUNCH_SPECIFIC = {"attempt", "scored_on"}
LINEAGE = (
    "prompt_id",
    "source",
    "response_index",
    "setting",
    "model",
    "pair_id",
    "example_id",
    "router",
    "chosen_response_index",
    "rejected_response_index",
)


def rows(root: str, table: str) -> list[dict]:
    out: list[dict] = []
    for f in sorted(glob.glob(f"{root}/{table}/**/*.parquet", recursive=True)):
        out += pq.read_table(f).to_pylist()
    return out


def compare(before: str, after: str, table: str, tol: float) -> bool:
    ra, rb = rows(before, table), rows(after, table)
    if not ra or not rb:
        print(f"{table:20} missing rows: {len(ra)} before, {len(rb)} after")
        return False
    common = sorted((set(ra[0]) & set(rb[0])) - LAUNCH_SPECIFIC)
    key_cols = [k for k in LINEAGE if k in common]
    ka = {tuple(str(r[k]) for k in key_cols): r for r in ra}
    kb = {tuple(str(r[k]) for k in key_cols): r for r in rb}
    same_keys = set(ka) == set(kb) and len(ka) == len(ra) == len(rb)
    worst, differing = 0.0, set()
    for k in ka.keys() & kb.keys():
        for c in common:
            x, y = ka[k][c], kb[k][c]
            if isinstance(x, float) and isinstance(y, float):
                worst = max(worst, abs(x - y))
                if abs(x - y) > tol:
                    differing.add(c)
            elif x != y:
                differing.add(c)
    only = sorted(set(ra[0]) ^ set(rb[0]))
    print(
        f"{table:20} {len(ra)} vs {len(rb)} rows; same lineage keys: {same_keys}; {len(common)} common columns "
        f"equal (floats within {tol:g}; largest difference {worst:.1e}): {not differing}"
        + (f"; differing: {sorted(differing)}" if differing else "")
        + (f"; on one side only: {only}" if only else "")
    )
    return same_keys and not differing


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("tables", nargs="*", default=list(TABLES))
    p.add_argument("--tol", type=float, default=1e-4)
    args = p.parse_args(argv)
    ok = all([compare(args.before, args.after, t, args.tol) for t in args.tables])
    print("SAME ROWS" if ok else "DIFFERENCES")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
