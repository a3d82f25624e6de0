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
reaches ``max_new_tokens``; finished rows leave the batch (and the cache). Temperature 0 is
greedy; ``top_p`` < 1 keeps the smallest set of tokens whose probability reaches ``top_p``.
Memory is bounded: a batch holds at most ``batch_tokens`` cached positions
(``rows x (longest prompt + max_new_tokens)``) and at most ``batch_size`` rows, and only the
last position's logits are computed.

:class:`VLLMGenerator` serves the same requests with vLLM's offline engine (GPU workers
where ``vllm`` is importable): the same prompt token ids, stop tokens and per-request
seeds, but vLLM's own sampler, so its samples differ from this one's for a seed.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

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


def stop_token_ids(tokenizer: Any) -> set[int]:
    """EOS and every end-of-turn token the tokenizer knows: where a turn ends."""
    vocab = tokenizer.get_vocab()
    ids = {t for t in (tokenizer.eos_token_id,) if t is not None}
    return ids | {vocab[t] for t in END_OF_TURN_TOKENS if t in vocab}


def render_prompt_ids(tokenizer: Any, conversation: list[dict[str, str]]) -> list[int]:
    """The conversation rendered with the generation prompt, as the model will continue it."""
    try:
        text = _render(tokenizer, conversation, add_generation_prompt=True)
    except TemplateError:
        raise
    except Exception as exc:  # jinja's raise_exception() and friends
        raise TemplateError(f"chat template cannot render the conversation: {exc}") from None
    ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    if _adds_bos(tokenizer) and (not ids or ids[0] != tokenizer.bos_token_id):
        ids.insert(0, tokenizer.bos_token_id)
    return ids


def _prepare(
    tokenizer: Any, requests: Sequence[GenerationRequest], settings: SamplingSettings, max_tokens: int | None
) -> tuple[list, list[tuple[int, list[int]]]]:
    """Render every request; returns the results so far (failures) and the ``(index, prompt ids)`` to run."""
    out: list = [None] * len(requests)
    todo = []
    for i, r in enumerate(requests):
        try:
            ids = render_prompt_ids(tokenizer, r.conversation)
        except TemplateError as exc:
            out[i] = GenerationFailure(r.key, "template", str(exc))
            continue
        if max_tokens is not None and len(ids) + settings.max_new_tokens > max_tokens:
            out[i] = GenerationFailure(
                r.key,
                "generate",
                f"prompt of {len(ids)} tokens + --max-new-tokens {settings.max_new_tokens} exceeds "
                f"--max-tokens {max_tokens}",
            )
            continue
        todo.append((i, ids))
    return out, todo


class CausalLMGenerator:
    """Batched sampling from one loaded causal LM with transformers (see module docstring).

    ``lock`` is the lock of the model's other users (the scorer sharing the loaded copy),
    so forward passes on one copy stay serialized and GPU memory stays at one batch.
    """

    def __init__(
        self,
        loaded: LoadedModel,
        max_tokens: int | None = None,
        batch_size: int = 8,
        batch_tokens: int | None = None,
        lock: Any = None,
    ):
        self.loaded, self.model, self.tokenizer = loaded, loaded.model, loaded.tokenizer
        self.device = loaded.device
        limit = getattr(self.model.config, "max_position_embeddings", None)
        self.max_tokens = min(x for x in (max_tokens, limit) if x) if (max_tokens or limit) else None
        self.batch_size = max(1, batch_size)
        self.batch_tokens = batch_tokens
        self.pad_id = next((t for t in (self.tokenizer.pad_token_id, self.tokenizer.eos_token_id) if t is not None), 0)
        self.stop_ids = stop_token_ids(self.tokenizer)
        self._lock = lock if lock is not None else threading.RLock()  # one model, several threads
        params = inspect.signature(self.model.forward).parameters
        # transformers renamed past_key_values to cache; pass whichever this model takes.
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._last_only = {"logits_to_keep": 1} if "logits_to_keep" in params else {}
        self.stats = {"batches": 0, "forwards": 0, "tokens_generated": 0}

    def prompt_ids(self, conversation: list[dict[str, str]]) -> list[int]:
        """The conversation rendered with the generation prompt, as the model will continue it."""
        return render_prompt_ids(self.tokenizer, conversation)

    def _chunks(self, todo: list[tuple[int, list[int]]], max_new_tokens: int) -> list[list[tuple[int, list[int]]]]:
        """Batches of similar-length prompts, each within ``batch_size`` rows and ``batch_tokens`` positions."""
        todo = sorted(todo, key=lambda t: len(t[1]))  # similar lengths together: less padding
        chunks: list[list] = []
        for item in todo:
            cur = chunks[-1] if chunks else None
            # Sorted by length: this prompt is the chunk's longest, so it sets every row's width.
            width = len(item[1]) + max_new_tokens
            fits = cur is not None and len(cur) < self.batch_size
            if fits and self.batch_tokens:
                fits = (len(cur) + 1) * width <= self.batch_tokens
            if fits:
                cur.append(item)
            else:
                chunks.append([item])
        return chunks

    def generate(
        self, requests: Sequence[GenerationRequest], settings: SamplingSettings
    ) -> list[Generated | GenerationFailure]:
        """One result per request, in order; a prompt that cannot be rendered or is too long fails alone."""
        out, todo = _prepare(self.tokenizer, requests, settings, self.max_tokens)
        with self._lock, torch.inference_mode():
            for chunk in self._chunks(todo, settings.max_new_tokens):
                for (i, _), (text, n, finished) in zip(
                    chunk,
                    self._sample([ids for _, ids in chunk], [requests[i].seed for i, _ in chunk], settings),
                    strict=True,
                ):
                    out[i] = Generated(requests[i].key, text, n, finished)
        return out

    def _forward(self, ids, mask, positions, past):
        kwargs = {self._cache_kw: past} if past is not None else {}
        out = self.model(
            input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **self._last_only, **kwargs
        )
        self.stats["forwards"] += 1
        cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
        return cache, out.logits[:, -1, :]

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
        self.stats["batches"] += 1
        past, logits = self._forward(ids, mask, positions, None)
        new: list[list[int]] = [[] for _ in range(b)]
        finished = [False] * b
        alive = list(range(b))  # the batch's rows (and the cache's), in order
        running = set(alive)  # rows still generating
        compact = hasattr(past, "batch_select_indices")
        next_pos = positions[:, -1] + 1
        for _step in range(s.max_new_tokens):
            tokens = self._pick(logits.float(), [gens[r] for r in alive], s)
            for slot, row in enumerate(alive):
                if row not in running:
                    continue
                t = tokens[slot]
                if t in self.stop_ids:
                    finished[row] = True
                    running.discard(row)
                    continue
                new[row].append(t)
                if len(new[row]) >= s.max_new_tokens:
                    running.discard(row)
            if not running:
                break
            if compact and len(running) < len(alive):
                # Finished rows leave the batch and the cache: the long tail runs alone, not padded.
                keep = [slot for slot, row in enumerate(alive) if row in running]
                index = torch.tensor(keep, device=dev)
                past.batch_select_indices(index)
                mask, next_pos = mask[index], next_pos[index]
                alive = [alive[slot] for slot in keep]
            feed = torch.tensor([[new[r][-1] if r in running else self.pad_id] for r in alive], device=dev)
            mask = torch.cat([mask, torch.ones((len(alive), 1), dtype=mask.dtype, device=dev)], dim=1)
            past, logits = self._forward(feed, mask, next_pos[:, None], past)
            next_pos = next_pos + 1
        self.stats["tokens_generated"] += sum(len(n) for n in new)
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


