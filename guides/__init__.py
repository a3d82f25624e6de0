"""Guides: per-domain criteria and exemplars, stored as versioned YAML files.

A guide is data, not code. Each ``*.yaml`` file in a guide directory describes one
domain (``chat``, ``safety``, ``reasoning`` ...): what prompts belong there (the llm router
reads ``description``), what a good response does (``criteria``) and a few good/bad
``exemplars``. The scorer puts the rendered guide in front of the conversation for both
models, either as the system message or before the first user turn (``placement``).
``examples`` are labelled prompts that belong to the domain (a string, or a list of
``{role, content}`` messages ending with a user turn): the embedding router learns the
domain from them (with the other domains' examples). They are never shown to the scoring models.

A guide's ``version`` is a hash of its content, examples included, written next to every
score, so a changed guide is visible in the output without anyone remembering to bump a
number, and the router setting (which holds every guide's version) changes with it.

:func:`routing_examples` adds more labelled prompts: the guide folder's own
``router_examples*.jsonl`` files (the built-in folder ships four) and a user's
``--router-examples FILE``; both only decide routes and are not part of any guide's version.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

BUILTIN_GUIDES_DIR = Path(__file__).resolve().parent
PLACEMENTS = ("system", "user_prefix")
ROUTER_EXAMPLES_GLOB = "router_examples*.jsonl"  # optional, next to the guide files, read in name order
NO_GUIDE_ID = "none"
ROLES = ("system", "user", "assistant")

# A conversation as stored in a guide: hashable (guides are frozen dataclasses), turned into
# ``[{"role", "content"}]`` lists by ``as_messages``.
Conversation = tuple[tuple[str, str], ...]


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
    examples: tuple[Conversation, ...] = ()
    version: str = field(default="", compare=False)

    def example_conversations(self) -> list[list[dict[str, str]]]:
        """The labelled prompts of this domain as message lists: ``examples``, then the exemplars' prompts."""
        convs = [as_messages(c) for c in self.examples]
        convs += [[{"role": "user", "content": ex.prompt}] for ex in self.exemplars]
        return convs

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


def as_messages(conversation: Conversation) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in conversation]


def parse_example(value: object, where: str) -> Conversation:
    """One labelled prompt: a non-empty string, or messages (system first if any) ending with a user turn."""
    if isinstance(value, str):
        if not value.strip():
            raise GuideError(f"{where}: empty prompt")
        return (("user", value.strip()),)
    if not isinstance(value, list) or not value:
        raise GuideError(f"{where}: a prompt must be a string or a non-empty list of {{role, content}} messages")
    turns = []
    for i, m in enumerate(value):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise GuideError(f"{where}: message {i} needs 'role' ({', '.join(ROLES)}) and string 'content'")
        if m["role"] == "system" and i != 0:
            raise GuideError(f"{where}: message {i}: a system message is only allowed first")
        turns.append((m["role"], m["content"].strip()))
    if turns[-1][0] != "user":
        raise GuideError(f"{where}: the last message must be a user turn")
    if not any(content for role, content in turns if role == "user"):
        raise GuideError(f"{where}: the user turns have no text")
    return tuple(turns)


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
    raw_examples = raw.get("examples") or []
    if not isinstance(raw_examples, list):
        raise GuideError(f"{path}: 'examples' must be a list of prompts")
    examples = tuple(parse_example(ex, f"{path}: example {i}") for i, ex in enumerate(raw_examples))
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
        examples=examples,
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


@dataclass(frozen=True)
class RouterExample:
    """One user-supplied labelled prompt (``--router-examples``)."""

    domain: str
    conversation: Conversation


def load_router_examples(
    path: str | os.PathLike, guide_ids: Iterable[str], what: str = "--router-examples"
) -> tuple[RouterExample, ...]:
    """Read ``{"prompt", "domain"}`` JSONL records; every domain must name a guide.

    The file is read once, by the launcher: its records travel with the routing step, so
    workers never need to see the path.
    """
    path = Path(path)
    known = set(guide_ids)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise GuideError(f"{what}: cannot read {path}: {exc}") from None
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GuideError(f"{where}: invalid JSON ({exc.msg})") from None
        if not isinstance(rec, dict):
            raise GuideError(f"{where}: expected a JSON object with 'prompt' and 'domain'")
        domain = rec.get("domain")
        if domain not in known:
            raise GuideError(f"{where}: domain {domain!r} has no guide (guides: {', '.join(sorted(known))})")
        out.append(RouterExample(domain, parse_example(rec.get("prompt"), where)))
    if not out:
        raise GuideError(f"{what}: no records in {path}")
    return tuple(out)


def routing_examples(
    guides_arg: str, guide_ids: Iterable[str], user_file: str | os.PathLike | None = None
) -> tuple[RouterExample, ...]:
    """Labelled prompts for the embedding router beyond the guides' own ``examples:``.

    First the guide folder's ``router_examples*.jsonl`` files in name order (the built-in
    folder ships the project's labelled router sets: the first held-out set, dev, v2 and v3,
    each measured before it became training data; README "Routers"), then the user's
    ``--router-examples`` file. They only decide routes: they are in the route key, not in
    any guide's version, so adding examples re-routes but never rescores by itself.
    """
    guide_ids = list(guide_ids)
    folder = BUILTIN_GUIDES_DIR if guides_arg == "builtin" else Path(guides_arg)
    out: tuple[RouterExample, ...] = ()
    for shipped in sorted(p for p in folder.glob(ROUTER_EXAMPLES_GLOB) if p.is_file()):
        out += load_router_examples(shipped, guide_ids, what=str(shipped))
    if user_file:
        out += load_router_examples(user_file, guide_ids)
    return out
