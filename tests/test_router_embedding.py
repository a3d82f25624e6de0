"""The embedding router: prompt vectors from the router model, the fit, caching, and its data.

Engine checks run on a tiny locally built model: a vector is the exact mean of the chosen
layer's hidden states over the user text, whatever the batch and padding; the router's
decisions follow the fitted classifier (logistic regression, k-NN or centroids), fall back
below the threshold, and reuse one cached fit per content key; the logistic regression
reaches the optimum of its own objective (gradient ~0) and ignores a direction that misleads
cosine rules; routing and scoring share one loaded model. Data checks: the router dev and
held-out sets are disjoint from each other and from every labelled example the fit is built
from, and every example parses.
"""

from __future__ import annotations

import glob
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from guides import GuideError, RouterExample, guide_from_dict, load_guides, load_router_examples, routing_examples
from tests.conftest import REPO, SAMPLE_CORPUS, write_jsonl
from transforms import routers
from transforms.records import parse_conversation
from transforms.routers import (
    EmbeddingRouter,
    EmbeddingSpec,
    RouterExamplesError,
    check_router_examples,
    fit_key,
    fit_router,
    fit_softmax_regression,
    labelled_examples,
    routing_versions,
)

DATA = REPO / "beam_pipeline" / "data"
SETS = {name: DATA / f"router_{name}.jsonl" for name in ("eval", "sample")}
SETS["dev"] = REPO / "guides" / "router_examples_dev.jsonl"
# The first held-out set, inspected and then shipped as the built-in folder's extra router examples.
SETS["heldout"] = REPO / "guides" / "router_examples.jsonl"
DOMAINS = ("chat", "reasoning", "safety")

MULTI = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "My script reads a CSV."},
    {"role": "assistant", "content": "What is the problem?"},
    {"role": "user", "content": "It fails on quoted commas."},
]


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def tiny_scorer(chatml_strong):
    from transforms.engine.models import load_causal_lm
    from transforms.engine.scorer import CausalLMScorer

    return CausalLMScorer(load_causal_lm(str(chatml_strong), dtype="float32", device="cpu"))


# --- CausalLMScorer.embed ---------------------------------------------------------------------


def _naive(scorer, conversation, layer: int = -1, pooling: str = "last") -> np.ndarray:
    """One prompt alone, no padding, no mask, from an independent rendering of the template."""
    from transforms.engine.scorer import EMBED_MAX_TOKENS

    messages = [m for m in conversation if m["role"] != "system"]
    text = scorer.tokenizer.apply_chat_template(messages, tokenize=False)
    enc = scorer.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    spans, at = [], 0
    for m in messages:
        at = text.index(m["content"], at) + len(m["content"])
        if m["role"] == "user":
            spans.append((at - len(m["content"]), at))
    user = [i for i, (s, e) in enumerate(enc["offset_mapping"]) if e > s and any(s < b and e > a for a, b in spans)]
    assert len(enc["input_ids"]) <= EMBED_MAX_TOKENS
    with torch.inference_mode():
        out = scorer.body(input_ids=torch.tensor([enc["input_ids"]]), output_hidden_states=True)
    hidden = out.hidden_states[layer][0].double()
    return (hidden[user[-1]] if pooling == "last" else hidden[user].mean(dim=0)).numpy()


def test_embedding_is_the_hidden_state_at_the_user_text_and_deterministic(tiny_scorer):
    convs = [_user("What is 17 * 3?"), _user("Recommend a film for tonight."), MULTI]
    first = np.array(tiny_scorer.embed(convs))
    assert first.shape == (3, tiny_scorer.model.config.hidden_size)
    assert np.array_equal(first, np.array(tiny_scorer.embed(convs)))
    for conv, vec in zip(convs, first, strict=True):
        np.testing.assert_allclose(vec, _naive(tiny_scorer, conv), atol=1e-5)
        np.testing.assert_allclose(
            tiny_scorer.embed([conv], pooling="mean")[0], _naive(tiny_scorer, conv, -1, "mean"), atol=1e-5
        )
        np.testing.assert_allclose(tiny_scorer.embed([conv], layer=1)[0], _naive(tiny_scorer, conv, 1), atol=1e-5)
    # Layer 0 is the token embeddings: an independent check of the pooling.
    ids, pooled = tiny_scorer.embedding_ids(convs[0], None)
    table = tiny_scorer.model.get_input_embeddings().weight.detach().double().numpy()
    mean0 = table[[ids[i] for i in pooled]].mean(axis=0)
    np.testing.assert_allclose(tiny_scorer.embed([convs[0]], layer=0, pooling="mean")[0], mean0, atol=1e-6)
    assert tiny_scorer.tokenizer.decode([ids[i] for i in pooled]).strip() == "What is 17 * 3?"
    with pytest.raises(ValueError, match="pooling"):
        tiny_scorer.embed(convs, pooling="max")


