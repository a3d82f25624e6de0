"""Load a causal LM and its tokenizer from a local directory or a hub id.

Loading is the one place that touches the file system or the network for models, so
errors a user can act on (a path that does not exist, a folder that is not a model,
pickle weights) come out here as :class:`ModelLoadError` with one clear sentence.

A hub id may be pinned to a revision as ``org/name@rev``. ``gs://`` model folders are
not loaded here: workers copy them to local disk first (``transforms.model_store``), so
this module stays free of Beam and cloud clients.

:func:`model_fingerprint` identifies what a model will answer: a content hash of a local
folder (weights included, with per-file digests cached by path, size and mtime so GBs are
hashed once), or the hub id with its commit.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import torch

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class ModelLoadError(RuntimeError):
    """The model or tokenizer cannot be loaded (user-actionable)."""


@dataclass
class LoadedModel:
    name: str
    model: Any  # transformers PreTrainedModel
    tokenizer: Any  # transformers PreTrainedTokenizerBase
    device: torch.device
    dtype: torch.dtype


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("--device cuda was asked for but no CUDA device is available")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype == "auto":
        # bf16 on GPUs that support it; float32 on CPU so rewards are exact by default.
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if dtype not in DTYPES:
        raise ModelLoadError(f"unknown dtype {dtype!r}; choose auto, float32, bfloat16 or float16")
    return DTYPES[dtype]


def looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or os.path.isabs(name) or name.count("/") > 1


def is_gcs_uri(name: str) -> bool:
    return name.startswith("gs://")


def split_revision(name: str) -> tuple[str, str | None]:
    """``"org/name@rev"`` -> ``("org/name", "rev")``; anything else -> ``(name, None)``.

    Only hub ids carry a revision: local paths and ``gs://`` URIs come back whole, since
    ``@`` is legal in a folder name but not in a hub repo id.
    """
    if is_gcs_uri(name) or looks_like_path(name) or os.path.exists(os.path.expanduser(name)):
        return name, None
    repo, sep, rev = name.rpartition("@")
    if not sep or not repo or not rev:
        return name, None
    return repo, rev


def check_model_source(name: str, allow_pickle: bool = False) -> None:
    """Fail fast, before any work, on a local model path that cannot be a model.

    ``gs://`` folders are checked by ``transforms.model_store.remote_fingerprint`` (it needs
    a storage client), hub ids by the loader.
    """
    if is_gcs_uri(name):
        return
    path = os.path.expanduser(name)
    if os.path.isdir(path):
        if not os.path.exists(os.path.join(path, "config.json")):
            raise ModelLoadError(f"model folder {name} has no config.json (not a transformers model folder)")
        has_safetensors = bool(glob.glob(os.path.join(path, "*.safetensors")))
        has_pickle = bool(glob.glob(os.path.join(path, "*.bin")) or glob.glob(os.path.join(path, "*.pt")))
        if not has_safetensors and has_pickle and not allow_pickle:
            raise ModelLoadError(
                f"model folder {name} holds only pickle weights (.bin/.pt), which can run code when "
                "loaded; convert them to safetensors or pass --allow-pickle"
            )
        return
    if os.path.exists(path):
        raise ModelLoadError(f"model path {name} is a file, expected a model folder")
    if looks_like_path(name):
        raise ModelLoadError(f"model path not found: {name}")


def load_causal_lm(
    name: str,
    dtype: str = "auto",
    device: str = "auto",
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
) -> LoadedModel:
    """Load model + tokenizer, in eval mode, on the resolved device and dtype."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if is_gcs_uri(name):
        raise ModelLoadError(
            f"model {name} is on GCS; copy it to local disk first (transforms.model_store.localize_model)"
        )
    check_model_source(name, allow_pickle)
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    repo, revision = split_revision(name)
    src = os.path.expanduser(repo)
    try:
        tokenizer = AutoTokenizer.from_pretrained(src, revision=revision, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            src,
            revision=revision,
            dtype=dt,
            trust_remote_code=trust_remote_code,
            use_safetensors=None if allow_pickle else True,
            attn_implementation="sdpa",
        )
    except OSError as exc:
        raise ModelLoadError(f"cannot load model {name!r}: {str(exc).splitlines()[0]}") from None
    except ValueError as exc:
        raise ModelLoadError(f"cannot load model {name!r}: {str(exc).splitlines()[0]}") from None
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(
            f"model {name!r} has no fast tokenizer; response tokens are found by offsets, which need one"
        )
    model.to(dev)
    model.eval()
    log.info("loaded %s on %s as %s", name, dev, dt)
    return LoadedModel(name=name, model=model, tokenizer=tokenizer, device=dev, dtype=dt)


# Files that decide what a model answers: config and tokenizer (the chat template lives
# there) are read whole; weights are hashed through the digest cache.
_META_SUFFIXES = (".json", ".jinja", ".model", ".txt")
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")
_META_MAX_BYTES = 64 << 20
DIGEST_CACHE_FILE = "file_digests.json"
# A file modified this recently may be modified again within the same mtime tick without
# its (size, mtime) changing, so its digest is not cached (git's "racily clean" rule).
_RACY_NS = 2_000_000_000
_DIGEST_CACHE_MAX_ENTRIES = 10_000
_HUB_COMMIT = re.compile(r"[0-9a-f]{40}")
_warned_unpinned: set[str] = set()


