"""Models on a worker machine: loaded once per machine (per copy), shared by its SDK processes.

Dataflow starts one SDK process per vCPU and Flink one per task slot; each loading its
own strong and weak model would put 4-8 copies on one GPU. Here a model is held by
Beam's ``MultiProcessShared``: the first process on the machine that needs it loads it
and serves it from a thread; every other process (and every DoFn, routing and scoring
alike) reaches the same copy through a proxy. What crosses the process boundary is text
in (conversation, response, guide) and floats out, one round trip per batch
(``CausalLMScorer.score_responses``; ``CausalLMScorer.embed`` for the embedding router, so
routing and scoring use the same copy). On-policy generation (``generate``) runs on the same
copy too: requests in, texts out, one round trip per batch; a policy that is also the strong
model has the same ``ModelSettings``, hence the same copy.

``--model-copies N`` keeps N copies per machine (default: one per visible GPU, 1 on CPU);
a process uses copy ``pid % N``, placed on GPU ``copy % device_count``. A model that
cannot be loaded raises :class:`ModelLoadFailed`, which the scoring and routing steps
let through so the job fails instead of dead-lettering every candidate.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import logging
import os
import struct
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the engine imports torch: only workers that load a model pay for it
    from transforms.engine.generator import Generated, GenerationFailure, GenerationRequest, SamplingSettings

log = logging.getLogger(__name__)

# Where the processes of one machine find each other's model servers (address files).
POOL_DIR_ENV = "GDR_POOL_DIR"
# Test and audit hook: every real model load appends one JSON line here.
LOAD_LOG_ENV = "GDR_MODEL_LOAD_LOG"
# "transformers" keeps generation on the loaded copy even where vLLM is importable on a GPU.
GENERATION_ENGINE_ENV = "GDR_GENERATION_ENGINE"
# Most rows one generation batch holds; --batch-tokens bounds the cached positions too.
GENERATION_BATCH_ROWS = 64


class ModelLoadFailed(RuntimeError):
    """A model could not be loaded on a worker: the job must fail, not dead-letter everything."""


@dataclass(frozen=True)
class ModelSettings:
    """How to load one model (hashable: it names the shared copy).

    ``dtype`` and ``device`` are resolved by the launcher (``auto`` becomes what will
    actually be used) because the score key depends on them. ``fingerprint`` ties the
    shared copy to the model's content, so a long-lived worker never answers with weights
    that were replaced on disk.
    """

    name: str
    dtype: str = "auto"
    device: str = "auto"
    batch_tokens: int = 8192
    max_tokens: int | None = None
    trust_remote_code: bool = False
    allow_pickle: bool = False
    fingerprint: str = ""
    copies: int | None = None

    @property
    def tag(self) -> str:
        return hashlib.sha256(repr(self).encode("utf-8")).hexdigest()[:24]


def _pool_dir() -> str:
    path = os.environ.get(POOL_DIR_ENV) or os.path.join(tempfile.gettempdir(), "gdr-pool")
    os.makedirs(path, exist_ok=True)
    return path


def weight_bytes(path: str, dtype_size: int) -> int | None:
    """Bytes the weights of a local safetensors folder take at ``dtype_size`` bytes per value.

    Counted from the safetensors headers (element counts), not file sizes: prepared models
    are stored in float32 and loaded in bf16 on GPUs. ``None`` when unknown (hub id, pickle).
    """
    if not os.path.isdir(path):
        return None
    total, found = 0, False
    for fname in sorted(os.listdir(path)):
        if not fname.endswith(".safetensors"):
            continue
        found = True
        with open(os.path.join(path, fname), "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            count = 1
            for dim in meta["shape"]:
                count *= dim
            total += count * dtype_size
    return total if found else None


def check_gpu_memory(name: str, path: str, dtype: Any, device: Any) -> None:
    """Refuse to load weights that cannot fit in the GPU's free memory, naming both numbers."""
    import torch

    if device.type != "cuda":
        return
    need = weight_bytes(path, torch.empty((), dtype=dtype).element_size())
    if need is None:
        return
    free, total = torch.cuda.mem_get_info(device)
    if need > free:
        raise ModelLoadFailed(
            f"model {name} needs {need / 2**30:.1f} GiB of GPU memory for its weights in {str(dtype).split('.')[-1]}, "
            f"but {device} has {free / 2**30:.1f} GiB free of {total / 2**30:.1f} GiB; use a larger GPU, a smaller "
            "--dtype, or fewer --model-copies"
        )


