"""Records -> prompt groups: validate, split into candidates, group by prompt.

``GroupByPrompt`` takes ``{"source", "raw"}`` records and returns one *prompt group* per
prompt id: the conversation, its candidates (``source``, ``response_index``, ``response``), the
record's domain override and metadata. Rejected rows and candidates go to the dead-letter
output with the reason; a candidate whose ``prompt_id`` was seen with a different prompt
is rejected too (a prompt id must name one conversation).

With ``--generate N`` a record may carry a prompt only. Each group then also says how many
candidates to sample (``generate``: ``count`` samples, numbered from ``start``, on the
input line ``source``): N for a prompt none of whose records has responses, and with
``--top-up`` as many as its usable responses fall short of N. Generated candidates belong
to the group's first record (input order) and take the positions after that record's own
``responses`` list, so ``(source, response_index)`` stays unique and leads back to the line.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam

from transforms.io import DEAD_LETTER, dead_letter, partition_value_problem
from transforms.records import RecordError, jsonable, parse_record, source_order


class _ParseRecord(beam.DoFn):
    def __init__(self, known_domains: frozenset[str] | None, prompt_only: bool = False):
        # None: any domain label is accepted (unguided runs label, not route).
        self.known_domains = known_domains
        self.prompt_only = prompt_only  # --generate: a record without responses is valid

    def process(self, item: dict[str, Any]):
        source, raw = item["source"], item["raw"]
        try:
            rec = parse_record(raw, self.prompt_only)
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
    travel once per input record, not once per candidate. With generation on, a record with
    no usable response still goes on: its prompt may get sampled candidates.
    """

    def __init__(self, generating: bool = False):
        self.generating = generating

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
        if kept or self.generating:
            yield (
                rec["prompt_id"],
                {
                    "conversation": rec["conversation"],
                    "responses": kept,
                    "n_given": len(rec["responses"]),
                    "source": rec["source"],
                    "domain": rec["domain"],
                    "metadata": rec["metadata"],
                },
            )


class _AssembleGroup(beam.DoFn):
    def __init__(self, generate: int = 0, top_up: bool = False):
        self.generate, self.top_up = generate, top_up

    def process(self, item):
        prompt_id, records = item
        records = sorted(records, key=lambda r: source_order(r["source"]))  # input order: file, line
        first = records[0]
        kept = []
        for r in records:
            if r["conversation"] != first["conversation"]:
                reason = f"duplicate prompt_id {prompt_id!r} with a different prompt (first seen at {first['source']})"
                if not r.get("n_given"):  # a prompt-only record: no candidate to name, the record is the unit
                    yield beam.pvalue.TaggedOutput(
                        DEAD_LETTER,
                        dead_letter(
                            "group", reason, r["source"], {"prompt_id": prompt_id, "prompt": r["conversation"]}
                        ),
                    )
                for i, response in r["responses"]:
                    yield beam.pvalue.TaggedOutput(
                        DEAD_LETTER,
                        dead_letter(
                            "group",
                            reason,
                            r["source"],
                            {"prompt_id": prompt_id, "prompt": r["conversation"], "response": response},
                            response_index=i,
                        ),
                    )
            else:
                kept.append(r)
        candidates = [
            {"response_index": i, "response": response, "source": r["source"]}
            for r in kept
            for i, response in r["responses"]
        ]
        group = {
            "prompt_id": prompt_id,
            "conversation": first["conversation"],
            "domain_hint": next((r["domain"] for r in kept if r["domain"]), None),
            "metadata": first["metadata"],
            # response_index is the position in the record's own list, as in dead letters:
            # (source, response_index) leads back to the exact input line and list item.
            "candidates": candidates,
        }
        if self.generate:
            given = any(r.get("n_given") for r in kept)
            if not given:
                count = self.generate
            elif self.top_up:
                count = max(0, self.generate - len(candidates))
            else:
                count = 0
            group["generate"] = {"source": first["source"], "start": first.get("n_given", 0), "count": count}
        # Responses given, all unusable (dead-lettered), and nothing to sample: no group.
        if candidates or group.get("generate", {}).get("count"):
            yield group


class GroupByPrompt(beam.PTransform):
    """Records -> ``groups``, ``parsed`` (valid rows) and ``dead_letter`` outputs.

    ``generate`` (``--generate N``) accepts prompt-only records and marks each group with
    the samples it needs; ``top_up`` fills groups that have responses up to N too.
    """

    def __init__(self, known_domains: frozenset[str] | None, generate: int = 0, top_up: bool = False):
        super().__init__()
        self.known_domains = known_domains
        self.generate, self.top_up = generate, top_up

    def expand(self, records):
        parsed = records | "ParseRecords" >> beam.ParDo(
            _ParseRecord(self.known_domains, self.generate > 0)
        ).with_outputs(DEAD_LETTER, main="rows")
        exploded = parsed.rows | "KeepResponses" >> beam.ParDo(_KeepResponses(self.generate > 0)).with_outputs(
            DEAD_LETTER, main="candidates"
        )
        groups = (
            exploded.candidates
            | "GroupByPrompt" >> beam.GroupByKey()
            | "AssembleGroups"
            >> beam.ParDo(_AssembleGroup(self.generate, self.top_up)).with_outputs(DEAD_LETTER, main="groups")
        )
        dead = (
            parsed[DEAD_LETTER],
            exploded[DEAD_LETTER],
            groups[DEAD_LETTER],
        ) | "FlattenPrepareErrors" >> beam.Flatten()
        return {"groups": groups.groups, "parsed": parsed.rows, DEAD_LETTER: dead}
