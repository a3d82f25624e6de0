"""The fast engine (prefix reuse, token-budget packing, response-only head) equals the naive definition.

The reference here is written independently of the engine: each sequence alone, full
forward, ``model(input_ids).logits``, float64 log-softmax, and a Python loop over response
tokens t adding ``logp[t - 1, ids[t]]``. Records vary guides (none, several), single- and
multi-turn prompts, N candidates per prompt (shared prompt prefix), responses from one
token up to a few hundred, a response that merges with the template's trailing newline,
and synthetic sequences whose response starts at position 1.

Tolerances:
* float32: 1e-4 absolute on the summed log-prob. Engine and reference run different kernel
  shapes (batched, padded, cached prefix vs one full sequence), so per-token values differ
  by ~1e-7..1e-6 nats; sums of a few hundred tokens stay below ~3e-5 (measured). An
  off-by-one gather moves a sum by whole nats with these peaked tiny models.
* bfloat16: 0.03 nats per response token + 0.1 against the same reference run in bf16. bf16
  keeps 8 mantissa bits, so every hidden value and logit carries ~0.4% relative rounding;
  with these deliberately peaked models (|log p| ~ 10 nats per token) the engine and the
  bf16 reference, which round in different orders, differ by up to ~0.02 nats per token
  (measured: 0.0016 Qwen2, 0.021 Llama, 0.0047 Llama base). That is still ~300x below the
  ~10 nats per token an off-by-one changes. The 0.1 floor covers one- and two-token
  responses of random ids (measured 0.064 on a two-token one).
"""

from __future__ import annotations

import random

import pytest
import torch
from transformers import AutoModelForCausalLM

import transforms.engine.scorer as scorer_module
from guides import load_guides
from transforms.engine.models import load_causal_lm
from transforms.engine.prefix_cache import KVBlock, PrefixLRU, plan_prefixes
from transforms.engine.scorer import CausalLMScorer, SequenceTooLarge
from transforms.engine.templating import EncodedSequence
from transforms.engine.tiny_models import build_tiny_model

TOL_F32 = 1e-4
TOL_BF16_PER_TOKEN = 0.03
TOL_BF16_FLOOR = 0.1

FAMILIES = {"chatml": 11, "inst": 12, "base": 13}  # Qwen2 / Llama / Llama without chat template

CONVERSATIONS = [
    [{"role": "user", "content": "How do I reverse a list in Python?"}],
    [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name a prime."},
        {"role": "assistant", "content": "7."},
        {"role": "user", "content": "Another one, and explain why it is prime."},
    ],
    [{"role": "user", "content": "Write a short, polite email to decline the meeting on Monday."}],
]
CANDIDATES = [
    "x",
    "Use reversed(xs) or xs[::-1].",
    "\n\nFirst paragraph.\n\n\nSecond paragraph.",  # merges with the template's trailing newline
    "Here is a recipe: boil water, add pasta, cook for ten minutes, drain and serve with sauce. " * 8,
    "ünïcödé and emoji 🙂 still score",
]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Tiny models gain nothing from intra-op threads, and on a shared 2-core machine the
    # spinning OpenMP workers make them ~5x slower.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def fast_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("fast_engine_models")
    return {fam: build_tiny_model(root / fam, family=fam, seed=seed) for fam, seed in FAMILIES.items()}


@pytest.fixture(scope="module")
def loaded(fast_models):
    """Load each (family, dtype) once; scorers are cheap wrappers made per test."""
    cache = {}

    def get(family: str, dtype: str = "float32"):
        if (family, dtype) not in cache:
            cache[family, dtype] = load_causal_lm(str(fast_models[family]), dtype=dtype, device="cpu")
        return cache[family, dtype]

    return get


def _records(scorer: CausalLMScorer) -> list[EncodedSequence]:
    guides = load_guides()
    seqs = [
        scorer.encode(conv, response, guide)
        for guide in (None, guides["chat"], guides["safety"], guides["reasoning"])
        for conv in CONVERSATIONS
        for response in CANDIDATES
    ]
    # Synthetic edge cases: the response starts right after the first token; one-token responses.
    rng = random.Random(0)
    vocab = len(scorer.tokenizer)
    for n, start in ((2, 1), (9, 1), (9, 8), (40, 39)):
        seqs.append(EncodedSequence(tuple(rng.randrange(vocab) for _ in range(n)), start))
    return seqs


