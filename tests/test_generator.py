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
