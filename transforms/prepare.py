"""Records -> prompt groups: validate, split into candidates, group by prompt.

``PrepareGroups`` takes ``{"source", "raw"}`` records and returns one *prompt group* per
prompt id: the conversation, its candidates (``source``, ``response_index``, ``response``), the
record's domain override and metadata. Rejected rows and candidates go to the dead-letter
output with the reason; a candidate whose ``prompt_id`` was seen with a different prompt
is rejected too (a prompt id must name one conversation).
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam

from transforms.io import DEAD_LETTER, dead_letter, partition_value_problem
from transforms.records import RecordError, jsonable, parse_record, source_order


class _ParseRecord(beam.DoFn):
    def __init__(self, known_domains: frozenset[str] | None):
        # None: any domain label is accepted (unguided runs label, not route).
        self.known_domains = known_domains

    def process(self, item: dict[str, Any]):
        source, raw = item["source"], item["raw"]
        try:
            rec = parse_record(raw)
            if self.known_domains is not None and rec["domain"] and rec["domain"] not in self.known_domains:
                raise RecordError(f"unknown domain {rec['domain']!r} (guides: {', '.join(sorted(self.known_domains))})")
            # The label names a partition folder: one that cannot (too long, reserved) is this
            # record's problem, not the job's.
            problem = partition_value_problem("domain", rec["domain"]) if rec["domain"] else None
            if problem:
                raise RecordError(problem)
        except RecordError as exc:
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, dead_letter("parse", str(exc), source, jsonable(raw)))
            return
        rec["source"] = source
        yield rec


class _ExplodeCandidates(beam.DoFn):
    """Parsed record -> (prompt_id, candidate) per response; empty responses dead-lettered."""

    def process(self, rec: dict[str, Any]):
        for i, response in enumerate(rec["responses"]):
            if not response.strip():
                yield beam.pvalue.TaggedOutput(
                    DEAD_LETTER,
                    dead_letter(
                        "parse",
                        "empty response",
                        rec["source"],
                        {"prompt_id": rec["prompt_id"], "response": response},
                        response_index=i,
                    ),
                )
                continue
            yield (
                rec["prompt_id"],
                {
                    "conversation": rec["conversation"],
                    "response": response,
                    "position": (rec["source"], i),
                    "domain": rec["domain"],
                    "metadata": rec["metadata"],
                },
            )


def _source_order(position: tuple[str, int]) -> tuple:
    # (source, list index) -> file order, then line, then list index.
    return (*source_order(position[0]), position[1])


class _AssembleGroup(beam.DoFn):
    def process(self, item):
        prompt_id, candidates = item
        candidates = sorted(candidates, key=lambda c: _source_order(c["position"]))
        first = candidates[0]
        kept = []
        for c in candidates:
            if c["conversation"] != first["conversation"]:
                yield beam.pvalue.TaggedOutput(
                    DEAD_LETTER,
                    dead_letter(
                        "group",
                        f"duplicate prompt_id {prompt_id!r} with a different prompt (first seen at {first['position'][0]})",
                        c["position"][0],
                        {"prompt_id": prompt_id, "prompt": c["conversation"], "response": c["response"]},
                        response_index=c["position"][1],
                    ),
                )
            else:
                kept.append(c)
        yield {
            "prompt_id": prompt_id,
            "conversation": first["conversation"],
            "domain_hint": next((c["domain"] for c in kept if c["domain"]), None),
            "metadata": first["metadata"],
            # response_index is the position in the record's own list, as in dead letters:
            # (source, response_index) leads back to the exact input line and list item.
            "candidates": [
                {"response_index": c["position"][1], "response": c["response"], "source": c["position"][0]}
                for c in kept
            ],
        }


class PrepareGroups(beam.PTransform):
    """Records -> ``groups``, ``parsed`` (valid rows) and ``dead_letter`` outputs."""

    def __init__(self, known_domains: frozenset[str] | None):
        super().__init__()
        self.known_domains = known_domains

    def expand(self, records):
        parsed = records | "ParseRecords" >> beam.ParDo(_ParseRecord(self.known_domains)).with_outputs(
            DEAD_LETTER, main="rows"
        )
        exploded = parsed.rows | "ExplodeCandidates" >> beam.ParDo(_ExplodeCandidates()).with_outputs(
            DEAD_LETTER, main="candidates"
        )
        groups = (
            exploded.candidates
            | "GroupByPrompt" >> beam.GroupByKey()
            | "AssembleGroups" >> beam.ParDo(_AssembleGroup()).with_outputs(DEAD_LETTER, main="groups")
        )
        dead = (
            parsed[DEAD_LETTER],
            exploded[DEAD_LETTER],
            groups[DEAD_LETTER],
        ) | "FlattenPrepareErrors" >> beam.Flatten()
        return {"groups": groups.groups, "parsed": parsed.rows, DEAD_LETTER: dead}
