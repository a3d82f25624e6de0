"""What every model step (routing, sampling, scoring, the sweep) shares: how its elements are
batched onto the model workers, and the one rule for retrying a model call.

A transient failure (device hiccup, I/O) is retried with a short exponential back-off; a model
that cannot load (:class:`~transforms.model_pool.ModelLoadFailed`) is never retried here — the
job must fail rather than dead-letter everything. Out-of-memory is handled inside the engine
(it halves the batch), so it does not reach this loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from transforms.model_pool import ModelLoadFailed

log = logging.getLogger(__name__)
T = TypeVar("T")


def with_retries(call: Callable[[], T], retries: int, what: str, on_retry: Callable[[], None] | None = None) -> T:
    """``call()``, tried ``retries + 1`` times in all; the last failure is raised to the caller."""
    retries = max(0, retries)
    for attempt in range(retries + 1):
        try:
            return call()
        except ModelLoadFailed:
            raise
        except Exception as exc:
            if attempt == retries:
                raise
            if on_retry is not None:
                on_retry()
            log.warning("%s attempt %d/%d failed: %s; retrying", what, attempt + 1, retries + 1, exc)
            time.sleep(min(2.0**attempt * 0.1, 5.0))
    raise AssertionError("unreachable")


def batched_model_step(
    elements: Any,
    step: Any,
    batch_label: str,
    step_label: str,
    max_batch_size: int,
    accelerator_hint: str | None = None,
) -> Any:
    """``elements`` -> ``BatchElements`` -> ``step`` (a ``beam.ParDo``, with its outputs declared).

    ``accelerator_hint`` (a Beam resource hint, e.g. ``type:nvidia-l4;count:1;install-nvidia-driver``)
    goes on the model step only, so runners that honour hints keep reading, joining and
    writing on CPU workers.
    """
    import apache_beam as beam

    if accelerator_hint:
        step = step.with_resource_hints(accelerator=accelerator_hint)
    return (
        elements
        | batch_label >> beam.BatchElements(min_batch_size=1, max_batch_size=max_batch_size)
        | step_label >> step
    )
