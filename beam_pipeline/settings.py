"""Every flag of ``gdr annotate``, ``evaluate`` and ``sweep``, declared once.

A flag is a dataclass field made with :func:`flag`: its type (the annotation), default,
help, argparse parser, choices and a simple check live on that one line. Fields are grouped
by concern into small dataclasses (:class:`InputOutput`, :class:`PairChoice`, :class:`ModelLoading`,
:class:`Routing`, :class:`Scoring`, :class:`Pairing`, :class:`Publishing`, :class:`Cluster`,
:class:`Generation`, :class:`EvaluateTask`, :class:`SweepModels`) that each command's config
class mixes in, so ``config.strong`` stays a plain attribute. Everything else is generated
from the declarations:

* the argparse flags of a command and the Beam ``PipelineOptions`` (:func:`add_flags`);
* the config built from parsed flags (:func:`from_args`) and the manifest's settings
  (:func:`flag_values`);
* the per-flag checks (:func:`check_flags`), run before any cross-flag validation.

Adding a flag is one :func:`flag` line in its group plus its test.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from transforms.pairing import PAIRING_STRATEGIES
from transforms.reward import REWARDS
from transforms.routers import ROUTER_KINDS

DTYPE_CHOICES = ("auto", "float32", "bfloat16", "float16")
DEVICE_CHOICES = ("auto", "cpu", "cuda")
TASKS = ("pairs", "router")

_META = "gdr_flag"


class ConfigError(ValueError):
    """A configuration problem the user can fix (printed as one line)."""


@dataclass(frozen=True)
class FlagSpec:
    """How one setting appears on the command line and how it is checked on its own."""

    help: str
    parse: Callable[[str], Any] | None = None  # argparse ``type``
    choices: tuple[Any, ...] | None = None
    action: str | None = None  # store_true | extend | append
    nargs: str | None = None
    check: Callable[[Any], str | None] | None = None  # value -> problem (None: fine); skipped for None values


def flag(default: Any, help: str, **spec: Any) -> Any:
    """A dataclass field that is also a command-line flag (``--name-with-dashes``)."""
    return field(default=default, metadata={_META: FlagSpec(help, **spec)})


# -- parsers and checks shared by several flags ---------------------------------------------


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def shards(text: str) -> int | str:
    """``auto`` or a positive integer (files per partition)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return positive_int(text)
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"must be 'auto' or a positive integer, got {text}") from None


def _between(lo: float, hi: float) -> Callable[[float], str | None]:
    return lambda v: None if lo <= v <= hi else f"must be between {lo:g} and {hi:g}, got {v}"


def _at_least(lo: float) -> Callable[[float], str | None]:
    return lambda v: None if v >= lo else f"must be >= {lo:g}, got {v}"


def _iso_date(text: str) -> str | None:
    try:
        if len(text) == 10 and dt.date.fromisoformat(text):
            return None
    except ValueError:
        pass
    return f"must be a valid date YYYY-MM-DD, got {text!r}"


def _shards_value(v: Any) -> str | None:
    return (
        None if v == "auto" or (isinstance(v, int) and v >= 1) else f"must be 'auto' or a positive integer, got {v!r}"
    )


# -- the groups ---------------------------------------------------------------------------------


@dataclass
class InputOutput:
    """input and output"""

    input: list[str] | None = flag(
        None,
        "input files: paths, globs, local or gs://; .jsonl[.gz] or .parquet (repeatable)",
        action="extend",
        nargs="+",
    )
    output: str | None = flag(None, "output root (local or gs://); tables go under it")
    input_files: list[tuple[str, int]] = field(default_factory=list, repr=False)  # (path, bytes), expanded

    def check_input_output(self) -> None:
        """Both given, every input pattern matches (checked before any model: preparing one takes minutes)."""
        from transforms.io import expand_patterns

        missing = [option_name(n) for n in ("input", "output") if not getattr(self, n)]
        if missing:
            raise ConfigError(f"missing required flag(s): {', '.join(missing)}")
        files, unmatched = expand_patterns(self.input)
        if unmatched:
            raise ConfigError(f"--input matched no files: {', '.join(unmatched)}")
        self.input_files = files


