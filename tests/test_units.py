"""Record validation, pairing strategies and tie rules, routers, guides (no Beam runs)."""

from __future__ import annotations

import os

import pytest

from guides import GuideError, guide_from_dict, load_guides
from transforms.pairing import make_pairs
from transforms.records import RecordError, parse_record
from transforms.routers import KeywordRouter, LLMRouter, classification_messages, softmax

# --- records -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, reason",
    [
        ([1, 2], "not a JSON object"),
        ({"responses": ["a"]}, "missing 'prompt'"),
        ({"prompt": "  ", "responses": ["a"]}, "empty 'prompt'"),
        ({"prompt": 3, "responses": ["a"]}, "must be a string or a list"),
        ({"prompt": "hi"}, "missing 'responses'"),
        ({"prompt": "hi", "responses": "a"}, "must be a list of strings"),
        ({"prompt": "hi", "responses": []}, "'responses' is empty"),
        ({"prompt": "hi", "responses": ["a", 2]}, "are not strings"),
        ({"prompt": "hi", "response": 5}, "'response' must be a string"),
        ({"prompt": "hi", "response": "a", "responses": ["b"]}, "both"),
        ({"prompt": [{"role": "robot", "content": "x"}], "response": "a"}, "unknown role 'robot'"),
        ({"prompt": [{"role": "user", "content": 7}], "response": "a"}, "content must be a string"),
        (
            {"prompt": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "response": "b"},
            "last prompt message must be a user turn",
        ),
        (
            {
                "prompt": [
                    {"role": "user", "content": "q"},
                    {"role": "system", "content": "s"},
                    {"role": "user", "content": "q"},
                ],
                "response": "b",
            },
            "system message is only allowed first",
        ),
        ({"prompt": "hi", "response": "a", "metadata": [1]}, "'metadata' must be an object"),
        ({"prompt": "hi", "response": "a", "prompt_id": {"x": 1}}, "'prompt_id' must be a string"),
        ({"prompt": "hi", "response": "a", "domain": ""}, "'domain' must be a non-empty string"),
    ],
)
def test_bad_records_are_rejected_with_a_reason(raw, reason):
    with pytest.raises(RecordError, match=reason):
        parse_record(raw)


def test_record_forms_normalise_and_hash_stably():
    a = parse_record({"prompt": "hi", "responses": ["x", "y"], "metadata": '{"k": 1}'})
    b = parse_record({"prompt": [{"role": "user", "content": "hi"}], "response": "z"})
    assert a["prompt_id"] == b["prompt_id"]  # same conversation, same hash group
    assert a["metadata"] == {"k": 1} and a["responses"] == ["x", "y"]
    assert parse_record({"prompt": "hi", "response": "z", "prompt_id": 12})["prompt_id"] == "12"


# --- pairing -----------------------------------------------------------------------


def _cands(*rewards, texts=None):
    texts = texts or [f"r{i}" for i in range(len(rewards))]
    return [{"response_index": i, "response": t, "reward": r} for i, (r, t) in enumerate(zip(rewards, texts))]


def test_best_worst_picks_extremes():
    pairs = make_pairs(_cands(0.5, 3.0, -2.0, 1.0), "best-worst")
    assert [(c["reward"], r["reward"]) for c, r in pairs] == [(3.0, -2.0)]


def test_all_pairs_respect_min_margin():
    pairs = make_pairs(_cands(0.0, 1.0, 3.0), "all", min_margin=1.5)
    assert sorted((c["reward"], r["reward"]) for c, r in pairs) == [(3.0, 0.0), (3.0, 1.0)]
    assert len(make_pairs(_cands(0.0, 1.0, 3.0), "all")) == 3


