"""Validate input records and turn them into candidates; explain every rejection.

Pure Python (no Beam, no torch). An input record is one JSONL line or Parquet row:

* ``{"prompt": ..., "responses": [str, ...]}`` - one prompt, N candidates;
* ``{"prompt": ..., "response": str}`` - one candidate per row, grouped by ``prompt_id``
  when present, else by a stable hash of the prompt;
* ``{"prompt": ...}`` (or ``"responses": []``) - a prompt only, accepted when the run
  generates candidates (``--generate N``): ``responses`` comes back empty;
* optional ``prompt_id`` (str), ``domain`` (str), ``metadata`` (object).

``prompt`` is a string (one user turn) or a list of ``{"role", "content"}`` messages
(system first if any, ending with a user turn). Anything else raises
:class:`RecordError` whose message is the dead-letter reason a person can act on.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

ROLES = ("system", "user", "assistant")


class RecordError(ValueError):
    """The record cannot be used; the message says why (dead-letter reason)."""


def source_order(source: str) -> tuple:
    """``path:12`` / ``path#12`` -> ``(path, 12)``: file order, then line or row."""
    for sep in (":", "#"):
        head, _, tail = source.rpartition(sep)
        if head and tail.isdigit():
            return (head, int(tail))
    return (source, 0)


def candidate_order(candidate: dict[str, Any]) -> tuple:
    """A candidate's place in the input: its record's line, then its position in that record's list.

    ``(source, response_index)`` names a candidate uniquely and exactly (lineage); one-response
    rows grouped by ``prompt_id`` all have ``response_index`` 0, on different lines.
    """
    return (*source_order(candidate.get("source", "")), candidate.get("response_index", 0))


def conversation_hash(conversation: list[dict[str, str]]) -> str:
    canonical = json.dumps(conversation, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def parse_conversation(prompt: Any) -> list[dict[str, str]]:
    """A prompt as a validated list of messages ending with a user turn."""
    if prompt is None:
        raise RecordError("missing 'prompt'")
    if isinstance(prompt, str):
        if not prompt.strip():
            raise RecordError("empty 'prompt'")
        return [{"role": "user", "content": prompt}]
    if not isinstance(prompt, list):
        raise RecordError(f"'prompt' must be a string or a list of messages, got {type(prompt).__name__}")
    if not prompt:
        raise RecordError("empty 'prompt' (no messages)")
    messages = []
    for i, m in enumerate(prompt):
        if not isinstance(m, dict):
            raise RecordError(f"prompt message {i} is not an object")
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise RecordError(f"prompt message {i} has unknown role {role!r} (expected one of {', '.join(ROLES)})")
        if not isinstance(content, str):
            raise RecordError(f"prompt message {i} content must be a string, got {type(content).__name__}")
        if role == "system" and i != 0:
            raise RecordError(f"prompt message {i}: a system message is only allowed first")
        messages.append({"role": role, "content": content})
    if messages[-1]["role"] != "user":
        raise RecordError("the last prompt message must be a user turn (the response answers it)")
    if not any(m["content"].strip() for m in messages if m["role"] == "user"):
        raise RecordError("empty 'prompt' (user turns have no text)")
    return messages


def _metadata(value: Any) -> dict | None:
    if value is None:
        return None
    if isinstance(value, str):  # Parquet users often store metadata as a JSON string
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise RecordError("'metadata' is a string but not valid JSON") from None
    if not isinstance(value, dict):
        raise RecordError(f"'metadata' must be an object, got {type(value).__name__}")
    return value


def parse_record(raw: Any, prompt_only: bool = False) -> dict[str, Any]:
    """Validate one record; returns its normalised form (responses still unchecked).

    ``prompt_only``: a record without responses is valid (its candidates will be generated).
    """
    if not isinstance(raw, dict):
        raise RecordError(f"record is not a JSON object (got {type(raw).__name__})")
    conversation = parse_conversation(raw.get("prompt"))
    prompt_id = raw.get("prompt_id")
    if prompt_id is not None:
        if isinstance(prompt_id, bool) or not isinstance(prompt_id, (str, int)):
            raise RecordError(f"'prompt_id' must be a string, got {type(prompt_id).__name__}")
        prompt_id = str(prompt_id)
        if not prompt_id.strip():
            raise RecordError("empty 'prompt_id'")
    domain = raw.get("domain")
    if domain is not None and (not isinstance(domain, str) or not domain.strip()):
        raise RecordError("'domain' must be a non-empty string")
    has_list, has_single = raw.get("responses") is not None, raw.get("response") is not None
    if has_list and has_single:
        raise RecordError("record has both 'responses' and 'response'; use one")
    if has_list:
        responses = raw["responses"]
        if not isinstance(responses, list):
            raise RecordError(f"'responses' must be a list of strings, got {type(responses).__name__}")
        if not responses and not prompt_only:
            raise RecordError("'responses' is empty; to sample candidates for it, run with --generate N")
        bad = [i for i, r in enumerate(responses) if not isinstance(r, str)]
        if bad:
            raise RecordError(f"'responses' must be a list of strings; item(s) {bad[:5]} are not strings")
    elif has_single:
        if not isinstance(raw["response"], str):
            raise RecordError(f"'response' must be a string, got {type(raw['response']).__name__}")
        responses = [raw["response"]]
    elif prompt_only:
        responses = []  # the run samples this prompt's candidates
    else:
        raise RecordError(
            "missing 'responses' (list of strings) or 'response' (string); "
            "to sample candidates for prompt-only records, run with --generate N"
        )
    return {
        "prompt_id": prompt_id or f"h-{conversation_hash(conversation)}",
        "conversation": conversation,
        "responses": responses,
        "domain": domain.strip() if domain else None,
        "metadata": _metadata(raw.get("metadata")),
    }


def jsonable(value: Any) -> Any:
    """Best effort to keep a raw record writable as JSON in the dead-letter output."""
    try:
        json.dumps(value, ensure_ascii=False)
        return value
    except (TypeError, ValueError):
        return repr(value)