def digest_cache_path() -> str:
    """``$GDR_CACHE/file_digests.json`` (default ``~/.cache/gdr/file_digests.json``)."""
    from transforms.engine.model_registry import cache_root

    return str(cache_root() / DIGEST_CACHE_FILE)


def _hash_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _load_digest_cache(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):  # missing, unreadable or corrupt: recompute
        return {}
    return data if isinstance(data, dict) else {}


def _save_digest_cache(path: str, cache: dict[str, Any]) -> None:
    # Write a temp file and rename it, so a reader (another process) never sees half a file.
    while len(cache) > _DIGEST_CACHE_MAX_ENTRIES:
        cache.pop(next(iter(cache)))
    tmp = None
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".file_digests.", suffix=".tmp", dir=os.path.dirname(path))
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(cache, f)
        os.replace(tmp, path)
    except OSError as exc:  # a read-only home must not stop a run; digests are just recomputed
        log.debug("cannot write digest cache %s: %s", path, exc)
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)


def file_digests(paths: list[str]) -> dict[str, str]:
    """sha256 hex digest of each file, reusing cached digests keyed by (real path, size, mtime_ns)."""
    cache_file = digest_cache_path()
    cache = _load_digest_cache(cache_file)
    out: dict[str, str] = {}
    changed = False
    for path in paths:
        key = os.path.realpath(path)
        before = os.stat(key)
        entry = cache.get(key)
        if (
            isinstance(entry, dict)
            and entry.get("size") == before.st_size
            and entry.get("mtime_ns") == before.st_mtime_ns
            and isinstance(entry.get("sha256"), str)
        ):
            out[path] = entry["sha256"]
            continue
        digest = _hash_file(key)
        out[path] = digest
        after = os.stat(key)
        stable = (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
        if stable and after.st_mtime_ns < time.time_ns() - _RACY_NS:
            cache.pop(key, None)  # re-insert at the end: the oldest entries are dropped first
            cache[key] = {"size": after.st_size, "mtime_ns": after.st_mtime_ns, "sha256": digest}
            changed = True
    if changed:
        _save_digest_cache(cache_file, cache)
    return out


def hub_commit(repo_id: str) -> str | None:
    """The commit of ``main`` in the local Hugging Face cache for ``repo_id``, without network."""
    from huggingface_hub import constants

    ref = os.path.join(constants.HF_HUB_CACHE, "models--" + repo_id.replace("/", "--"), "refs", "main")
    try:
        with open(ref, encoding="utf-8") as f:
            commit = f.read().strip()
    except OSError:
        return None
    return commit if _HUB_COMMIT.fullmatch(commit) else None


def pin_hub_revision(name: str) -> str:
    """``org/name`` -> ``org/name@<commit>`` when the local HF cache knows the commit, else unchanged.

    Pass the pinned id to workers so they load exactly the weights the fingerprint names.
    """
    repo, revision = split_revision(name)
    if revision is not None or looks_like_path(name) or os.path.exists(os.path.expanduser(name)) or is_gcs_uri(name):
        return name
    commit = hub_commit(repo)
    return f"{repo}@{commit}" if commit else name


def model_fingerprint(name: str) -> str:
    """What identifies a model's outputs.

    Local folder: ``local:<hash>`` of config.json, the tokenizer files (they hold the chat
    template) and the bytes of the weight files (digests cached, see :func:`file_digests`),
    so weights retrained in place change it. Hub id: ``hub:org/name@rev`` for a pinned id,
    else the commit of ``main`` in the local HF cache, else ``@unpinned`` (logged: scores
    are then not tied to exact weights). ``gs://`` folders: use
    ``transforms.model_store.remote_fingerprint``.
    """
    if is_gcs_uri(name):
        raise ModelLoadError(f"model {name} is on GCS; fingerprint it with transforms.model_store.remote_fingerprint")
    path = os.path.expanduser(name)
    if not os.path.isdir(path):
        repo, revision = split_revision(name)
        if revision is None:
            revision = hub_commit(repo)
        if revision is None:
            if repo not in _warned_unpinned:
                _warned_unpinned.add(repo)
                log.warning(
                    "hub model %s is not pinned to a revision and not in the local cache; its scores cannot be "
                    "tied to exact weights (write %s@<commit>)",
                    repo,
                    repo,
                )
            revision = "unpinned"
        return f"hub:{repo}@{revision}"
    meta: list[tuple[str, str]] = []
    weights: list[tuple[str, str]] = []
    for fname in sorted(os.listdir(path)):
        full = os.path.join(path, fname)
        # Hidden files are bookkeeping, not model (e.g. model_store's completion marker, which
        # differs per machine): a copied folder must keep its source's fingerprint.
        if fname.startswith(".") or not os.path.isfile(full):
            continue
        if fname.endswith(_META_SUFFIXES) and os.path.getsize(full) < _META_MAX_BYTES:
            meta.append((fname, full))
        elif fname.endswith(_META_SUFFIXES + _WEIGHT_SUFFIXES):
            weights.append((fname, full))
    digests = file_digests([full for _, full in weights])
    h = hashlib.sha256()
    for fname, full in meta:
        h.update(fname.encode() + b"\0")
        with open(full, "rb") as f:
            h.update(f.read())
    for fname, full in weights:
        h.update(f"{fname}:{os.path.getsize(full)}:{digests[full]}\0".encode())
    return f"local:{h.hexdigest()[:24]}"