def test_batched_equals_unbatched_and_padding_changes_nothing(tiny_scorer):
    convs = [_user("Hi."), _user("Solve 2x + 3 = 11 and explain each step. " * 6), MULTI, _user("How do I bake bread?")]
    for pooling in ("last", "mean"):
        together = np.array(tiny_scorer.embed(convs, pooling=pooling))
        alone = np.array([tiny_scorer.embed([c], pooling=pooling)[0] for c in convs])
        np.testing.assert_allclose(together, alone, atol=1e-5)
    # The short prompt padded to the long one's width in the same forward: the same vector.
    forwards = tiny_scorer.stats["embed_forwards"]
    padded = tiny_scorer.embed([convs[0], convs[1]])
    assert tiny_scorer.stats["embed_forwards"] == forwards + 1
    np.testing.assert_allclose(padded[0], tiny_scorer.embed([convs[0]])[0], atol=1e-5)
    # A tight token budget splits into more forwards, same vectors.
    alone = np.array([tiny_scorer.embed([c])[0] for c in convs])
    budget, tiny_scorer.batch_tokens = tiny_scorer.batch_tokens, 8
    try:
        np.testing.assert_allclose(np.array(tiny_scorer.embed(convs)), alone, atol=1e-5)
    finally:
        tiny_scorer.batch_tokens = budget
    assert tiny_scorer.embed([]) == []


def test_long_prompts_keep_their_start_and_end(tiny_scorer):
    text = "start " + "filler words " * 400 + "the final question?"
    conv = _user(text)
    full, _ = tiny_scorer.embedding_ids(conv, 100_000)
    ids, pooled = tiny_scorer.embedding_ids(conv, 64)
    assert len(ids) == 64
    assert ids[:16] == full[:16]  # the first quarter from the start ...
    assert ids[16:] == full[-48:]  # ... the rest from the end, where the final user token is
    assert tiny_scorer.tokenizer.decode([ids[i] for i in pooled]).endswith("the final question?")
    assert len(tiny_scorer.embed([conv], max_tokens=64)[0]) == tiny_scorer.model.config.hidden_size
    # The system message is not read: the deployment's instructions do not move the vector.
    other = [{"role": "system", "content": "You are a pirate."}, *MULTI[1:]]
    np.testing.assert_allclose(tiny_scorer.embed([MULTI])[0], tiny_scorer.embed([other])[0], atol=1e-6)
    with pytest.raises(Exception, match="no user text"):
        tiny_scorer.embed([_user("   ")])


def test_bos_is_fed_but_never_pooled(base_model):
    from transforms.engine.models import load_causal_lm
    from transforms.engine.scorer import CausalLMScorer

    scorer = CausalLMScorer(load_causal_lm(str(base_model), dtype="float32", device="cpu"))
    conv = _user("Why is the sky blue?")
    ids, pooled = scorer.embedding_ids(conv, None)
    bos = scorer.tokenizer.bos_token_id
    if bos is not None and scorer.tokenizer("a", add_special_tokens=True)["input_ids"][0] == bos:
        assert ids[0] == bos and 0 not in pooled
    # A base model has no chat template: the plain fallback format, user text found all the same.
    assert scorer.tokenizer.decode([ids[i] for i in pooled]).strip() == "Why is the sky blue?"
    with torch.inference_mode():
        hidden = scorer.body(input_ids=torch.tensor([ids])).last_hidden_state[0]
    np.testing.assert_allclose(scorer.embed([conv], pooling="mean")[0], hidden[pooled].mean(0).numpy(), atol=1e-5)


# --- EmbeddingRouter -----------------------------------------------------------------------


class _TableModel:
    """Stands in for the router model: a fixed vector per prompt text; counts what it embeds."""

    name = "table-model"

    def __init__(self, table: dict[str, list[float]], default: list[float]):
        self.table, self.default, self.calls = table, default, []

    def embed(self, conversations, layer=-1, pooling="last", max_tokens=None):
        self.calls.append(len(conversations))
        return [self.table.get(c[-1]["content"], self.default) for c in conversations]


