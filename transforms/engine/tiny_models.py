"""Tiny, locally built causal LMs with real (trained) tokenizers and chat templates.

Nothing can be downloaded here, so tests and the offline demo build their models: a BPE
tokenizer trained in well under a second on built-in text, and a 2-layer transformer with
random weights. Weights are drawn with a large std so token log-probs are far from
uniform: a near-uniform model would hide an off-by-one in the log-prob gather.

Two tokenizer families, so cross-family pairs (each model with its own template) are
testable: ``chatml`` (byte-level BPE, ChatML template, no BOS; like Qwen) and ``inst``
(SentencePiece-style metaspace BPE, ``[INST]`` template with BOS; like Llama-2/Mistral).
``base`` is the ``inst`` tokenizer without any chat template (a base model).
"""

from __future__ import annotations

import json
from pathlib import Path

FAMILIES = ("chatml", "inst", "base")

CHATML_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

INST_TEMPLATE = (
    "{{ bos_token }}{% set ns = namespace(sys='') %}"
    "{% for m in messages %}"
    # Like Llama-2/Mistral templates: turns must alternate, else the template raises.
    "{% if loop.index0 > 0 and m['role'] == messages[loop.index0 - 1]['role'] %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if m['role'] == 'system' %}{% set ns.sys = '<<SYS>>\n' + m['content'] + '\n<</SYS>>\n\n' %}"
    "{% elif m['role'] == 'user' %}[INST] {{ ns.sys }}{{ m['content'] }} [/INST]{% set ns.sys = '' %}"
    "{% else %} {{ m['content'] }}{{ eos_token }}{% endif %}"
    "{% endfor %}"
)

_CORPUS = [
    "The quick brown fox jumps over the lazy dog. A good answer is helpful, honest and harmless.",
    "Solve for x: 2x + 3 = 11, so x = 4. Check: 2 * 4 + 3 = 11. The answer is correct.",
    "I cannot help with building weapons, but I can point you to safety resources and support.",
    "def add(a, b):\n    return a + b\n\nprint(add(2, 3))  # 5",
    "Here is a recipe: boil water, add pasta, cook for ten minutes, drain and serve with sauce.",
    "Please write a short, polite email to decline the meeting on Monday. Thanks, Sam.",
    "system user assistant guide criteria exemplar response request domain chat safety reasoning",
    # Runs of newlines, so byte-level BPE learns multi-newline tokens: a response that starts
    # with newlines then merges with the template's trailing newline (the boundary case).
    "First paragraph.\n\n\nSecond paragraph.\n\n\nThird.\n\n\n" * 4,
]


def _training_text() -> list[str]:
    """Built-in text plus the shipped guides and sample corpus, so the vocabulary fits them."""
    texts = list(_CORPUS)
    root = Path(__file__).resolve().parents[2]
    for path in sorted((root / "guides").glob("*.yaml")):
        texts.append(path.read_text(encoding="utf-8"))
    sample = root / "beam_pipeline" / "data" / "sample_corpus.jsonl"
    if sample.exists():
        for line in sample.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            texts.append(json.dumps(rec["prompt"]))
            texts.extend(rec.get("responses", []))
    return texts * 3


def build_tokenizer(family: str, vocab_size: int = 1200):
    """Train a small fast tokenizer of the given family (deterministic for the same text)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if family not in FAMILIES:
        raise ValueError(f"unknown tokenizer family {family!r}")
    if family == "chatml":
        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        )
        tok.train_from_iterator(_training_text(), trainer)
        fast = PreTrainedTokenizerFast(
            tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None
        )
        fast.chat_template = CHATML_TEMPLATE
        return fast
    specials = ["<unk>", "<s>", "</s>", "[INST]", "[/INST]"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first")
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="first")
    alphabet = sorted(set("".join(_training_text())))
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, initial_alphabet=alphabet)
    tok.train_from_iterator(_training_text(), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<unk>"
    )
    if family == "inst":
        fast.chat_template = INST_TEMPLATE
    else:
        # A base model's tokenizer adds BOS itself; there is no chat template.
        fast._tokenizer.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", fast.bos_token_id)]
        )
    return fast


def build_tiny_model(
    out_dir: str | Path, family: str = "chatml", seed: int = 0, init_std: float = 0.3, hidden: int = 64, layers: int = 2
) -> Path:
    """Write a tiny random-weight causal LM + tokenizer to ``out_dir`` (safetensors)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    out = Path(out_dir)
    tokenizer = build_tokenizer(family)
    common = dict(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=16384,
        initializer_range=init_std,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    if family == "chatml":
        model = Qwen2ForCausalLM(Qwen2Config(**common, tie_word_embeddings=True))
    else:
        model = LlamaForCausalLM(LlamaConfig(**common, tie_word_embeddings=False))
    model.eval()
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def ensure_tiny_pair(cache_dir: str | Path, family: str = "chatml") -> tuple[Path, Path]:
    """Build (once) a tiny strong/weak pair of one family under ``cache_dir``."""
    cache = Path(cache_dir)
    pair = []
    for role, seed in (("strong", 1), ("weak", 2)):
        path = cache / f"tiny-{family}-{role}"
        if not (path / "config.json").exists():
            build_tiny_model(path, family=family, seed=seed)
        pair.append(path)
    return pair[0], pair[1]
