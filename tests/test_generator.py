"""The sampling engine for on-policy candidates, against transformers' own greedy decoding."""

from __future__ import annotations

import pytest
import torch

from transforms.engine.generator import (
    CausalLMGenerator,
    Generated,
    GenerationFailure,
    GenerationRequest,
    SamplingSettings,
)
from transforms.engine.models import load_causal_lm

CONVS = [
    [{"role": "user", "content": "Hi"}],
    [{"role": "user", "content": "How do I sort a list of numbers in Python, quickly and simply?"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."}],
]


@pytest.fixture(scope="module")
def generator(chatml_strong) -> CausalLMGenerator:
    return CausalLMGenerator(load_causal_lm(str(chatml_strong), dtype="float32", device="cpu"), batch_size=3)


def _reference_greedy(gen: CausalLMGenerator, conv, n: int) -> list[int]:
    """transformers' generate, one prompt at a time (no padding), stopping at the same tokens."""
    ids = torch.tensor([gen.prompt_ids(conv)])
    out = gen.model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=n,
        do_sample=False,
        eos_token_id=sorted(gen.stop_ids),
        pad_token_id=gen.pad_id,
    )[0, ids.shape[1] :].tolist()
    return [t for t in out if t not in gen.stop_ids and t != gen.pad_id]


def test_greedy_batched_with_left_padding_equals_transformers_generate(generator):
    n = 12
    got = generator.generate(
        [GenerationRequest(str(i), c, seed=i) for i, c in enumerate(CONVS)],
        SamplingSettings(temperature=0, max_new_tokens=n),
    )
    for conv, g in zip(CONVS, got, strict=True):
        assert isinstance(g, Generated)
        want = _reference_greedy(generator, conv, n)
        assert g.n_tokens == len(want)
        assert g.text == generator.tokenizer.decode(want, skip_special_tokens=True).strip()


def test_a_sample_depends_on_its_seed_not_on_its_batch(generator):
    s = SamplingSettings(temperature=1.0, max_new_tokens=10)
    alone = [generator.generate([GenerationRequest("k", c, seed=7)], s)[0].text for c in CONVS]
    batched = [
        g.text for g in generator.generate([GenerationRequest(str(i), c, seed=7) for i, c in enumerate(CONVS)], s)
    ]
    assert alone == batched
    others = {generator.generate([GenerationRequest("k", CONVS[1], seed=seed)], s)[0].text for seed in range(6)}
    assert len(others) > 1  # different seeds, different samples


def test_tiny_top_p_is_greedy(generator):
    greedy = generator.generate(
        [GenerationRequest("k", CONVS[1], seed=1)], SamplingSettings(temperature=0, max_new_tokens=8)
    )
    nucleus = generator.generate([GenerationRequest("k", CONVS[1], seed=99)], SamplingSettings(1.0, 1e-9, 8))
    assert nucleus[0].text == greedy[0].text


def test_prompts_that_cannot_be_generated_for_fail_alone(chatml_strong):
    gen = CausalLMGenerator(load_causal_lm(str(chatml_strong), dtype="float32", device="cpu"), max_tokens=40)
    long = [{"role": "user", "content": "word " * 60}]
    out = gen.generate(
        [GenerationRequest("ok", CONVS[0], 1), GenerationRequest("long", long, 1)], SamplingSettings(max_new_tokens=5)
    )
    assert isinstance(out[0], Generated)
    assert isinstance(out[1], GenerationFailure) and "exceeds --max-tokens 40" in out[1].reason


def test_rows_stop_at_end_of_turn_and_leave_the_batch_without_changing_the_others(chatml_strong):
    """A row that ends its turn early is dropped from the batch and its cache; the rest go on unchanged."""
    gen = CausalLMGenerator(load_causal_lm(str(chatml_strong), dtype="float32", device="cpu"), batch_size=3)
    n, s = 12, SamplingSettings(temperature=0, max_new_tokens=12)
    free = [_reference_greedy(gen, c, n) for c in CONVS]
    # Make one of row 0's greedy tokens an end-of-turn token: row 0 now stops there, mid-batch.
    stop = free[0][3]
    gen.stop_ids = gen.stop_ids | {stop}
    got = gen.generate([GenerationRequest(str(i), c, seed=i) for i, c in enumerate(CONVS)], s)
    want = [_reference_greedy(gen, c, n) for c in CONVS]
    assert got[0].finished and got[0].n_tokens == free[0].index(stop) < n
    assert not all(g.finished for g in got)  # others ran on after row 0 left
    for g, w in zip(got, want, strict=True):
        assert g.n_tokens == len(w)
        assert g.text == gen.tokenizer.decode(w, skip_special_tokens=True).strip()
        assert g.finished == (len(w) < n)


def test_batch_tokens_bound_the_batch_and_samples_do_not_change(chatml_strong):
    loaded = load_causal_lm(str(chatml_strong), dtype="float32", device="cpu")
    requests = [GenerationRequest(str(i), c, seed=100 + i) for i, c in enumerate(CONVS * 2)]
    s = SamplingSettings(temperature=1.0, max_new_tokens=10)
    wide = CausalLMGenerator(loaded, batch_size=64, batch_tokens=100_000)
    longest = max(len(wide.prompt_ids(c)) for c in CONVS)
    # room for two rows of the longest prompt and its new tokens, never three
    narrow = CausalLMGenerator(loaded, batch_size=64, batch_tokens=2 * (longest + 10) + 1)
    a, b = wide.generate(requests, s), narrow.generate(requests, s)
    assert wide.stats["batches"] == 1 and narrow.stats["batches"] >= len(requests) // 2
    assert [g.text for g in a] == [g.text for g in b]
    for chunk in narrow._chunks([(i, wide.prompt_ids(r.conversation)) for i, r in enumerate(requests)], 10):
        assert len(chunk) * (max(len(ids) for _, ids in chunk) + 10) <= narrow.batch_tokens


def test_the_model_server_generates_on_the_scoring_copy(chatml_strong):
    """Generation shares the loaded weights and the forward-pass lock of the scorer on that copy."""
    from transforms.model_pool import ModelServer, ModelSettings

    server = ModelServer(ModelSettings(str(chatml_strong), dtype="float32", device="cpu", max_tokens=40))
    s = SamplingSettings(temperature=1.0, max_new_tokens=6)
    out = server.generate([GenerationRequest("a", CONVS[0], 5), GenerationRequest("b", CONVS[1] * 3, 5)], s)
    assert server._generator.model is server.scorer.model and server._generator._lock is server.scorer._lock
    direct = CausalLMGenerator(server.scorer.loaded, max_tokens=40).generate([GenerationRequest("a", CONVS[0], 5)], s)
    assert isinstance(out[0], Generated) and out[0].text == direct[0].text
    assert isinstance(out[1], GenerationFailure) and "exceeds --max-tokens 40" in out[1].reason