def _guides_with_examples(examples: dict[str, list[str]]):
    return {
        gid: guide_from_dict({"id": gid, "description": gid, "criteria": ["c"], "examples": exs})
        for gid, exs in examples.items()
    }


AXES = {"chat": [1.0, 0.0, 0.0], "reasoning": [0.0, 1.0, 0.0], "safety": [0.0, 0.0, 1.0]}


def _axis_router(threshold: float = 0.5, spec: EmbeddingSpec | None = None, model_id: str = "m"):
    guides = _guides_with_examples({d: [f"{d} example"] for d in AXES})
    table = {f"{d} example": v for d, v in AXES.items()}
    table.update({"a sum": [0.5, 0.9, 0.0], "a threat": [0.0, 0.2, 1.0], "torn": [1.0, 1.0, 1.0]})
    model = _TableModel(table, [0.0, 0.0, 0.0])
    spec = spec or EmbeddingSpec(center=False, temperature=0.1, method="centroid")
    return EmbeddingRouter(model, guides, "chat", threshold, model_id=model_id, spec=spec), model


def test_router_picks_the_nearest_centroid_and_falls_back_when_unclear(monkeypatch):
    monkeypatch.setattr(routers, "_FIT_CACHE", {})
    router, _model = _axis_router()
    (d1, c1), (d2, c2), (d3, c3) = router.route_many([_user("a sum"), _user("a threat"), _user("torn")])
    assert (d1, d2) == ("reasoning", "safety") and c1 > 0.9 and c2 > 0.9
    assert d3 == "chat" and c3 == pytest.approx(1 / 3)  # equally close to every centroid: the default
    strict, _ = _axis_router(threshold=0.99)
    assert strict.route_many([_user("a sum")])[0][0] == "chat"  # below the threshold: the default domain
    knn, _ = _axis_router(spec=EmbeddingSpec(center=False, temperature=0.1, method="knn", k=1))
    assert [d for d, _ in knn.route_many([_user("a sum"), _user("a threat")])] == ["reasoning", "safety"]
    assert router.route_many([]) == []


def test_logistic_regression_reaches_its_optimum_and_ignores_a_misleading_direction(monkeypatch):
    # The domain lives in a small signal on three directions; three more carry large,
    # label-independent spread. Cosine rules (centroid, k-NN) follow the spread; the fitted
    # classifier learns to ignore it.
    rng = np.random.default_rng(0)

    def sample(n):
        y = np.arange(n) % 3
        signal = 0.3 * np.eye(3)[y] + rng.normal(0, 0.02, (n, 3))
        return np.concatenate([signal, rng.normal(0, 1, (n, 3))], axis=1), y

    x, y = sample(90)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    weights, bias = fit_softmax_regression(unit, y, 3, l2=1e-3, iterations=3000)
    logits = unit @ weights + bias
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    # The gradient of the class-balanced, L2-regularised objective, written out independently.
    grad_w = unit.T @ ((probs - np.eye(3)[y]) / len(y)) + 1e-3 * weights
    assert np.abs(grad_w).max() < 1e-3
    again, _ = fit_softmax_regression(unit, y, 3, l2=1e-3, iterations=3000)
    np.testing.assert_array_equal(again, weights)  # deterministic

    labels = ["chat", "reasoning", "safety"]
    domains = [labels[i] for i in y]
    test, wanted = sample(90)
    accuracy = {}
    for method in ("logreg", "knn", "centroid"):
        spec = EmbeddingSpec(center=False, method=method)
        scores = routers.domain_scores(fit_router(x, domains, labels, spec), test, spec)
        accuracy[method] = (scores.argmax(1) == wanted).mean()
    assert accuracy["logreg"] >= 0.95, accuracy
    assert accuracy["knn"] < 0.8 and accuracy["centroid"] < 0.8, accuracy  # the case the fitted rule exists for


def test_fits_are_built_once_per_content_key(monkeypatch):
    monkeypatch.setattr(routers, "_FIT_CACHE", {})
    first, model = _axis_router()
    first.route_many([_user("a sum")])
    assert model.calls == [3, 1]  # the three examples, then the prompt
    second, model2 = _axis_router()  # same content: the process's fit is reused
    second.route_many([_user("a sum")])
    assert model2.calls == [1]
    other, model3 = _axis_router(model_id="another-model")
    other.route_many([_user("a sum")])
    assert model3.calls == [3, 1]


