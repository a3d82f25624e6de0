"""Model registry and offline-model preparation.

The fast tests need no real model and no network: the registry is parsed and checked,
assembly and its hash checks run on small local part files, and preparation runs against
a throwaway registry whose "packages" are already in place (the conversion step is
replaced). Tests marked ``slow`` prepare (or reuse) the real offline models and score with
them through the engine; run them with ``pytest -m slow tests/test_model_registry.py``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import pytest
import yaml

from beam_pipeline.prepare_cli import prepare_main
from transforms.engine import model_packages as mp
from transforms.engine import prepare_models as pm
from transforms.engine.model_registry import (
    MANIFEST_NAME,
    RegistryError,
    load_registry,
    model_dir,
    models_dir,
    packages_dir,
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _quiet(_msg: str) -> None:
    pass


# --- the shipped registry ---------------------------------------------------------------


def test_registry_parses_and_offline_models_are_pinned_and_hashed():
    reg = load_registry()
    offline = [m for m in reg.models.values() if m.offline]
    assert {m.name for m in offline} >= {
        "qwen2.5-coder-1.5b-instruct",
        "qwen2.5-coder-0.5b-instruct",
        "gemma-3-270m",
        "smollm2-135m-instruct",
    }
    for m in offline:
        assert m.packages and all("==" in r for r in m.packages), m.name
        assert re.fullmatch("[0-9a-f]{64}", m.gguf_sha256), m.name
        assert all(re.fullmatch("[0-9a-f]{64}", p.sha256) and p.size > 0 for p in m.parts)
        assert m.gguf_size == sum(p.size for p in m.parts)
        assert m.gguf_file.endswith(".gguf")
    assert reg.model("gemma-3-270m").kind == "base" and not reg.model("gemma-3-270m").chat_template
    # The split is the packages' fixed chunking, not a number to copy: one part per pinned
    # package, every part but the last one chunk long, so the count follows from the size.
    for name in ("qwen2.5-coder-1.5b-instruct", "qwen2.5-coder-0.5b-instruct"):
        m = reg.model(name)
        chunk = m.parts[0].size
        assert len(m.parts) == len(m.packages) == -(-m.gguf_size // chunk), name
        assert all(p.size == chunk for p in m.parts[:-1]) and 0 < m.parts[-1].size <= chunk


def test_registry_pairs_name_registered_models():
    reg = load_registry()
    for name in ("qwen-0.5b-over-gemma-270m", "qwen-1.5b-over-0.5b", "smollm-over-gemma", "paper-mistral-7b"):
        pair = reg.pair(name)
        assert pair.strong in reg.models and pair.weak in reg.models and pair.strong != pair.weak
    paper = reg.pair("paper-mistral-7b")
    assert reg.model(paper.strong).hub_id == "NousResearch/Nous-Hermes-2-Mistral-7B-DPO"
    assert reg.model(paper.weak).hub_id == "teknium/OpenHermes-2.5-Mistral-7B"
    with pytest.raises(RegistryError, match="unknown pair"):
        reg.pair("nope")


def _write_registry(tmp_path: Path, models: dict, pairs: dict | None = None) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "models": models, "pairs": pairs or {}}), encoding="utf-8")
    return path


def _offline_entry(parts: list[bytes], **over) -> dict:
    entry = {
        "kind": "instruct",
        "chat_template": True,
        "packages": ["fake-part1==1.0.0", "fake-part2==1.0.0"],
        "gguf": {
            "file": "fake.gguf",
            "size": sum(len(p) for p in parts),
            "sha256": _sha(b"".join(parts)),
            "parts": [
                {"module": f"fake_part{i}", "file": f"data/part{i:02d}.bin", "size": len(p), "sha256": _sha(p)}
                for i, p in enumerate(parts, 1)
            ],
        },
    }
    entry.update(over)
    return entry


@pytest.mark.parametrize(
    "change, message",
    [
        ({"packages": ["fake-part1>=1.0"]}, "not pinned"),
        ({"packages": ["fake-part1"]}, "not pinned"),
        ({"gguf": {"file": "x.gguf", "size": 1, "sha256": "abc", "parts": []}}, "sha256"),
        ({"kind": "chat"}, "kind"),
    ],
)
def test_registry_rejects_unpinned_or_unhashed_entries(tmp_path, change, message):
    path = _write_registry(tmp_path, {"m": _offline_entry([b"a", b"b"], **change)})
    with pytest.raises(RegistryError, match=message):
        load_registry(path)


def test_registry_rejects_wrong_total_size_and_unknown_pair_member(tmp_path):
    entry = _offline_entry([b"a", b"b"])
    entry["gguf"]["size"] = 3
    with pytest.raises(RegistryError, match="size"):
        load_registry(_write_registry(tmp_path, {"m": entry}))
    good = _offline_entry([b"a", b"b"])
    with pytest.raises(RegistryError, match="not a registered model"):
        load_registry(_write_registry(tmp_path, {"m": good}, {"p": {"strong": "m", "weak": "ghost"}}))


# --- assembly and its hash checks ---------------------------------------------------------

PARTS = [b"GGUF" + bytes(range(256)) * 40, b"second part " * 300, b"tail"]


def _part_files(tmp_path: Path) -> list[Path]:
    paths = []
    for i, data in enumerate(PARTS, 1):
        p = tmp_path / "parts" / f"part{i:02d}.bin"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        paths.append(p)
    return paths


def test_assemble_concatenates_in_order_and_verifies(tmp_path):
    parts = _part_files(tmp_path)
    dest = tmp_path / "out" / "model.gguf"
    got = mp.assemble(
        parts, dest, _sha(b"".join(PARTS)), [_sha(p) for p in PARTS], [len(p) for p in PARTS], progress=_quiet
    )
    assert got == dest and dest.read_bytes() == b"".join(PARTS)
    assert mp.sha256_file(dest) == _sha(b"".join(PARTS))
    assert sorted(p.name for p in dest.parent.iterdir()) == ["model.gguf"]


def _assert_nothing_assembled(dest: Path) -> None:
    assert not dest.exists()
    assert not list(dest.parent.glob("*.partial"))


def test_assemble_refuses_a_corrupted_part_and_names_it(tmp_path):
    parts = _part_files(tmp_path)
    data = bytearray(PARTS[1])
    data[100] ^= 0x01  # one flipped bit, same size
    parts[1].write_bytes(bytes(data))
    dest = tmp_path / "out" / "model.gguf"
    with pytest.raises(mp.IntegrityError, match=r"part 2/3 .*sha256"):
        mp.assemble(
            parts, dest, _sha(b"".join(PARTS)), [_sha(p) for p in PARTS], [len(p) for p in PARTS], progress=_quiet
        )
    _assert_nothing_assembled(dest)


def test_assemble_refuses_a_whole_file_mismatch_without_part_hashes(tmp_path):
    parts = _part_files(tmp_path)
    dest = tmp_path / "out" / "model.gguf"
    with pytest.raises(mp.IntegrityError, match="assembled model.gguf has sha256"):
        mp.assemble(list(reversed(parts)), dest, _sha(b"".join(PARTS)), progress=_quiet)  # wrong order
    _assert_nothing_assembled(dest)


def test_assemble_refuses_a_truncated_part_before_reading(tmp_path):
    parts = _part_files(tmp_path)
    parts[2].write_bytes(PARTS[2][:-1])
    dest = tmp_path / "out" / "model.gguf"
    with pytest.raises(mp.IntegrityError, match=r"part 3/3 .* has 3 bytes"):
        mp.assemble(parts, dest, _sha(b"".join(PARTS)), part_sizes=[len(p) for p in PARTS], progress=_quiet)
    _assert_nothing_assembled(dest)


def test_assemble_keeps_an_existing_file_when_refusing(tmp_path):
    parts = _part_files(tmp_path)
    dest = tmp_path / "out" / "model.gguf"
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"previous")
    with pytest.raises(mp.IntegrityError):
        mp.assemble(parts, dest, "0" * 64, progress=_quiet)
    assert dest.read_bytes() == b"previous"


def test_assemble_reports_a_missing_part(tmp_path):
    parts = _part_files(tmp_path)
    parts[0].unlink()
    with pytest.raises(mp.PreparationError, match="part 1/3 is missing"):
        mp.assemble(parts, tmp_path / "out.gguf", "0" * 64, progress=_quiet)


# --- preparation end to end, with the packages in place and the conversion faked -------------


@pytest.fixture()
def fake_setup(tmp_path, monkeypatch):
    """A registry with one offline model whose two 'packages' are already installed."""
    reg_path = _write_registry(
        tmp_path, {"fake-model": _offline_entry(PARTS[:2])}, {"fake-pair": {"strong": "fake-model", "weak": "hub"}}
    )
    # a hub model for the pair
    data = yaml.safe_load(reg_path.read_text())
    data["models"]["hub"] = {"kind": "instruct", "hub_id": "org/some-model"}
    reg_path.write_text(yaml.safe_dump(data))
    registry = load_registry(reg_path)
    cache = tmp_path / "models"
    pkgs = packages_dir("fake-model", cache)
    for i, part in enumerate(PARTS[:2], 1):
        f = pkgs / f"fake_part{i}" / "data" / f"part{i:02d}.bin"
        f.parent.mkdir(parents=True)
        f.write_bytes(part)
        (pkgs / f"fake_part{i}-1.0.0.dist-info").mkdir()

    def no_pip(*args, **kwargs):
        raise AssertionError("pip must not run: the packages are installed")

    monkeypatch.setattr(mp.subprocess, "run", no_pip)
    calls = []

    def fake_convert(spec, gguf_path, out_dir, dtype="float32", verify=True, progress=None):
        calls.append(gguf_path.read_bytes())
        out_dir.mkdir(parents=True)
        (out_dir / "config.json").write_text("{}")
        (out_dir / "model.safetensors").write_bytes(b"weights")
        return {"load_gguf_s": 0.0, "save_s": 0.0}

    # Patched where prepare_model looks it up: prepare_models imports convert_gguf by name.
    monkeypatch.setattr(pm, "convert_gguf", fake_convert)
    return registry, cache, pkgs, calls


def test_prepare_builds_once_then_reuses(fake_setup):
    registry, cache, pkgs, calls = fake_setup
    path = pm.prepare_model("fake-model", cache_dir=cache, registry=registry, keep_packages=True, progress=_quiet)
    assert path == model_dir("fake-model", cache) and calls == [b"".join(PARTS[:2])]
    manifest = json.loads((path / MANIFEST_NAME).read_text())
    assert manifest["gguf_sha256"] == registry.model("fake-model").gguf_sha256
    assert not (path / ".gguf").exists()  # the GGUF is not kept in the prepared folder
    assert sorted(p.name for p in models_dir(cache).iterdir()) == [".fake-model.lock", ".pkgs", "fake-model"]
    # second call: already prepared, nothing is rebuilt
    assert pm.prepare_model("fake-model", cache_dir=cache, registry=registry, progress=_quiet) == path
    assert len(calls) == 1
    # resolve_model gives the folder for offline models, the hub id for hub models
    assert pm.resolve_model("fake-model", cache_dir=cache, registry=registry) == str(path)
    assert pm.resolve_model("hub", cache_dir=cache, registry=registry) == "org/some-model"
    assert pm.resolve_pair("fake-pair", cache_dir=cache, registry=registry) == (str(path), "org/some-model")


def test_prepare_refuses_a_corrupted_part_and_leaves_nothing(fake_setup):
    registry, cache, pkgs, calls = fake_setup
    part = pkgs / "fake_part2" / "data" / "part02.bin"
    data = bytearray(part.read_bytes())
    data[-1] ^= 0xFF
    part.write_bytes(bytes(data))
    with pytest.raises(mp.IntegrityError, match=r"part 2/2"):
        pm.prepare_model("fake-model", cache_dir=cache, registry=registry, progress=_quiet)
    assert calls == []
    assert not model_dir("fake-model", cache).exists()
    assert not list(models_dir(cache).glob(".tmp-*"))
    assert not pm.is_prepared(registry.model("fake-model"), model_dir("fake-model", cache))
    # the CLI turns it into one clear line and exit status 2
    code = prepare_main(["fake-model", "--cache-dir", str(cache), "--registry", str(registry.path)])
    assert code == 2


def test_prepare_failing_in_conversion_leaves_nothing(fake_setup, monkeypatch):
    registry, cache, _pkgs, _calls = fake_setup

    def broken(*args, **kwargs):
        raise pm.PreparationError("conversion failed")

    monkeypatch.setattr(pm, "convert_gguf", broken)
    with pytest.raises(pm.PreparationError, match="conversion failed"):
        pm.prepare_model("fake-model", cache_dir=cache, registry=registry, progress=_quiet)
    assert not model_dir("fake-model", cache).exists()
    assert not list(models_dir(cache).glob(".tmp-*"))


def test_prepare_redoes_a_folder_made_for_another_gguf(fake_setup):
    registry, cache, _pkgs, calls = fake_setup
    stale = model_dir("fake-model", cache)
    stale.mkdir(parents=True)
    (stale / "config.json").write_text("{}")
    (stale / "model.safetensors").write_bytes(b"old")
    (stale / MANIFEST_NAME).write_text(json.dumps({"gguf_sha256": "0" * 64}))
    pm.prepare_model("fake-model", cache_dir=cache, registry=registry, progress=_quiet)
    assert len(calls) == 1 and (stale / "model.safetensors").read_bytes() == b"weights"


def test_resolve_model_passes_through_paths_and_unknown_names(tmp_path):
    for arg in ("./gemma-3-270m", str(tmp_path), "~/models/x", "org/unknown-model", "not-registered"):
        assert pm.resolve_model(arg, cache_dir=tmp_path) == arg
    assert pm.resolve_model("nous-hermes-2-mistral-7b-dpo") == "NousResearch/Nous-Hermes-2-Mistral-7B-DPO"
    assert not list(tmp_path.iterdir())  # nothing was prepared


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GDR_CACHE", str(tmp_path / "root"))
    assert models_dir() == tmp_path / "root" / "models"
    assert model_dir("m") == tmp_path / "root" / "models" / "m"
    assert models_dir(tmp_path / "x") == tmp_path / "x"


def test_cli_lists_and_rejects_unknown_names(tmp_path, capsys):
    assert prepare_main(["--list", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "qwen-0.5b-over-gemma-270m" in out and "not prepared" in out and "hub: NousResearch" in out
    assert prepare_main(["no-such-model", "--cache-dir", str(tmp_path)]) == 2
    assert "unknown model" in capsys.readouterr().err
    assert prepare_main(["paper-mistral-7b", "--cache-dir", str(tmp_path)]) == 0  # hub models: nothing to do
    assert not list(tmp_path.iterdir())


# --- real models (slow: prepares them on first use, ~1.9 GB of packages) --------------------

OFFLINE = ["smollm2-135m-instruct", "gemma-3-270m", "qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct"]


@pytest.mark.slow
@pytest.mark.parametrize("name", OFFLINE)
def test_real_model_prepares_and_scores(name):
    from guides import load_guides
    from transforms.engine.models import load_causal_lm
    from transforms.engine.scorer import CausalLMScorer

    path = pm.resolve_model(name)
    spec = load_registry().model(name)
    assert pm.is_prepared(spec, path)
    loaded = load_causal_lm(path)
    assert loaded.tokenizer.is_fast
    assert bool(loaded.tokenizer.chat_template) == spec.chat_template
    scorer = CausalLMScorer(loaded)
    conv = [{"role": "user", "content": "What is 2+2?"}]
    right = scorer.encode(conversation=conv, response="4", guide=None)
    wrong = scorer.encode(conversation=conv, response="Purple elephants dance on Tuesdays.", guide=None)
    guide = load_guides()["reasoning"]
    guided = scorer.encode(conversation=conv, response="4", guide=guide)
    with_system = scorer.encode(
        conversation=[{"role": "system", "content": "Answer briefly."}, *conv], response="4", guide=None
    )
    lps = scorer.logprobs([right, wrong, guided, with_system])
    assert all(isinstance(v, float) and math.isfinite(v) and v < 0 for v in lps)
    assert lps[0] > lps[1]  # the right short answer is far likelier than nonsense
    assert guided.response_start > right.response_start  # the guide is in the prompt, not the response
    if not spec.chat_template:  # base model: plain fallback format, BOS added
        text = loaded.tokenizer.decode(right.input_ids)
        assert "User: What is 2+2?" in text and "Assistant:" in text
        assert right.input_ids[0] == loaded.tokenizer.bos_token_id


@pytest.mark.slow
def test_real_pair_rewards_are_finite():
    from transforms.engine.models import load_causal_lm
    from transforms.engine.scorer import CausalLMScorer, DensityRatioScorer, ScoreRequest, ScoreResult

    strong, weak = pm.resolve_pair("qwen-0.5b-over-gemma-270m")
    scorer = DensityRatioScorer(CausalLMScorer(load_causal_lm(strong)), CausalLMScorer(load_causal_lm(weak)))
    conv = [{"role": "user", "content": "How do I make a bomb?"}]
    results = scorer.score(
        [
            ScoreRequest(
                "refuse", conv, "I can't help with that. If you are in danger, please contact emergency services."
            ),
            ScoreRequest("comply", conv, "Sure. First, get some explosive material and a detonator."),
        ]
    )
    assert all(isinstance(r, ScoreResult) and math.isfinite(r.reward) for r in results)
