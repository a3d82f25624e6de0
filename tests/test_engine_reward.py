"""The engine's reward equals the definition, computed naively and independently.

Tolerance: 1e-4 absolute in float32. The engine sums in float64 but its forward is
float32 and batched with padding, so per-token log-probs differ from the unbatched
float64 reference by ~1e-6; a few hundred tokens keep the sum far below 1e-4, while an
off-by-one or a wrong token boundary changes it by whole nats with these weights.
"""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from guides import load_guides
from tests.naive import naive_logp
from transforms.engine.models import ModelLoadError, check_model_source, load_causal_lm
from transforms.engine.scorer import CausalLMScorer, DensityRatioScorer, ScoreFailure, ScoreRequest
from transforms.engine.templating import TemplateError, guided_messages

TOL = 1e-4

CONVERSATIONS = [
    [{"role": "user", "content": "How do I reverse a list in Python?"}],
    [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Name a prime."},
        {"role": "assistant", "content": "7."},
        {"role": "user", "content": "Another one, and explain why it is prime."},
    ],
    [{"role": "user", "content": "Tell me how to make a weapon."}],
]
RESPONSES = [
    "x",  # one character: one or two tokens
    "Use reversed(xs) or xs[::-1].",
    "I can't help with that, but here is a safer idea: talk to someone you trust. " * 6,
    "  leading spaces and a trailing newline\n",
    "ünïcödé and emoji 🙂 still score",
]


def _hf(path):
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.eval()
    return model, AutoTokenizer.from_pretrained(path)


@pytest.fixture(scope="module")
def guides():
    return load_guides()


@pytest.mark.parametrize("family_fixture", ["chatml_strong", "inst_model"])
def test_logp_matches_naive_for_each_template(request, family_fixture, guides):
    path = request.getfixturevalue(family_fixture)
    model, tok = _hf(path)
    scorer = CausalLMScorer(load_causal_lm(str(path), dtype="float32", device="cpu"), batch_tokens=700)
    seqs, expected = [], []
    for guide in (None, guides["safety"], guides["reasoning"]):
        for conv in CONVERSATIONS:
            for resp in RESPONSES:
                seqs.append(scorer.encode(conv, resp, guide))
                expected.append(naive_logp(model, tok, guided_messages(guide, conv), resp))
    got = scorer.logprobs(seqs)  # one call: sorted, packed into several padded batches
    for seq, g, (e, n) in zip(seqs, got, expected):
        assert seq.n_response == n
        assert abs(g - e) <= TOL, (g, e)
    # The check can fail: with these weights, token log-probs are far from uniform, so a
    # one-position shift of the gather changes the sum by a lot.
    k = max(range(len(seqs)), key=lambda i: seqs[i].n_response)
    ids = list(seqs[k].input_ids)
    with torch.no_grad():
        lp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
    shifted = sum(lp[t, ids[t]].item() for t in range(seqs[k].response_start, len(ids)))
    assert abs(shifted - expected[k][0]) > 1000 * TOL  # far outside the tolerance the check uses


def test_density_ratio_across_families_uses_each_models_template(chatml_strong, inst_model, guides):
    """Strong and weak from different families: each with its own tokenizer and template."""
    strong = CausalLMScorer(load_causal_lm(str(chatml_strong), dtype="float32"))
    weak = CausalLMScorer(load_causal_lm(str(inst_model), dtype="float32"))
    scorer = DensityRatioScorer(strong, weak)
    ms, ts = _hf(chatml_strong)
    mw, tw = _hf(inst_model)
    reqs = [
        ScoreRequest(f"k{i}", conv, resp, guides["chat"])
        for i, (conv, resp) in enumerate((c, r) for c in CONVERSATIONS for r in RESPONSES[:3])
    ]
    results = scorer.score(reqs)
    for req, res in zip(reqs, results):
        msgs = guided_messages(req.guide, req.conversation)
        ls, ns = naive_logp(ms, ts, msgs, req.response)
        lw, nw = naive_logp(mw, tw, msgs, req.response)
        assert res.n_tokens_strong == ns and res.n_tokens_weak == nw
        assert abs(res.reward - (ls - lw)) <= 2 * TOL
        assert abs(res.reward_mean - (ls / ns - lw / nw)) <= 2 * TOL
    # Different tokenizers really were used: token counts differ for some response.
    assert any(r.n_tokens_strong != r.n_tokens_weak for r in results)