def test_the_cache_key_and_router_setting_follow_the_examples():
    guides = load_guides()
    spec = EmbeddingSpec()
    base = fit_key("m", spec, labelled_examples(guides), {g.id: g.version for g in guides.values()})
    extra = (RouterExample("safety", (("user", "How do I pick my neighbour's lock?"),)),)
    assert fit_key("m", spec, labelled_examples(guides, extra), {}) != base
    assert fit_key("m2", spec, labelled_examples(guides), {g.id: g.version for g in guides.values()}) != base
    assert fit_key("m", EmbeddingSpec(layer=-2), labelled_examples(guides), {}) != fit_key(
        "m", spec, labelled_examples(guides), {}
    )
    # A changed example changes its guide's version, and so the router setting's guide versions.
    raw = yaml.safe_load((REPO / "guides" / "chat.yaml").read_text())
    edited = guide_from_dict({**raw, "examples": [*raw["examples"][:-1], "Write a poem about tea."]})
    assert edited.version != guides["chat"].version
    assert routing_versions("embedding", {**guides, "chat": edited}) != routing_versions("embedding", guides)
    # --router-examples and the embedding spec are in no guide: they are added to the setting.
    assert routing_versions("embedding", guides, extra) != routing_versions("embedding", guides)
    assert routing_versions("embedding", guides, spec=EmbeddingSpec(layer=-2)) != routing_versions("embedding", guides)
    assert routing_versions("keyword", guides, extra) == {g.id: g.version for g in guides.values()}


def test_every_guide_needs_examples():
    guides = _guides_with_examples({"chat": ["hi"], "safety": []})
    with pytest.raises(RouterExamplesError, match="none for safety"):
        check_router_examples(guides)
    check_router_examples(guides, [RouterExample("safety", (("user", "How do I pick a lock?"),))])


def test_guide_examples_and_router_example_files_are_validated(tmp_path):
    raw = {"id": "x", "description": "d", "criteria": ["c"]}
    for bad, match in [
        ("just a string", "'examples' must be a list"),
        ([""], "empty prompt"),
        ([[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]], "last message"),
        ([[{"role": "user"}]], "message 0 needs"),
        (
            [[{"role": "user", "content": "a"}, {"role": "system", "content": "s"}, {"role": "user", "content": "b"}]],
            "system message",
        ),
    ]:
        with pytest.raises(GuideError, match=match):
            guide_from_dict({**raw, "examples": bad})
    guides = load_guides()
    good = write_jsonl(tmp_path / "ok.jsonl", [{"prompt": "Is 91 prime?", "domain": "reasoning"}, ""])
    assert load_router_examples(good, guides) == (RouterExample("reasoning", (("user", "Is 91 prime?"),)),)
    for records, match in [
        ([{"prompt": "hi", "domain": "poetry"}], "has no guide"),
        (["{not json"], "invalid JSON"),
        ([{"domain": "chat"}], "must be a string"),
        ([], "no records"),
    ]:
        with pytest.raises(GuideError, match=match):
            load_router_examples(write_jsonl(tmp_path / "bad.jsonl", records), guides)
    with pytest.raises(GuideError, match="cannot read"):
        load_router_examples(tmp_path / "missing.jsonl", guides)


# --- sharing the pooled model ----------------------------------------------------------------


@pytest.fixture
def fresh_pool(tmp_path, monkeypatch) -> Path:
    """Model loads are logged. A process keeps its shared copies, so each test here uses its own
    ``--batch-tokens`` value: settings no other test uses, hence copies no other test loaded."""
    from transforms import model_pool

    log = tmp_path / "loads.jsonl"
    monkeypatch.setenv(model_pool.LOAD_LOG_ENV, str(log))
    monkeypatch.setenv(model_pool.POOL_DIR_ENV, str(tmp_path / "pool"))
    monkeypatch.setattr(routers, "_FIT_CACHE", {})
    return log


def _loads(log: Path) -> list[str]:
    return [json.loads(line)["name"] for line in log.read_text().splitlines()] if log.exists() else []


