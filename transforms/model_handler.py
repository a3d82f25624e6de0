"""Model loading for Beam workers: once per worker process, shared by every DoFn.

``DensityRatioModelHandler`` is a Beam ``ModelHandler`` that owns loading the strong and
weak models and running the engine over a batch (usable with ``RunInference`` too). The
pipeline's own DoFns (routing and scoring both need the strong model) acquire loaded
models through :func:`acquire_model`, which keeps one copy per process in a
``beam.utils.shared.Shared`` pool: a GPU worker holds each model exactly once however
many threads or DoFns use it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from apache_beam.ml.inference.base import ModelHandler
from apache_beam.utils import shared

log = logging.getLogger(__name__)

# Module globals, so one per worker process: DoFns in the process share what they hold.
# One Shared handle per model: a handle holds a single object and *replaces* it when
# acquired with another tag, so one handle for strong and weak would reload them in turn.
_POOLS: dict[str, shared.Shared] = {}
_POOLS_LOCK = threading.Lock()


@dataclass(frozen=True)
class ModelSettings:
    """How to load one model (hashable: it is the pool key)."""

    name: str
    dtype: str = "auto"
    device: str = "auto"
    batch_tokens: int = 8192
    max_tokens: int | None = None
    trust_remote_code: bool = False
    allow_pickle: bool = False

    @property
    def tag(self) -> str:
        return repr(self)


class _Holder:
    """Shared needs a weak-referenceable object."""

    def __init__(self, value: Any):
        self.value = value


def _load_scorer(settings: ModelSettings):
    from transformers.utils import logging as hf_logging

    from transforms.engine.models import load_causal_lm
    from transforms.engine.scorer import CausalLMScorer

    hf_logging.disable_progress_bar()
    loaded = load_causal_lm(
        settings.name,
        dtype=settings.dtype,
        device=settings.device,
        trust_remote_code=settings.trust_remote_code,
        allow_pickle=settings.allow_pickle,
    )
    return CausalLMScorer(loaded, batch_tokens=settings.batch_tokens, max_tokens=settings.max_tokens)


def acquire_model(settings: ModelSettings) -> _Holder:
    """The process-wide ``CausalLMScorer`` for these settings (loaded on first use).

    Keep the returned holder referenced for as long as the model is used (Shared frees
    the object once nobody holds it).
    """
    with _POOLS_LOCK:
        pool = _POOLS.setdefault(settings.tag, shared.Shared())
    return pool.acquire(lambda: _Holder(_load_scorer(settings)), tag=settings.tag)


class DensityRatioModelHandler(ModelHandler):
    """Beam ModelHandler: ``ScoreRequest`` batches in, ``ScoreResult``/``ScoreFailure`` out."""

    def __init__(self, strong: ModelSettings, weak: ModelSettings, max_batch_size: int = 64):
        super().__init__()
        self.strong, self.weak = strong, weak
        self._max_batch_size = max_batch_size
        self._holders: list[_Holder] = []

    def load_model(self):
        from transforms.engine.scorer import DensityRatioScorer

        strong, weak = acquire_model(self.strong), acquire_model(self.weak)
        self._holders = [strong, weak]
        return DensityRatioScorer(strong.value, weak.value)

    def run_inference(self, batch: Sequence[Any], model: Any, inference_args: dict | None = None):
        return model.score(list(batch))

    def get_num_bytes(self, batch: Sequence[Any]) -> int:
        return sum(len(r.response) + sum(len(m["content"]) for m in r.conversation) for r in batch)

    def get_metrics_namespace(self) -> str:
        return "gdr_density_ratio"

    def batch_elements_kwargs(self) -> dict:
        return {"max_batch_size": self._max_batch_size}

    def share_model_across_processes(self) -> bool:
        return False
