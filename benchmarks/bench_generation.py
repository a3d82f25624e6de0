"""Benchmark: on-policy generation against scoring, same model, same prompts, same run.

Which stage of ``gdr annotate --generate N`` dominates on this machine? The policy samples
``--samples`` responses to each of the first ``--prompts`` prompts of
``beam_pipeline/data/sample_prompts.jsonl`` (``CausalLMGenerator``, as the pipeline runs it:
one batch, KV cache, stop at end of turn, float32 on CPU); then ``CausalLMScorer.score_responses``
scores those prompts + generated responses with the same model, guided as the pipeline
scores them (each prompt gets the builtin guide of the domain in its ``prompt_id``), cold
prefix cache. The pipeline also scores every candidate with the weak model; its figure is
printed too when that model is at hand.

Model: the default offline pair's strong model (``qwen-0.5b-over-smollm-135m``) when it is
prepared in ``~/.cache/gdr/models`` (``gdr prepare-models``), else the tiny random-weight pair
built in a temporary folder (its rates say nothing about real models). Each stage gets one
short warm-up call first, so the figures leave out one-off costs (first-call allocation).

    python benchmarks/bench_generation.py [--prompts 8] [--samples 2] [--max-new-tokens 48] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_PAIR = "qwen-0.5b-over-smollm-135m"  # run.sh's default pair
PROMPTS = ROOT / "beam_pipeline" / "data" / "sample_prompts.jsonl"


def pick_models(force_tiny: bool, tmp: str) -> tuple[str, str, str]:
    """(label, strong path, weak path): the default pair if prepared, else the tiny pair."""
    from transforms.engine.model_registry import load_registry, model_dir
    from transforms.engine.prepare_models import is_prepared

    registry = load_registry()
    pair = registry.pair(DEFAULT_PAIR)
    paths = [model_dir(name) for name in (pair.strong, pair.weak)]
    if not force_tiny and all(is_prepared(registry.model(n), p) for n, p in zip((pair.strong, pair.weak), paths)):
        return f"{pair.strong} (strong of {DEFAULT_PAIR})", str(paths[0]), str(paths[1])
    from transforms.engine.tiny_models import build_tiny_model

    strong = build_tiny_model(Path(tmp) / "tiny-strong", family="chatml", seed=1)
    weak = build_tiny_model(Path(tmp) / "tiny-weak", family="chatml", seed=2)
    return "tiny random-weight chatml pair (prepare the default pair for real figures)", str(strong), str(weak)


def load_prompts(n: int) -> list[tuple[list[dict], str]]:
    """(conversation, domain) of the first ``n`` sample prompts; the domain is the prompt id's prefix."""
    from transforms.records import parse_record

    out = []
    for line in PROMPTS.read_text(encoding="utf-8").splitlines()[:n]:
        raw = json.loads(line)
        rec = parse_record(raw, prompt_only=True)
        out.append((rec["conversation"], raw["prompt_id"].split("-")[0]))
    return out