@dataclass
class PairChoice:
    """models"""

    pair: str | None = flag(
        None,
        "a named model pair from the registry (gdr prepare-models --list); --strong/--weak override it; "
        "with no --pair, --strong or --weak the registry's default pair is used",
    )
    strong: str | None = flag(
        None, "better-aligned causal LM: local or gs:// folder, registry name, or hub id (org/name@revision)"
    )
    weak: str | None = flag(None, "less-aligned causal LM (e.g. the SFT/base model): same forms as --strong")
    # Set by choose_models(): the registry pair used because no model was given.
    default_pair_used: str | None = field(default=None, repr=False)

    def choose_models(self, required: bool = True) -> None:
        """One rule for every command: ``--pair`` fills strong and weak (``--strong``/``--weak``
        override a member); no model at all means the registry's default pair; one of
        ``--strong``/``--weak`` alone is an error."""
        from beam_pipeline.config import default_pair, pair_members

        if not (self.pair or self.strong or self.weak) and required:
            self.pair = self.default_pair_used = default_pair()
        if self.pair:
            strong, weak = pair_members(self.pair)
            self.strong, self.weak = self.strong or strong, self.weak or weak
        if required and not (self.strong and self.weak):
            raise ConfigError("give --pair NAME or both --strong and --weak")

    def models_line(self) -> str:
        """The first log line's account of which models run (and why, for the default pair)."""
        why = (
            f" (the registry's default pair {self.default_pair_used}; choose with --pair or --strong/--weak)"
            if self.default_pair_used
            else (f" (pair {self.pair})" if self.pair else "")
        )
        return f"strong={self.strong} weak={self.weak}{why}"


@dataclass
class ModelLoading:
    """model loading"""

    dtype: str = flag("auto", "model dtype; auto = bf16 on GPU, float32 on CPU", choices=DTYPE_CHOICES)
    device: str = flag("auto", "auto, cpu or cuda", choices=DEVICE_CHOICES)
    batch_tokens: int = flag(
        8192, "padded tokens per forward batch (default 8192)", parse=positive_int, check=_at_least(1)
    )
    max_tokens: int | None = flag(
        None,
        "dead-letter sequences longer than this (default: the model's context length)",
        parse=positive_int,
        check=_at_least(2),
    )
    trust_remote_code: bool = flag(
        False, "allow model repos to run their own code (off by default)", action="store_true"
    )
    allow_pickle: bool = flag(
        False, "allow pickle weight files (.bin/.pt), which can run code when loaded", action="store_true"
    )

    def model_settings(self, name: str) -> Any:
        """How a worker loads model ``name`` under these flags (annotate adds fingerprints and compute)."""
        from beam_pipeline.config import model_settings_for

        return model_settings_for(self, name)


@dataclass
class Routing:
    """guides and routing"""

    guides: str = flag(
        "builtin", "guide folder of *.yaml files, 'builtin' (default) or 'none' (unguided density ratio)"
    )
    router: str = flag(
        "embedding",
        "domain router: embedding (nearest labelled examples on the router model's hidden states; default), "
        "llm (zero-shot label likelihoods), keyword, or column (record's domain)",
        choices=ROUTER_KINDS,
    )
    router_model: str | None = flag(
        None, "model the embedding and llm routers use (default: the strong model, sharing its loaded copy)"
    )
    router_threshold: float = flag(
        0.5,
        "embedding and llm routers: below this confidence, use --default-domain (default 0.5)",
        parse=float,
        check=_between(0.0, 1.0),
    )
    router_examples: str | None = flag(
        None,
        "JSONL of {prompt, domain} records the embedding router learns from, added to the guides' examples",
    )
    default_domain: str = flag("chat", "domain for prompts the router cannot place (default chat)")
    guide_set: dict[str, Any] | None = field(default=None, repr=False)  # loaded guides; None for --guides none
    router_example_set: tuple[Any, ...] = field(default=(), repr=False)  # the embedding router's extra examples

    def router_settings(self, fallback: str | None, router: str | None = None) -> Any:
        """A model router's model (``--router-model``, else ``fallback``); None for other routers."""
        from transforms.routers import MODEL_ROUTERS

        if (router or self.router) not in MODEL_ROUTERS or self.guide_set is None:
            return None
        return self.model_settings(self.router_model or fallback)

    def check_routing(self, uses_embedding: bool) -> None:
        """Load the guides and the router's labelled examples; every label must make a valid partition."""
        from guides import GuideError, load_guides, routing_examples
        from transforms.io import partition_value_problem
        from transforms.routers import RouterExamplesError, check_router_examples

        # Labels that do not come from records become partition folders too: check them before any work.
        problem = partition_value_problem("domain", self.default_domain)
        if problem:
            raise ConfigError(f"--default-domain: {problem}")
        if self.guides == "none":
            self.guide_set = None
            return
        try:
            guides = load_guides(None if self.guides == "builtin" else self.guides)
        except GuideError as exc:
            raise ConfigError(str(exc)) from None
        for name in guides:
            problem = partition_value_problem("domain", name)
            if problem:
                raise ConfigError(f"guide {name[:40]!r}: {problem}")
        if self.default_domain not in guides:
            raise ConfigError(f"--default-domain {self.default_domain!r} has no guide (guides: {', '.join(guides)})")
        self.guide_set = guides
        try:
            self.router_example_set = routing_examples(self.guides, guides, self.router_examples)
            if uses_embedding:
                check_router_examples(guides, self.router_example_set)
        except (GuideError, RouterExamplesError) as exc:
            raise ConfigError(str(exc)) from None


