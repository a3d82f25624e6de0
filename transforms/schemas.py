"""Arrow schemas of the output tables (TRL's conversational preference format for pairs)."""

from __future__ import annotations

import pyarrow as pa

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)

PAIRS_SCHEMA = pa.schema(
    [
        ("prompt_id", pa.string()),
        ("prompt", MESSAGES),
        ("chosen", MESSAGES),
        ("rejected", MESSAGES),
        ("chosen_reward", pa.float64()),
        ("rejected_reward", pa.float64()),
        ("margin", pa.float64()),
        ("domain", pa.string()),
        ("guide_id", pa.string()),
        ("guide_version", pa.string()),
        ("strong_model", pa.string()),
        ("weak_model", pa.string()),
        ("n_candidates", pa.int32()),
        ("metadata", pa.string()),  # the record's metadata object as JSON
        # lineage: input line (file:line or file#row) and position in that record's responses
        ("chosen_source", pa.string()),
        ("chosen_response_index", pa.int32()),
        ("rejected_source", pa.string()),
        ("rejected_response_index", pa.int32()),
    ]
)

# The full candidate snapshot of a run date: every candidate of that day's corpus, scored that
# day or reused from an earlier one (``scored_on``); text lives once, in ``scores/`` of the
# date it was first scored, joined by ``score_key``.
CANDIDATES_SCHEMA = pa.schema(
    [
        ("prompt_id", pa.string()),
        ("source", pa.string()),
        ("response_index", pa.int32()),
        ("domain", pa.string()),
        ("router_confidence", pa.float64()),
        ("guide_id", pa.string()),
        ("guide_version", pa.string()),
        ("reward", pa.float64()),
        ("reward_mean", pa.float64()),
        ("score_key", pa.string()),
        ("scored_on", pa.string()),  # run date whose scores/ partition holds this candidate's row
    ]
)

SCORES_SCHEMA = pa.schema(
    [
        ("prompt_id", pa.string()),
        ("response_index", pa.int32()),  # position in the input record's responses
        ("source", pa.string()),  # the input line: file:line (JSONL) or file#row (Parquet)
        ("prompt", MESSAGES),
        ("response", pa.string()),
        ("reward", pa.float64()),
        ("reward_mean", pa.float64()),
        ("logp_strong", pa.float64()),
        ("logp_weak", pa.float64()),
        ("n_tokens_strong", pa.int32()),
        ("n_tokens_weak", pa.int32()),
        ("domain", pa.string()),
        ("router_confidence", pa.float64()),
        ("guide_id", pa.string()),
        ("guide_version", pa.string()),
        ("strong_model", pa.string()),
        ("weak_model", pa.string()),
        ("score_key", pa.string()),  # content key of this score (transforms.keys), for reuse
        ("route_key", pa.string()),
    ]
)