def score_rate(loaded, items) -> dict:
    """Response tokens/s (and all tokens run/s) of ``score_responses`` on ``items``, cold prefix cache."""
    from transforms.engine.scorer import CausalLMScorer

    scorer = CausalLMScorer(loaded, batch_tokens=8192)
    scorer.score_responses(items[:1])  # warm-up
    scorer = CausalLMScorer(loaded, batch_tokens=8192)  # cold cache and zeroed counters for the timed call
    started = time.perf_counter()
    values, stats = scorer.score_responses(items)
    seconds = time.perf_counter() - started
    response_tokens = sum(v[1] for v in values if isinstance(v, tuple))
    return {
        "seconds": round(seconds, 3),
        "response_tokens": response_tokens,
        "response_tokens_per_s": round(response_tokens / seconds, 1),
        "tokens_run": stats.get("tokens_run", 0),
        "tokens_run_per_s": round(stats.get("tokens_run", 0) / seconds, 1),
        "failed": sum(not isinstance(v, tuple) for v in values),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=8, help="first N prompts of sample_prompts.jsonl (max 12)")
    parser.add_argument("--samples", type=int, default=2, help="responses sampled per prompt")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--tiny", action="store_true", help="use the tiny pair even if the default pair is prepared")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch
    from transformers.utils import logging as hf_logging

    from guides import load_guides
    from transforms.engine.generator import CausalLMGenerator, Generated, GenerationRequest, SamplingSettings
    from transforms.engine.models import load_causal_lm
    from transforms.keys import generation_key, generation_seed, generation_setting

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        label, strong_path, weak_path = pick_models(args.tiny, tmp)
        strong = load_causal_lm(strong_path, dtype="float32", device="cpu")
        prompts = load_prompts(args.prompts)
        sampling = SamplingSettings(temperature=1.0, top_p=1.0, max_new_tokens=args.max_new_tokens)
        setting = generation_setting("bench", "float32", sampling.as_dict(), 0)
        requests = [
            GenerationRequest(f"{i}:{j}", conv, generation_seed(generation_key(conv, setting, j)))
            for i, (conv, _) in enumerate(prompts)
            for j in range(args.samples)
        ]

        # The pipeline's settings: every row in one batch (--batch-tokens 8192 allows it here).
        generator = CausalLMGenerator(strong, batch_size=64, batch_tokens=8192)
        generator.generate(requests[:1], SamplingSettings(1.0, 1.0, 2))  # warm-up
        generator.stats.update(batches=0, forwards=0, tokens_generated=0)
        started = time.perf_counter()
        results = generator.generate(requests, sampling)
        gen_s = time.perf_counter() - started
        done = [r for r in results if isinstance(r, Generated) and r.text.strip()]
        tokens = sum(r.n_tokens for r in done)
        gen = {
            "seconds": round(gen_s, 3),
            "sequences": len(requests),
            "usable": len(done),
            "finished_at_end_of_turn": sum(r.finished for r in done),
            "tokens_generated": tokens,
            "tokens_per_s": round(tokens / gen_s, 1),
            "forwards": generator.stats["forwards"],
        }

        guides = load_guides()
        by_key = {r.key: r.text for r in done}
        items = [
            (conv, by_key[req.key], guides.get(domain))
            for req, (conv, domain) in zip(requests, [p for p in prompts for _ in range(args.samples)], strict=True)
            if req.key in by_key
        ]
        score_strong = score_rate(strong, items)
        del strong, generator
        score_weak = score_rate(load_causal_lm(weak_path, dtype="float32", device="cpu"), items)

    per_gen = gen["seconds"] / max(1, gen["usable"])
    per_score = (score_strong["seconds"] + score_weak["seconds"]) / max(1, len(items))
    report = {
        "model": label,
        "device": "cpu",
        "torch_threads": torch.get_num_threads(),
        "workload": {"prompts": len(prompts), "samples_per_prompt": args.samples, **sampling.as_dict()},
        "generation": gen,
        "scoring_strong": score_strong,
        "scoring_weak": score_weak,
        "seconds_per_candidate": {"generation": round(per_gen, 3), "scoring_strong_plus_weak": round(per_score, 3)},
    }
    print(f"model: {label}; cpu, {report['torch_threads']} torch threads, float32")
    print(
        f"workload: {len(prompts)} prompts x {args.samples} samples, temperature 1, top-p 1, "
        f"max {args.max_new_tokens} new tokens"
    )
    print(
        f"generation  {gen['tokens_generated']:>6} tokens in {gen['seconds']:7.2f} s = {gen['tokens_per_s']:8.1f} "
        f"generated tokens/s ({gen['usable']}/{gen['sequences']} usable, {gen['finished_at_end_of_turn']} ended "
        f"their turn, {gen['forwards']} forwards)"
    )
    for name, s in (("strong", score_strong), ("weak", score_weak)):
        print(
            f"scoring {name:<6} {s['response_tokens']:>4} response tokens in {s['seconds']:7.2f} s = "
            f"{s['response_tokens_per_s']:8.1f} response tokens/s ({s['tokens_run_per_s']:.1f} tokens run/s incl. "
            f"guide and prompt)"
        )
    ratio = per_gen / per_score if per_score else float("inf")
    print(
        f"per candidate: generation {per_gen:.3f} s, scoring (strong + weak) {per_score:.3f} s -> "
        f"{'generation' if ratio >= 1 else 'scoring'} dominates ({max(ratio, 1 / ratio):.1f}x)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
