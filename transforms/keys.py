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

``generation_key`` names one on-policy sample (``--generate``): the conversation, the
sample's index among the prompt's samples, and the generation setting (the policy's
fingerprint, the dtype, the sampling settings, ``--seed`` and ``GENERATION_DEFINITION``).
The sampler's seed is derived from the key (``generation_seed``), so the same key draws the
same sample, and a later run reuses the stored text instead of sampling again. Which
engine sampled (transformers, or vLLM on a GPU worker) is not part of it: both draw from
the same distribution, but not the same sample for a seed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

# The reward definition: sum over response tokens (offset boundary, end-of-turn tokens
# included) of log p_strong - log p_weak, each model with its own chat template.
SCORING_DEFINITION = "gdr-density-ratio-v1"
# The sampling definition: the policy's own chat template with its generation prompt, no
# guide, stop at end of turn, temperature then nucleus (top-p) filtering; bump it whenever
# the rendering or sampling rules change.
GENERATION_DEFINITION = "gdr-sampling-v1"


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def scoring_setting(strong_fp: str, weak_fp: str, dtype: str) -> str:
    return _digest({"definition": SCORING_DEFINITION, "strong": strong_fp, "weak": weak_fp, "dtype": dtype})


def router_setting(kind: str, model_fp: str | None, threshold: float, default: str, guides: dict[str, str]) -> str:
    return _digest({"kind": kind, "model": model_fp, "threshold": threshold, "default": default, "guides": guides})


def score_key(conversation: list[dict], response: str, setting: str, guide_id: str, guide_version: str) -> str:
    return _digest([setting, conversation, response, guide_id, guide_version])


def model_logprob_setting(model_fp: str, dtype: str, max_tokens: int | None) -> str:
    """One model's log-probs (``gdr sweep``'s cache): its content, dtype and truncation."""
    return _digest({"definition": SCORING_DEFINITION, "model": model_fp, "dtype": dtype, "max": max_tokens})


def logprob_key(conversation: list[dict], response: str, guide_id: str | None, guide_version: str | None) -> str:
    """One response's log-prob under one model and guide (within a ``model_logprob_setting``)."""
    return _digest([conversation, response, guide_id, guide_version])


def route_key(conversation: list[dict], domain_hint: str | None, setting: str) -> str:
    return _digest([setting, conversation, domain_hint])


def generation_setting(policy_fp: str, dtype: str, sampling: dict[str, Any], seed: int) -> str:
    """Everything a sample depends on besides its prompt and index (see module docstring)."""
    return _digest(
        {"definition": GENERATION_DEFINITION, "policy": policy_fp, "dtype": dtype, "sampling": sampling, "seed": seed}
    )


def generation_key(conversation: list[dict], setting: str, sample_index: int) -> str:
    return _digest([setting, conversation, sample_index])


def generation_seed(key: str) -> int:
    """The sampler's seed for the sample ``key`` names (63 bits: every RNG takes it)."""
    return int(key[:16], 16) & (2**63 - 1)
