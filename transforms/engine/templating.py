"""Turn (guide, conversation, response) into the token ids one model scores.

This is the exact definition of what is scored, per model and with that model's own
tokenizer and chat template:

* ``messages`` = the guide's messages (per its ``placement``) + the conversation;
* ``prefix`` = the template applied to ``messages`` with the generation prompt;
  ``full`` = the template applied to ``messages + [assistant: response]``; both as text,
  and ``full`` must start with ``prefix``;
* ``full`` is tokenized once, without special tokens the template already wrote;
  response tokens are those whose character span starts at or after ``len(prefix)``
  (from the tokenizer's offsets: a token may merge across the boundary, so counting the
  tokens of separately tokenized pieces would be wrong). They include the end-of-turn
  tokens the template writes after the response.

Models without a chat template (base models) get a plain, documented fallback format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guides import Guide

# Fallback for tokenizers without a chat template (base models). Plain role-labelled
# turns; the guide, as a system message, becomes a preamble. The response is followed
# by the EOS token so that "the answer ends here" is scored like a template's
# end-of-turn token.
FALLBACK_ROLE_NAMES = {"system": "", "user": "User: ", "assistant": "Assistant: "}


class TemplateError(ValueError):
    """The conversation cannot be rendered for scoring with this model's template."""


@dataclass(frozen=True)
class EncodedSequence:
    """Token ids of ``full`` and where the response tokens start."""

    input_ids: tuple[int, ...]
    response_start: int  # index of the first response token

    @property
    def n_response(self) -> int:
        return len(self.input_ids) - self.response_start

    def __len__(self) -> int:
        return len(self.input_ids)


def guided_messages(guide: Guide | None, conversation: list[dict[str, str]]) -> list[dict[str, str]]:
    """Put the guide in front of the conversation per its placement."""
    messages = [dict(m) for m in conversation]
    if guide is None:
        return messages
    text = guide.render()
    if guide.placement == "system":
        if messages and messages[0]["role"] == "system":
            messages[0]["content"] = f"{text}\n\n{messages[0]['content']}"
        else:
            messages.insert(0, {"role": "system", "content": text})
    else:  # user_prefix
        for m in messages:
            if m["role"] == "user":
                m["content"] = f"{text}\n\n{m['content']}"
                break
        else:
            raise TemplateError("guide placement 'user_prefix' needs a user turn")
    return messages


def _merge_system_into_user(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """For templates that reject a system role: prepend it to the first user turn."""
    if not messages or messages[0]["role"] != "system":
        return messages
    system, rest = messages[0]["content"], [dict(m) for m in messages[1:]]
    for m in rest:
        if m["role"] == "user":
            m["content"] = f"{system}\n\n{m['content']}"
            return rest
    return [{"role": "user", "content": system}, *rest]


def _fallback_render(tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
    parts = []
    for m in messages:
        parts.append(f"{FALLBACK_ROLE_NAMES[m['role']]}{m['content']}")
    text = "\n\n".join(parts)
    if add_generation_prompt:
        text += "\n\nAssistant:"
    return text


def _render(tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
    if not getattr(tokenizer, "chat_template", None):
        return _fallback_render(tokenizer, messages, add_generation_prompt)
    out = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
    if not isinstance(out, str):
        raise TemplateError("chat template did not render text")
    return out


def render_prefix_and_full(tokenizer: Any, messages: list[dict[str, str]], response: str) -> tuple[str, str]:
    """Render ``prefix`` (with generation prompt) and ``full`` (with the response) as text."""
    # Fallback format: full = prefix + " " + response + EOS, so prefix is a strict text
    # prefix of full and the space before the answer belongs to the response side.
    if not getattr(tokenizer, "chat_template", None):
        prefix = _fallback_render(tokenizer, messages, True)
        return prefix, f"{prefix} {response}{tokenizer.eos_token or ''}"
    try:
        prefix = _render(tokenizer, messages, True)
        full = _render(tokenizer, [*messages, {"role": "assistant", "content": response}], False)
    except Exception as exc:  # jinja raises TemplateError / exceptions from raise_exception()
        if messages and messages[0]["role"] == "system" and "system" in str(exc).lower():
            merged = _merge_system_into_user(messages)
            try:
                prefix = _render(tokenizer, merged, True)
                full = _render(tokenizer, [*merged, {"role": "assistant", "content": response}], False)
            except Exception as exc2:
                raise TemplateError(f"chat template cannot render the conversation: {exc2}") from None
        else:
            raise TemplateError(f"chat template cannot render the conversation: {exc}") from None
    return prefix, full


def _adds_bos(tokenizer: Any) -> bool:
    cached = getattr(tokenizer, "_gdr_adds_bos", None)
    if cached is None:
        bos = tokenizer.bos_token_id
        ids = tokenizer("a", add_special_tokens=True)["input_ids"] if bos is not None else []
        cached = bool(ids) and ids[0] == bos
        try:
            tokenizer._gdr_adds_bos = cached
        except AttributeError:
            pass
    return cached


def encode_for_scoring(
    tokenizer: Any,
    messages: list[dict[str, str]],
    response: str,
    max_tokens: int | None = None,
) -> EncodedSequence:
    """Tokenize ``full`` once and find the response tokens by character offsets."""
    prefix, full = render_prefix_and_full(tokenizer, messages, response)
    if not full.startswith(prefix):
        raise TemplateError(
            "rendered conversation with the response does not start with the rendered prompt "
            "(the chat template rewrites earlier turns); cannot isolate the response tokens"
        )
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(enc["input_ids"])
    offsets: list[tuple[int, int]] = [tuple(o) for o in enc["offset_mapping"]]
    # The model expects a BOS the template did not write (typical for base models).
    if _adds_bos(tokenizer) and (not ids or ids[0] != tokenizer.bos_token_id):
        ids.insert(0, tokenizer.bos_token_id)
        offsets.insert(0, (0, 0))
    boundary = len(prefix)
    start = next(
        (i for i, (s, _e) in enumerate(offsets) if s >= boundary and not (s == 0 and i == 0 and boundary > 0)), len(ids)
    )
    if start >= len(ids):
        raise TemplateError("the response has no tokens of its own after tokenization")
    if start == 0:
        raise TemplateError("nothing precedes the response; cannot condition on the prompt")
    if max_tokens is not None and len(ids) > max_tokens:
        raise TemplateError(f"sequence of {len(ids)} tokens exceeds --max-tokens {max_tokens}")
    return EncodedSequence(tuple(ids), start)