@dataclass
class Scoring:
    """scoring"""

    reward: str | None = flag(
        None,
        "rank by summed log-ratio (sum, the paper's) or per-token mean (mean); default: the reward the model "
        "registry records as the pair's measured best, else sum",
        choices=REWARDS,
    )
    score_retries: int = flag(
        2, "retries of a failed scoring batch before its candidates are dead-lettered", parse=int, check=_at_least(0)
    )

    @property
    def reward_key(self) -> str:
        """Which stored reward ranks: the summed one or the per-token mean."""
        return "reward_mean" if self.reward == "mean" else "reward"

    def choose_reward(self, pair: str | None) -> None:
        """``--reward`` as given, else the registry pair's measured best, else the paper's sum."""
        if self.reward is None:
            from beam_pipeline.config import pair_default_reward

            self.reward = pair_default_reward(pair) or "sum"


@dataclass
class Pairing:
    """pairs"""

    pairing: str = flag(
        "best-worst",
        "best-worst (default), best-random (seeded), or all pairs above --min-margin",
        choices=PAIRING_STRATEGIES,
    )
    min_margin: float = flag(0.0, "smallest reward margin for a pair (default 0)", parse=float, check=_at_least(0))
    seed: int = flag(0, "seed for best-random pairing and for --generate's sampling", parse=int)


@dataclass
class Publishing:
    """output and publishing"""

    run_date: str | None = flag(
        None, "partition date YYYY-MM-DD (default: today, UTC); rerunning a date replaces it", check=_iso_date
    )
    rescore: bool = flag(
        False,
        "score everything again instead of reusing published scores with the same content key",
        action="store_true",
    )
    output_shards: int | str = flag(
        "auto",
        "files per partition: auto (default; as many as --output-file-mb asks for) or a fixed number",
        parse=shards,
        check=_shards_value,
    )
    output_file_mb: float = flag(
        128.0,
        "with --output-shards auto: target size of each Parquet or dead-letter file in MB (default 128)",
        parse=positive_float,
        check=lambda v: None if v > 0 else f"must be > 0, got {v}",
    )
    max_dead_letter_fraction: float = flag(
        0.05,
        "fail the run, publishing nothing, when more than this share of the records or of the "
        "candidates is dead-lettered (default 0.05)",
        parse=float,
        check=_between(0.0, 1.0),
    )


@dataclass
class Cluster:
    """cluster"""

    no_wait: bool = flag(
        False,
        "submit the job and return without waiting (Flex Template launchers); the job publishes itself",
        action="store_true",
    )
    break_lock: bool = flag(
        False,
        "take over the run lock of OUTPUT and --run-date left by a run that died (check it is not running)",
        action="store_true",
    )
    model_copies: int | None = flag(
        None,
        "copies of each model per worker machine, shared by all its SDK processes "
        "(default: the number of visible GPUs, 1 on CPU)",
        parse=positive_int,
        check=_at_least(1),
    )
    accelerator_hint: str | None = flag(
        None,
        "Beam resource hint for the routing and scoring steps only, e.g. "
        "'type:nvidia-l4;count:1;install-nvidia-driver'; reading, joining and writing stay on CPU workers",
    )


