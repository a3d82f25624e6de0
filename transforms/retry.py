"""Retrying a model call on a worker: the one rule every model step (scoring, sampling, sweep) follows.

A transient failure (device hiccup, I/O) is retried with a short exponential back-off; a model
that cannot load (:class:`~transforms.model_pool.ModelLoadFailed`) is never retried here — the
job must fail rather than dead-letter everything. Out-of-memory is handled inside the engine
(it halves the batch), so it does not reach this loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

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
