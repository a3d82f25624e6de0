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


class _KeepResponses(beam.DoFn):
    """Parsed record -> ``(prompt_id, record)`` with its non-empty responses; empty ones dead-lettered.

    A record crosses the group-by-prompt shuffle whole, so its conversation and metadata
    travel once per input record, not once per candidate.
    """

    def process(self, rec: dict[str, Any]):
        kept = []
        for i, response in enumerate(rec["responses"]):
            if response.strip():
                kept.append((i, response))
                continue
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
        if kept:
            yield (
                rec["prompt_id"],
                {
                    "conversation": rec["conversation"],
                    "responses": kept,
                    "source": rec["source"],
                    "domain": rec["domain"],
                    "metadata": rec["metadata"],
                },
            )


class _AssembleGroup(beam.DoFn):
    def process(self, item):
        prompt_id, records = item
        records = sorted(records, key=lambda r: source_order(r["source"]))  # input order: file, line
        first = records[0]
        kept = []
        for r in records:
            if r["conversation"] != first["conversation"]:
                for i, response in r["responses"]:
                    yield beam.pvalue.TaggedOutput(
                        DEAD_LETTER,
                        dead_letter(
                            "group",
                            f"duplicate prompt_id {prompt_id!r} with a different prompt (first seen at {first['source']})",
                            r["source"],
                            {"prompt_id": prompt_id, "prompt": r["conversation"], "response": response},
                            response_index=i,
                        ),
                    )
            else:
                kept.append(r)
        yield {
            "prompt_id": prompt_id,
            "conversation": first["conversation"],
            "domain_hint": next((r["domain"] for r in kept if r["domain"]), None),
            "metadata": first["metadata"],
            # response_index is the position in the record's own list, as in dead letters:
            # (source, response_index) leads back to the exact input line and list item.
            "candidates": [
                {"response_index": i, "response": response, "source": r["source"]}
                for r in kept
                for i, response in r["responses"]
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
        exploded = parsed.rows | "KeepResponses" >> beam.ParDo(_KeepResponses()).with_outputs(
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