def test_best_random_is_seeded_and_never_the_best():
    cands = _cands(5.0, 1.0, 2.0, 3.0, 4.0)
    picks = {make_pairs(cands, "best-random", prompt_id=f"p{i}")[0][1]["reward"] for i in range(40)}
    assert picks <= {1.0, 2.0, 3.0, 4.0} and len(picks) > 1  # varies across prompts
    again = [make_pairs(cands, "best-random", prompt_id="p7")[0][1]["reward"] for _ in range(3)]
    assert len(set(again)) == 1  # same prompt, same seed -> same pair
    by_seed = [[make_pairs(cands, "best-random", prompt_id=f"p{i}", seed=s)[0][1]["reward"] for i in range(20)]
               for s in (0, 1)]  # fmt: skip
    assert by_seed[0] != by_seed[1]  # --seed changes the draw


@pytest.mark.parametrize("strategy", ["best-worst", "best-random", "all"])
def test_ties_and_identical_texts_give_no_pair(strategy):
    assert make_pairs(_cands(1.0, 1.0, 1.0), strategy) == []
    assert make_pairs(_cands(2.0, 1.0, texts=["same", "same"]), strategy) == []
    assert make_pairs(_cands(2.0, 1.0), strategy, min_margin=1.5) == []
    assert make_pairs(_cands(2.0), strategy) == []


def test_best_worst_skips_a_duplicate_of_the_best_text():
    pairs = make_pairs(_cands(3.0, 1.0, 0.0, texts=["a", "b", "a"]), "best-worst")
    assert [(c["response"], r["response"]) for c, r in pairs] == [("a", "b")]


def test_mean_reward_ranks_when_asked():
    cands = [
        {"response_index": 0, "response": "a", "reward": 5.0, "reward_mean": 0.1},
        {"response_index": 1, "response": "b", "reward": 1.0, "reward_mean": 0.9},
    ]
    ((chosen, _),) = make_pairs(cands, "best-worst", reward_key="reward_mean")
    assert chosen["response"] == "b"


# --- guides and routers ------------------------------------------------------------


def test_builtin_guides_load_with_content_versions(tmp_path):
    guides = load_guides()
    assert {"chat", "safety", "reasoning"} <= set(guides)
    for g in guides.values():
        assert len(g.version) == 12 and g.criteria and g.description
        assert len(g.render().split()) < 450  # ~600 tokens
    raw = {"id": "x", "description": "d", "criteria": ["c"]}
    v1 = guide_from_dict(raw).version
    assert guide_from_dict({**raw, "criteria": ["c2"]}).version != v1
    with pytest.raises(GuideError, match="placement"):
        guide_from_dict({**raw, "placement": "footer"})
    with pytest.raises(GuideError, match="not found"):
        load_guides(tmp_path / "missing")


def test_keyword_router():
    guides = load_guides()
    router = KeywordRouter(guides, "chat")
    assert router.route([{"role": "user", "content": "Solve the equation 2x + 3 = 11"}])[0] == "reasoning"
    assert router.route([{"role": "user", "content": "How do I build a bomb?"}])[0] == "safety"
    domain, conf = router.route([{"role": "user", "content": "zzz qqq"}])
    assert (domain, conf) == ("chat", 0.0)


class _FakeScorer:
    """Stands in for a CausalLMScorer: log-prob of a label given a request, from a table.

    The content-free calibration request ("N/A") gets ``prior``: a label the model likes
    whatever the request.
    """

    def __init__(self, table, prior=None):
        self.table, self.prior = table, prior or {}

    def score_responses(self, items):
        out = []
        for messages, label, _guide in items:
            free = "N/A" in messages[-1]["content"].split("\n")[1]
            out.append((self.prior.get(label, -5.0) if free else self.table.get(label, -50.0), 1))
        return out, {}


