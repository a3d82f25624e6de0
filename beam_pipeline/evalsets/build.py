"""Build the v2 preference evaluation sets: ``python -m beam_pipeline.evalsets.build --out beam_pipeline/data/eval/``.

Writes ``dev_v2.jsonl`` and ``heldout_v2.jsonl`` (chat, safety and reasoning pairs; see
``beam_pipeline/data/eval/README.md``). The output is a pure function of this package: fixed
seeds, no clock, no network, so two builds are byte-identical and ``tests/test_evalsets.py``
checks that the shipped files equal a fresh build. Edit the builders, never the files.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from beam_pipeline.evalsets import chat, reasoning, safety
from beam_pipeline.evalsets.common import DOMAINS, SPLITS, BuildError

FILES = {"dev": "dev_v2.jsonl", "heldout": "heldout_v2.jsonl"}
BUILDERS: dict[str, Callable[[str], list[dict[str, Any]]]] = {
    "chat": chat.build,
    "safety": safety.build,
    "reasoning": reasoning.build,
}
EVAL_DIR = Path(__file__).resolve().parents[1] / "data" / "eval"
V1_FILES = ("dev.jsonl", "heldout.jsonl")  # the hand-written sets: v2 must not repeat their prompts


def build_split(split: str) -> list[dict[str, Any]]:
    """Every record of one split, domain by domain."""
    return [rec for domain in DOMAINS for rec in BUILDERS[domain](split)]


def prompt_key(prompt: Any) -> str:
    return prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True)


def build_all() -> dict[str, list[dict[str, Any]]]:
    """Both splits, checked: no prompt in both splits, none repeated from the hand-written v1 sets."""
    sets = {split: build_split(split) for split in SPLITS}
    shared = {prompt_key(r["prompt"]) for r in sets["dev"]} & {prompt_key(r["prompt"]) for r in sets["heldout"]}
    if shared:
        raise BuildError(f"{len(shared)} prompt(s) in both dev and held-out, e.g. {sorted(shared)[0]!r}")
    ours = {prompt_key(r["prompt"]) for records in sets.values() for r in records}
    for name in V1_FILES:
        path = EVAL_DIR / name
        if path.exists():
            old = {prompt_key(json.loads(line)["prompt"]) for line in path.read_text("utf-8").splitlines() if line}
            if old & ours:
                raise BuildError(f"v2 repeats {len(old & ours)} prompt(s) of {name}, e.g. {sorted(old & ours)[0]!r}")
    return sets


def to_jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def summary(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per domain: pairs, pairs per subset, and the share where the chosen response is the longer one."""
    out: dict[str, dict[str, Any]] = {}
    for domain in DOMAINS:
        rows = [r for r in records if r["domain"] == domain]
        longer = sum(1 for r in rows if r["chosen_is_longer"])
        out[domain] = {
            "pairs": len(rows),
            "subsets": dict(sorted(Counter(r["subset"] for r in rows).items())),
            "chosen_longer": longer,
            "chosen_longer_share": round(longer / len(rows), 4) if rows else None,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m beam_pipeline.evalsets.build",
        description="Build dev_v2.jsonl and heldout_v2.jsonl (deterministic; see beam_pipeline/data/eval/README.md).",
    )
    parser.add_argument("--out", required=True, help="folder to write the two files into")
    parser.add_argument("--check", action="store_true", help="only compare a fresh build with the files in --out")
    args = parser.parse_args(argv)
    out = Path(args.out)
    sets = build_all()
    stale = []
    for split, records in sets.items():
        path = out / FILES[split]
        data = to_jsonl(records)
        if args.check:
            if not path.exists() or path.read_bytes() != data:
                stale.append(str(path))
        else:
            out.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        print(f"{path}: {len(records)} pairs, {len(data) / 1e6:.2f} MB")
        for domain, s in summary(records).items():
            print(f"  {domain}: {s['pairs']} pairs {s['subsets']}, chosen longer {s['chosen_longer_share']:.1%}")
    if stale:
        print(f"out of date (rebuild with --out {args.out}): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
