"""Benchmark: the fast scoring engine against the naive scorer users would otherwise run.

Workload (seeded, synthetic): 32 prompts x 4 candidates, one guide of ~600 tokens in front of
every prompt, prompts of 50-200 tokens, responses of 20-400 tokens, as token ids. Models: a
random-weight Qwen2-architecture strong/weak pair, small depth and width but the real
vocabulary (151,936), so the LM head costs what it costs with the real pair.

Baseline ("naive", as reward-bench's DPO scorer / TRL's log-prob code do it): full sequences,
batches of 8 in input order, right padding, ``model(...).logits`` in float32, full-vocabulary
``log_softmax``, gather at the response tokens (the gathered float32 values are summed in
float64 so the comparison measures the engine, not float32 summation noise).

Each scorer runs in its own subprocess so that peak RSS figures do not mix. Figures:
responses/s (both, ratio), max |reward difference|, peak RSS, padding share, tokens run through
the model per response, achieved FLOP/s as a share of a float32 matmul peak measured in this run,
and peak memory for one 8,192-token response (above the weights).

    python benchmarks/bench_scoring.py --json bench.json
    python benchmarks/bench_scoring.py --gpu   # 1B-scale random weights, bf16, CUDA
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VOCAB = 151_936
CPU_ARCH = dict(
    hidden_size=128, intermediate_size=384, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2
)
GPU_ARCH = dict(
    hidden_size=2048, intermediate_size=5632, num_hidden_layers=16, num_attention_heads=16, num_key_value_heads=4
)


def build_model(seed: int, arch: dict, dtype, device):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(vocab_size=VOCAB, max_position_embeddings=16384, tie_word_embeddings=True, **arch)
    config._attn_implementation = "sdpa"
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).to(dtype=dtype, device=device)
    return model.eval()


def corpus(seed: int, prompts: int, candidates: int, guide_tokens: int):
    from transforms.engine.templating import EncodedSequence

    rng = random.Random(seed)
    tok = lambda n: [rng.randrange(10, VOCAB - 10) for _ in range(n)]  # noqa: E731
    guide = tok(guide_tokens)
    seqs = []
    for _ in range(prompts):
        prompt = guide + tok(rng.randint(50, 200))
        for _ in range(candidates):
            seqs.append(EncodedSequence(tuple(prompt + tok(rng.randint(20, 400))), len(prompt)))
    return seqs


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb(device) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def naive_logprobs(model, seqs, batch: int = 8):
    """reward-bench / TRL style: batches of 8 in input order, full float32 log-softmax, gather."""
    import torch

    out, slots = [], 0
    dev = model.device
    with torch.inference_mode():
        for lo in range(0, len(seqs), batch):
            chunk = seqs[lo : lo + batch]
            width = max(len(s) for s in chunk)
            ids = torch.zeros((len(chunk), width), dtype=torch.long)
            mask = torch.zeros_like(ids)
            labels = torch.zeros_like(ids, dtype=torch.bool)
            for b, s in enumerate(chunk):
                ids[b, : len(s)] = torch.tensor(s.input_ids)
                mask[b, : len(s)] = 1
                labels[b, s.response_start : len(s)] = True
            ids, mask, labels = ids.to(dev), mask.to(dev), labels.to(dev)
            logits = model(input_ids=ids, attention_mask=mask).logits.float()
            logp = torch.log_softmax(logits, dim=-1)
            del logits
            tok = logp[:, :-1].gather(2, ids[:, 1:, None]).squeeze(2)
            del logp
            out.extend((tok.double() * labels[:, 1:]).sum(1).tolist())
            slots += ids.numel()
    return out, slots


def body_flops_per_token(model) -> float:
    body = sum(p.numel() for n, p in model.model.named_parameters() if "embed" not in n)
    return 2.0 * body


def worker(args) -> None:
    import torch

    from transforms.engine.models import LoadedModel
    from transforms.engine.scorer import CausalLMScorer

    device = torch.device("cuda" if args.gpu else "cpu")
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[args.dtype]
    arch = GPU_ARCH if args.gpu else CPU_ARCH
    long_run = args.worker.startswith("long")
    models = [build_model(args.seed + 1, arch, dtype, device)]
    if not long_run:
        models.append(build_model(args.seed + 2, arch, dtype, device))
    if long_run:
        from transforms.engine.templating import EncodedSequence

        rng = random.Random(args.seed)
        seqs = [EncodedSequence(tuple(rng.randrange(10, VOCAB - 10) for _ in range(16 + args.long_tokens)), 16)]
    else:
        seqs = corpus(args.seed, args.prompts, args.candidates, args.guide_tokens)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated() / 2**20 if device.type == "cuda" else rss_mb()
    per_model, stats = [], []
    start = time.perf_counter()
    for model in models:
        if args.worker.endswith("naive"):
            values, slots = naive_logprobs(model, seqs)
            stats.append({"token_slots": slots, "tokens_run": slots, "head_rows": slots})
        else:
            tokenizer = SimpleNamespace(pad_token_id=0, eos_token_id=0)
            loaded = LoadedModel("bench", model, tokenizer, device, dtype)
            scorer = CausalLMScorer(loaded, batch_tokens=args.batch_tokens)
            values = scorer.logprobs(seqs)
            stats.append(dict(scorer.stats))
        per_model.append(values)
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    m = models[0]
    flops = 0.0
    for st in stats:
        flops += st["tokens_run"] * body_flops_per_token(m) + st["head_rows"] * 2.0 * arch["hidden_size"] * VOCAB
    rewards = per_model[0] if long_run else [a - b for a, b in zip(per_model[0], per_model[1], strict=True)]
    result = {
        "seconds": elapsed,
        "responses": len(seqs),
        "rewards": rewards,
        "peak_mb": peak_mb(device),
        "weights_mb": base,
        "tokens_real": sum(len(s) for s in seqs),
        "stats": stats,
        "flops": flops,
    }
    Path(args.out).write_text(json.dumps(result))


def matmul_peak(gpu: bool, dtype_name: str) -> float:
    import torch

    dev = torch.device("cuda" if gpu else "cpu")
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype_name]
    n = 8192 if gpu else 1536
    a, b = torch.randn(n, n, device=dev, dtype=dtype), torch.randn(n, n, device=dev, dtype=dtype)
    torch.matmul(a, b)
    best = 0.0
    for _ in range(3):
        if gpu:
            torch.cuda.synchronize()
        t = time.perf_counter()
        torch.matmul(a, b)
        if gpu:
            torch.cuda.synchronize()
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    return best


def run_worker(mode: str, args, dtype: str) -> dict:
    out = Path(args.tmp) / f"{mode}-{dtype}.json"
    cmd = [sys.executable, __file__, "--worker", mode, "--out", str(out), "--dtype", dtype]
    for flag in ("seed", "prompts", "candidates", "guide_tokens", "long_tokens", "batch_tokens"):
        cmd += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    if args.gpu:
        cmd.append("--gpu")
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    print(f"  [{mode} {dtype}: {time.perf_counter() - t:.1f}s wall]", flush=True)
    return json.loads(out.read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", help="write the figures to this file")
    p.add_argument("--gpu", action="store_true", help="CUDA, bf16, 1B-scale random weights")
    p.add_argument(
        "--bf16-row", action="store_true", help="also run the engine in bf16 (slow on CPUs without bf16 units)"
    )
    p.add_argument("--no-long", action="store_true", help="skip the 8,192-token memory test")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--prompts", type=int, default=32)
    p.add_argument("--candidates", type=int, default=4)
    p.add_argument("--guide-tokens", type=int, default=600)
    p.add_argument("--long-tokens", type=int, default=8192)
    p.add_argument("--batch-tokens", type=int, default=8192)
    p.add_argument("--dtype", default=None, help=argparse.SUPPRESS)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--tmp", default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    import tempfile

    dtype = "bfloat16" if args.gpu else "float32"
    args.tmp = tempfile.mkdtemp(prefix="bench_scoring_")
    print(
        f"workload: {args.prompts} prompts x {args.candidates} candidates, guide {args.guide_tokens} tokens, "
        f"vocab {VOCAB}, {'GPU' if args.gpu else 'CPU'} {dtype}",
        flush=True,
    )
    peak = matmul_peak(args.gpu, dtype)
    naive = run_worker("naive", args, dtype)
    engine = run_worker("engine", args, dtype)
    diff = max(abs(a - b) for a, b in zip(engine["rewards"], naive["rewards"], strict=True))
    n = engine["responses"]
    eng_slots = sum(s["token_slots"] for s in engine["stats"])
    eng_run = sum(s["tokens_run"] for s in engine["stats"])
    nv_slots = sum(s["token_slots"] for s in naive["stats"])
    rows = {
        "responses_per_s_naive": n / naive["seconds"],
        "responses_per_s_engine": n / engine["seconds"],
        "max_abs_reward_diff": diff,
        "peak_rss_mb_naive": naive["peak_mb"],
        "peak_rss_mb_engine": engine["peak_mb"],
        "padding_share": 1 - eng_run / eng_slots,
        "padding_share_naive": 1 - 2 * naive["tokens_real"] / nv_slots,
        "tokens_per_response_engine": eng_slots / (2 * n),
        "tokens_per_response_naive": nv_slots / (2 * n),
        "matmul_peak_gflops": peak / 1e9,
        "mfu": engine["flops"] / engine["seconds"] / peak,
        "mfu_naive": naive["flops"] / naive["seconds"] / peak,
    }
    rows["speedup"] = rows["responses_per_s_engine"] / rows["responses_per_s_naive"]
    if args.bf16_row and not args.gpu:
        bf = run_worker("engine", args, "bfloat16")
        rows["responses_per_s_engine_bf16"] = n / bf["seconds"]
        rows["max_abs_reward_diff_bf16"] = max(abs(a - b) for a, b in zip(bf["rewards"], naive["rewards"], strict=True))
    if not args.no_long:
        ln = run_worker("long-naive", args, dtype)
        le = run_worker("long-engine", args, dtype)
        rows["long_weights_mb"] = le["weights_mb"]
        rows["long_peak_mb_naive"] = ln["peak_mb"] - ln["weights_mb"]
        rows["long_peak_mb_engine"] = le["peak_mb"] - le["weights_mb"]
        rows["long_logp_diff"] = abs(ln["rewards"][0] - le["rewards"][0])
    print("\n{:<34} {:>14} {:>14}".format("figure", "naive", "engine"))
    print("-" * 64)

    def line(label, a, b, fmt="{:.2f}"):
        print(f"{label:<34} {fmt.format(a) if a is not None else '':>14} {fmt.format(b) if b is not None else '':>14}")

    line("responses/s", rows["responses_per_s_naive"], rows["responses_per_s_engine"])
    line("speedup (engine / naive)", None, rows["speedup"], "{:.2f}x")
    line("max |reward diff|", None, diff, "{:.2e}")
    line("peak RSS (MB)", rows["peak_rss_mb_naive"], rows["peak_rss_mb_engine"], "{:.0f}")
    line("padding share", rows["padding_share_naive"], rows["padding_share"], "{:.1%}")
    line(
        "tokens through model / response",
        rows["tokens_per_response_naive"],
        rows["tokens_per_response_engine"],
        "{:.0f}",
    )
    line("achieved / matmul peak (MFU)", rows["mfu_naive"], rows["mfu"], "{:.1%}")
    print(f"{'matmul peak (GFLOP/s, ' + dtype + ')':<34} {rows['matmul_peak_gflops']:>14.1f}")
    if "responses_per_s_engine_bf16" in rows:
        line("engine bf16: responses/s", None, rows["responses_per_s_engine_bf16"])
        line("engine bf16: max |reward diff|", None, rows["max_abs_reward_diff_bf16"], "{:.2e}")
    if "long_peak_mb_naive" in rows:
        line(
            f"{args.long_tokens}-token response: MB > weights",
            rows["long_peak_mb_naive"],
            rows["long_peak_mb_engine"],
            "{:.0f}",
        )
        print(f"{'  (weights, MB)':<34} {rows['long_weights_mb']:>14.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
