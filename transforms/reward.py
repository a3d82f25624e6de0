"""The reward formula, written once: the (guided) density ratio of a response for a model pair.

Pure Python. The engine's ``ScoreResult`` and the sweep's pairs formed from single-model
log-probs (``transforms.evaluation.sweep_pairs``) both call :func:`density_ratio`, so
annotate, evaluate and sweep cannot disagree on what a reward is.
"""

from __future__ import annotations

REWARDS = ("sum", "mean")


def density_ratio(logp_strong: float, logp_weak: float, n_strong: int, n_weak: int, reward: str = "sum") -> float:
    """``sum``: summed log p_strong(y|x) − summed log p_weak(y|x) over the response tokens (the
    paper's reward). ``mean``: the same with each model's sum divided by its own token count
    (each model tokenises the response with its own tokenizer)."""
    if reward == "sum":
        return logp_strong - logp_weak
    if reward == "mean":
        return logp_strong / n_strong - logp_weak / n_weak
    raise ValueError(f"reward must be one of {', '.join(REWARDS)}, got {reward!r}")
