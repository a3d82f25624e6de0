"""``gdr annotate``'s configuration and the model rules every command shares.

``AnnotateConfig`` mixes in the setting groups of :mod:`beam_pipeline.settings` (where every
flag is declared once) and is the single source of truth the pipeline reads. ``validate()``
checks everything that can be checked up front - input patterns match files, model paths
exist, guides load, choices are valid - and raises :class:`ConfigError` with one sentence a
user can act on, then derives what the job needs (resolved device and dtype, model
fingerprints, content-key settings). The model rules here (a registry name or pair to a
loader path, the default pair, the resolved compute) are the same for every command.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field

from beam_pipeline.settings import (
    Cluster,
    ConfigError,
    Generation,
    InputOutput,
    ModelLoading,
    PairChoice,
    Pairing,
    Publishing,
    Routing,
    Scoring,
    check_flags,
    flag_values,
)
from transforms.engine.models import ModelLoadError, check_model_source, pin_hub_revision
from transforms.model_pool import ModelSettings
from transforms.routers import MODEL_ROUTERS, routing_versions


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


def pair_measured(pair: str | None) -> str | None:
    """What the registry says a pair measured (its ``measured:`` line), for the manifest and report."""
    if not pair:
        return None
    from transforms.engine.model_registry import RegistryError, load_registry

    try:
        return load_registry().pair(pair).measured or None
    except RegistryError:
        return None


def pair_default_reward(pair: str | None) -> str | None:
    """The reward the registry records as a pair's measured best (``reward:``), if any."""
    if not pair:
        return None
    from transforms.engine.model_registry import RegistryError, load_registry

    try:
        return load_registry().pair(pair).reward
    except RegistryError:
        return None


def default_pair() -> str:
    """The registry's default pair: what a command given no model uses."""
    from transforms.engine.model_registry import RegistryError, load_registry

    try:
        name = load_registry().default_pair
    except RegistryError as exc:
        raise ConfigError(str(exc).splitlines()[0]) from None
    if not name:
        raise ConfigError("no model given and the model registry names no default_pair: give --pair or --strong/--weak")
    return name


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


@dataclass
class AnnotateConfig(InputOutput, PairChoice, ModelLoading, Routing, Scoring, Pairing, Publishing, Cluster, Generation):
    """Every setting of ``gdr annotate``: the flags (declared once, in ``beam_pipeline.settings``)
    and what ``validate()`` derives from them."""

    # Filled by validate()
    attempt: str = field(default="", repr=False)  # this launch's id: staging folder and lock holder
    compute: tuple[str, str] = field(default=("cpu", "float32"), repr=False)  # resolved (device, dtype)
    runner: str = field(default="DirectRunner", repr=False)
    input_mtimes: dict[str, float] = field(default_factory=dict, repr=False)
    existing_score_files: list[tuple[str, str]] = field(default_factory=list, repr=False)
    scoring_setting: str = field(default="", repr=False)
    router_setting: str = field(default="", repr=False)
    generation_setting: str = field(default="", repr=False)
    existing_generation_files: list[tuple[str, str]] = field(default_factory=list, repr=False)
    fingerprints: dict[str, str] = field(default_factory=dict, repr=False)
    model_paths: dict[str, str] = field(default_factory=dict, repr=False)  # name -> what the loader gets

    def model_settings(self, name: str) -> ModelSettings:
        # The same name gets the same settings, hence the same loaded copy (strong = policy).
        key = {self.policy: "policy", self.strong: "strong", self.weak: "weak"}.get(name) if name else None
        fingerprint = self.fingerprints.get(key) if key else self.fingerprints.get("router", "")
        return model_settings_for(self, name, self.model_paths.get(name), fingerprint or "", self.compute)

    def as_manifest(self) -> dict:
        """The flags as given or resolved (models become what was chosen), and the resolved compute."""
        d = flag_values(self)
        d["compute"] = {"device": self.compute[0], "dtype": self.compute[1]}
        if self.default_pair_used:
            d["default_pair_used"] = self.default_pair_used
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
                "pair": self.pair,
                "default_pair_used": bool(self.default_pair_used),
                "pair_measured": pair_measured(self.pair),
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
        self.runner = runner_name(options)
        check_flags(self)
        self.attempt = self.attempt or new_attempt_id()
        self.run_date = self.run_date or dt.datetime.now(dt.timezone.utc).date().isoformat()
        self.check_routing(uses_embedding=self.router == "embedding")
        self.check_generation(self.max_tokens)
        # Inputs first: preparing a registry model can take minutes, a typo in --input should not.
        self.check_input_output()
        self._resolve_models()
        self._check_paths_reach_workers()
        remote = self.runner.endswith(REMOTE_RUNNERS) and not _embedded(options)
        self.compute = resolve_compute(
            self.device, self.dtype, remote, wants_accelerator(options, self.accelerator_hint)
        )
        self.input_mtimes = input_mtimes(self.input)
        self._derive_keys()
        return self

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
        self.choose_models()
        self.choose_reward(self.pair)
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
