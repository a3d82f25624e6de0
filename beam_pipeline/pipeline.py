"""Assemble the annotation graph: read -> prepare -> [generate] -> route -> score -> pair -> write -> publish.

``build_pipeline(p, config)`` only builds; ``run.py`` launches it. Every output is
written under the attempt's staging prefix; the graph's last step (``PublishRun``) waits
for every write, checks the counts and publishes, so the job publishes itself whether or
not a launcher waits for it. Counts that cannot be read back from the outputs (rows read,
candidates in) are computed in the graph, so the summary reconciles on every runner.

With ``--generate N`` the sampling slots count as candidates in (each ends scored, reused
or dead-lettered like a given response), so ``prompts x N = scored + reused +
dead-lettered`` for a prompt-only corpus.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam

from beam_pipeline.config import AnnotateConfig
from beam_pipeline.publish import attempt_staging
from beam_pipeline.publish_step import PublishRun, reason_key
from transforms.generation import GenerateCandidates
from transforms.grouping import GroupByPrompt
from transforms.incremental import ReadExistingScores, ReadStoredGenerations, ReuseGenerations, ReuseRoutes, ReuseScores
from transforms.io import DEAD_LETTER, ReadCorpus, WriteJsonl, WritePartitionedParquet
from transforms.routers import MODEL_ROUTERS
from transforms.routing import RouteToGuide
from transforms.schemas import CANDIDATES_SCHEMA, PAIRS_SCHEMA, SCORES_SCHEMA
from transforms.scoring import ScoreCandidates, candidate_rows, pair_rows, score_rows


def staging_dir(config: AnnotateConfig) -> str:
    return attempt_staging(config.output, config.run_date, config.attempt)


def _count(pcoll, label: str, name: str, value_fn=lambda _: 1):
    return pcoll | f"Count{label}" >> beam.Map(lambda x: (name, value_fn(x)))


def _as_counter(kv: tuple[str, int]) -> tuple[str, int]:
    """Each named count is also a Beam counter, so runner UIs and alerts see the stages live."""
    beam.metrics.Metrics.counter("gdr.stages", kv[0]).inc(kv[1])
    return kv


def _dead_key(entry: dict[str, Any]) -> str:
    unit = "candidates" if "response_index" in entry else "records"
    return f"dead_{unit}:{entry['stage']}"


def build_pipeline(p: beam.Pipeline, config: AnnotateConfig) -> dict[str, Any]:
    """Add the annotation steps to ``p``; returns the main PCollections (for tests)."""
    stage = staging_dir(config)
    strong = config.model_settings(config.strong)
    weak = config.model_settings(config.weak)
    router_model = config.model_settings(config.router_model or config.strong)
    guides = config.guide_set
    run_date = config.run_date

    read = p | "ReadCorpus" >> ReadCorpus(config.input_files)
    grouped = read["records"] | "GroupByPrompt" >> GroupByPrompt(
        frozenset(guides) if guides else None, config.generate, config.top_up
    )
    existing = p | "ExistingScores" >> ReadExistingScores(config.existing_score_files)
    groups_in, generation_dead, generation_counts = grouped["groups"], [], []

    # On-policy candidates: reuse stored samples by generation_key, sample only the rest.
    if config.generate:
        stored = p | "StoredGenerations" >> ReadStoredGenerations(config.existing_generation_files)
        planned = groups_in | "ReuseGenerations" >> ReuseGenerations(stored, config.generation_setting, config.policy)
        sampled = planned | "GenerateCandidates" >> GenerateCandidates(
            config.model_settings(config.policy),
            config.sampling(),
            config.policy,
            config.score_retries,
            accelerator_hint=config.accelerator_hint,
            count_load=config.policy not in (config.strong, config.weak),
        )
        groups_in, generation_dead = sampled["groups"], [sampled[DEAD_LETTER]]

        def generated(g, reused: bool) -> int:
            return sum(c.get("generation_reused") is reused for c in g["candidates"])

        generation_counts = [
            _count(groups_in, "Generated", "generated", lambda g: generated(g, False)),
            _count(groups_in, "GenerationsReused", "generations_reused", lambda g: generated(g, True)),
            # every slot is a candidate in: it ends scored, reused or dead-lettered
            _count(grouped["groups"], "SamplingSlots", "candidates_in", lambda g: g["generate"]["count"]),
        ]

    # Routing: reuse earlier decisions, route only prompts never seen with this setting.
    routes = groups_in | "ReuseRoutes" >> ReuseRoutes(existing, config.router_setting)
    newly_routed = routes["to_route"] | "RouteToGuide" >> RouteToGuide(
        guides,
        config.router,
        config.default_domain,
        router_model if config.router in MODEL_ROUTERS else None,
        config.router_threshold,
        accelerator_hint=config.accelerator_hint,
        router_examples=config.router_example_set,
    )
    routed = (routes["routed"], newly_routed) | "AllRouted" >> beam.Flatten()

    # Scoring: reuse stored scores by content key, score only the rest (one regroup by prompt).
    with_stored = routed | "ReuseScores" >> ReuseScores(existing, config.scoring_setting)
    scored = with_stored | "ScoreCandidates" >> ScoreCandidates(
        strong, weak, guides, config.score_retries, accelerator_hint=config.accelerator_hint, run_date=run_date
    )
    groups = scored["scored"]

    scores = groups | "ScoreRows" >> beam.FlatMap(score_rows, config.strong, config.weak, run_date)
    snapshot = groups | "CandidateRows" >> beam.FlatMap(candidate_rows)
    pairs = groups | "BuildPairs" >> beam.FlatMap(
        pair_rows, config.pairing, config.min_margin, config.reward_key, config.strong, config.weak, config.seed
    )
    dead = (
        read[DEAD_LETTER],
        grouped[DEAD_LETTER],
        *generation_dead,
        scored[DEAD_LETTER],
    ) | "AllDeadLetters" >> beam.Flatten()
    dead = dead | "StampRunDate" >> beam.Map(lambda e, d: {**e, "run_date": d}, run_date)

    written_scores = scores | "WriteScores" >> WritePartitionedParquet(
        f"{stage}/scores",
        SCORES_SCHEMA,
        "domain",
        lambda r: f"{r['prompt_id']}\x00{r['source']}\x00{r['response_index']:09d}",
        config.output_shards,
        config.output_file_mb,
    )
    written_candidates = snapshot | "WriteCandidates" >> WritePartitionedParquet(
        f"{stage}/candidates",
        CANDIDATES_SCHEMA,
        "domain",
        lambda r: f"{r['prompt_id']}\x00{r['source']}\x00{r['response_index']:09d}",
        config.output_shards,
        config.output_file_mb,
    )
    written_pairs = pairs | "WritePairs" >> WritePartitionedParquet(
        f"{stage}/pairs",
        PAIRS_SCHEMA,
        "domain",
        lambda r: f"{r['prompt_id']}\x00{r['_pair']}",
        config.output_shards,
        config.output_file_mb,
    )
    written_dead = dead | "WriteDeadLetters" >> WriteJsonl(
        f"{stage}/dead_letter", config.output_shards, config.output_file_mb
    )

    counts = (
        (
            _count(read["records"], "RowsRead", "rows_ok"),
            _count(grouped["parsed"], "Candidates", "candidates_in", lambda r: len(r["responses"])),
            _count(groups, "Scored", "scored", lambda g: sum(not s["reused"] for s in g["scored"])),
            _count(groups, "Reused", "reused", lambda g: sum(bool(s["reused"]) for s in g["scored"])),
            _count(newly_routed, "Routed", "routed"),
            _count(routes["routed"], "RoutesReused", "routes_reused"),
            _count(
                newly_routed | "Fallbacks" >> beam.Filter(lambda g: g.get("route_defaulted")),
                "RouterFallbacks",
                "router_fallbacks",
            ),
            groups | "ScoredByDomain" >> beam.Map(lambda g: (f"scored_by_domain:{g['domain']}", len(g["scored"]))),
            pairs | "PairsByDomain" >> beam.Map(lambda r: (f"pairs_by_domain:{r['domain']}", 1)),
            dead | "DeadByStage" >> beam.Map(lambda e: (_dead_key(e), 1)),
            *generation_counts,
        )
        | "FlattenCounts" >> beam.Flatten()
        | "StageCounters" >> beam.Map(_as_counter)
        | "SumCounts" >> beam.CombinePerKey(sum)
        | "CountRow" >> beam.Map(lambda kv: {"name": kv[0], "value": kv[1]})
    )
    top_dead = (
        dead | "DeadReasons" >> beam.Map(lambda e: (reason_key(e), 1)) | "CountDeadReasons" >> beam.CombinePerKey(sum)
    )
    written = (
        written_scores,
        written_candidates,
        written_pairs,
        written_dead,
    ) | "AllWrites" >> beam.Flatten()
    # Side inputs are complete before the step runs: the publish starts after every write.
    published = (
        p
        | "PublishTrigger" >> beam.Create([None])
        | "Publish"
        >> beam.ParDo(
            PublishRun(config.launch_info(), stage, config.max_dead_letter_fraction),
            counts=beam.pvalue.AsList(counts),
            top_dead=beam.pvalue.AsList(top_dead),
            written=beam.pvalue.AsList(written),
        )
    )
    return {"scores": scores, "pairs": pairs, "dead_letter": dead, "counts": counts, "published": published}
