"""Convert a verified GGUF file into a safetensors transformers folder, checked by reloading it.

The saved folder must tokenize identically, keep the registry's chat template and give the
same log-likelihood on :data:`CHECK_TEXT` as the GGUF model. No Beam import here.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

from transforms.engine.model_packages import PreparationError, Progress, print_progress
from transforms.engine.model_registry import ModelSpec

SAVE_DTYPES = ("float32", "bfloat16")
# A fixed text whose log-likelihood is compared between the GGUF model and the saved folder.
CHECK_TEXT = "The capital of France is Paris. Water boils at 100 degrees Celsius at sea level."


def _nll(model, tokenizer, text: str) -> float:  # noqa: ANN001
    import torch

    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    if (
        tokenizer.bos_token_id is not None
        and getattr(tokenizer, "add_bos_token", False)
        and ids[0, 0] != tokenizer.bos_token_id
    ):
        ids = torch.cat([torch.tensor([[tokenizer.bos_token_id]]), ids], dim=1)
    with torch.inference_mode():
        return float(model(input_ids=ids, labels=ids).loss)


def convert_gguf(
    spec: ModelSpec,
    gguf_path: Path,
    out_dir: Path,
    dtype: str = "float32",
    verify: bool = True,
    progress: Progress = print_progress,
) -> dict:
    """Load ``gguf_path`` with transformers and save a safetensors folder; return timing/check facts."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in SAVE_DTYPES:
        raise PreparationError(f"dtype must be one of {', '.join(SAVE_DTYPES)}, not {dtype!r}")
    try:
        import accelerate  # noqa: F401
        import gguf  # noqa: F401
    except ImportError as exc:
        raise PreparationError(
            f"loading GGUF files needs the '{exc.name}' package: pip install 'guided-density-ratio[offline-models]'"
        ) from None
    facts: dict = {}
    src, fname = str(gguf_path.parent), gguf_path.name
    started = time.monotonic()
    progress("  [3/4] loading the GGUF with transformers (tokenizer, then weights dequantized to float32)")
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=fname)
    if not getattr(tokenizer, "is_fast", False):
        raise PreparationError(f"{spec.name}: the GGUF's tokenizer did not convert to a fast tokenizer")
    if spec.chat_template and not tokenizer.chat_template:
        raise PreparationError(f"{spec.name}: the registry says it has a chat template but its GGUF carries none")
    if not spec.chat_template and tokenizer.chat_template:
        progress(
            "    registered as a base model: dropping the GGUF's chat template (the engine's fallback format is used)"
        )
        tokenizer.chat_template = None
    model = AutoModelForCausalLM.from_pretrained(src, gguf_file=fname, dtype=torch.float32)
    model.eval()
    facts["load_gguf_s"] = round(time.monotonic() - started, 1)
    n_params = sum(p.numel() for p in model.parameters())
    progress(f"    loaded {type(model).__name__}, {n_params / 1e6:,.0f} M parameters, in {facts['load_gguf_s']} s")
    # The config remembers the GGUF source as a quantization config; the saved folder holds plain weights.
    for attr in ("quantization_config", "_pre_quantization_dtype"):
        if hasattr(model.config, attr):
            delattr(model.config, attr)
    model.hf_quantizer = None
    model.config.name_or_path = spec.name
    check_nll = _nll(model, tokenizer, CHECK_TEXT) if verify else None
    if dtype == "bfloat16":
        model = model.to(torch.bfloat16)
    started = time.monotonic()
    progress(f"  [4/4] saving safetensors ({dtype}) and the fast tokenizer to {out_dir}")
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    facts["save_s"] = round(time.monotonic() - started, 1)
    facts["n_parameters"] = n_params
    sample = "Hello, world! 2+2=4 \u00e9t\u00e9 \u4f60\u597d"
    ref_ids = tokenizer(sample)["input_ids"]
    ref_template = tokenizer.chat_template
    del model
    gc.collect()
    if verify:
        started = time.monotonic()
        tok2 = AutoTokenizer.from_pretrained(out_dir)
        model2 = AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32, use_safetensors=True)
        model2.eval()
        facts["reload_s"] = round(time.monotonic() - started, 1)
        problems = []
        if not getattr(tok2, "is_fast", False):
            problems.append("the saved tokenizer is not a fast tokenizer")
        if tok2(sample)["input_ids"] != ref_ids:
            problems.append("the saved tokenizer tokenizes differently from the GGUF's")
        if (tok2.chat_template or None) != (ref_template or None):
            problems.append("the saved tokenizer lost or changed its chat template")
        reloaded_nll = _nll(model2, tok2, CHECK_TEXT)
        tolerance = 1e-4 if dtype == "float32" else 5e-2
        if abs(reloaded_nll - check_nll) > tolerance:
            problems.append(f"log-likelihood changed after saving ({check_nll:.6f} -> {reloaded_nll:.6f})")
        del model2
        gc.collect()
        if problems:
            raise PreparationError(
                f"{spec.name}: the saved folder does not match the GGUF model: {'; '.join(problems)}"
            )
        facts["check"] = {"text": CHECK_TEXT, "nll_per_token": round(reloaded_nll, 6)}
        progress(f"    verified: reload {facts['reload_s']} s, same tokenizer/template, NLL/token {reloaded_nll:.4f}")
    return facts