def _naive(model, seqs: list[EncodedSequence], shift: int = 1) -> list[float]:
    """Full-sequence reference; ``shift=0`` is the classic off-by-one (logits at t score token t)."""
    out = []
    with torch.no_grad():
        for s in seqs:
            logits = model(torch.tensor([s.input_ids])).logits[0]
            logp = torch.log_softmax(logits.double(), dim=-1)
            total = 0.0
            for t in range(s.response_start, len(s.input_ids)):
                total += logp[t - shift, s.input_ids[t]].item()
            out.append(total)
    return out


def _hf(path, dtype=torch.float32):
    return AutoModelForCausalLM.from_pretrained(path, dtype=dtype).eval()


@pytest.fixture(scope="module")
def references(fast_models, loaded, one_thread):
    """Per family: (sequences, float32 naive sums) — shared by the tests below."""
    out = {}
    for fam, path in fast_models.items():
        scorer = CausalLMScorer(loaded(fam))
        seqs = _records(scorer)
        out[fam] = (seqs, _naive(_hf(path), seqs))
    return out


def _max_diff(a, b) -> float:
    assert all(isinstance(x, float) for x in a), a
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("family", list(FAMILIES))
def test_fast_engine_equals_naive_float32(fast_models, loaded, references, family):
    seqs, expected = references[family]
    scorer = CausalLMScorer(loaded(family), batch_tokens=1024)
    assert scorer.prefix_reuse
    got = scorer.logprobs(seqs)
    assert _max_diff(got, expected) <= TOL_F32
    # Prefix reuse really happened: guide prefixes were cached and far fewer tokens were run.
    assert len(scorer.prefix_cache) >= 3
    assert scorer.stats["tokens_run"] < 0.5 * sum(len(s) for s in seqs)
    assert scorer.stats["head_rows"] == sum(s.n_response for s in seqs)
    # A second call reuses the worker-lifetime cache and gives the same sums.
    hits = scorer.prefix_cache.hits
    again = scorer.logprobs(list(reversed(seqs)))[::-1]
    assert scorer.prefix_cache.hits > hits
    assert _max_diff(again, expected) <= TOL_F32
    # The full-sequence path (no reuse) agrees too.
    scorer.prefix_reuse = False
    assert _max_diff(scorer.logprobs(seqs), expected) <= TOL_F32


def test_off_by_one_gather_would_not_match(fast_models, loaded, references):
    seqs, expected = references["chatml"]
    shifted = _naive(_hf(fast_models["chatml"]), seqs, shift=0)
    diffs = [abs(x - y) for x, y, s in zip(shifted, expected, seqs, strict=True) if s.n_response >= 3]
    assert diffs and min(diffs) > 100 * TOL_F32


def test_single_record_call_hits_the_domain_cache(fast_models, loaded, references):
    """A later call with one record of a known domain runs only its prompt remainder and responses."""
    seqs, expected = references["inst"]
    scorer = CausalLMScorer(loaded("inst"))
    per_prompt = len(CANDIDATES)
    chat = len(CONVERSATIONS) * per_prompt  # records are guide-major: none, chat, safety, reasoning
    scorer.logprobs(seqs[chat : chat + 2 * per_prompt])  # two chat-guide prompts: the domain is found
    last = slice(chat + 2 * per_prompt, chat + 3 * per_prompt)  # a third chat-guide prompt, alone
    hits, run = scorer.prefix_cache.hits, scorer.stats["tokens_run"]
    got = scorer.logprobs(seqs[last])
    assert scorer.prefix_cache.hits == hits + 1
    assert scorer.stats["tokens_run"] - run < sum(len(s) for s in seqs[last]) / 2
    assert _max_diff(got, expected[last]) <= TOL_F32


@pytest.mark.parametrize("family", ["chatml", "inst"])
def test_bf16_within_stated_tolerance(fast_models, loaded, references, family):
    seqs = references[family][0][::3]  # bf16 matmuls are slow on CPU: a third of the records
    path = fast_models[family]
    scorer = CausalLMScorer(loaded(family, "bfloat16"), batch_tokens=1024)
    got = scorer.logprobs(seqs)
    reference = _naive(_hf(path, torch.bfloat16), seqs)
    for g, r, s in zip(got, reference, seqs, strict=True):
        assert abs(g - r) <= TOL_BF16_PER_TOKEN * s.n_response + TOL_BF16_FLOOR, (g, r, s.n_response)


