"""An independent, deliberately naive reward computation the engine is checked against.

Written from the definition, sharing no code with the engine: render with the chat
template, find response tokens by character offsets, run the *whole* sequence through
the model one at a time, log-softmax over the full vocabulary in float64, and sum the
log-prob of each response token given everything before it.
"""

from __future__ import annotations

import torch


def naive_logp(model, tokenizer, messages: list[dict], response: str) -> tuple[float, int]:
    prefix = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": response}], tokenize=False)
    assert full.startswith(prefix)
    enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids = enc["input_ids"]
    response_positions = [i for i, (s, _) in enumerate(enc["offset_mapping"]) if s >= len(prefix)]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    logprobs = torch.log_softmax(logits, dim=-1)
    total = 0.0
    for t in response_positions:
        total += logprobs[t - 1, ids[t]].item()
    return total, len(response_positions)
