"""``AnnotateOptions``: ``gdr annotate``'s flags as a Beam ``PipelineOptions`` subclass.

The flags are not declared here: :func:`beam_pipeline.settings.add_flags` generates them
from ``AnnotateConfig``'s fields. Registering them with Beam means they travel with the job's
options (visible in the Dataflow/Flink UI, and what a Flex Template's parameters map to).
"""

from __future__ import annotations

import argparse

from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

from beam_pipeline.config import AnnotateConfig
from beam_pipeline.settings import add_flags


class AnnotateOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        add_flags(parser, AnnotateConfig)


def unknown_flags(argv: list[str]) -> list[str]:
    """Flags left over after a command's own parser that no Beam options class knows (typos).

    The app's own options class is left out: a flag a command did not take (``--pairing`` given
    to ``gdr evaluate``) is unknown to that command, not a pipeline option.
    """
    parser = _BeamArgumentParser(allow_abbrev=False)
    seen = {}
    for cls in PipelineOptions.__subclasses__():
        if cls is not AnnotateOptions:
            seen.setdefault(str(cls), cls)
    for cls in seen.values():
        cls._add_argparse_args(parser)
    _, unknown = parser.parse_known_args(argv)
    return [a for a in unknown if a.startswith("-")]