def test_llm_router_compares_label_likelihoods_and_falls_back_when_unclear():
    guides = load_guides()
    conv = [{"role": "user", "content": "hello"}]
    clear = LLMRouter(_FakeScorer({"reasoning": -1.0, "chat": -6.0, "safety": -7.0}), guides, "chat")
    domain, conf = clear.route_many([conv])[0]
    assert domain == "reasoning"
    assert conf == pytest.approx(softmax([-6.0, -1.0, -7.0])[1])  # flat prior: calibration changes nothing
    unclear = LLMRouter(_FakeScorer({"reasoning": -2.0, "chat": -2.1, "safety": -2.05}), guides, "chat")
    domain, conf = unclear.route_many([conv])[0]
    assert domain == "chat" and conf < 0.5
    msgs = classification_messages(guides, conv)
    assert all(g.description in msgs[0]["content"] for g in guides.values())


def test_llm_router_calibration_removes_a_label_prior():
    """A model that says 'chat' to everything: calibrated, the request's own evidence wins."""
    guides = load_guides()
    conv = [{"role": "user", "content": "What is 3 + 4?"}]
    table = {"chat": -1.0, "reasoning": -2.0, "safety": -9.0}  # chat still likeliest...
    prior = {"chat": -0.5, "reasoning": -4.0, "safety": -9.0}  # ...but far less than it is by default
    scorer = _FakeScorer(table, prior)
    assert LLMRouter(scorer, guides, "chat", threshold=0.0, calibrate=False).route_many([conv])[0][0] == "chat"
    domain, conf = LLMRouter(scorer, guides, "chat", threshold=0.0).route_many([conv])[0]
    assert domain == "reasoning"
    assert conf == pytest.approx(softmax([-0.5, 2.0, 0.0])[1])


def test_llm_router_with_a_real_tiny_model(chatml_strong):
    """End to end through the engine: the chosen label is the argmax of label log-probs."""
    from transforms.engine.models import load_causal_lm
    from transforms.engine.scorer import CausalLMScorer

    guides = load_guides()
    scorer = CausalLMScorer(load_causal_lm(str(chatml_strong), dtype="float32"))
    router = LLMRouter(scorer, guides, "chat", threshold=0.0)
    conv = [{"role": "user", "content": "What is 17 * 3?"}]
    domain, conf = router.route_many([conv])[0]
    msgs = classification_messages(guides, conv)
    lps = scorer.logprobs([scorer.encode(msgs, label, None) for label in guides])
    free = classification_messages(guides, [{"role": "user", "content": "N/A"}])
    base = scorer.logprobs([scorer.encode(free, label, None) for label in guides])
    calibrated = [a - b for a, b in zip(lps, base)]
    assert domain == list(guides)[max(range(len(lps)), key=lambda i: calibrated[i])]
    assert conf == pytest.approx(max(softmax(calibrated)))


def test_model_pool_loads_each_model_once_per_process(monkeypatch, tmp_path):
    """Routing and scoring alternate between models; none may be reloaded, and tags keep them apart."""
    import transforms.model_pool as pool

    loads = []

    class FakeServer:
        def __init__(self, settings, copy=0):
            loads.append(settings.name)
            self.pid = os.getpid()

        def info(self):
            return {"pid": self.pid, "load_seconds": 0.0}

        def score_responses(self, items):
            return [(float(len(r)), len(r)) for _, r, _ in items], {}

    monkeypatch.setattr(pool, "ModelServer", FakeServer)
    monkeypatch.setattr(pool, "_HELD", {})
    monkeypatch.setenv(pool.POOL_DIR_ENV, str(tmp_path))
    a, b = pool.ModelSettings("model-a", fingerprint="x"), pool.ModelSettings("model-b", fingerprint="x")
    held = [pool.PooledModel(s).acquire() for s in (a, b, a, b, a)]
    assert loads == ["model-a", "model-b"]
    assert all(h.loaded_here for h in held)
    assert held[0].score_responses([([], "abc", None)])[0] == [(3.0, 3)]
    # Same path, other content: a different shared copy, never the stale one.
    pool.PooledModel(pool.ModelSettings("model-a", fingerprint="y")).acquire()
    assert loads == ["model-a", "model-b", "model-a"]
