"""Dataflow Flex Template entry point: ``gdr annotate`` as the template launcher runs it.

The launcher (``FLEX_TEMPLATE_PYTHON_PY_FILE`` in deploy/Dockerfile) runs this file with
every template parameter as ``--name=value``, plus the Beam options Dataflow adds (runner,
project, region, staging and temp locations, ...). Two things differ from the command line:

* Template parameter names follow Dataflow's convention (``run_date``), while ``gdr annotate``
  spells its flags with dashes (``--run-date``); app flags are respelled here, Beam options
  are passed through untouched. Booleans arrive as ``--rescore=true``/``false``.
* The launcher VM must not wait for the job: ``--no-wait`` is always added, and the job
  publishes its own output as its final step.
"""

from __future__ import annotations

import argparse
import sys

TRUE = ("true", "1", "yes")
FALSE = ("false", "0", "no", "")


def _app_flags() -> tuple[dict[str, str], set[str]]:
    """Underscore spelling -> the app's option string, and the app's on/off (store_true) flags."""
    from beam_pipeline.run import annotate_parser

    spelling: dict[str, str] = {}
    switches: set[str] = set()
    for action in annotate_parser()._actions:
        for opt in action.option_strings:
            if not opt.startswith("--") or action.dest == "help":
                continue
            spelling["--" + opt[2:].replace("-", "_")] = opt
            if isinstance(action, argparse._StoreTrueAction):
                switches.add(opt)
    return spelling, switches


def to_app_args(argv: list[str]) -> list[str]:
    """Respell the app's flags from Dataflow's ``--name_with_underscores=value`` form.

    Anything that is not an app flag (Beam and Dataflow options) is returned unchanged.
    """
    spelling, switches = _app_flags()
    out: list[str] = []
    for arg in argv:
        name, eq, value = arg.partition("=")
        opt = spelling.get("--" + name[2:].replace("-", "_")) if name.startswith("--") else None
        if opt is None:
            out.append(arg)
        elif opt in switches:
            if not eq or value.strip().lower() in TRUE:
                out.append(opt)
            elif value.strip().lower() not in FALSE:
                raise SystemExit(f"gdr: error: {name} takes true or false, got {value!r}")
        else:
            out.append(f"{opt}={value}" if eq else opt)
    return out


def main(argv: list[str] | None = None) -> int:
    from beam_pipeline.run import run

    args = to_app_args(list(sys.argv[1:] if argv is None else argv))
    if "--no-wait" not in args:
        args.append("--no-wait")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
