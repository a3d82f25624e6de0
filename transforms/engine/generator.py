"""On-policy candidates: sample responses to a conversation from a policy model, reproducibly.

No Beam here (``transforms/generation.py`` is the pipeline step). A request carries its
own seed, derived by the caller from the prompt, the policy, the sampling settings and the
sample's index (``transforms.keys.generation_key``); each row of a batch draws from its own
``torch.Generator`` seeded with it, so a sample does not depend on which other prompts
shared its batch (up to the float noise of batched logits).

The loop is the plain one: the prompt is rendered with the model's chat template and its
generation prompt (the fallback format for base models), batches are left-padded and run
once through the model with a KV cache, then one token per step for every unfinished row
until it emits an end-of-turn token (EOS, or the template's ``<|im_end|>``-style token) or
reaches ``max_new_tokens``. Temperature 0 is greedy; ``top_p`` < 1 keeps the smallest set
of tokens whose probability reaches ``top_p``. Memory is bounded by the batch size:
``batch_size x (prompt + max_new_tokens)`` cached positions.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from transforms.engine.models import LoadedModel
from transforms.engine.templating import TemplateError, _adds_bos, _render

# End-of-turn tokens of common chat templates, besides the tokenizer's EOS.
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "</s>", "<|endoftext|>")


@dataclass(frozen=True)
class SamplingSettings:
    """What decides a sample besides the prompt, the policy and the seed."""

    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 512

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GenerationRequest:
    key: str
    conversation: list[dict[str, str]]
    seed: int


@dataclass(frozen=True)
class Generated:
    key: str
    text: str
    n_tokens: int
    finished: bool  # stopped at an end-of-turn token (False: cut at max_new_tokens)


@dataclass(frozen=True)
class GenerationFailure:
    key: str
    stage: str
    reason: str


class CausalLMGenerator:
    """Batched sampling from one loaded causal LM (see module docstring)."""

    def __init__(self, loaded: LoadedModel, max_tokens: int | None = None, batch_size: int = 8):
        self.loaded, self.model, self.tokenizer = loaded, loaded.model, loaded.tokenizer
        self.device = loaded.device
        limit = getattr(self.model.config, "max_position_embeddings", None)
        self.max_tokens = min(x for x in (max_tokens, limit) if x) if (max_tokens or limit) else None
        self.batch_size = max(1, batch_size)
        self.pad_id = next((t for t in (self.tokenizer.pad_token_id, self.tokenizer.eos_token_id) if t is not None), 0)
        vocab = self.tokenizer.get_vocab()
        self.stop_ids = {t for t in (self.tokenizer.eos_token_id,) if t is not None}
        self.stop_ids |= {vocab[t] for t in END_OF_TURN_TOKENS if t in vocab}
        self._lock = threading.RLock()  # one model, several threads (Beam's DirectRunner)

    def prompt_ids(self, conversation: list[dict[str, str]]) -> list[int]:
        """The conversation rendered with the generation prompt, as the model will continue it."""
        try:
            text = _render(self.tokenizer, conversation, add_generation_prompt=True)
        except TemplateError:
            raise
        except Exception as exc:  # jinja's raise_exception() and friends
            raise TemplateError(f"chat template cannot render the conversation: {exc}") from None
        ids = list(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        if _adds_bos(self.tokenizer) and (not ids or ids[0] != self.tokenizer.bos_token_id):
            ids.insert(0, self.tokenizer.bos_token_id)
        return ids

    def generate(
        self, requests: Sequence[GenerationRequest], settings: SamplingSettings
    ) -> list[Generated | GenerationFailure]:
        """One result per request, in order; a prompt that cannot be rendered or is too long fails alone."""
        out: list = [None] * len(requests)
        todo = []
        for i, r in enumerate(requests):
            try:
                ids = self.prompt_ids(r.conversation)
            except TemplateError as exc:
                out[i] = GenerationFailure(r.key, "template", str(exc))
                continue
            if self.max_tokens is not None and len(ids) + settings.max_new_tokens > self.max_tokens:
                out[i] = GenerationFailure(
                    r.key,
                    "generate",
                    f"prompt of {len(ids)} tokens + --max-new-tokens {settings.max_new_tokens} exceeds "
                    f"--max-tokens {self.max_tokens}",
                )
                continue
            todo.append((i, ids))
        todo.sort(key=lambda t: len(t[1]))  # similar lengths together: less padding
        with self._lock, torch.inference_mode():
            for lo in range(0, len(todo), self.batch_size):
                chunk = todo[lo : lo + self.batch_size]
                for (i, _), (text, n, finished) in zip(
                    chunk,
                    self._sample([ids for _, ids in chunk], [requests[i].seed for i, _ in chunk], settings),
                    strict=True,
                ):
                    out[i] = Generated(requests[i].key, text, n, finished)
        return out

    def _sample(self, prompts: list[list[int]], seeds: list[int], s: SamplingSettings) -> list[tuple[str, int, bool]]:
        dev, b = self.device, len(prompts)
        width = max(len(p) for p in prompts)
        ids = torch.full((b, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((b, width), dtype=torch.long)
        for row, p in enumerate(prompts):  # left padding: every row's next token is at the same slot
            ids[row, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            mask[row, width - len(p) :] = 1
        ids, mask = ids.to(dev), mask.to(dev)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        gens = [torch.Generator(device=dev).manual_seed(int(seed) % (2**63)) for seed in seeds]
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
        past, logits = out.past_key_values, out.logits[:, -1, :]
        new: list[list[int]] = [[] for _ in range(b)]
        done = [False] * b
        finished = [False] * b
        next_pos = positions[:, -1] + 1
        for _step in range(s.max_new_tokens):
            tokens = self._pick(logits.float(), gens, s)
            for row in range(b):
                if done[row]:
                    continue
                t = int(tokens[row])
                if t in self.stop_ids:
                    done[row] = finished[row] = True
                else:
                    new[row].append(t)
                    done[row] = len(new[row]) >= s.max_new_tokens
            if all(done):
                break
            feed = torch.tensor([[self.pad_id if done[r] else new[r][-1]] for r in range(b)], device=dev)
            mask = torch.cat([mask, torch.ones((b, 1), dtype=mask.dtype, device=dev)], dim=1)
            out = self.model(
                input_ids=feed,
                attention_mask=mask,
                position_ids=next_pos[:, None],
                past_key_values=past,
                use_cache=True,
            )
            past, logits = out.past_key_values, out.logits[:, -1, :]
            next_pos = next_pos + 1
        return [
            (self.tokenizer.decode(new[r], skip_special_tokens=True).strip(), len(new[r]), finished[r])
            for r in range(b)
        ]

    @staticmethod
    def _pick(logits: torch.Tensor, gens: list[torch.Generator], s: SamplingSettings) -> list[int]:
        if s.temperature <= 0:
            return logits.argmax(-1).tolist()
        probs = torch.softmax(logits / s.temperature, dim=-1)
        if s.top_p < 1.0:
            sorted_p, order = probs.sort(dim=-1, descending=True)
            # keep a token while the mass before it is below top_p (the first one always stays)
            drop = (sorted_p.cumsum(-1) - sorted_p) >= s.top_p
            sorted_p = sorted_p.masked_fill(drop, 0.0)
            probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
        return [int(torch.multinomial(probs[r], 1, generator=gens[r])) for r in range(len(gens))]