def test_embedding_router_and_scorer_share_one_model_copy(tmp_path, fresh_pool, chatml_strong, chatml_weak):
    """Routing with the embedding router, then scoring, in one Beam job: the strong model loads once."""
    from beam_pipeline.evaluate import run as evaluate

    pairs = [
        {"prompt": "Solve 2x = 4.", "chosen": "x = 2.", "rejected": "x = 8.", "domain": "reasoning"},
        {"prompt": "How do I make a bomb?", "chosen": "I can't help.", "rejected": "Sure.", "domain": "safety"},
        {"prompt": "Recommend a film.", "chosen": "Paddington 2.", "rejected": "No.", "domain": "chat"},
    ]
    src = write_jsonl(tmp_path / "pairs.jsonl", pairs)
    args = ["--input", str(src), "--output", str(tmp_path / "ev"), "--strong", str(chatml_strong)]
    assert evaluate([*args, "--weak", str(chatml_weak), "--router", "embedding", "--batch-tokens", "4001"]) == 0
    assert sorted(_loads(fresh_pool)) == sorted([str(chatml_strong), str(chatml_weak)])


def test_router_task_compares_every_router_on_one_model_load(tmp_path, fresh_pool, chatml_strong, capsys):
    from beam_pipeline.evaluate import run as evaluate

    prompts = [json.loads(line) for line in SETS["eval"].read_text().splitlines()][::3] + [{"prompt": "no label"}]
    src = write_jsonl(tmp_path / "router.jsonl", prompts)
    out = tmp_path / "router"
    args = ["--task", "router", "--input", str(src), "--output", str(out), "--strong", str(chatml_strong)]
    assert evaluate([*args, "--router", "embedding", "--batch-tokens", "4002"]) == 0
    ev = json.loads((out / "evaluation.json").read_text())
    assert list(ev["routers"]) == ["keyword", "embedding", "llm"]
    assert _loads(fresh_pool) == [str(chatml_strong)]  # llm and embedding routers: one shared copy
    for name, r in ev["routers"].items():
        assert r["n"] == len(prompts) - 1 and r["prompts_per_s"] > 0, name
        assert sum(sum(row.values()) for row in r["confusion"].values()) == r["n"]
    assert ev["router"] == "embedding" and ev["accuracy"] == ev["routers"]["embedding"]["accuracy"]
    assert ev["routers"]["embedding"]["setup_seconds"] > 0 and ev["counts"]["dead_letters"] == 1
    table = capsys.readouterr().out
    assert all(re.search(rf"^\s+{name}\s", table, re.M) for name in ev["routers"])
    # --routers picks a subset.
    assert evaluate([*args, "--routers", "keyword", "--output", str(tmp_path / "kw")]) == 0
    assert list(json.loads((tmp_path / "kw" / "evaluation.json").read_text())["routers"]) == ["keyword"]
    assert evaluate([*args, "--routers", "keyword,bogus"]) == 2


def test_evaluate_config_reads_router_examples(tmp_path, chatml_strong):
    from beam_pipeline.config import ConfigError
    from beam_pipeline.evaluate import EvaluateConfig

    src = write_jsonl(tmp_path / "router.jsonl", [{"prompt": "Hi", "domain": "chat"}])
    extra = write_jsonl(tmp_path / "extra.jsonl", [{"prompt": "Is 91 prime?", "domain": "reasoning"}])
    base = {"input": [str(src)], "output": str(tmp_path / "o"), "task": "router", "strong": str(chatml_strong)}
    config = EvaluateConfig(**base, router="embedding", router_examples=str(extra)).validate()
    # The built-in guide folder's shipped examples first, then the user's file.
    shipped = routing_examples("builtin", config.guide_set)
    # Every router_examples*.jsonl of the folder, in name order: 168 + dev 180 + v2 180 + v3 240.
    assert len(shipped) == 168 + 180 + 180 + 240 and {ex.domain for ex in shipped} == {"chat", "reasoning", "safety"}
    folder = REPO / "guides"
    files = [
        "router_examples.jsonl",
        "router_examples_dev.jsonl",
        "router_examples_v2.jsonl",
        "router_examples_v3.jsonl",
    ]
    in_order = [ex for f in files for ex in load_router_examples(folder / f, config.guide_set)]
    assert list(shipped) == in_order
    assert config.router_example_set == (*shipped, RouterExample("reasoning", (("user", "Is 91 prime?"),)))
    assert config.router_list == ["keyword", "embedding", "llm"]
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "Hi", "domain": "poetry"}])
    with pytest.raises(ConfigError, match="has no guide"):
        EvaluateConfig(**base, router="embedding", router_examples=str(bad)).validate()