@dataclass
class Generation:
    """on-policy candidates"""

    generate: int = flag(
        0,
        "sample N responses per prompt-only record (no 'responses') from --policy; 0 (default) is off",
        parse=int,
        check=_at_least(0),
    )
    policy: str | None = flag(
        None, "model to sample from, same forms as --strong (default: the strong model, sharing its loaded copy)"
    )
    top_up: bool = flag(
        False,
        "with --generate N: also sample for records that have responses, up to N candidates per prompt",
        action="store_true",
    )
    temperature: float = flag(1.0, "sampling temperature; 0 is greedy (default 1)", parse=float, check=_at_least(0))
    top_p: float = flag(
        1.0,
        "nucleus sampling mass (default 1)",
        parse=float,
        check=lambda v: None if 0 < v <= 1 else f"must be in (0, 1], got {v}",
    )
    max_new_tokens: int = flag(
        512,
        "longest sampled response in tokens (default 512); prompt + this must fit --max-tokens",
        parse=positive_int,
        check=_at_least(1),
    )

    def check_generation(self, max_tokens: int | None) -> None:
        """Sampling flags only mean something with ``--generate N``; the response must fit ``--max-tokens``."""
        if not self.generate:
            for name in ("policy", "top_up"):
                if getattr(self, name):
                    raise ConfigError(
                        f"{option_name(name)} needs --generate N (the number of candidates to sample per prompt)"
                    )
            return
        if max_tokens is not None and self.max_new_tokens >= max_tokens:
            raise ConfigError(
                f"--max-new-tokens {self.max_new_tokens} leaves no room for a prompt under --max-tokens {max_tokens}"
            )

    def sampling(self) -> Any:
        """The ``SamplingSettings`` of ``--generate``."""
        from transforms.engine.generator import SamplingSettings

        # Normalised types: 1 and 1.0 must give the same generation key.
        return SamplingSettings(float(self.temperature), float(self.top_p), int(self.max_new_tokens))


@dataclass
class EvaluateTask:
    """evaluation"""

    task: str = flag("pairs", "pairs (default): reward accuracy; router: routing", choices=TASKS)
    routers: str | None = flag(
        None,
        "--task router: comma-separated routers to compare on the same prompts (default: keyword, and "
        "embedding,llm when a router model is known)",
    )
    compare_guides: bool = flag(
        False,
        "score the same pairs with the guides and without (--guides none) and report both",
        action="store_true",
    )


@dataclass
class SweepModels:
    """sweep"""

    models: list[str] | None = flag(
        None,
        "comma-separated models (folders, hub ids or registry names); at least 2; repeatable",
        action="append",
    )
    score_cache: str | None = flag(
        None,
        "folder (local or gs://) of per-model log-probs, keyed by model content, dtype and text; a rerun "
        "with one more model scores only that model (default OUTPUT/score_cache; 'none' turns it off)",
    )


GROUPS: tuple[type, ...] = (
    InputOutput,
    PairChoice,
    ModelLoading,
    Routing,
    Scoring,
    Pairing,
    Publishing,
    Cluster,
    Generation,
    EvaluateTask,
    SweepModels,
)


# -- generated from the declarations ---------------------------------------------------------


def flag_fields(cls: type) -> list[dataclasses.Field]:
    """The flag fields of a config class (or instance), in declaration order."""
    return [f for f in dataclasses.fields(cls) if _META in f.metadata]


def flag_names(cls: type) -> list[str]:
    return [f.name for f in flag_fields(cls)]


def option_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add every flag of config class ``cls`` to ``parser``, one argument group per concern."""
    for group in GROUPS:
        if not issubclass(cls, group):
            continue
        target = parser.add_argument_group(group.__doc__)
        for f in flag_fields(group):
            spec: FlagSpec = f.metadata[_META]
            kwargs: dict[str, Any] = {"dest": f.name, "help": spec.help}
            if spec.action == "store_true":
                kwargs.update(action="store_true")
            else:
                kwargs.update(default=f.default)
                for key in ("action", "nargs", "choices"):
                    if getattr(spec, key) is not None:
                        kwargs[key] = getattr(spec, key)
                if spec.parse is not None:
                    kwargs["type"] = spec.parse
            target.add_argument(option_name(f.name), **kwargs)


def from_args(cls: type, namespace: argparse.Namespace, **extra: Any) -> Any:
    """A config of class ``cls`` from parsed flags (absent attributes keep their defaults)."""
    values = {n: getattr(namespace, n) for n in flag_names(cls) if hasattr(namespace, n)}
    return cls(**values, **extra)


def flag_values(config: Any) -> dict[str, Any]:
    """The flags' values of a config, for the manifest."""
    return {n: getattr(config, n) for n in flag_names(type(config))}


def check_flags(config: Any) -> None:
    """Per-flag checks (choices and ``check``): one :class:`ConfigError` naming the flag."""
    for f in flag_fields(type(config)):
        spec: FlagSpec = f.metadata[_META]
        value = getattr(config, f.name)
        if value is None:
            continue
        if spec.choices is not None and spec.action is None and value not in spec.choices:
            raise ConfigError(
                f"{option_name(f.name)} must be one of {', '.join(map(str, spec.choices))}, got {value!r}"
            )
        problem = spec.check(value) if spec.check else None
        if problem:
            raise ConfigError(f"{option_name(f.name)} {problem}")
