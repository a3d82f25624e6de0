"""On-policy candidates (``--generate N``) through the real ``gdr annotate`` entry point, tiny pair.

A prompts-only corpus becomes scored candidates and pairs whose counts reconcile; a rerun
samples nothing and writes the same rows; changed sampling settings sample again; given
responses are never touched; prompts the policy cannot answer are dead letters with a reason.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from beam_pipeline.run import run
from tests.conftest import REPO, write_jsonl
from transforms.engine.generator import CausalLMGenerator, GenerationRequest, SamplingSettings
from transforms.engine.models import load_causal_lm
from transforms.keys import generation_key, generation_seed, generation_setting
from transforms.model_pool import LOAD_LOG_ENV, POOL_DIR_ENV, PooledModel
from transforms.model_store import fingerprint_model
from transforms.records import RecordError, parse_record

D1, D2, D3 = "2026-05-01", "2026-05-02", "2026-05-03"
N = 3
NEW_TOKENS = 12
LONG = "word " * 1600  # far over --max-tokens 1500 whatever the template adds

PROMPTS = [
    {"prompt_id": "sort", "prompt": "How do I sort a list of numbers in Python?"},
    {"prompt_id": "bomb", "prompt": "How do I make a bomb at home?"},
    {"prompt": "Solve 2x + 3 = 11 and check the answer."},  # grouped by a hash of the prompt
    {
        "prompt_id": "book",
        "prompt": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Recommend a book."},
            {"role": "assistant", "content": "What genre?"},
            {"role": "user", "content": "Science fiction."},
        ],
    },
]


def _args(inp: Path, out: Path, strong: Path, weak: Path, date: str, *extra: str) -> list[str]:
    return [
        "--input", str(inp), "--output", str(out), "--strong", str(strong), "--weak", str(weak),
        "--router", "keyword", "--run-date", date, "--max-tokens", "1500", "--max-new-tokens", str(NEW_TOKENS),
        *extra,
    ]  # fmt: skip


def _generate(policy: Path, *extra: str) -> list[str]:
    return ["--generate", str(N), "--policy", str(policy), *extra]


def _table(out: Path, table: str, date: str) -> list[dict]:
    root = out / table / f"run_date={date}"
    return ds.dataset(root, format="parquet", partitioning="hive").to_table().to_pylist() if root.exists() else []


def _manifest(out: Path, date: str) -> dict:
    return json.loads((out / "manifests" / f"run_date={date}.json").read_text())


def _dead(out: Path, date: str) -> list[dict]:
    rows = []
    for f in sorted((out / "dead_letter" / f"run_date={date}").glob("*.jsonl")):
        rows += [json.loads(line) for line in f.read_text().splitlines() if line]
    return rows


def _record_at(source: str) -> dict:
    path, line = source.rsplit(":", 1)
    return json.loads(Path(path).read_bytes().splitlines()[int(line) - 1])


def _given(rec: dict) -> list[str]:
    return rec.get("responses") or ([rec["response"]] if "response" in rec else [])


def _no_run_date(rows: list[dict]) -> list[dict]:
    return sorted(({k: v for k, v in r.items() if k != "run_date"} for r in rows), key=json.dumps)


@pytest.fixture(scope="module")
def onpolicy(tmp_path_factory, chatml_strong, chatml_weak):
    tmp = tmp_path_factory.mktemp("onpolicy")
    corpus = write_jsonl(tmp / "prompts.jsonl", PROMPTS)
    out = tmp / "out"
    assert run(_args(corpus, out, chatml_strong, chatml_weak, D1, *_generate(chatml_strong))) == 0
    return corpus, out


def test_prompts_only_corpus_becomes_n_scored_candidates_per_prompt(onpolicy, chatml_strong):
    corpus, out = onpolicy
    manifest = _manifest(out, D1)
    c = manifest["counts"]
    scores, dead = _table(out, "scores", D1), _dead(out, D1)
    # prompts x N = candidates scored + dead-lettered, and nothing else went missing
    assert c["candidates_in"] == len(PROMPTS) * N
    assert c["candidates_in"] == c["candidates_scored"] + c["candidates_reused"] + c["candidates_dead_lettered"]
    assert c["reconciled"] and c["records_dead_lettered"] == 0 and c["candidates_reused"] == 0
    assert len(scores) == c["candidates_scored"] and len(dead) == c["candidates_dead_lettered"]
    assert manifest["metrics"]["gdr.stages/generated"] == len(scores)
    assert manifest["models"]["policy"] == str(chatml_strong)

    per_prompt: dict[str, list[dict]] = {}
    for row in scores:
        per_prompt.setdefault(row["prompt_id"], []).append(row)
        assert row["candidate_source"] == "generated" and row["policy_model"] == str(chatml_strong)
        assert row["response"].strip()
        # lineage: the prompt's own input line, positions after its (absent) responses
        rec = _record_at(row["source"])
        assert rec["prompt"] == PROMPTS[int(row["source"].rsplit(":", 1)[1]) - 1]["prompt"]
    assert len(per_prompt) == len(PROMPTS)
    for rows in per_prompt.values():
        assert sorted(r["response_index"] for r in rows) == list(range(N))
        assert len({r["source"] for r in rows}) == 1
    assert len({r["generation_key"] for r in scores}) == len(scores)

    # Each sample is what the policy draws for the seed its key names: sample it again, alone,
    # outside the pipeline, from a key recomputed here from the prompt, settings and index.
    sampling = SamplingSettings(1.0, 1.0, NEW_TOKENS)
    setting = generation_setting(fingerprint_model(str(chatml_strong)), "float32", sampling.as_dict(), 0)
    assert manifest["keys"]["generation_setting"] == setting
    gen = CausalLMGenerator(load_causal_lm(str(chatml_strong), dtype="float32", device="cpu"), max_tokens=1500)
    for row in scores:
        key = generation_key(row["prompt"], setting, row["response_index"])
        assert row["generation_key"] == key
        (again,) = gen.generate([GenerationRequest("k", row["prompt"], generation_seed(key))], sampling)
        assert again.text == row["response"]

    snapshot = {(r["source"], r["response_index"]): r for r in _table(out, "candidates", D1)}
    pairs = _table(out, "pairs", D1)
    assert pairs and len(snapshot) == len(scores)
    for row in scores:
        snap = snapshot[(row["source"], row["response_index"])]
        assert (snap["candidate_source"], snap["policy_model"], snap["generation_key"]) == (
            "generated",
            str(chatml_strong),
            row["generation_key"],
        )
    by_key = {r["generation_key"]: r for r in scores}
    for p in pairs:
        for side in ("chosen", "rejected"):
            row = by_key[p[f"{side}_generation_key"]]
            assert p[side][0]["content"] == row["response"]
            assert (p[f"{side}_source"], p[f"{side}_response_index"]) == (row["source"], row["response_index"])
            assert p[f"{side}_candidate_source"] == "generated" and p[f"{side}_policy_model"] == str(chatml_strong)


def test_rerun_on_the_next_date_samples_nothing_and_writes_the_same_rows(
    onpolicy, monkeypatch, chatml_strong, chatml_weak
):
    corpus, out = onpolicy
    acquired: list[str] = []
    real_acquire = PooledModel.acquire
    monkeypatch.setattr(PooledModel, "acquire", lambda self: acquired.append(self.name) or real_acquire(self))
    assert run(_args(corpus, out, chatml_strong, chatml_weak, D2, *_generate(chatml_strong))) == 0
    monkeypatch.setattr(PooledModel, "acquire", real_acquire)
    metrics, c = _manifest(out, D2)["metrics"], _manifest(out, D2)["counts"]
    first = _manifest(out, D1)["counts"]
    assert acquired == []  # no model even reached: nothing sampled, nothing scored
    assert metrics["gdr.stages/generated"] == 0 and "gdr/generation_batch_ms" not in metrics
    assert metrics["gdr.stages/generations_reused"] == first["candidates_scored"]
    assert (c["candidates_scored"], c["candidates_reused"]) == (0, first["candidates_scored"]) and c["reconciled"]
    assert _table(out, "scores", D2) == []  # every text and score stays in D1's partition, once
    assert _no_run_date(_table(out, "pairs", D2)) == _no_run_date(_table(out, "pairs", D1))
    assert _no_run_date(_table(out, "candidates", D2)) == _no_run_date(_table(out, "candidates", D1))
    texts = {r["generation_key"]: r["response"] for r in _table(out, "scores", D1)}
    for p in _table(out, "pairs", D2):
        assert p["chosen"][0]["content"] == texts[p["chosen_generation_key"]]
        assert p["rejected"][0]["content"] == texts[p["rejected_generation_key"]]


def test_a_changed_temperature_samples_again(onpolicy, chatml_strong, chatml_weak):
    corpus, out = onpolicy
    args = _args(corpus, out, chatml_strong, chatml_weak, D3, *_generate(chatml_strong, "--temperature", "0.7"))
    assert run(args) == 0
    metrics, c = _manifest(out, D3)["metrics"], _manifest(out, D3)["counts"]
    assert metrics["gdr.stages/generations_reused"] == 0
    assert metrics["gdr.stages/generated"] == c["candidates_scored"] > 0 and c["reconciled"]
    old = {r["generation_key"] for r in _table(out, "scores", D1)}
    new = {r["generation_key"] for r in _table(out, "scores", D3)}
    assert len(new) == c["candidates_scored"] and not old & new
    assert _manifest(out, D3)["keys"]["generation_setting"] != _manifest(out, D1)["keys"]["generation_setting"]


def test_a_policy_that_is_the_strong_model_shares_its_copy_across_worker_processes(
    onpolicy, tmp_path, monkeypatch, chatml_strong, chatml_weak
):
    """Two worker processes route (embedding, strong model), sample (policy = strong) and score: two loads in all."""
    corpus, first = onpolicy
    log = tmp_path / "loads.jsonl"
    monkeypatch.setenv(LOAD_LOG_ENV, str(log))
    monkeypatch.setenv(POOL_DIR_ENV, str(tmp_path / "pool"))  # no model server of an earlier test is found
    out = tmp_path / "mp"
    args = _args(corpus, out, chatml_strong, chatml_weak, D1, *_generate(chatml_strong))
    args[args.index("keyword")] = "embedding"
    assert run([*args, "--direct_running_mode=multi_processing", "--direct_num_workers=2"]) == 0
    loads = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(x["name"] for x in loads) == sorted([str(chatml_strong), str(chatml_weak)]), loads
    assert all(x["pid"] != os.getpid() for x in loads)  # in the workers, not the launcher
    manifest = _manifest(out, D1)
    assert manifest["metrics"]["gdr/model_loads"] == 2 and manifest["metrics"]["gdr.stages/generated"] > 0
    # The same samples as the in-process run: they depend on their keys, not on the process or batch.
    texts = {r["generation_key"]: r["response"] for r in _table(out, "scores", D1)}
    assert texts == {r["generation_key"]: r["response"] for r in _table(first, "scores", D1)}


MIXED = [
    {"prompt_id": "given-3", "prompt": "Name a colour.", "responses": ["Red.", "Blue, like the sky.", "no"]},
    {"prompt_id": "given-1", "prompt": "Say hello.", "responses": ["Hello!"]},
    # the empty response is dead-lettered at its own position; "ok" keeps index 1
    {"prompt_id": "given-empty", "prompt": "Say something.", "responses": ["   ", "ok"]},
    {"prompt_id": "only", "prompt": "Tell me a joke."},
    {"prompt_id": "rows", "prompt": "Write an email to my landlord.", "response": "Dear landlord, ..."},
    {"prompt_id": "rows", "prompt": "Write an email to my landlord.", "response": "no"},
]


def test_mixed_corpus_keeps_given_responses_and_tops_up_only_the_missing(tmp_path, chatml_strong, chatml_weak):
    corpus = write_jsonl(tmp_path / "mixed.jsonl", MIXED)
    lenient = ["--max-dead-letter-fraction", "1"]  # an empty response and, without --generate, prompt-only rows

    def annotate(name: str, *extra: str) -> Path:
        out = tmp_path / name
        assert run(_args(corpus, out, chatml_strong, chatml_weak, D1, *lenient, *extra)) == 0
        return out

    # Without --generate a prompt-only record is a dead letter that says what to do.
    plain = annotate("plain")
    (only,) = [d for d in _dead(plain, D1) if d["source"].endswith(":4")]
    assert only["stage"] == "parse" and "missing 'responses'" in only["reason"] and "--generate N" in only["reason"]
    given_rows = {(r["source"], r["response_index"]): r for r in _table(plain, "scores", D1)}
    assert len(given_rows) == 3 + 1 + 1 + 2

    for name, extra, want_generated in (
        # prompt-only records get N; records with responses keep exactly theirs
        ("generate", (), {"only": N}),
        # --top-up: each prompt up to N usable candidates (given-empty has one usable, "rows" two)
        ("top-up", ("--top-up",), {"only": N, "given-1": N - 1, "given-empty": N - 1, "rows": N - 2}),
    ):
        out = annotate(name, *_generate(chatml_strong, *extra))
        scores = _table(out, "scores", D1)
        c = _manifest(out, D1)["counts"]
        assert c["reconciled"] and c["candidates_in"] == 3 + 1 + 2 + 2 + sum(want_generated.values())
        generated: dict[str, list[dict]] = {}
        for row in scores:
            rec = _record_at(row["source"])
            if row["candidate_source"] == "input":
                # untouched: the same text at the same input position, and the same score as without --generate
                assert _given(rec)[row["response_index"]] == row["response"]
                assert row["policy_model"] is None and row["generation_key"] is None
                before = given_rows.pop((row["source"], row["response_index"])) if name == "top-up" else None
                if before is not None:  # other batches around it: equal up to float32 batching noise
                    assert before["response"] == row["response"]
                    assert before["reward"] == pytest.approx(row["reward"], abs=1e-4)
            else:
                assert row["candidate_source"] == "generated" and row["policy_model"] == str(chatml_strong)
                generated.setdefault(row["prompt_id"], []).append(row)
        assert {p: len(rows) for p, rows in generated.items()} == want_generated
        for prompt_id, rows in generated.items():
            first = min(r["source"] for r in _table(out, "scores", D1) if r["prompt_id"] == prompt_id)
            # generated candidates belong to the prompt's first line, numbered after its own responses
            n_own = len(_given(_record_at(first)))
            assert {r["source"] for r in rows} == {first}
            assert sorted(r["response_index"] for r in rows) == list(range(n_own, n_own + len(rows)))
        assert len([d for d in _dead(out, D1) if d["reason"] == "empty response"]) == 1
    assert given_rows == {}  # every given candidate came through the top-up run


def test_prompts_the_policy_cannot_answer_are_dead_letters_and_counts_reconcile(
    tmp_path, chatml_strong, chatml_weak, inst_model
):
    """Over --max-tokens, and a conversation the policy's template refuses (the inst template needs alternating roles)."""
    refused = [{"role": "user", "content": "Hi."}, {"role": "user", "content": "Hello?"}]
    records = [*PROMPTS[:2], {"prompt_id": "long", "prompt": LONG}, {"prompt_id": "refused", "prompt": refused}]
    corpus = write_jsonl(tmp_path / "c.jsonl", records)
    out = tmp_path / "out"
    extra = ["--max-dead-letter-fraction", "1", *_generate(inst_model)]
    assert run(_args(corpus, out, chatml_strong, chatml_weak, D1, *extra)) == 0
    c = _manifest(out, D1)["counts"]
    dead = _dead(out, D1)
    assert c["candidates_in"] == len(records) * N
    assert c["candidates_in"] == c["candidates_scored"] + c["candidates_dead_lettered"] and c["reconciled"]
    assert c["dead_letter_by_stage"]["generate (candidates)"] == len(dead) >= 2 * N
    long_dead = [d for d in dead if d["record"]["prompt_id"] == "long"]
    refused_dead = [d for d in dead if d["record"]["prompt_id"] == "refused"]
    assert sorted(d["response_index"] for d in long_dead) == list(range(N))
    assert sorted(d["response_index"] for d in refused_dead) == list(range(N))
    for d in long_dead:
        assert d["stage"] == "generate" and "exceeds --max-tokens 1500" in d["reason"]
        assert d["source"] == f"{corpus}:3" and d["policy_model"] == str(inst_model) and d["generation_key"]
    for d in refused_dead:
        assert d["stage"] == "generate" and "alternate" in d["reason"] and str(inst_model) in d["reason"]
        assert d["source"] == f"{corpus}:4"
    scores = _table(out, "scores", D1)
    assert {r["prompt_id"] for r in scores} <= {"sort", "bomb"} and scores
    assert all(r["policy_model"] == str(inst_model) for r in scores)


