"""Reuse of earlier runs' work: routing decisions and scores, joined by content key.

A nightly run over a growing corpus should score only what is new. ``ReadExistingScores``
reads the published ``scores`` table (all run dates); ``ReuseRoutes`` and ``ReuseScores``
join the run's prompt groups and candidates against it by ``route_key``/``score_key``
(``transforms.keys``) with ``CoGroupByKey`` - a shuffle, not a side input, so the score
store can be far larger than a worker's memory. Whatever is found is reused; the rest
is routed and scored as usual.

On-policy candidates (``--generate``) are reused the same way: a generated candidate's text
is stored in ``scores`` with its ``generation_key`` (``transforms.keys``), and
``ReadStoredGenerations``/``ReuseGenerations`` join a run's sampling slots against it, so
a rerun samples only what was never sampled with the same policy and settings. Score files
written before generation existed have no such column and are skipped.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from transforms.keys import generation_key, route_key, score_key
from transforms.records import candidate_order

SCORE_FIELDS = ("reward", "reward_mean", "logp_strong", "logp_weak", "n_tokens_strong", "n_tokens_weak")
ROUTE_FIELDS = ("domain", "router_confidence", "guide_id", "guide_version")


class _ReadScoreFile(beam.DoFn):
    def process(self, item: tuple[str, str]):
        path, run_date = item
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            table = pq.read_table(f, columns=["score_key", "route_key", *SCORE_FIELDS, *ROUTE_FIELDS])
        for row in table.to_pylist():
            row["origin_run_date"] = run_date
            yield row


class ReadExistingScores(beam.PTransform):
    """``(path, run_date)`` of published score files -> stored score rows."""

    def __init__(self, files: list[tuple[str, str]]):
        super().__init__()
        self.files = files

    def expand(self, pbegin):
        return pbegin | "ListScoreFiles" >> beam.Create(self.files) | "ReadScoreFiles" >> beam.ParDo(_ReadScoreFile())


class _ApplyKnownRoute(beam.DoFn):
    def process(self, item):
        _key, joined = item
        known = next(iter(joined["routes"]), None)
        for group in joined["groups"]:
            if known is None:
                yield beam.pvalue.TaggedOutput("to_route", group)
            else:
                yield {**group, **known}


class ReuseRoutes(beam.PTransform):
    """Groups -> ``routed`` (decision reused) and ``to_route`` (never routed so far)."""

    def __init__(self, existing, setting: str):
        super().__init__()
        self.existing, self.setting = existing, setting

    def expand(self, groups):
        setting = self.setting
        keyed = groups | "KeyByRoute" >> beam.Map(
            lambda g: (k := route_key(g["conversation"], g["domain_hint"], setting), {**g, "route_key": k})
        )
        # Every candidate of a prompt stores the same route: combine to one row per key
        # (combiner lifting keeps the duplicates out of the shuffle) before the join.
        routes = (
            self.existing
            | "StoredRoutes" >> beam.Filter(lambda r: r["route_key"] is not None)
            | "RouteRows" >> beam.Map(lambda r: (r["route_key"], tuple(r[f] for f in ROUTE_FIELDS)))
            | "OneRowPerRoute" >> beam.CombinePerKey(min)
            | "RouteFields" >> beam.MapTuple(lambda k, v: (k, dict(zip(ROUTE_FIELDS, v, strict=True))))
        )
        out = (
            {"groups": keyed, "routes": routes}
            | "JoinRoutes" >> beam.CoGroupByKey()
            | "ApplyKnownRoutes" >> beam.ParDo(_ApplyKnownRoute()).with_outputs("to_route", main="routed")
        )
        return {"routed": out.routed, "to_route": out.to_route}


def group_info(group: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in group.items() if k != "candidates"}


class _ExplodeForReuse(beam.DoFn):
    """Group -> ``(score_key, (prompt_id, candidate))``: candidates cross the join without the conversation."""

    def __init__(self, setting: str):
        self.setting = setting

    def process(self, group):
        for c in group["candidates"]:
            key = score_key(
                group["conversation"], c["response"], self.setting, group["guide_id"], group["guide_version"]
            )
            yield key, (group["prompt_id"], {**c, "score_key": key})


class _ApplyKnownScore(beam.DoFn):
    """A stored score, where one exists, goes onto the candidate (``reused``); the rest stay pending."""

    def process(self, item):
        _key, joined = item
        stored = next(iter(joined["stored"]), None)
        for prompt_id, cand in joined["candidates"]:
            if stored is None:
                yield prompt_id, cand
            else:
                yield (
                    prompt_id,
                    {
                        **cand,
                        **{f: stored[f] for f in SCORE_FIELDS},
                        "origin_run_date": stored["origin_run_date"],
                        "reused": True,
                    },
                )


def _assemble(item) -> dict[str, Any]:
    prompt_id, joined = item
    info = next(iter(joined["info"]))
    return {**info, "candidates": sorted(joined["candidates"], key=candidate_order)}


class ReuseScores(beam.PTransform):
    """Routed groups -> the same groups, each candidate carrying its stored score where one exists.

    Candidates are keyed by ``score_key`` once, and the groups are rebuilt by ``prompt_id``
    once; the conversation and metadata travel once per prompt (the ``info`` side of that
    join), never once per candidate. ``ScoreCandidates`` then scores only the candidates
    without a score, and loads no model when there are none.
    """

    def __init__(self, existing, setting: str):
        super().__init__()
        self.existing, self.setting = existing, setting

    def expand(self, groups):
        cands = groups | "KeyByScore" >> beam.ParDo(_ExplodeForReuse(self.setting))
        stored = self.existing | "StoredScores" >> beam.Map(lambda r: (r["score_key"], r))
        known = (
            {"candidates": cands, "stored": stored}
            | "JoinScores" >> beam.CoGroupByKey()
            | "ApplyKnownScores" >> beam.ParDo(_ApplyKnownScore())
        )
        info = groups | "PromptInfo" >> beam.Map(lambda g: (g["prompt_id"], group_info(g)))
        return (
            {"info": info, "candidates": known}
            | "RegroupByPrompt" >> beam.CoGroupByKey()
            | "Assemble" >> beam.Map(_assemble)
        )


# -- on-policy candidates -----------------------------------------------------------------

GENERATION_FIELDS = ("generation_key", "response", "policy_model")


class _ReadGenerationFile(beam.DoFn):
    def process(self, item: tuple[str, str]):
        path, run_date = item
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            parquet = pq.ParquetFile(f)
            # A file written before on-policy generation existed holds no generated candidate.
            has_samples = "generation_key" in parquet.schema_arrow.names
            table = parquet.read(columns=list(GENERATION_FIELDS)) if has_samples else None
        for row in table.to_pylist() if table is not None else []:
            if row["generation_key"] is not None:
                yield row["generation_key"], (row["response"], row["policy_model"], run_date)


class ReadStoredGenerations(beam.PTransform):
    """``(path, run_date)`` of published score files -> ``(generation_key, {response, policy_model})``.

    A text rescored on a later date is stored once per date; the copies are the same text,
    and one row per key (the earliest date's) is kept before the join.
    """

    def __init__(self, files: list[tuple[str, str]]):
        super().__init__()
        self.files = files

    def expand(self, pbegin):
        return (
            pbegin
            | "ListGenerationFiles" >> beam.Create(self.files)
            | "ReadGenerationFiles" >> beam.ParDo(_ReadGenerationFile())
            | "OneRowPerSample" >> beam.CombinePerKey(lambda rows: min(rows, key=lambda r: (r[2], r[0], r[1] or "")))
            | "GenerationFields"
            >> beam.MapTuple(lambda k, v: (k, {"response": v[0], "policy_model": v[1], "origin_run_date": v[2]}))
        )


class _ExplodeSlots(beam.DoFn):
    """Group -> its sampling slots keyed by ``generation_key``, or the whole group (``complete``) if it needs none."""

    def __init__(self, setting: str):
        self.setting = setting

    def process(self, group):
        plan = group.get("generate") or {"count": 0}
        if not plan["count"]:
            yield beam.pvalue.TaggedOutput("complete", {k: v for k, v in group.items() if k != "generate"})
            return
        for j in range(plan["count"]):
            key = generation_key(group["conversation"], self.setting, j)
            slot = {
                "sample_index": j,
                "response_index": plan["start"] + j,  # after the record's own responses
                "source": plan["source"],
                "generation_key": key,
            }
            yield key, (group["prompt_id"], slot)


class _ApplyKnownSample(beam.DoFn):
    """A stored text, where one exists, becomes the slot's candidate (``generation_reused``); the rest stay to sample."""

    def __init__(self, policy_name: str):
        self.policy_name = policy_name

    def process(self, item):
        _key, joined = item
        stored = next(iter(joined["stored"]), None)
        for prompt_id, slot in joined["slots"]:
            if stored is None:
                yield prompt_id, ("pending", slot)
                continue
            yield (
                prompt_id,
                (
                    "candidate",
                    {
                        "response_index": slot["response_index"],
                        "source": slot["source"],
                        "response": stored["response"],
                        "candidate_source": "generated",
                        # the same fingerprint, so the same model; the name it was stored under
                        "policy_model": stored["policy_model"] or self.policy_name,
                        "generation_key": slot["generation_key"],
                        "generation_reused": True,
                    },
                ),
            )


def _assemble_with_samples(item) -> dict[str, Any]:
    _prompt_id, joined = item
    info = next(iter(joined["info"]))
    found = [c for kind, c in joined["samples"] if kind == "candidate"]
    pending = sorted((s for kind, s in joined["samples"] if kind == "pending"), key=lambda s: s["sample_index"])
    out = {k: v for k, v in info.items() if k != "generate"}
    out["candidates"] = sorted([*info["candidates"], *found], key=candidate_order)
    out["pending_samples"] = pending
    return out


class ReuseGenerations(beam.PTransform):
    """Prompt groups with a sampling plan -> groups carrying stored samples and the slots still to sample.

    Each slot is keyed by ``generation_key`` and joined against the stored samples; the
    groups are rebuilt by ``prompt_id`` once, the conversation and the given candidates
    travelling once per prompt. Groups that need no sample skip both shuffles. Output groups
    have ``pending_samples`` (possibly empty) for ``GenerateCandidates``.
    """

    def __init__(self, stored, setting: str, policy_name: str):
        super().__init__()
        self.stored, self.setting, self.policy_name = stored, setting, policy_name

    def expand(self, groups):
        split = groups | "SamplingSlots" >> beam.ParDo(_ExplodeSlots(self.setting)).with_outputs(
            "complete", main="slots"
        )
        samples = (
            {"slots": split.slots, "stored": self.stored}
            | "JoinSamples" >> beam.CoGroupByKey()
            | "ApplyKnownSamples" >> beam.ParDo(_ApplyKnownSample(self.policy_name))
        )
        info = (
            groups
            | "NeedSamples" >> beam.Filter(lambda g: bool((g.get("generate") or {}).get("count")))
            | "SampledPromptInfo" >> beam.Map(lambda g: (g["prompt_id"], g))
        )
        rebuilt = (
            {"info": info, "samples": samples}
            | "RegroupSamplesByPrompt" >> beam.CoGroupByKey()
            | "AssembleSamples" >> beam.Map(_assemble_with_samples)
        )
        complete = split.complete | "NothingToSample" >> beam.Map(lambda g: {**g, "pending_samples": []})
        return (rebuilt, complete) | "AllSampledGroups" >> beam.Flatten()