def copies_for(settings: ModelSettings) -> int:
    if settings.copies:
        return settings.copies
    if settings.device.startswith("cuda"):
        import torch

        return max(1, torch.cuda.device_count())
    return 1


def _device_for(settings: ModelSettings, copy: int) -> str:
    if settings.device == "cuda":
        import torch

        n = torch.cuda.device_count()
        return f"cuda:{copy % n}" if n > 1 else "cuda"
    return settings.device


def _record_load(settings: ModelSettings, copy: int, seconds: float) -> None:
    path = os.environ.get(LOAD_LOG_ENV)
    if not path:
        return
    line = json.dumps({"name": settings.name, "copy": copy, "pid": os.getpid(), "seconds": round(seconds, 3)})
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


class ModelServer:
    """One loaded model, served to every process of the machine (see module docstring)."""

    def __init__(self, settings: ModelSettings, copy: int = 0):
        from transformers.utils import logging as hf_logging

        from transforms.engine.models import load_causal_lm, resolve_device, resolve_dtype
        from transforms.engine.scorer import CausalLMScorer
        from transforms.model_store import localize_model

        started = time.monotonic()
        hf_logging.disable_progress_bar()
        try:
            path = localize_model(settings.name)
            device = resolve_device(_device_for(settings, copy))
            check_gpu_memory(settings.name, path, resolve_dtype(settings.dtype, device), device)
            loaded = load_causal_lm(
                path,
                dtype=settings.dtype,
                device=str(device),
                trust_remote_code=settings.trust_remote_code,
                allow_pickle=settings.allow_pickle,
            )
        except ModelLoadFailed:
            raise
        except Exception as exc:  # what a user can act on comes first in the message
            raise ModelLoadFailed(f"cannot load model {settings.name}: {str(exc).splitlines()[0]}") from exc
        self.scorer = CausalLMScorer(loaded, batch_tokens=settings.batch_tokens, max_tokens=settings.max_tokens)
        self.settings, self.path = settings, path
        self._generator = None  # made on the first generate(): scoring-only jobs never pay for it
        self.load_seconds = time.monotonic() - started
        self.pid = os.getpid()
        self.device = str(loaded.device)
        self.dtype = str(loaded.dtype).split(".")[-1]
        _record_load(settings, copy, self.load_seconds)
        log.info(
            "loaded %s (copy %d) on %s as %s in %.1fs", settings.name, copy, self.device, self.dtype, self.load_seconds
        )

    def score_responses(self, items):
        return self.scorer.score_responses(items)

    def embed(self, conversations, layer=-1, pooling="last", max_tokens=None):
        return self.scorer.embed(conversations, layer, pooling, max_tokens)

    def _make_generator(self):
        """vLLM's offline engine on a GPU where it is importable, else the loaded copy (transformers)."""
        from transforms.engine.generator import CausalLMGenerator, VLLMGenerator, vllm_available

        loaded = self.scorer.loaded
        engine = os.environ.get(GENERATION_ENGINE_ENV, "auto")
        if engine != "transformers" and loaded.device.type == "cuda" and vllm_available():
            import torch

            free, total = torch.cuda.mem_get_info(loaded.device)
            # vLLM takes a share of the whole GPU for its weights and KV pool: most of what the
            # scoring copy left free, never all of it.
            share = max(0.05, 0.85 * free / total)
            log.info("generating with vLLM for %s (%.0f%% of the GPU)", self.settings.name, share * 100)
            return VLLMGenerator(
                self.path,
                loaded.tokenizer,
                self.dtype,
                self.scorer.max_tokens,
                share,
                trust_remote_code=self.settings.trust_remote_code,
                lock=self.scorer._lock,
            )
        # The scorer's lock: generation and scoring forward passes on one copy never overlap.
        return CausalLMGenerator(
            loaded,
            max_tokens=self.settings.max_tokens,
            batch_size=GENERATION_BATCH_ROWS,
            batch_tokens=self.settings.batch_tokens,
            lock=self.scorer._lock,
        )

    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingSettings
    ) -> list[Generated | GenerationFailure]:
        """``GenerationRequest``s -> ``Generated`` or ``GenerationFailure`` each, in order."""
        with self.scorer._lock:
            if self._generator is None:
                self._generator = self._make_generator()
        return self._generator.generate(requests, sampling)

    def info(self) -> dict[str, Any]:
        return {"pid": self.pid, "load_seconds": self.load_seconds, "device": self.device, "dtype": self.dtype}


