"""Content keys that make nightly runs incremental and idempotent. Pure Python.

``score_key`` names one scored candidate by everything its score depends on: the
conversation, the response, both models (their fingerprints: config, tokenizer/template
and weight-file sizes for local folders; the id for hub models), the dtype, the guide id
and version it was scored with, and the reward definition (``SCORING_DEFINITION``:
bump it whenever templating or log-prob rules change). Its score is reused by any later
run that would compute the same thing. ``--reward sum|mean`` is not part of it: every
stored score holds both, and the flag only decides how pairs are ranked.

``route_key`` names one routing decision: the conversation, the record's own domain
label, and the router setting (kind, router model, threshold, default domain and the
versions of every guide, whose descriptions/keywords the routers read).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

# The reward definition: sum over response tokens (offset boundary, end-of-turn tokens
# included) of log p_strong - log p_weak, each model with its own chat template.
SCORING_DEFINITION = "gdr-density-ratio-v1"


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def scoring_setting(strong_fp: str, weak_fp: str, dtype: str) -> str:
    return _digest({"definition": SCORING_DEFINITION, "strong": strong_fp, "weak": weak_fp, "dtype": dtype})


def router_setting(kind: str, model_fp: str | None, threshold: float, default: str, guides: dict[str, str]) -> str:
    return _digest({"kind": kind, "model": model_fp, "threshold": threshold, "default": default, "guides": guides})


def score_key(conversation: list[dict], response: str, setting: str, guide_id: str, guide_version: str) -> str:
    return _digest([setting, conversation, response, guide_id, guide_version])


def route_key(conversation: list[dict], domain_hint: str | None, setting: str) -> str:
    return _digest([setting, conversation, domain_hint])
