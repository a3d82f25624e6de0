"""Benchmark and tuning tool for the routers: accuracy, recall and prompts/s on a labelled router set.

Every router routes the same ``{prompt, domain}`` records (default: the held-out router set
v3) with one loaded copy of the router model (default: the registry's default pair's strong
model, prepared with ``gdr prepare-models``; ``--dtype`` float32 or bfloat16). Figures per router:
accuracy, recall per domain, accuracy on the hard cases (records whose ``case`` is not
``plain``), prompts/s over the routing calls only, the one-off setup (the embedding
router's example pass and fit, the llm router's calibration request) apart, and the tokens run
through the model per prompt.

The reference for "costs no more than one forward of the prompt" is ``forward``: one
forward pass over each prompt as the scorer sees it (chat template, no guide), batched the
same way; the embedding router's tokens per prompt and prompts/s are compared with it.

``--folds A,B,C`` (development sets only) compares every embedding-router setting leave-one-
set-out: each set in turn is routed by a fit on the guides' examples plus the other sets, so
every figure is on prompts the fit did not learn from; layers and poolings (one embedding
pass each, cached in ``--cache``), centring, logistic regression (L2), k-nearest neighbours
and centroids (softmax temperature); rows by mean accuracy (ties: higher minimum recall).
``--tune`` does the same on one set with the guide examples as the only training data.

    python benchmarks/bench_router.py --json bench_router.json
    python benchmarks/bench_router.py --dtype bfloat16 --poolings last,mean \
        --folds guides/router_examples.jsonl,guides/router_examples_dev.jsonl,guides/router_examples_v2.jsonl,guides/router_examples_v3.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from guides import load_guides, load_router_examples, routing_examples  # noqa: E402
from transforms.evaluation import router_report  # noqa: E402
from transforms.records import parse_conversation  # noqa: E402
from transforms.routers import (  # noqa: E402
    DEFAULT_EMBEDDING,
    EmbeddingRouter,
    KeywordRouter,
    LLMRouter,
    domain_scores,
    fit_router,
    labelled_examples,
    softmax,
)

DEFAULT_SET = ROOT / "beam_pipeline" / "data" / "router_heldout_v3.jsonl"


def default_model() -> str:
    """The registry's default pair's strong model: the model the embedding router uses by default."""
    from transforms.engine.model_registry import load_registry

    registry = load_registry()
    return registry.pair(registry.default_pair).strong


def load_set(path: str | Path) -> list[dict]:
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            out.append({"conversation": parse_conversation(r["prompt"]), "domain": r["domain"], "case": r.get("case")})
    return out


def summarise(records: list[dict], predicted: list[str]) -> dict:
    rep = router_report((r["domain"], p) for r, p in zip(records, predicted, strict=True))
    hard = [(r, p) for r, p in zip(records, predicted, strict=True) if r["case"] not in ("plain", None)]
    rep["hard_case_accuracy"] = sum(r["domain"] == p for r, p in hard) / len(hard) if hard else None
    cases = sorted({r["case"] for r in records if r["case"]})
    rep["by_case"] = {
        c: sum(r["domain"] == p for r, p in zip(records, predicted, strict=True) if r["case"] == c)
        / sum(r["case"] == c for r in records)
        for c in cases
    }
    rep["wrong"] = [
        {"prompt": r["conversation"][-1]["content"][:100], "label": r["domain"], "routed": p}
        for r, p in zip(records, predicted, strict=True)
        if r["domain"] != p
    ]
    return rep


def load_scorer(model: str, batch_tokens: int, threads: int | None, dtype: str = "float32"):
    import torch

    from transforms.engine.model_registry import model_dir
    from transforms.engine.models import load_causal_lm
    from transforms.engine.scorer import CausalLMScorer

    if threads:
        torch.set_num_threads(threads)
    path = model if Path(model).exists() else model_dir(model)
    return CausalLMScorer(load_causal_lm(str(path), dtype=dtype, device="auto"), batch_tokens=batch_tokens)


def timed(fn, *args):
    started = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - started


def forward_reference(scorer, convs: list, batch: int = 16) -> dict:
    """One plain forward over each prompt as the scorer sees it (chat template, no guide), no LM head."""
    import torch

    tok = scorer.tokenizer
    seqs = [tok.apply_chat_template(c, tokenize=True, add_generation_prompt=True) for c in convs]
    seqs = [list(s["input_ids"]) if isinstance(s, dict) or hasattr(s, "keys") else list(s) for s in seqs]
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    started = time.perf_counter()
    with torch.inference_mode():
        for at in range(0, len(order), batch):
            rows = [seqs[i] for i in order[at : at + batch]]
            width = max(len(r) for r in rows)
            ids = torch.full((len(rows), width), scorer.pad_id, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for b, r in enumerate(rows):
                ids[b, : len(r)] = torch.tensor(r)
                mask[b, : len(r)] = 1
            scorer.body(input_ids=ids.to(scorer.device), attention_mask=mask.to(scorer.device), use_cache=False)
    seconds = time.perf_counter() - started
    return {"prompts_per_s": len(seqs) / seconds, "tokens_per_prompt": sum(map(len, seqs)) / len(seqs)}


def run_routers(args, records, guides, extra) -> dict:
    convs = [r["conversation"] for r in records]
    results: dict = {}
    kw = KeywordRouter(guides, args.default_domain)
    decisions, secs = timed(lambda: [kw.route(c) for c in convs])
    results["keyword"] = {**summarise(records, [d for d, _ in decisions]), "prompts_per_s": len(convs) / secs}
    routers = [r for r in args.routers.split(",") if r != "keyword"]
    if not routers:
        return results
    scorer = load_scorer(args.model, args.batch_tokens, args.threads, args.dtype)
    results["forward"] = forward_reference(scorer, convs)
    for name in routers:
        before = dict(scorer.stats)
        if name == "embedding":
            spec = replace(DEFAULT_EMBEDDING, l2=args.l2) if args.l2 is not None else DEFAULT_EMBEDDING
            router = EmbeddingRouter(scorer, guides, args.default_domain, args.threshold, extra, args.model, spec)
            _, setup = timed(router.fit)
        else:
            router = LLMRouter(scorer, guides, args.default_domain, args.threshold)
            _, setup = timed(router.baseline)
        mid = dict(scorer.stats)
        decisions, secs = timed(router.route_many, convs)
        tokens = sum(v - mid.get(k, 0) for k, v in scorer.stats.items() if k in ("embed_tokens", "tokens_run"))
        results[name] = {
            **summarise(records, [d for d, _ in decisions]),
            "prompts_per_s": len(convs) / secs,
            "setup_seconds": setup,
            "tokens_per_prompt": tokens / len(convs),
            "setup_tokens": sum(v - before.get(k, 0) for k, v in mid.items() if k in ("embed_tokens", "tokens_run")),
        }
    return results


# -- tuning (dev set only) -------------------------------------------------------------------


def spec_variants(layer: int, pooling: str, max_tokens: int) -> list:
    """Every classifier setting tried on one kind of vector (layer, pooling)."""
    variants = [("centroid", 1, 0.0), *[("knn", k, 0.0) for k in (1, 3, 5, 10)]]
    variants += [("logreg", 1, l2) for l2 in (1e-4, 1e-3, 1e-2)]
    specs = []
    for center, (method, k, l2) in itertools.product((True, False), variants):
        for temperature in (1.0,) if method == "logreg" else (0.02, 0.05, 0.1):
            specs.append(
                replace(
                    DEFAULT_EMBEDDING,
                    layer=layer,
                    pooling=pooling,
                    max_tokens=max_tokens,
                    center=center,
                    temperature=temperature,
                    method=method,
                    k=k,
                    l2=l2 or DEFAULT_EMBEDDING.l2,
                )
            )
    return specs


def decide(scores, labels: list[str], threshold: float, default: str) -> list[str]:
    out = []
    for row in scores:
        probs = softmax([float(v) for v in row])
        best = int(np.argmax(probs))
        out.append(labels[best] if probs[best] >= threshold else default)
    return out


def embed_cached(scorer, convs: list, name: str, layer: int, pooling: str, args) -> np.ndarray:
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    content = hashlib.sha256(json.dumps(convs, sort_keys=True).encode()).hexdigest()[:12]
    f = cache / f"{Path(args.model).name}-{args.dtype}-{name}-{content}-{layer}-{pooling}-{args.max_tokens}.npy"
    if f.exists():
        return np.load(f)
    vecs = np.asarray(scorer.embed(convs, layer, pooling, args.max_tokens))
    np.save(f, vecs)
    return vecs


def folds(args, guides) -> list[dict]:
    """Leave-one-set-out: each labelled set in turn is routed by a fit on the guides' examples
    plus every other set, so each figure is on prompts the fit did not learn from."""
    scorer = load_scorer(args.model, args.batch_tokens, args.threads, args.dtype)
    base = labelled_examples(guides)
    sets = {Path(p).stem: load_set(p) for p in args.folds.split(",")}
    labels = list(guides)
    rows = []
    for layer, pooling in itertools.product([int(x) for x in args.layers.split(",")], args.poolings.split(",")):
        base_vecs = embed_cached(scorer, [c for _, c in base], "guides", layer, pooling, args)
        vecs = {
            n: embed_cached(scorer, [r["conversation"] for r in rs], n, layer, pooling, args) for n, rs in sets.items()
        }
        for spec in spec_variants(layer, pooling, args.max_tokens):
            per_fold = {}
            for name, records in sets.items():
                train = [base_vecs, *[vecs[o] for o in sets if o != name]]
                domains = [d for d, _ in base] + [r["domain"] for o in sets if o != name for r in sets[o]]
                fit = fit_router(np.concatenate(train), domains, labels, spec)
                predicted = decide(domain_scores(fit, vecs[name], spec), labels, args.threshold, args.default_domain)
                rep = summarise(records, predicted)
                per_fold[name] = (rep["accuracy"], min(rep["recall"].values()))
            rows.append(
                {
                    "spec": asdict(spec),
                    "folds": per_fold,
                    "accuracy": sum(a for a, _ in per_fold.values()) / len(per_fold),
                    "min_recall": min(r for _, r in per_fold.values()),
                }
            )
    rows.sort(key=lambda r: (-r["accuracy"], -r["min_recall"]))
    return rows


def tune(args, records, guides, extra) -> list[dict]:
    scorer = load_scorer(args.model, args.batch_tokens, args.threads, args.dtype)
    examples = labelled_examples(guides, extra)
    ex_convs, ex_domains = [c for _, c in examples], [d for d, _ in examples]
    convs = [r["conversation"] for r in records]
    labels = list(guides)
    rows = []
    for layer, pooling in itertools.product([int(x) for x in args.layers.split(",")], args.poolings.split(",")):
        # Cached by model, dtype and content (embed_cached), so another model never reuses these vectors.
        ex_vecs = embed_cached(scorer, ex_convs, "examples", layer, pooling, args)
        vecs = embed_cached(scorer, convs, Path(args.input).stem, layer, pooling, args)
        for spec in spec_variants(layer, pooling, args.max_tokens):
            scores = domain_scores(fit_router(ex_vecs, ex_domains, labels, spec), vecs, spec)
            for threshold in (0.0, 0.4, 0.5, 0.6):
                rep = summarise(records, decide(scores, labels, threshold, args.default_domain))
                rows.append(
                    {
                        "spec": asdict(spec),
                        "threshold": threshold,
                        "accuracy": rep["accuracy"],
                        "min_recall": min(rep["recall"].values()),
                        "recall": rep["recall"],
                    }
                )
    rows.sort(key=lambda r: (-r["accuracy"], -r["min_recall"]))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", default=str(DEFAULT_SET), help="labelled {prompt, domain[, case]} JSONL")
    p.add_argument("--model", default=None, help="router model: registry name or folder")
    p.add_argument("--routers", default="keyword,embedding,llm")
    p.add_argument("--router-examples", default=None, help="extra {prompt, domain} JSONL for the centroids")
    p.add_argument(
        "--no-shipped-examples",
        action="store_true",
        help="leave out the guide folder's router_examples*.jsonl (ablation)",
    )
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument(
        "--l2", type=float, default=None, help="embedding router: logistic regression L2 (default: the spec's)"
    )
    p.add_argument("--default-domain", default="chat")
    p.add_argument("--batch-tokens", type=int, default=8192)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--json", help="write the figures to this file")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"), help="router model dtype")
    p.add_argument(
        "--folds",
        help="comma-separated labelled sets: leave-one-set-out comparison of every embedding-router setting",
    )
    p.add_argument("--tune", action="store_true", help="sweep the embedding router's settings (dev set only)")
    p.add_argument("--layers", default="-1", help="--tune: hidden_states indexes")
    p.add_argument("--poolings", default="mean,last", help="--tune: poolings")
    p.add_argument("--max-tokens", type=int, default=DEFAULT_EMBEDDING.max_tokens)
    p.add_argument("--cache", default="/tmp/gdr-bench-router", help="--tune: where embeddings are cached")
    args = p.parse_args(argv)
    args.model = args.model or default_model()
    guides = load_guides()
    # As gdr does: the built-in folder's router_examples*.jsonl, then --router-examples;
    # --no-shipped-examples leaves the shipped files out (an ablation).
    if args.no_shipped_examples:
        extra = load_router_examples(args.router_examples, guides) if args.router_examples else ()
    else:
        extra = routing_examples("builtin", guides, args.router_examples)
    if args.folds:
        rows = folds(args, guides)
        names = list(rows[0]["folds"])
        print(f"leave-one-set-out, router model {args.model} ({args.dtype}); accuracy (min recall) per held-out fold")
        print(f"  {'mean':>5} " + " ".join(f"{n[:16]:>16}" for n in names) + "  setting")
        for r in rows[:25]:
            s = r["spec"]
            cells = " ".join(f"{100 * a:7.1f} ({100 * m:4.1f})" for a, m in r["folds"].values())
            print(
                f"  {100 * r['accuracy']:5.1f} {cells}  layer {s['layer']} {s['pooling']} center={s['center']} "
                f"{s['method']} k={s['k']} T={s['temperature']} l2={s['l2']}"
            )
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
        return 0
    records = load_set(args.input)
    if args.tune:
        rows = tune(args, records, guides, extra)
        for r in rows[:15]:
            s = r["spec"]
            print(
                f"acc {100 * r['accuracy']:5.1f}  min recall {100 * r['min_recall']:5.1f}  layer {s['layer']:>3} "
                f"{s['pooling']:<4} center={s['center']!s:<5} {s['method']:<8} k={s['k']:<2} T={s['temperature']} "
                f"threshold={r['threshold']}"
            )
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
        return 0
    results = run_routers(args, records, guides, extra)
    print(f"{args.input}: {len(records)} prompts, router model {args.model}")
    domains = sorted({d for r in results.values() for d in r.get("recall", {})})
    print(f"  {'router':<10} {'acc':>6} " + " ".join(f"{d[:9]:>9}" for d in domains) + "   hard  prompts/s  tok/prompt")
    for name, r in results.items():
        if name == "forward":
            continue
        recall = " ".join(f"{100 * r['recall'].get(d, 0):8.1f}%" for d in domains)
        tok = r.get("tokens_per_prompt")
        print(
            f"  {name:<10} {100 * r['accuracy']:5.1f}% {recall} {100 * (r['hard_case_accuracy'] or 0):5.1f}% "
            f"{r['prompts_per_s']:9.1f}  {'' if tok is None else f'{tok:9.1f}'}"
        )
    if "forward" in results:
        f = results["forward"]
        print(
            f"  {'forward':<10} one forward of each templated prompt: {f['prompts_per_s']:.1f} prompts/s, "
            f"{f['tokens_per_prompt']:.1f} tokens/prompt"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