def test_out_of_memory_halves_and_results_stay_equal(fast_models, loaded, references):
    seqs, expected = references["chatml"]
    scorer = CausalLMScorer(loaded("chatml"))
    calls = []

    def fake_oom(batch):  # only single rows "fit"
        calls.append(len(batch))
        if len(batch) > 1:
            raise torch.OutOfMemoryError("out of memory (simulated)")

    scorer.before_forward = fake_oom
    got = scorer.logprobs(seqs)
    assert scorer.stats["oom_splits"] > 0 and max(calls) > 1
    assert _max_diff(got, expected) <= TOL_F32

    # A sequence that does not fit even alone is isolated; the others are unaffected.
    longest = max(len(s) for s in seqs)
    scorer.before_forward = lambda batch: fake_oom(batch) if all(len(s) != longest for s in batch) else fake_oom([1, 2])
    got = scorer.logprobs(seqs)
    for g, e, s in zip(got, expected, seqs, strict=True):
        if len(s) == longest:
            assert isinstance(g, SequenceTooLarge) and "out of memory" in str(g)
        else:
            assert abs(g - e) <= TOL_F32


def test_logits_are_materialised_in_bounded_chunks(fast_models, loaded, references, monkeypatch):
    seqs, expected = references["inst"]
    scorer = CausalLMScorer(loaded("inst"))
    vocab = scorer.head.weight.shape[0]
    monkeypatch.setattr(scorer_module, "LOGIT_CHUNK_ELEMENTS", 3 * vocab)
    rows = []
    hook = scorer.head.register_forward_hook(lambda _m, args, _out: rows.append(args[0].shape[0]))
    try:
        got = scorer.logprobs(seqs)
    finally:
        hook.remove()
    assert rows and max(rows) <= 3
    assert _max_diff(got, expected) <= TOL_F32


def test_plan_finds_domain_and_prompt_prefixes():
    guide_a, guide_b = tuple(range(100, 150)), tuple(range(200, 260))
    seqs = []
    for guide in (guide_a, guide_b):
        for prompt in ((1, 2, 3), (4, 5)):
            for response in ((7,), (8, 9, 9)):
                ids = guide + prompt + response
                seqs.append(EncodedSequence(ids, len(ids) - len(response)))
    seqs.append(EncodedSequence((5, 6, 7), 1))  # no prefix at all
    groups = plan_prefixes(seqs, lambda _key: None, min_domain_tokens=32)
    by_members = {tuple(g.members): g for g in groups}
    assert by_members[(0, 1)].domain == guide_a and by_members[(0, 1)].key == guide_a + (1, 2)
    assert by_members[(6, 7)].domain == guide_b
    assert by_members[(8,)].key == () and by_members[(8,)].domain == ()
    # A known (cached) prefix wins over discovery; a lone group without one gets no domain.
    groups = plan_prefixes(seqs[:2], lambda key: guide_a[:40] if key[:40] == guide_a[:40] else None)
    assert groups[0].domain == guide_a[:40]
    assert plan_prefixes(seqs[:2], lambda _key: None)[0].domain == ()


def test_prefix_lru_is_bounded_by_count_and_bytes():
    def block(n):
        t = torch.zeros((1, 1, n, 4))
        return KVBlock(((t, t.clone()),), n)

    lru = PrefixLRU(max_entries=2, max_bytes=block(10).nbytes * 3)
    lru.put((1,) * 5, block(5))
    lru.put((2,) * 5, block(5))
    assert lru.longest((1,) * 8, 8) is not None  # (1,)*5 is now the most recent
    lru.put((3,) * 5, block(5))
    assert len(lru) == 2 and lru.longest((2,) * 6, 6) is None
    lru.put((4,) * 25, block(25))  # evicts until the bytes fit
    assert lru.nbytes <= lru.max_bytes and lru.longest((4,) * 30, 30)[0] == (4,) * 25
    assert lru.longest((4,) * 30, 24) is None  # never longer than the limit
    lru.put((5,) * 40, block(40))  # larger than the whole budget: not stored
    assert lru.longest((5,) * 40, 40) is None