# Per process: the proxies this process holds (never released: a model lives as long as
# its worker) and which loads it has already reported as metrics.
_HELD: dict[str, Any] = {}
_HELD_LOCK = threading.Lock()


def _acquire_server(settings: ModelSettings) -> tuple[Any, int]:
    from apache_beam.utils.multi_process_shared import MultiProcessShared, _process_level_singleton_manager

    copy = os.getpid() % copies_for(settings)
    tag = f"gdr-{settings.tag}-c{copy}"
    with _HELD_LOCK:
        if tag not in _HELD:
            shared = MultiProcessShared(functools.partial(ModelServer, settings, copy), tag=tag, path=_pool_dir())
            try:
                _HELD[tag] = shared.acquire()
            except ModelLoadFailed:
                raise
            except Exception as exc:
                raise ModelLoadFailed(f"cannot load model {settings.name}: {str(exc).splitlines()[0]}") from exc
            if _process_level_singleton_manager.has_singleton(tag):
                # This process serves the model: its address file dies with it, so the next
                # job's processes start a server instead of retrying a dead address.
                atexit.register(_remove_quietly, os.path.join(_pool_dir(), tag + ".address"))
        return _HELD[tag], copy


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


class PooledModel:
    """A handle on the machine's shared copy of one model; loads it on first use.

    Exposes what ``DensityRatioScorer``, the routers and the generation step call: ``name``,
    ``score_responses``, ``embed`` and ``generate``. ``load_info`` says whether this process did the load (for metrics).
    """

    def __init__(self, settings: ModelSettings):
        self.settings = settings
        self._server = None
        self.load_info: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return self.settings.name

    def acquire(self) -> PooledModel:
        if self._server is None:
            self._server, _copy = _acquire_server(self.settings)
            self.load_info = dict(self._server.info())
        return self

    @property
    def loaded_here(self) -> bool:
        return bool(self.load_info) and self.load_info["pid"] == os.getpid()

    def score_responses(self, items):
        return self.acquire()._server.score_responses(items)

    def embed(self, conversations, layer=-1, pooling="last", max_tokens=None):
        # Positional: one round trip per batch through the cross-process proxy.
        return self.acquire()._server.embed(conversations, layer, pooling, max_tokens)

    def generate(
        self, requests: Sequence[GenerationRequest], sampling: SamplingSettings
    ) -> list[Generated | GenerationFailure]:
        # One round trip per batch: the requests cross the process boundary, texts come back.
        return self.acquire()._server.generate(requests, sampling)


def load_private(settings: ModelSettings):
    """A model for this process alone, freed when dropped (``gdr sweep`` loads models in turn)."""
    return ModelServer(settings).scorer