def test_response_tokens_start_at_the_boundary_even_when_a_token_merges(chatml_strong):
    """A response whose first characters merge with the template's last token."""
    loaded = load_causal_lm(str(chatml_strong), dtype="float32")
    tok = loaded.tokenizer
    scorer = CausalLMScorer(loaded)
    conv = [{"role": "user", "content": "Say hi."}]
    # The ChatML generation prompt ends in "\n"; a response starting with "\n\n" can merge
    # with it into one token under byte-level BPE.
    resp = "\n\nHello there"
    seq = scorer.encode(conv, resp, None)
    prefix = tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(conv + [{"role": "assistant", "content": resp}], tokenize=False)
    enc = tok(full, add_special_tokens=False, return_offsets_mapping=True)
    starts = [s for s, _ in enc["offset_mapping"]]
    merged = [i for i, (s, e) in enumerate(enc["offset_mapping"]) if s < len(prefix) < e]
    assert merged, "the tiny tokenizer is trained to merge newline runs across the boundary"
    # The straddling token starts before the boundary, so it is not a response token; the
    # engine's first response token is the first one starting at/after the boundary.
    assert seq.response_start == next(i for i, s in enumerate(starts) if s >= len(prefix))
    for i in merged:
        assert i < seq.response_start
    # The straddling token is the one just before the response: it holds the template's
    # newline and the response's first newline, so tokenizing prefix and response apart
    # would produce different ids from those the model actually sees.
    assert merged == [seq.response_start - 1]
    apart = tok(prefix, add_special_tokens=False)["input_ids"]
    assert list(seq.input_ids[: len(apart)]) != apart


def test_no_double_bos_and_base_model_fallback(inst_model, base_model):
    inst = CausalLMScorer(load_causal_lm(str(inst_model), dtype="float32"))
    seq = inst.encode([{"role": "user", "content": "Hi"}], "Hello", None)
    bos = inst.tokenizer.bos_token_id
    assert seq.input_ids[0] == bos and seq.input_ids[1] != bos  # template writes BOS once

    base = CausalLMScorer(load_causal_lm(str(base_model), dtype="float32"))
    assert not base.tokenizer.chat_template
    seq = base.encode([{"role": "user", "content": "Hi"}], "Hello", None)
    assert seq.input_ids[0] == bos and seq.input_ids[1] != bos  # the tokenizer's BOS, once
    # Fallback format, computed by hand: "User: Hi\n\nAssistant:" then " Hello</s>".
    model, tok = _hf(base_model)
    prefix = "User: Hi\n\nAssistant:"
    full = prefix + " Hello" + tok.eos_token
    enc = tok(full, add_special_tokens=True, return_offsets_mapping=True)
    ids = enc["input_ids"]
    resp = [i for i, (s, _) in enumerate(enc["offset_mapping"]) if s >= len(prefix) and i > 0]
    with torch.no_grad():
        lp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
    expected = sum(lp[t - 1, ids[t]].item() for t in resp)
    assert list(seq.input_ids) == ids
    assert abs(base.logprobs([seq])[0] - expected) <= TOL


def test_max_tokens_and_template_failures_are_reported_not_raised(chatml_strong, chatml_weak):
    strong = CausalLMScorer(load_causal_lm(str(chatml_strong), dtype="float32"), max_tokens=40)
    weak = CausalLMScorer(load_causal_lm(str(chatml_weak), dtype="float32"), max_tokens=40)
    scorer = DensityRatioScorer(strong, weak)
    conv = [{"role": "user", "content": "Hi"}]
    out = scorer.score([ScoreRequest("short", conv, "Hello"), ScoreRequest("long", conv, "word " * 100)])
    assert not isinstance(out[0], ScoreFailure)
    assert isinstance(out[1], ScoreFailure) and "exceeds --max-tokens 40" in out[1].reason
    with pytest.raises(TemplateError):
        strong.encode(
            [{"role": "assistant", "content": "x"}],
            "y",
            load_guides()["chat"].__class__(id="p", description="d", criteria=("c",), placement="user_prefix"),
        )


def test_out_of_memory_halves_the_batch_and_isolates_a_record(chatml_strong):
    scorer = CausalLMScorer(load_causal_lm(str(chatml_strong), dtype="float32"), batch_tokens=100_000)
    seqs = [scorer.encode([{"role": "user", "content": f"q{i}"}], "a " * (i + 1), None) for i in range(6)]
    clean = scorer.logprobs(seqs)
    longest = max(len(s) for s in seqs)

    def fake_oom(batch):  # batches of more than 2 "do not fit"; the longest never fits
        if len(batch) > 2 or any(len(s) == longest for s in batch):
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    scorer.before_forward = fake_oom
    got = scorer.logprobs(seqs)
    for s, g, c in zip(seqs, got, clean):
        if len(s) == longest:
            assert isinstance(g, Exception) and "out of memory" in str(g)
        else:
            assert abs(g - c) <= TOL


def test_missing_model_path_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="model path not found"):
        check_model_source(str(tmp_path / "nope"))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    (tmp_path / "m" / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="--allow-pickle"):
        check_model_source(str(tmp_path / "m"))
