"""One launcher for every command that runs a Beam job: ``gdr annotate``, ``evaluate``, ``sweep``.

:func:`launch` is the whole life of a command: parse the flags its config class declares
(``beam_pipeline.settings``), reject unknown ones, set up the job's filesystems, validate,
say in the first log line which models run (and whether they are the default pair), run the
job, print the summary, and turn failures into one line and an exit status — 2 for
something the user can fix before running, 1 for a job that ran and failed. The commands
differ only in their :class:`Command`: the config class, the job (graph + how its results
are published) and the summary.

How results are published is the job's business: ``annotate`` publishes inside the job
(``PublishRun``, behind a run lock; ``beam_pipeline.run.execute``); ``evaluate`` and
``sweep`` run staged and swap their tables in only when the job succeeded
(:func:`run_staged_job`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipeline.gcs import configure_filesystems
from beam_pipeline.options import unknown_flags
from beam_pipeline.run_lock import LockHeld
from beam_pipeline.settings import ConfigError, add_flags, from_args

log = logging.getLogger("gdr")


class UserError(Exception):
    """Printed as ``gdr: error: <message>`` with exit status 2."""


class JobFailed(RuntimeError):
    """The job ran and failed, or was refused publishing: ``gdr: run failed: <message>``, exit 1."""


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("gdr", "transforms", "beam_pipeline"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.INFO)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def first_line(exc: BaseException) -> str:
    """The message a user can act on, out of a runner's wrapped traceback."""
    text = str(exc)
    for marker in ("ModelLoadFailed: ", "RunRefused: ", "ModelStoreError: "):
        if marker in text:
            return text.rsplit(marker, 1)[1].splitlines()[0].strip().rstrip("'\" ]")
    return (text.strip().splitlines() or [type(exc).__name__])[-1][:500]


@dataclass(frozen=True)
class Command:
    """What makes one command different from the others."""

    name: str  # "annotate": prog "gdr annotate"
    description: str
    config_cls: type  # a dataclass mixing the setting groups it takes
    run_job: Callable[[Any, list[str]], Any]  # (validated config, Beam args) -> result for summarise
    summarise: Callable[[Any, Any], None]  # (result, config) -> prints the summary
    beam_args: Callable[[list[str], list[str]], list[str]] = lambda argv, rest: rest  # what Beam gets
    extra: Callable[[argparse.Namespace], dict[str, Any]] | None = None  # config values parsed by hand
    extra_flags: Callable[[argparse.ArgumentParser], None] | None = None  # flags parsed by hand
    failed_suffix: Callable[[Any], str] = lambda config: ""  # appended to "gdr: run failed: ..."

    def parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog=f"gdr {self.name}", description=self.description, allow_abbrev=False)
        add_flags(parser, self.config_cls)
        if self.extra_flags:
            self.extra_flags(parser)
        parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
        return parser


def parse_command(command: Command, argv: Sequence[str]) -> tuple[Any, list[str]]:
    """``(config, Beam args)`` from a command line; unknown flags are a :class:`UserError`."""
    known, rest = command.parser().parse_known_args(list(argv))
    unknown = unknown_flags(rest)
    if unknown:
        raise UserError(f"unknown flag(s): {' '.join(unknown)} (see gdr {command.name} --help)")
    extra = command.extra(known) if command.extra else {}
    return from_args(command.config_cls, known, **extra), command.beam_args(list(argv), rest)


def launch(command: Command, argv: Sequence[str] | None = None) -> int:
    """Run ``command`` on ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    argv = [a for a in (sys.argv[1:] if argv is None else argv)]
    setup_logging("-v" in argv or "--verbose" in argv)
    argv = [a for a in argv if a not in ("-v", "--verbose")]
    config = None
    try:
        config, beam_args = parse_command(command, argv)
        # validate() already lists gs:// inputs and outputs: set up storage access first.
        options = configure_filesystems(PipelineOptions(beam_args))
        config.validate(options)
        if hasattr(config, "models_line") and getattr(config, "strong", None):
            log.info("gdr %s: %s", command.name, config.models_line())
        result = command.run_job(config, beam_args)
    except (UserError, ConfigError, LockHeld) as exc:
        print(f"gdr: error: {exc}", file=sys.stderr)
        return 2
    except JobFailed as exc:
        print(f"gdr: run failed: {exc}{command.failed_suffix(config)}", file=sys.stderr)
        return 1
    command.summarise(result, config)
    return 0


def run_staged_job(build: Callable, config: Any, beam_args: list[str], tables: Sequence[str]) -> Any:
    """Run ``build``'s graph under a staging copy of the output; swap ``tables`` in only on success.

    A job that fails leaves the previous results as they were and becomes :class:`JobFailed`.
    """
    from beam_pipeline.staged_run import run_staged

    try:
        return run_staged(build, config, beam_args, tables)
    except (UserError, ConfigError):
        raise
    except Exception as exc:
        raise JobFailed(first_line(exc)) from exc
