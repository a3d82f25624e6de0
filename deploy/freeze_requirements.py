"""Write ``deploy/requirements.txt``: the pinned runtime closure of setup.py's install_requires.

The pins are the versions installed in the environment this runs in (the project's .venv,
where the test suite passes), so the image gets a set known to work together. torch and
what only torch needs are left out: the Dockerfile installs the CUDA torch wheel itself.

    .venv/bin/python deploy/freeze_requirements.py > deploy/requirements.txt
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import platform
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
EXCLUDED = {"torch"}  # pinned in deploy/Dockerfile (CUDA build)


def install_requires(setup_py: Path = ROOT / "setup.py") -> list[str]:
    """install_requires of setup.py, read with ast (importing setup.py would run setup())."""
    for node in ast.walk(ast.parse(setup_py.read_text(encoding="utf-8"))):
        if isinstance(node, ast.keyword) and node.arg == "install_requires":
            return [ast.literal_eval(e) for e in node.value.elts]
    raise SystemExit("setup.py has no install_requires")


def closure(roots: list[str]) -> dict[str, str]:
    """canonical name -> installed version, following requirements whose markers hold here."""
    pins: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    todo = [(Requirement(r), "") for r in roots]
    while todo:
        req, parent_extra = todo.pop()
        env = {"extra": parent_extra}
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = canonicalize_name(req.name)
        if name in EXCLUDED:
            continue
        version = md.version(name)
        pins[name] = version
        for extra in {""} | set(req.extras):
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            todo.extend((Requirement(r), extra) for r in md.requires(name) or [])
    return pins


def main() -> int:
    pins = closure(install_requires())
    print(
        "# Runtime closure of setup.py's install_requires, pinned to the versions the test suite\n"
        "# passes with. Regenerate: .venv/bin/python deploy/freeze_requirements.py > deploy/requirements.txt\n"
        "# torch is not here: deploy/Dockerfile installs the CUDA wheel first.\n"
        f"# resolved on: CPython {sys.version_info.major}.{sys.version_info.minor} {platform.system()} {platform.machine()}"
    )
    for name in sorted(pins):
        print(f"{name}=={pins[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
