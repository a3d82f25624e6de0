"""``gdr`` command line: ``gdr annotate|evaluate|sweep|report ...``."""

from __future__ import annotations

import sys

USAGE = """usage: gdr <command> [options]

commands:
  annotate         score a prompt-response corpus and write preference pairs (gdr annotate --help)
  evaluate         accuracy of the reward (or the router) on labelled data (gdr evaluate --help)
  sweep            rank every model pair, with and without guides, on labelled pairs (gdr sweep --help)
  report           HTML report with plots for an annotation run: gdr report OUTPUT [--run-date D]
  publish          finish a publish a job left half-done: gdr publish --output O --run-date D
  prepare-models   prepare registry models offline into the cache: gdr prepare-models NAME|PAIR... (--list)
  build-tiny-pair  build the tiny offline demo model pair: gdr build-tiny-pair DIR [--family chatml|inst|base]
"""


def _build_tiny_pair(argv: list[str]) -> int:
    import argparse

    from transforms.engine.tiny_models import FAMILIES, ensure_tiny_pair

    parser = argparse.ArgumentParser(prog="gdr build-tiny-pair", description="Build the tiny random-weight demo pair.")
    parser.add_argument("directory")
    parser.add_argument("--family", default="chatml", choices=FAMILIES)
    args = parser.parse_args(argv)
    strong, weak = ensure_tiny_pair(args.directory, args.family)
    print(f"strong={strong}\nweak={weak}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "annotate":
        from beam_pipeline.run import run

        return run(rest)
    if command == "evaluate":
        from beam_pipeline.evaluate import run as evaluate

        return evaluate(rest)
    if command == "sweep":
        from beam_pipeline.sweep import run as sweep

        return sweep(rest)
    if command == "report":
        from beam_pipeline.report import main as report

        return report(rest)
    if command == "publish":
        from beam_pipeline.publish_step import publish_main

        return publish_main(rest)
    if command == "prepare-models":
        from beam_pipeline.prepare_cli import prepare_main

        return prepare_main(rest)
    if command == "build-tiny-pair":
        return _build_tiny_pair(rest)
    print(f"gdr: error: unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
