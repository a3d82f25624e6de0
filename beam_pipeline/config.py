"""The annotation job's configuration, validated before any graph is built.

``AnnotateConfig`` is the single source of truth the pipeline reads. ``validate()``
checks everything that can be checked up front - input patterns match files, model
paths exist, guides load, choices are valid - and raises :class:`ConfigError` with one
sentence a user can act on.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import asdict, dataclass, field

from guides import Guide, GuideError, RouterExample, load_guides, routing_examples
from transforms.engine.generator import SamplingSettings
from transforms.engine.models import ModelLoadError, check_model_source, pin_hub_revision
from transforms.model_pool import ModelSettings
from transforms.pairing import PAIRING_STRATEGIES
from transforms.routers import (
    MODEL_ROUTERS,
    ROUTER_KINDS,
    RouterExamplesError,
    check_router_examples,
    routing_versions,
)

REWARDS = ("sum", "mean")
DTYPE_CHOICES = ("auto", "float32", "bfloat16", "float16")
DEVICE_CHOICES = ("auto", "cpu", "cuda")


class ConfigError(ValueError):
    """A configuration problem the user can fix (printed as one line)."""


def model_settings_for(
    cfg, name: str, path: str | None = None, fingerprint: str = "", compute: tuple[str, str] | None = None
) -> ModelSettings:
    """How to load model ``name`` under a scoring config's dtype/device/batching flags.

    ``compute`` is the (device, dtype) the launcher resolved ``auto`` to; without it the
    flags go to the worker as given.
    """
    device, dtype = compute or (cfg.device, cfg.dtype)
    return ModelSettings(
        name=path or name,
        dtype=dtype,
        device=device,
        batch_tokens=cfg.batch_tokens,
        max_tokens=cfg.max_tokens,
        trust_remote_code=cfg.trust_remote_code,
        allow_pickle=cfg.allow_pickle,
        fingerprint=fingerprint,
        copies=getattr(cfg, "model_copies", None),
    )


def new_attempt_id() -> str:
    """Sortable and unique per launch: names the staging folder and the lock holder."""
    import secrets

    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


REMOTE_RUNNERS = ("DataflowRunner", "FlinkRunner", "SparkRunner", "PortableRunner", "PrismRunner")


def runner_name(options) -> str:
    from apache_beam.options.pipeline_options import StandardOptions

    runner = options.view_as(StandardOptions).runner if options is not None else None
    return (runner if isinstance(runner, str) else type(runner).__name__ if runner else "DirectRunner") or ""


def wants_accelerator(options, hint: str | None) -> bool:
    """Whether the job asks its workers for a GPU (resource hint or Dataflow service option)."""
    if hint:
        return True
    if options is None:
        return False
    from apache_beam.options.pipeline_options import DebugOptions, GoogleCloudOptions

    service = options.view_as(GoogleCloudOptions).dataflow_service_options or []
    experiments = options.view_as(DebugOptions).experiments or []
    return any("worker_accelerator" in x for x in [*service, *experiments])


def resolve_compute(device: str, dtype: str, remote: bool, accelerator: bool) -> tuple[str, str]:
    """(device, dtype) the workers will use, decided at launch because the score key depends on it.

    ``auto`` means the GPU when there is one: on a local runner this machine's, on a remote
    runner whether the job asks for accelerators. ``auto`` dtype is bf16 on GPU and float32
    on CPU, as the loader picks; a worker that cannot honour the pinned choice fails to load.
    """
    if device == "auto":
        if remote:
            device = "cuda" if accelerator else "cpu"
        else:
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        dtype = "bfloat16" if device == "cuda" else "float32"
    return device, dtype


def pair_members(pair: str) -> tuple[str, str]:
    """(strong, weak) registry names of a ``--pair``."""
    from transforms.engine.model_registry import RegistryError, load_registry

    try:
        spec = load_registry().pair(pair)
    except RegistryError as exc:
        raise ConfigError(str(exc).splitlines()[0]) from None
    return spec.strong, spec.weak


def resolve_model_source(name: str, allow_pickle: bool = False) -> str:
    """What the loader gets for a model argument, checked before any work.

    A registry name is prepared offline if needed (its local folder returned) or mapped to
    its hub id; a ``gs://`` folder is checked from its object listing (nothing downloaded:
    workers copy it); a path or other hub id comes back unchanged. Missing folders,
    pickle-only weights and registry problems are ``ConfigError``s.
    """
    from transforms.engine.model_registry import RegistryError
    from transforms.engine.prepare_models import PreparationError, resolve_model
    from transforms.model_store import ModelStoreError, is_remote_model, remote_fingerprint

    if is_remote_model(name):
        try:
            remote_fingerprint(name, allow_pickle=allow_pickle)
        except ModelStoreError as exc:
            raise ConfigError(str(exc)) from None
        return name

    try:
        path = str(resolve_model(name))
    except (RegistryError, PreparationError) as exc:
        raise ConfigError(f"cannot resolve model {name!r}: {str(exc).splitlines()[0]}") from None
    try:
        check_model_source(path, allow_pickle)
    except ModelLoadError as exc:
        raise ConfigError(str(exc)) from None
    # A hub id goes to workers pinned to the commit its fingerprint names, where known.
    return pin_hub_revision(path)


def check_scoring_options(cfg, extra_choices: tuple = ()) -> dict[str, Guide] | None:
    """Checks shared by every command that scores (annotate, evaluate, sweep).

    ``cfg`` has router, reward, dtype, device, batch_tokens, max_tokens, router_threshold,
    guides and default_domain; returns the loaded guide set (None for ``--guides none``).
    """
    for name, value, choices in (
        ("--router", cfg.router, ROUTER_KINDS),
        ("--reward", cfg.reward, REWARDS),
        ("--dtype", cfg.dtype, DTYPE_CHOICES),
        ("--device", cfg.device, DEVICE_CHOICES),
        *extra_choices,
    ):
        if value not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    if cfg.batch_tokens < 1 or (cfg.max_tokens is not None and cfg.max_tokens < 2):
        raise ConfigError("--batch-tokens must be >= 1 and --max-tokens >= 2")
    if not 0.0 <= cfg.router_threshold <= 1.0:
        raise ConfigError("--router-threshold must be between 0 and 1")
    from transforms.io import partition_value_problem

    # Labels that do not come from records become partition folders too: check them before any work.
    problem = partition_value_problem("domain", cfg.default_domain)
    if problem:
        raise ConfigError(f"--default-domain: {problem}")
    if cfg.guides == "none":
        return None
    try:
        guides = load_guides(None if cfg.guides == "builtin" else cfg.guides)
    except GuideError as exc:
        raise ConfigError(str(exc)) from None
    for name in guides:
        problem = partition_value_problem("domain", name)
        if problem:
            raise ConfigError(f"guide {name[:40]!r}: {problem}")
    if cfg.default_domain not in guides:
        raise ConfigError(f"--default-domain {cfg.default_domain!r} has no guide (guides: {', '.join(guides)})")
    return guides


@dataclass
class AnnotateConfig:
    input: list[str]
    output: str
    strong: str
    weak: str
    guides: str = "builtin"  # "builtin", a directory, or "none"
    router: str = "embedding"
    router_model: str | None = None
    router_examples: str | None = None  # a JSONL of {prompt, domain} for the embedding router
    router_threshold: float = 0.5
    default_domain: str = "chat"
    reward: str = "sum"
    pairing: str = "best-worst"
    min_margin: float = 0.0
    seed: int = 0
    run_date: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).date().isoformat())
    max_tokens: int | None = None
    batch_tokens: int = 8192
    dtype: str = "auto"
    device: str = "auto"
    output_shards: int | str = "auto"  # "auto": files per partition follow output_file_mb
    output_file_mb: float = 128.0
    score_retries: int = 2
    trust_remote_code: bool = False
    allow_pickle: bool = False
    rescore: bool = False
    pair: str | None = None  # a registry pair name; --strong/--weak override its members
    no_wait: bool = False
    break_lock: bool = False
    max_dead_letter_fraction: float = 0.05
    model_copies: int | None = None  # None: one per visible GPU on the worker, 1 on CPU
    accelerator_hint: str | None = None
    # On-policy candidates (--generate N): sample N responses per prompt-only record from --policy.
    generate: int = 0  # 0: off
    policy: str | None = None  # default: the strong model (sharing its loaded copy)
    top_up: bool = False  # also fill records that have responses up to N
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 512

    # Filled by validate()
    router_example_set: tuple[RouterExample, ...] = field(default=(), repr=False)
    attempt: str = field(default="", repr=False)  # this launch's id: staging folder and lock holder
    compute: tuple[str, str] = field(default=("cpu", "float32"), repr=False)  # resolved (device, dtype)
    runner: str = field(default="DirectRunner", repr=False)
    input_files: list[tuple[str, int]] = field(default_factory=list, repr=False)
    input_mtimes: dict[str, float] = field(default_factory=dict, repr=False)
    guide_set: dict[str, Guide] | None = field(default=None, repr=False)
    existing_score_files: list[tuple[str, str]] = field(default_factory=list, repr=False)
    scoring_setting: str = field(default="", repr=False)
    router_setting: str = field(default="", repr=False)
    generation_setting: str = field(default="", repr=False)
    existing_generation_files: list[tuple[str, str]] = field(default_factory=list, repr=False)
    fingerprints: dict[str, str] = field(default_factory=dict, repr=False)
    model_paths: dict[str, str] = field(default_factory=dict, repr=False)  # name -> what the loader gets

    @property
    def reward_key(self) -> str:
        return "reward" if self.reward == "sum" else "reward_mean"

    def model_settings(self, name: str) -> ModelSettings:
        # The same name gets the same settings, hence the same loaded copy (strong = policy).
        key = {self.policy: "policy", self.strong: "strong", self.weak: "weak"}.get(name) if name else None
        fingerprint = self.fingerprints.get(key) if key else self.fingerprints.get("router", "")
        return model_settings_for(self, name, self.model_paths.get(name), fingerprint or "", self.compute)

    def as_manifest(self) -> dict:
        d = asdict(self)
        for internal in (
            "input_files",
            "input_mtimes",
            "guide_set",
            "existing_score_files",
            "existing_generation_files",
            "model_paths",
            "router_example_set",
        ):
            d.pop(internal)
        d["compute"] = {"device": self.compute[0], "dtype": self.compute[1]}
        return d

    def launch_info(self) -> dict:
        """What the launcher knows that the manifest records (the job adds counts and times)."""
        import time

        output = self.output.rstrip("/")
        return {
            "run_date": self.run_date,
            "attempt": self.attempt,
            "output": self.output,
            "launched_at_s": time.time(),
            "config": self.as_manifest(),
            "models": {
                "strong": self.strong,
                "weak": self.weak,
                "router": self.router_model or self.strong,
                "policy": self.policy if self.generate else None,
                "fingerprints": self.fingerprints,
                "paths": self.model_paths,
                "device": self.compute[0],
                "dtype": self.compute[1],
            },
            "guides": {g.id: g.version for g in (self.guide_set or {}).values()},
            "keys": {
                "scoring_setting": self.scoring_setting,
                "router_setting": self.router_setting,
                "generation_setting": self.generation_setting or None,
            },
            "input_files": [
                {"path": p, "size_bytes": s, "modified": self.input_mtimes.get(p)} for p, s in self.input_files
            ],
            "reused_score_files": len(self.existing_score_files),
            "outputs": {
                t: f"{output}/{t}/run_date={self.run_date}" for t in ("pairs", "scores", "candidates", "dead_letter")
            },
            "manifest": f"{output}/manifests/run_date={self.run_date}.json",
        }

    def validate(self, options=None) -> AnnotateConfig:
        """Check everything that can be checked before the graph is built.

        ``options`` (the job's ``PipelineOptions``) decide what the workers can see and
        use: local paths are refused on Dataflow, and ``auto`` device/dtype is resolved.
        """
        from transforms.io import expand_patterns

        self.runner = runner_name(options)
        if not 0.0 <= self.max_dead_letter_fraction <= 1.0:
            raise ConfigError("--max-dead-letter-fraction must be between 0 and 1")
        self.attempt = self.attempt or new_attempt_id()

        self.guide_set = check_scoring_options(self, (("--pairing", self.pairing, PAIRING_STRATEGIES),))
        if self.guide_set is not None:
            try:
                self.router_example_set = routing_examples(self.guides, self.guide_set, self.router_examples)
                if self.router == "embedding":
                    check_router_examples(self.guide_set, self.router_example_set)
            except (GuideError, RouterExamplesError) as exc:
                raise ConfigError(str(exc)) from None
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", self.run_date):
            raise ConfigError(f"--run-date must be YYYY-MM-DD, got {self.run_date!r}")
        try:
            dt.date.fromisoformat(self.run_date)
        except ValueError:
            raise ConfigError(f"--run-date is not a valid date: {self.run_date}") from None
        if self.min_margin < 0:
            raise ConfigError("--min-margin must be >= 0")
        self._check_generation()
        if self.output_shards != "auto" and not (isinstance(self.output_shards, int) and self.output_shards >= 1):
            raise ConfigError(f"--output-shards must be 'auto' or a positive integer, got {self.output_shards!r}")
        if not self.output_file_mb > 0:
            raise ConfigError(f"--output-file-mb must be > 0, got {self.output_file_mb}")
        if not self.input:
            raise ConfigError("--input is required")
        if not self.output:
            raise ConfigError("--output is required")
        # Inputs first: preparing a registry model can take minutes, a typo in --input should not.
        files, unmatched = expand_patterns(self.input)
        if unmatched:
            raise ConfigError(f"--input matched no files: {', '.join(unmatched)}")
        self.input_files = files
        self._resolve_models()
        self._check_paths_reach_workers()
        remote = self.runner.endswith(REMOTE_RUNNERS) and not _embedded(options)
        self.compute = resolve_compute(
            self.device, self.dtype, remote, wants_accelerator(options, self.accelerator_hint)
        )
        self.input_mtimes = input_mtimes(self.input)
        self._derive_keys()
        return self

    def _check_generation(self) -> None:
        """``--generate`` and its sampling flags (checked before any model is resolved)."""
        if self.generate < 0:
            raise ConfigError(f"--generate must be >= 0, got {self.generate}")
        if not self.generate:
            for flag, set_ in (("--policy", self.policy is not None), ("--top-up", self.top_up)):
                if set_:
                    raise ConfigError(f"{flag} needs --generate N (the number of candidates to sample per prompt)")
            return
        if not self.temperature >= 0:
            raise ConfigError(f"--temperature must be >= 0 (0 is greedy), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"--top-p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ConfigError(f"--max-new-tokens must be >= 1, got {self.max_new_tokens}")
        if self.max_tokens is not None and self.max_new_tokens >= self.max_tokens:
            raise ConfigError(
                f"--max-new-tokens {self.max_new_tokens} leaves no room for a prompt under --max-tokens {self.max_tokens}"
            )

    def sampling(self) -> SamplingSettings:
        """The ``SamplingSettings`` of ``--generate``."""
        # Normalised types: 1 and 1.0 must give the same generation key.
        return SamplingSettings(float(self.temperature), float(self.top_p), int(self.max_new_tokens))

    def _check_paths_reach_workers(self) -> None:
        """Dataflow workers cannot see the launcher's disk: refuse local paths there, warn elsewhere."""
        import logging

        from transforms.engine.models import looks_like_path

        local = [f"--input {p}" for p, _ in self.input_files if "://" not in p]
        if "://" not in self.output:
            local.append(f"--output {self.output}")
        for name, path in self.model_paths.items():
            if "://" not in path and (looks_like_path(path) or os.path.isdir(os.path.expanduser(path))):
                local.append(f"model {name} ({path})")
        if not local:
            return
        if self.runner.endswith("DataflowRunner"):
            raise ConfigError(
                f"DataflowRunner workers cannot read local paths: {', '.join(local[:3])}"
                + (f" and {len(local) - 3} more" if len(local) > 3 else "")
                + "; use gs:// for inputs, output and model folders"
            )
        if self.runner.endswith(REMOTE_RUNNERS):
            logging.getLogger("gdr").warning(
                "%s: workers must see the same local paths as this launcher (%s)", self.runner, ", ".join(local[:3])
            )

    def _resolve_models(self) -> None:
        """Registry names (``--pair``, offline models) -> loader paths, each checked."""
        if self.pair:
            strong, weak = pair_members(self.pair)
            self.strong, self.weak = self.strong or strong, self.weak or weak
        if not self.strong or not self.weak:
            raise ConfigError("give --pair NAME or both --strong and --weak")
        if self.generate and not self.policy:
            self.policy = self.strong
        for name in (self.strong, self.weak, self.router_model, self.policy if self.generate else None):
            if name and name not in self.model_paths:
                self.model_paths[name] = resolve_model_source(name, self.allow_pickle)

    def _derive_keys(self) -> None:
        """Settings every content key depends on, and the published scores to reuse."""
        from transforms.keys import router_setting, scoring_setting
        from transforms.model_store import fingerprint_model

        def fingerprint(name: str) -> str:
            return fingerprint_model(self.model_paths.get(name, name), self.allow_pickle)

        self.fingerprints = {"strong": fingerprint(self.strong), "weak": fingerprint(self.weak)}
        # The dtype actually used, not the flag: a GPU (bf16) run must not reuse CPU (float32) scores.
        self.scoring_setting = scoring_setting(self.fingerprints["strong"], self.fingerprints["weak"], self.compute[1])
        router_name = self.router_model or self.strong
        router_fp = fingerprint(router_name) if self.router in MODEL_ROUTERS else None
        if router_fp:
            self.fingerprints["router"] = router_fp
        versions = routing_versions(self.router, self.guide_set, self.router_example_set)
        self.router_setting = router_setting(
            self.router, router_fp, self.router_threshold, self.default_domain, versions
        )
        published = published_score_files(self.output)
        self.existing_score_files = [] if self.rescore else published
        if self.generate:
            from transforms.keys import generation_setting

            self.fingerprints["policy"] = fingerprint(self.policy)
            # The dtype actually used: bf16 samples on a GPU are not the float32 samples of a CPU run.
            self.generation_setting = generation_setting(
                self.fingerprints["policy"], self.compute[1], self.sampling().as_dict(), self.seed
            )
            # --rescore scores again but keeps the samples: a sample is a sample of these settings.
            self.existing_generation_files = published


def _embedded(options) -> bool:
    """A portable runner whose job service runs in this process sees this machine's files."""
    if options is None:
        return True
    from apache_beam.options.pipeline_options import PortableOptions

    portable = options.view_as(PortableOptions)
    return portable.job_endpoint in (None, "embed") or str(portable.environment_type).upper() == "LOOPBACK"


def published_score_files(output: str) -> list[tuple[str, str]]:
    """(path, run_date) of every published scores file under ``output``."""
    from beam_pipeline.publish import list_files

    found = []
    for path in list_files(f"{output.rstrip('/')}/scores"):
        m = re.search(r"/run_date=(\d{4}-\d{2}-\d{2})/", path)
        if m and path.endswith(".parquet"):
            found.append((path, m.group(1)))
    return found


def input_mtimes(patterns: list[str]) -> dict[str, float]:
    from apache_beam.io.filesystems import FileSystems

    out: dict[str, float] = {}
    for pattern in patterns:
        try:
            for m in FileSystems.match([pattern])[0].metadata_list:
                out[m.path] = m.last_updated_in_seconds
        except Exception:
            pass
    return out
