"""``AnnotateOptions``: the app's flags as a Beam ``PipelineOptions`` subclass.

Registering them with Beam means they travel with the job's options (visible in the
Dataflow/Flink UI) and ``PipelineOptions.view_as(AnnotateOptions)`` reads them; the
launcher also uses the same definitions for ``--help`` and to reject unknown flags.
"""

from __future__ import annotations

import argparse

from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

from beam_pipeline.config import DEVICE_CHOICES, DTYPE_CHOICES, REWARDS
from transforms.pairing import PAIRING_STRATEGIES
from transforms.routers import ROUTER_KINDS


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _shards(text: str) -> int | str:
    """``auto`` or a positive integer (files per partition)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return _positive_int(text)
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"must be 'auto' or a positive integer, got {text}") from None


class AnnotateOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser: argparse.ArgumentParser) -> None:
        g = parser.add_argument_group("annotation")
        g.add_argument(
            "--input",
            action="extend",
            nargs="+",
            default=None,
            help="input files: paths, globs, local or gs://; .jsonl[.gz] or .parquet (repeatable)",
        )
        g.add_argument("--output", default=None, help="output root (local or gs://); tables go under it")
        g.add_argument(
            "--strong",
            default=None,
            help="better-aligned causal LM: local or gs:// folder, registry name, or hub id (org/name@revision)",
        )
        g.add_argument(
            "--weak", default=None, help="less-aligned causal LM (e.g. the SFT/base model): same forms as --strong"
        )
        g.add_argument(
            "--guides",
            default="builtin",
            help="guide folder of *.yaml files, 'builtin' (default) or 'none' (unguided density ratio)",
        )
        g.add_argument(
            "--router",
            default="embedding",
            choices=ROUTER_KINDS,
            help="domain router: embedding (nearest labelled examples on the router model's hidden states; default), "
            "llm (zero-shot label likelihoods), keyword, or column (record's domain)",
        )
        g.add_argument(
            "--router-model",
            dest="router_model",
            default=None,
            help="model the embedding and llm routers use (default: the strong model, sharing its loaded copy)",
        )
        g.add_argument(
            "--router-threshold",
            dest="router_threshold",
            type=float,
            default=0.5,
            help="embedding and llm routers: below this confidence, use --default-domain (default 0.5)",
        )
        g.add_argument(
            "--router-examples",
            dest="router_examples",
            default=None,
            help="JSONL of {prompt, domain} records the embedding router learns from, added to the guides' examples",
        )
        g.add_argument(
            "--default-domain",
            dest="default_domain",
            default="chat",
            help="domain for prompts the router cannot place (default chat)",
        )
        g.add_argument(
            "--reward",
            default="sum",
            choices=REWARDS,
            help="rank by summed log-ratio (sum, the paper's) or per-token mean (mean)",
        )
        g.add_argument(
            "--pairing",
            default="best-worst",
            choices=PAIRING_STRATEGIES,
            help="best-worst (default), best-random (seeded), or all pairs above --min-margin",
        )
        g.add_argument(
            "--min-margin",
            dest="min_margin",
            type=float,
            default=0.0,
            help="smallest reward margin for a pair (default 0)",
        )
        g.add_argument("--seed", type=int, default=0, help="seed for best-random pairing and for --generate's sampling")
        g.add_argument(
            "--run-date",
            dest="run_date",
            default=None,
            help="partition date YYYY-MM-DD (default: today, UTC); rerunning a date replaces it",
        )
        g.add_argument(
            "--max-tokens",
            dest="max_tokens",
            type=_positive_int,
            default=None,
            help="dead-letter sequences longer than this (default: the model's context length)",
        )
        g.add_argument(
            "--batch-tokens",
            dest="batch_tokens",
            type=_positive_int,
            default=8192,
            help="padded tokens per forward batch (default 8192)",
        )
        g.add_argument(
            "--dtype",
            default="auto",
            choices=DTYPE_CHOICES,
            help="model dtype; auto = bf16/fp16 on GPU, float32 on CPU",
        )
        g.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="auto, cpu or cuda")
        g.add_argument(
            "--output-shards",
            dest="output_shards",
            type=_shards,
            default="auto",
            help="files per partition: auto (default; as many as --output-file-mb asks for) or a fixed number",
        )
        g.add_argument(
            "--output-file-mb",
            dest="output_file_mb",
            type=_positive_float,
            default=128.0,
            help="with --output-shards auto: target size of each Parquet or dead-letter file in MB (default 128)",
        )
        c = parser.add_argument_group("cluster")
        c.add_argument(
            "--no-wait",
            dest="no_wait",
            action="store_true",
            help="submit the job and return without waiting (Flex Template launchers); the job publishes itself",
        )
        c.add_argument(
            "--break-lock",
            dest="break_lock",
            action="store_true",
            help="take over the run lock of OUTPUT and --run-date left by a run that died (check it is not running)",
        )
        c.add_argument(
            "--max-dead-letter-fraction",
            dest="max_dead_letter_fraction",
            type=float,
            default=0.05,
            help="fail the run, publishing nothing, when more than this share of the records or of the "
            "candidates is dead-lettered (default 0.05)",
        )
        c.add_argument(
            "--model-copies",
            dest="model_copies",
            type=_positive_int,
            default=None,
            help="copies of each model per worker machine, shared by all its SDK processes "
            "(default: the number of visible GPUs, 1 on CPU)",
        )
        c.add_argument(
            "--accelerator-hint",
            dest="accelerator_hint",
            default=None,
            help="Beam resource hint for the routing and scoring steps only, e.g. "
            "'type:nvidia-l4;count:1;install-nvidia-driver'; reading, joining and writing stay on CPU workers",
        )
        g.add_argument(
            "--score-retries",
            dest="score_retries",
            type=int,
            default=2,
            help="retries of a failed scoring batch before its candidates are dead-lettered",
        )
        g.add_argument(
            "--trust-remote-code",
            dest="trust_remote_code",
            action="store_true",
            help="allow model repos to run their own code (off by default)",
        )
        g.add_argument(
            "--pair",
            default=None,
            help="a named model pair from the registry (gdr prepare-models --list); --strong/--weak override it",
        )
        g.add_argument(
            "--rescore",
            action="store_true",
            help="score everything again instead of reusing published scores with the same content key",
        )
        gen = parser.add_argument_group("on-policy candidates")
        gen.add_argument(
            "--generate",
            type=int,
            default=0,
            help="sample N responses per prompt-only record (no 'responses') from --policy; 0 (default) is off",
        )
        gen.add_argument(
            "--policy",
            default=None,
            help="model to sample from, same forms as --strong (default: the strong model, sharing its loaded copy)",
        )
        gen.add_argument(
            "--top-up",
            dest="top_up",
            action="store_true",
            help="with --generate N: also sample for records that have responses, up to N candidates per prompt",
        )
        gen.add_argument("--temperature", type=float, default=1.0, help="sampling temperature; 0 is greedy (default 1)")
        gen.add_argument("--top-p", dest="top_p", type=float, default=1.0, help="nucleus sampling mass (default 1)")
        gen.add_argument(
            "--max-new-tokens",
            dest="max_new_tokens",
            type=_positive_int,
            default=512,
            help="longest sampled response in tokens (default 512); prompt + this must fit --max-tokens",
        )
        g.add_argument(
            "--allow-pickle",
            dest="allow_pickle",
            action="store_true",
            help="allow pickle weight files (.bin/.pt), which can run code when loaded",
        )


APP_FIELDS = (
    "input",
    "output",
    "strong",
    "weak",
    "guides",
    "router",
    "router_model",
    "router_threshold",
    "router_examples",
    "default_domain",
    "reward",
    "pairing",
    "min_margin",
    "seed",
    "run_date",
    "max_tokens",
    "batch_tokens",
    "dtype",
    "device",
    "output_shards",
    "output_file_mb",
    "score_retries",
    "trust_remote_code",
    "allow_pickle",
    "rescore",
    "pair",
    "no_wait",
    "break_lock",
    "max_dead_letter_fraction",
    "model_copies",
    "accelerator_hint",
    "generate",
    "policy",
    "top_up",
    "temperature",
    "top_p",
    "max_new_tokens",
)


def unknown_flags(argv: list[str]) -> list[str]:
    """Flags that neither the app nor any Beam options class knows (typos)."""
    parser = _BeamArgumentParser(allow_abbrev=False)
    seen = {}
    for cls in PipelineOptions.__subclasses__():
        seen.setdefault(str(cls), cls)
    for cls in seen.values():
        cls._add_argparse_args(parser)
    _, unknown = parser.parse_known_args(argv)
    return [a for a in unknown if a.startswith("-")]