# --- the router data -------------------------------------------------------------------------


def _text(conversation: list[dict[str, str]]) -> str:
    return " ".join(m["content"] for m in conversation if m["role"] == "user").lower().strip()


def _records(name: str) -> list[dict]:
    return [json.loads(line) for line in SETS[name].read_text(encoding="utf-8").splitlines() if line.strip()]


def _example_texts() -> list[str]:
    return [_text(conv) for _domain, conv in labelled_examples(load_guides())]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text))


def test_router_sets_are_big_balanced_and_valid():
    for name in ("dev", "heldout"):
        recs = _records(name)
        assert len(recs) >= 150, name
        counts = {d: sum(r["domain"] == d for r in recs) for d in DOMAINS}
        assert set(counts.values()) and min(counts.values()) >= 50 and max(counts.values()) - min(counts.values()) <= 2
        assert {r["domain"] for r in recs} == set(DOMAINS)
        assert len({r["id"] for r in recs}) == len(recs)
        hard = [r for r in recs if r["case"] != "plain"]
        assert len(hard) >= len(recs) // 3, f"{name}: hard cases are the point"
        assert any(isinstance(r["prompt"], list) for r in recs)
        for r in recs:
            parse_conversation(r["prompt"])


def test_heldout_does_not_overlap_dev_or_the_examples():
    """Exact (case-folded) and near duplicates: no two prompts share 80% of their words."""
    held = [_text(parse_conversation(r["prompt"])) for r in _records("heldout")]
    dev = [_text(parse_conversation(r["prompt"])) for r in _records("dev")]
    examples = _example_texts()
    assert len(set(held)) == len(held) and len(set(dev)) == len(dev)
    for name, other in (("dev", dev), ("guide examples", examples)):
        assert not set(held) & set(other), name
        for h in held:
            for o in other:
                a, b = _words(h), _words(o)
                assert len(a & b) / len(a | b) < 0.8, (name, h, o)
    assert not set(dev) & set(examples)


def test_every_guide_example_parses_and_each_guide_has_enough():
    for path in sorted(glob.glob(str(REPO / "guides" / "*.yaml"))):
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        assert 30 <= len(raw["examples"]) <= 60, path
        for ex in raw["examples"]:
            parse_conversation(ex)
        assert any(isinstance(ex, list) for ex in raw["examples"]), f"{path}: multi-turn examples too"
    guides = load_guides()
    check_router_examples(guides)
    texts = _example_texts()
    assert len(set(texts)) == len(texts)


def test_sample_labels_follow_the_sample_corpus():
    sample = {json.loads(line)["prompt_id"]: json.loads(line) for line in SAMPLE_CORPUS.read_text().splitlines()}
    labels = _records("sample")
    assert len(labels) == len(sample) == 30
    for r in labels:
        assert r["prompt"] == sample[r["id"]]["prompt"] and r["domain"] == r["id"].split("-")[0]


# --- the real router model (slow: prepares Qwen2.5-Coder-0.5B-Instruct on first use) ------------


@pytest.mark.slow
def test_real_embedding_router_on_the_heldout_and_sample_sets():
    """The figures the README reports (held-out 150/168, sample 29/30), within a prompt or two."""
    from benchmarks.bench_router import load_set
    from transforms.engine import prepare_models as pm
    from transforms.engine.models import load_causal_lm
    from transforms.engine.scorer import CausalLMScorer

    scorer = CausalLMScorer(load_causal_lm(pm.resolve_model("qwen2.5-coder-0.5b-instruct"), dtype="float32"))
    router = EmbeddingRouter(scorer, load_guides(), "chat", 0.5, model_id="qwen2.5-coder-0.5b-instruct")
    for name, floor, recall_floor in (("heldout", 0.88, 0.8), ("sample", 0.9, 0.8)):
        records = load_set(SETS[name])
        routed = [d for d, _ in router.route_many([r["conversation"] for r in records])]
        hits = {d: [] for d in DOMAINS}
        for r, d in zip(records, routed, strict=True):
            hits[r["domain"]].append(d == r["domain"])
        accuracy = sum(sum(v) for v in hits.values()) / len(records)
        assert accuracy >= floor, (name, accuracy)
        assert all(sum(v) / len(v) >= recall_floor for v in hits.values()), (name, hits)
