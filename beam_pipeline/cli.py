"""``gdr`` command line: ``gdr annotate ...`` (more subcommands come with later work)."""

from __future__ import annotations

import sys

USAGE = """usage: gdr <command> [options]

commands:
  annotate         score a prompt-response corpus and write preference pairs (gdr annotate --help)
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
    if command == "build-tiny-pair":
        return _build_tiny_pair(rest)
    print(f"gdr: error: unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
