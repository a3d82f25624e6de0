"""Named models and named strong/weak pairs, read from ``model_registry.yaml``.

A model is either *offline* (a GGUF file shipped in pinned PyPI packages, made into a local
safetensors folder once by :mod:`transforms.engine.prepare_models`) or a *hub* model (a hub
id passed through unchanged). A pair names a strong and a weak model. This module only
reads and checks the registry and computes cache paths; it installs and loads nothing
and imports neither torch nor Beam.

Cache layout (``MODELS`` = the ``cache_dir`` argument, else ``$GDR_CACHE/models``, else
``~/.cache/gdr/models``)::

    MODELS/<name>/          prepared model (config.json, *.safetensors, tokenizer, gdr_model.json)
    MODELS/.pkgs/<name>/    the pinned wheels, installed with ``pip --target`` (removable)
    MODELS/.tmp-<name>-*/   a preparation in progress (renamed to MODELS/<name> when complete)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGISTRY_PATH = Path(__file__).with_name("model_registry.yaml")
CACHE_ENV = "GDR_CACHE"
MANIFEST_NAME = "gdr_model.json"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][0-9A-Za-z.+!-]*$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class RegistryError(ValueError):
    """The registry file is malformed, or a name is not in it."""


@dataclass(frozen=True)
class GGUFPart:
    """One piece of a GGUF file: ``file`` inside the folder ``module`` that a wheel installs."""

    module: str
    file: str
    size: int
    sha256: str

    def path_in(self, package_dir: Path) -> Path:
        return package_dir / self.module / self.file


@dataclass(frozen=True)
class ModelSpec:
    """A named model: offline (``packages`` + ``gguf_*``) or on a hub (``hub_id``)."""

    name: str
    description: str = ""
    kind: str = "instruct"  # instruct | base
    chat_template: bool = True
    hub_id: str | None = None
    packages: tuple[str, ...] = ()
    gguf_file: str | None = None
    gguf_size: int | None = None
    gguf_sha256: str | None = None
    parts: tuple[GGUFPart, ...] = ()

    @property
    def offline(self) -> bool:
        """True when the model comes from pinned PyPI packages and must be prepared locally."""
        return bool(self.parts)


@dataclass(frozen=True)
class PairSpec:
    name: str
    strong: str
    weak: str
    description: str = ""
    measured: str = ""  # the pair's measured accuracy, one line: what a run's manifest and report repeat
    reward: str | None = None  # the reward (sum | mean) the development sweep chose for this pair


@dataclass(frozen=True)
class Registry:
    models: dict[str, ModelSpec] = field(default_factory=dict)
    pairs: dict[str, PairSpec] = field(default_factory=dict)
    path: Path | None = None
    default_pair: str | None = None  # what a command given no model uses (./run.sh's pair)

    def model(self, name: str) -> ModelSpec:
        if name not in self.models:
            raise RegistryError(f"unknown model {name!r}; known models: {', '.join(sorted(self.models))}")
        return self.models[name]

    def pair(self, name: str) -> PairSpec:
        if name not in self.pairs:
            raise RegistryError(f"unknown pair {name!r}; known pairs: {', '.join(sorted(self.pairs))}")
        return self.pairs[name]


def _require(cond: bool, where: str, msg: str) -> None:
    if not cond:
        raise RegistryError(f"model registry, {where}: {msg}")


def _parse_model(name: str, raw: Any) -> ModelSpec:
    where = f"model {name!r}"
    _require(isinstance(raw, dict), where, "must be a mapping")
    _require(bool(_SAFE_NAME.match(name)), where, "name may hold only letters, digits, '.', '_' and '-'")
    kind = raw.get("kind", "instruct")
    _require(kind in ("instruct", "base"), where, f"kind must be instruct or base, not {kind!r}")
    common = dict(name=name, description=str(raw.get("description", "")).strip(), kind=kind)
    if "hub_id" in raw:
        _require("gguf" not in raw and "packages" not in raw, where, "has both hub_id and offline packages")
        return ModelSpec(
            **common, chat_template=bool(raw.get("chat_template", kind == "instruct")), hub_id=raw["hub_id"]
        )
    packages = raw.get("packages")
    _require(isinstance(packages, list) and packages, where, "needs hub_id or a non-empty packages list")
    for req in packages:
        _require(
            isinstance(req, str) and bool(_PINNED.match(req)), where, f"package {req!r} is not pinned as name==version"
        )
    gguf = raw.get("gguf")
    _require(isinstance(gguf, dict), where, "offline model needs a gguf mapping")
    sha = str(gguf.get("sha256", ""))
    _require(bool(_SHA256.match(sha)), where, "gguf.sha256 must be 64 lowercase hex digits")
    file_name = str(gguf.get("file", ""))
    _require(
        bool(_SAFE_NAME.match(file_name)) and file_name.endswith(".gguf"),
        where,
        "gguf.file must be a plain *.gguf name",
    )
    raw_parts = gguf.get("parts")
    _require(isinstance(raw_parts, list) and raw_parts, where, "gguf.parts must be a non-empty list")
    parts = []
    for i, p in enumerate(raw_parts, 1):
        pw = f"{where} part {i}"
        _require(isinstance(p, dict), pw, "must be a mapping")
        _require(bool(_SAFE_NAME.match(str(p.get("module", "")))), pw, "module must be a plain folder name")
        rel = str(p.get("file", ""))
        _require(
            bool(rel) and not rel.startswith("/") and ".." not in rel.split("/"), pw, "file must be a relative path"
        )
        _require(bool(_SHA256.match(str(p.get("sha256", "")))), pw, "sha256 must be 64 lowercase hex digits")
        _require(isinstance(p.get("size"), int) and p["size"] > 0, pw, "size must be a positive integer")
        parts.append(GGUFPart(module=p["module"], file=rel, size=p["size"], sha256=p["sha256"]))
    size = gguf.get("size")
    _require(
        isinstance(size, int) and size == sum(p.size for p in parts),
        where,
        "gguf.size must equal the parts' sizes summed",
    )
    return ModelSpec(
        **common,
        chat_template=bool(raw.get("chat_template", kind == "instruct")),
        packages=tuple(packages),
        gguf_file=file_name,
        gguf_size=size,
        gguf_sha256=sha,
        parts=tuple(parts),
    )


def load_registry(path: str | Path | None = None) -> Registry:
    """Read and check the registry (the one next to this module by default)."""
    src = Path(path) if path is not None else REGISTRY_PATH
    try:
        data = yaml.safe_load(src.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegistryError(f"cannot read model registry {src}: {exc}") from None
    except yaml.YAMLError as exc:
        raise RegistryError(f"model registry {src} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
        raise RegistryError(f"model registry {src} needs a 'models' mapping")
    models = {name: _parse_model(name, raw) for name, raw in data["models"].items()}
    pairs = {}
    for name, raw in (data.get("pairs") or {}).items():
        where = f"pair {name!r}"
        _require(isinstance(raw, dict), where, "must be a mapping")
        for role in ("strong", "weak"):
            _require(raw.get(role) in models, where, f"{role} model {raw.get(role)!r} is not a registered model")
        _require(raw["strong"] != raw["weak"], where, "strong and weak are the same model")
        pairs[name] = PairSpec(
            name,
            raw["strong"],
            raw["weak"],
            str(raw.get("description", "")).strip(),
            " ".join(str(raw.get("measured", "")).split()),
            raw.get("reward"),
        )
        _require(raw.get("reward") in (None, "sum", "mean"), where, "reward must be sum or mean")
    default = data.get("default_pair")
    _require(default is None or default in pairs, "default_pair", f"{default!r} is not a registered pair")
    return Registry(models=models, pairs=pairs, path=src, default_pair=default)


def cache_root() -> Path:
    """``$GDR_CACHE`` if set, else ``~/.cache/gdr``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "gdr"


def models_dir(cache_dir: str | Path | None = None) -> Path:
    """Folder holding prepared models: ``cache_dir`` if given, else ``<cache_root>/models``."""
    return Path(cache_dir).expanduser() if cache_dir is not None else cache_root() / "models"


def packages_dir(name: str, cache_dir: str | Path | None = None) -> Path:
    """Where a model's pinned wheels are installed (inside the models folder, hidden)."""
    return models_dir(cache_dir) / ".pkgs" / name


def model_dir(name: str, cache_dir: str | Path | None = None) -> Path:
    return models_dir(cache_dir) / name