def vllm_available() -> bool:
    """Whether vLLM's offline engine can be imported here (only GPU workers use it)."""
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


class VLLMGenerator:
    """The same requests through vLLM's offline engine (``LLM.generate``), for GPU workers.

    Prompts are the token ids :func:`render_prompt_ids` makes (the same template, BOS and
    limit as :class:`CausalLMGenerator`), one ``SamplingParams`` per request carries its
    seed, and generation stops at the same end-of-turn tokens. vLLM keeps its own copy of
    the weights and a KV-cache pool: ``gpu_memory_utilization`` is the share of the GPU it
    may take, which the caller sizes from the memory left beside the scoring copy.
    """

    def __init__(
        self,
        path: str,
        tokenizer: Any,
        dtype: str,
        max_tokens: int | None,
        gpu_memory_utilization: float,
        trust_remote_code: bool = False,
        lock: Any = None,
    ):
        from vllm import LLM

        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.stop_ids = stop_token_ids(tokenizer)
        self._lock = lock if lock is not None else threading.RLock()
        kwargs: dict[str, Any] = {"max_model_len": max_tokens} if max_tokens else {}
        self.llm = LLM(
            model=path,
            dtype=dtype,
            gpu_memory_utilization=gpu_memory_utilization,
            trust_remote_code=trust_remote_code,
            seed=0,
            **kwargs,
        )
        self.stats = {"batches": 0, "forwards": 0, "tokens_generated": 0}

    def generate(
        self, requests: Sequence[GenerationRequest], settings: SamplingSettings
    ) -> list[Generated | GenerationFailure]:
        from vllm import SamplingParams

        out, todo = _prepare(self.tokenizer, requests, settings, self.max_tokens)
        if not todo:
            return out
        params = [
            SamplingParams(
                n=1,
                temperature=settings.temperature,
                top_p=settings.top_p,
                max_tokens=settings.max_new_tokens,
                seed=int(requests[i].seed) % (2**63),
                stop_token_ids=sorted(self.stop_ids),
                skip_special_tokens=True,
            )
            for i, _ in todo
        ]
        with self._lock:
            results = self.llm.generate([{"prompt_token_ids": ids} for _, ids in todo], params, use_tqdm=False)
        self.stats["batches"] += 1
        for (i, _), res in zip(todo, results, strict=True):
            sample = res.outputs[0]
            finished = sample.finish_reason == "stop"
            tokens = list(sample.token_ids)
            n = len(tokens) - (1 if finished and tokens and tokens[-1] in self.stop_ids else 0)
            self.stats["tokens_generated"] += n
            out[i] = Generated(requests[i].key, sample.text.strip(), n, finished)
        return out
