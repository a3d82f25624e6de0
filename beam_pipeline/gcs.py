"""Beam's ``gs://`` filesystem for the launcher and the workers, including a local GCS emulator.

Beam's GCS filesystem builds a new ``GcsIO`` for every operation through
``apache_beam.io.gcp.gcsio.create_storage_client(options)``, which asks
``google.auth.default()`` for Application Default Credentials once per process - with
five tries and exponential back-off, about 21 s when no credentials exist - and then falls
back to an anonymous client. Beam 2.77 has no pipeline option that turns this off for GCS
(``--no_auth`` is only read by the Dataflow job client), so:

* :func:`configure_filesystems` hands the job's options to ``FileSystems`` before anything
  touches storage, so launcher-side calls (input validation, publish) authenticate with
  the job's GCP options (``--impersonate_service_account`` ...), not default ones. Beam
  caches the first credentials of a process, so this must run before the first ``gs://``
  call.
* Only while ``STORAGE_EMULATOR_HOST`` is set - the variable that already sends every
  request of ``google-cloud-storage`` to the emulator - Beam's storage clients are created
  anonymous (``create_storage_client(..., use_credentials=False)``, Beam's own anonymous
  mode). No credential probing, and no real token is ever sent to an emulator. The check
  is made on every client creation, so unsetting the variable restores Beam's normal
  authenticated path; without the variable nothing is changed at all.
* For workers in other processes (multi-process DirectRunner, portable runners) the module
  is added to ``--beam_plugins``; a worker imports it at start-up and applies the same rule.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import Any

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions

EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
_MARK = "_gdr_anonymous_for_emulator"

log = logging.getLogger(__name__)


def emulator_host() -> str | None:
    """The GCS emulator endpoint from ``STORAGE_EMULATOR_HOST``, or ``None`` for real GCS."""
    return os.environ.get(EMULATOR_ENV) or None


def _anonymous_when_emulated(create: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(create)
    def create_storage_client(pipeline_options: Any, use_credentials: bool = True) -> Any:
        if emulator_host():
            use_credentials = False
        return create(pipeline_options, use_credentials=use_credentials)

    setattr(create_storage_client, _MARK, True)
    return create_storage_client


def use_anonymous_credentials_for_emulator() -> bool:
    """Make Beam's GCS clients anonymous while ``STORAGE_EMULATOR_HOST`` is set (idempotent).

    Returns whether the emulator mode is active. Does nothing when the variable is unset.
    """
    host = emulator_host()
    if not host:
        return False
    try:
        from apache_beam.io.gcp import gcsio
    except ImportError:  # Beam without the gcp extra: no gs:// filesystem to configure
        return False
    if not getattr(gcsio.create_storage_client, _MARK, False):
        gcsio.create_storage_client = _anonymous_when_emulated(gcsio.create_storage_client)
        log.info("%s=%s: gs:// goes to the emulator with anonymous credentials", EMULATOR_ENV, host)
    return True


def configure_filesystems(options: PipelineOptions) -> PipelineOptions:
    """Set up Beam's filesystems for ``options`` before the first storage call; returns ``options``.

    Registers ``options`` with ``FileSystems`` and, only when ``STORAGE_EMULATOR_HOST`` is
    set, switches GCS to anonymous credentials here and (through ``--beam_plugins``) on
    workers in other processes.
    """
    FileSystems.set_options(options)
    if use_anonymous_credentials_for_emulator():
        setup = options.view_as(SetupOptions)
        plugins = list(setup.beam_plugins or [])
        if __name__ not in plugins:
            setup.beam_plugins = [*plugins, __name__]
    return options


# Imported as a Beam plugin by a worker process (see configure_filesystems): apply the
# emulator rule there too. A no-op unless STORAGE_EMULATOR_HOST is set.
use_anonymous_credentials_for_emulator()
