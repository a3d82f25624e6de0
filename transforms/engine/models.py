"""Load a causal LM and its tokenizer from a local directory or a hub id.

Loading is the one place that touches the file system or the network for models, so
errors a user can act on (a path that does not exist, a folder that is not a model,
pickle weights) come out here as :class:`ModelLoadError` with one clear sentence.
"""

from __future__ import annotations

import glob
import logging
import os
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


def check_model_source(name: str, allow_pickle: bool = False) -> None:
    """Fail fast, before any work, on a local model path that cannot be a model."""
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

    check_model_source(name, allow_pickle)
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    src = os.path.expanduser(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(src, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            src,
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


def model_fingerprint(name: str) -> str:
    """What identifies a model's outputs, cheaply (no hashing of GBs of weights).

    Local folder: hash of config.json, the tokenizer files (they hold the chat template)
    and the names and sizes of the weight files. Hub id: the id itself (pin a revision in
    the id's folder or use a local snapshot for exact reproducibility).
    """
    import hashlib

    path = os.path.expanduser(name)
    if not os.path.isdir(path):
        return f"hub:{name}"
    h = hashlib.sha256()
    for fname in sorted(os.listdir(path)):
        full = os.path.join(path, fname)
        if not os.path.isfile(full):
            continue
        if fname.endswith((".json", ".jinja", ".model", ".txt")) and os.path.getsize(full) < 64 << 20:
            h.update(fname.encode() + b"\0")
            with open(full, "rb") as f:
                h.update(f.read())
        elif fname.endswith((".safetensors", ".bin", ".pt", ".gguf")):
            h.update(f"{fname}:{os.path.getsize(full)}".encode())
    return f"local:{h.hexdigest()[:24]}"
