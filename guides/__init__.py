"""Guides: per-domain criteria and exemplars, stored as versioned YAML files.

A guide is data, not code. Each ``*.yaml`` file in a guide directory describes one
domain (``chat``, ``safety``, ``reasoning`` ...): what prompts belong there (the router
reads ``description``), what a good response does (``criteria``) and a few good/bad
``exemplars``. The scorer puts the rendered guide in front of the conversation for both
models, either as the system message or before the first user turn (``placement``).

A guide's ``version`` is a hash of its content, written next to every score, so a
changed guide is visible in the output without anyone remembering to bump a number.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

BUILTIN_GUIDES_DIR = Path(__file__).resolve().parent
PLACEMENTS = ("system", "user_prefix")
NO_GUIDE_ID = "none"


class GuideError(ValueError):
    """A guide file is missing, unreadable or malformed (a user-actionable error)."""


@dataclass(frozen=True)
class Exemplar:
    prompt: str
    good: str
    bad: str
    why: str = ""


@dataclass(frozen=True)
class Guide:
    id: str
    description: str
    criteria: tuple[str, ...]
    exemplars: tuple[Exemplar, ...] = ()
    placement: str = "system"
    keywords: tuple[str, ...] = ()
    version: str = field(default="", compare=False)

    def render(self) -> str:
        """The guide as the text the models see (system message or user-turn preamble)."""
        lines = [f"You are answering a request in the domain '{self.id}'. A good response meets these criteria:"]
        lines += [f"- {c}" for c in self.criteria]
        for i, ex in enumerate(self.exemplars, 1):
            lines.append("")
            lines.append(f"Example {i}. Request: {ex.prompt}")
            lines.append(f"Good response: {ex.good}")
            lines.append(f"Bad response: {ex.bad}")
            if ex.why:
                lines.append(f"Why: {ex.why}")
        return "\n".join(lines)


def _content_version(raw: dict) -> str:
    # Canonical JSON of the parsed content: formatting-only edits (comments, quoting
    # style) keep the version, any change to what the models see changes it.
    canonical = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def _as_str_list(value: object, key: str, path: Path) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise GuideError(f"{path}: '{key}' must be a list of strings")
    return tuple(v.strip() for v in value if v.strip())


def guide_from_dict(raw: dict, path: Path | str = "<dict>") -> Guide:
    """Validate one parsed guide mapping and build a :class:`Guide`."""
    path = Path(path)
    if not isinstance(raw, dict):
        raise GuideError(f"{path}: a guide file must hold a YAML mapping")
    missing = [k for k in ("id", "description", "criteria") if not raw.get(k)]
    if missing:
        raise GuideError(f"{path}: missing required key(s): {', '.join(missing)}")
    placement = raw.get("placement", "system")
    if placement not in PLACEMENTS:
        raise GuideError(f"{path}: placement must be one of {PLACEMENTS}, got {placement!r}")
    exemplars = []
    for i, ex in enumerate(raw.get("exemplars") or []):
        if not isinstance(ex, dict) or not all(isinstance(ex.get(k), str) for k in ("prompt", "good", "bad")):
            raise GuideError(f"{path}: exemplar {i} needs string 'prompt', 'good' and 'bad'")
        exemplars.append(
            Exemplar(ex["prompt"].strip(), ex["good"].strip(), ex["bad"].strip(), str(ex.get("why", "")).strip())
        )
    guide_id = str(raw["id"]).strip()
    if guide_id == NO_GUIDE_ID:
        raise GuideError(f"{path}: '{NO_GUIDE_ID}' is reserved for unguided scoring")
    return Guide(
        id=guide_id,
        description=str(raw["description"]).strip(),
        criteria=_as_str_list(raw["criteria"], "criteria", path),
        exemplars=tuple(exemplars),
        placement=placement,
        keywords=tuple(k.lower() for k in _as_str_list(raw.get("keywords"), "keywords", path)),
        version=_content_version(raw),
    )


def load_guides(directory: str | os.PathLike | None = None) -> dict[str, Guide]:
    """Load every ``*.yaml``/``*.yml`` guide in ``directory`` (default: the built-in set).

    Returns guides keyed by id, in a stable (sorted) order.
    """
    directory = Path(directory) if directory is not None else BUILTIN_GUIDES_DIR
    if not directory.is_dir():
        raise GuideError(f"guide directory not found: {directory}")
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not files:
        raise GuideError(f"no guide files (*.yaml) in {directory}")
    guides: dict[str, Guide] = {}
    for path in files:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise GuideError(f"{path}: cannot read guide: {exc}") from None
        guide = guide_from_dict(raw, path)
        if guide.id in guides:
            raise GuideError(f"{path}: duplicate guide id {guide.id!r}")
        guides[guide.id] = guide
    return dict(sorted(guides.items()))