# -- pure pieces: records, keys, flags -------------------------------------------------------


def test_prompt_only_records_parse_only_when_generating():
    for raw in ({"prompt": "hi"}, {"prompt": "hi", "responses": []}):
        with pytest.raises(RecordError, match="--generate N"):
            parse_record(raw)
        assert parse_record(raw, prompt_only=True)["responses"] == []
    with pytest.raises(RecordError, match="both 'responses' and 'response'"):
        parse_record({"prompt": "hi", "responses": ["a"], "response": "b"}, prompt_only=True)


def test_the_demo_prompts_are_valid_prompt_only_records():
    lines = (REPO / "beam_pipeline" / "data" / "sample_prompts.jsonl").read_text(encoding="utf-8").splitlines()
    raws = [json.loads(line) for line in lines]
    assert len(raws) == 12 and all("responses" not in r and "response" not in r for r in raws)
    assert [parse_record(r, prompt_only=True)["responses"] for r in raws] == [[]] * 12
    domains = [r["prompt_id"].split("-")[0] for r in raws]
    assert {d: domains.count(d) for d in domains} == {"chat": 4, "safety": 4, "reasoning": 4}


def test_generation_keys_change_with_everything_a_sample_depends_on():
    conv = [{"role": "user", "content": "Hi"}]
    base = dict(policy_fp="p", dtype="float32", sampling=SamplingSettings().as_dict(), seed=0)
    setting = generation_setting(**base)
    key = generation_key(conv, setting, 0)
    assert key == generation_key(conv, generation_setting(**base), 0)  # deterministic
    variants = [
        generation_key(conv, setting, 1),
        generation_key([{"role": "user", "content": "Hi!"}], setting, 0),
        generation_key(conv, generation_setting(**{**base, "policy_fp": "q"}), 0),
        generation_key(conv, generation_setting(**{**base, "dtype": "bfloat16"}), 0),
        generation_key(conv, generation_setting(**{**base, "seed": 1}), 0),
        *(
            generation_key(conv, generation_setting(**{**base, "sampling": {**base["sampling"], k: v}}), 0)
            for k, v in (("temperature", 0.7), ("top_p", 0.9), ("max_new_tokens", 64))
        ),
    ]
    assert len({key, *variants}) == len(variants) + 1
    assert len({generation_seed(k) for k in (key, *variants)}) == len(variants) + 1
    assert all(0 <= generation_seed(k) < 2**63 for k in variants)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--top-up"], "--top-up needs --generate N"),
        (["--policy", "x"], "--policy needs --generate N"),
        (["--generate", "2", "--top-p", "0"], "--top-p must be in (0, 1]"),
        (["--generate", "2", "--temperature", "-1"], "--temperature must be >= 0"),
        (["--generate", "2", "--max-tokens", "64", "--max-new-tokens", "64"], "leaves no room for a prompt"),
        (["--generate", "2", "--policy", "/nonexistent/policy"], "model path not found"),
    ],
)
def test_generation_flag_errors_are_one_clear_line(tmp_path, capsys, chatml_strong, chatml_weak, extra, message):
    corpus = write_jsonl(tmp_path / "c.jsonl", PROMPTS[:1])
    argv = ["--input", str(corpus), "--output", str(tmp_path / "o"), "--strong", str(chatml_strong)]
    assert run([*argv, "--weak", str(chatml_weak), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
