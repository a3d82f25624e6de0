"""Reuse of earlier runs' work: routing decisions and scores, joined by content key.

A nightly run over a growing corpus should score only what is new. ``ReadExistingScores``
reads the published ``scores`` table (all run dates); ``ReuseRoutes`` and ``ReuseScores``
join the run's prompt groups and candidates against it by ``route_key``/``score_key``
(``transforms.keys``) with ``CoGroupByKey`` - a shuffle, not a side input, so the score
store can be far larger than a worker's memory. Whatever is found is reused; the rest
is routed and scored as usual.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from transforms.keys import route_key, score_key
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
