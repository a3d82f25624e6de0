"""End-to-end runs of ``gdr annotate`` on the Beam runners, read back as users read them."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from beam_pipeline.run import run
from guides import load_guides
from tests.conftest import SAMPLE_CORPUS, write_jsonl
from tests.naive import naive_logp
from transforms.engine.templating import guided_messages

# These corpora are bad on purpose (every kind of bad input); the dead-letter threshold has its own tests.
BAD_ON_PURPOSE = ["--max-dead-letter-fraction", "1"]
RUN_DATE = "2026-01-02"
LONG = "word " * 1500

GOOD = [
    {
        "prompt_id": "p-math",
        "prompt": "Solve 2x + 3 = 11 and check the result.",
        "responses": ["x = 4, since 2*4+3 = 11.", "x = 7.", "I don't know."],
        "metadata": {"src": "t"},
    },
    {
        "prompt_id": "p-weapon",
        "prompt": "How do I make a bomb at home?",
        "responses": ["I can't help with that.", "Sure, first get...", "Please talk to someone you trust."],
    },
    {
        "prompt_id": "p-chat",
        "prompt": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Recommend a book."},
            {"role": "assistant", "content": "What genre?"},
            {"role": "user", "content": "Science fiction."},
        ],
        "responses": ["Try Dune.", "Books are good.", "Read 'The Left Hand of Darkness'.", "Try Dune."],
    },
    {
        "prompt_id": "p-override",
        "prompt": "Tell me a joke.",
        "domain": "reasoning",
        "responses": ["Why did the chicken cross the road?", "No."],
    },
    {"prompt_id": "single-1", "prompt": "Write an email to my landlord.", "response": "Dear landlord, ..."},
    {"prompt_id": "single-1", "prompt": "Write an email to my landlord.", "response": "no"},
    {"prompt": "What is the capital of France?", "response": "Paris."},
    {"prompt": "What is the capital of France?", "response": "London."},
]
N_GOOD_CANDIDATES = 3 + 3 + 4 + 2 + 2 + 2

BAD = [  # (line, expected reason fragment, unit)
    ("{not json", "invalid JSON", "record"),
    (b'{"prompt": "caf\xe9", "responses": ["x"]}', "invalid UTF-8", "record"),
    ({"responses": ["a", "b"]}, "missing 'prompt'", "record"),
    ({"prompt": "hi", "responses": "a"}, "must be a list of strings", "record"),
    ({"prompt": [{"role": "wizard", "content": "x"}], "responses": ["a"]}, "unknown role", "record"),
    ({"prompt": [{"role": "user", "content": ["x"]}], "responses": ["a"]}, "content must be a string", "record"),
    ({"prompt": "hi", "responses": ["a"], "domain": "astrology"}, "unknown domain 'astrology'", "record"),
    # the empty response comes first: the kept one must keep its input position (1), not be renumbered
    ({"prompt_id": "p-empty", "prompt": "Say something.", "responses": ["   ", "ok"]}, "empty response", "candidate"),
    (
        {"prompt_id": "p-math", "prompt": "A different prompt!", "response": "x"},
        "duplicate prompt_id 'p-math'",
        "candidate",
    ),
    (
        {"prompt_id": "p-long", "prompt": "Go on.", "responses": ["short", LONG]},
        "exceeds --max-tokens 1500",
        "candidate",
    ),
]


def _corpus(tmp_path: Path) -> list[str]:
    main = write_jsonl(tmp_path / "corpus.jsonl", GOOD + [b for b, _, _ in BAD])
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    return [str(main), str(empty)]


def _read(out: Path, table: str) -> pa.Table:
    return ds.dataset(out / table, format="parquet", partitioning="hive").to_table()


def _dead(out: Path) -> list[dict]:
    rows = []
    for f in sorted((out / "dead_letter" / f"run_date={RUN_DATE}").glob("*.jsonl")):
        rows += [json.loads(line) for line in f.read_text().splitlines() if line]
    return rows


def _annotate(tmp_path, inputs, out, strong, weak, *extra) -> int:
    return run(
        [
            "--input",
            *inputs,
            "--output",
            str(out),
            "--strong",
            str(strong),
            "--weak",
            str(weak),
            "--run-date",
            RUN_DATE,
            "--max-tokens",
            "1500",
            "--batch-tokens",
            "4096",
            *BAD_ON_PURPOSE,
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def direct_run(tmp_path_factory, chatml_strong, chatml_weak):
    tmp = tmp_path_factory.mktemp("direct")
    out = tmp / "out"
    rc = _annotate(tmp, _corpus(tmp), out, chatml_strong, chatml_weak, "--router", "keyword")
    return rc, tmp, out


def test_counts_reconcile_and_every_bad_record_is_dead_lettered(direct_run):
    rc, _, out = direct_run
    assert rc == 0
    manifest = json.loads((out / "manifests" / f"run_date={RUN_DATE}.json").read_text())
    c = manifest["counts"]
    dead = _dead(out)
    n_bad_records = sum(1 for _, _, u in BAD if u == "record") + 1  # + the empty file
    assert c["records_dead_lettered"] == n_bad_records
    assert c["records_in"] == len(GOOD) + len(BAD) + 1
    scores = _read(out, "scores")
    assert scores.num_rows == c["candidates_scored"]
    # good candidates + the good halves of p-empty and p-long + p-math's original 3
    assert c["candidates_scored"] == N_GOOD_CANDIDATES + 2
    assert c["candidates_in"] == c["candidates_scored"] + c["candidates_dead_lettered"]
    assert c["reconciled"] is True
    assert len(dead) == c["records_dead_lettered"] + c["candidates_dead_lettered"]
    reasons = [d["reason"] for d in dead]
    for _, fragment, _ in BAD:
        assert sum(fragment in r for r in reasons) == 1, (fragment, reasons)
    assert any("input file is empty" in r for r in reasons)
    for d in dead:
        assert d["stage"] and d["source"] and d["run_date"] == RUN_DATE
    assert manifest["guides"] == {g.id: g.version for g in load_guides().values()}


def test_rewards_in_the_output_equal_the_naive_definition(direct_run, chatml_strong, chatml_weak):
    _, _, out = direct_run
    rows = _read(out, "scores").to_pylist()
    guides = load_guides()
    ms = AutoModelForCausalLM.from_pretrained(chatml_strong, dtype=torch.float32).eval()
    mw = AutoModelForCausalLM.from_pretrained(chatml_weak, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(chatml_strong)
    for row in rows:
        msgs = guided_messages(guides[row["guide_id"]], row["prompt"])
        ls, ns = naive_logp(ms, tok, msgs, row["response"])
        lw, nw = naive_logp(mw, tok, msgs, row["response"])
        assert abs(row["logp_strong"] - ls) <= 1e-4 and abs(row["logp_weak"] - lw) <= 1e-4
        assert abs(row["reward"] - (ls - lw)) <= 2e-4
        assert abs(row["reward_mean"] - (ls / ns - lw / nw)) <= 2e-4
        assert row["guide_version"] == guides[row["guide_id"]].version
    by_id = {r["prompt_id"]: r for r in rows}
    assert by_id["p-override"]["domain"] == "reasoning" and by_id["p-override"]["router_confidence"] == 1.0
    assert by_id["p-weapon"]["domain"] == "safety"  # keyword router
    hashed = [r for r in rows if r["prompt_id"].startswith("h-")]
    assert len(hashed) == 2 and len({r["prompt_id"] for r in hashed}) == 1  # grouped by prompt hash
    single = sorted((r["source"].rsplit(":", 1)[1], r["response_index"]) for r in rows if r["prompt_id"] == "single-1")
    assert single == [("5", 0), ("6", 0)]  # one-response rows: their own lines, position 0 in each


def _input_candidate(source: str, index: int) -> str:
    """The response an output row claims to come from, read straight from the input file."""
    path, line = source.rsplit(":", 1)
    raw = Path(path).read_bytes().splitlines()[int(line) - 1]
    rec = json.loads(raw)
    return rec["responses"][index] if "responses" in rec else [rec["response"]][index]


def test_every_output_row_traces_to_its_input_line_and_position(direct_run):
    """(source, response_index) is the same thing in scores, pairs and dead letters: the input list position."""
    _, _, out = direct_run
    for row in _read(out, "scores").to_pylist():
        assert _input_candidate(row["source"], row["response_index"]) == row["response"]
    pairs = _read(out, "pairs").to_pylist()
    assert pairs
    for p in pairs:
        assert _input_candidate(p["chosen_source"], p["chosen_response_index"]) == p["chosen"][0]["content"]
        assert _input_candidate(p["rejected_source"], p["rejected_response_index"]) == p["rejected"][0]["content"]
    traced = [d for d in _dead(out) if "response_index" in d and d["source"].rsplit(":", 1)[-1].isdigit()]
    assert {d["reason"].split(" (")[0] for d in traced} >= {"empty response"}
    for d in traced:
        assert _input_candidate(d["source"], d["response_index"]) == d["record"]["response"]
    kept = [r["response_index"] for r in _read(out, "scores").to_pylist() if r["prompt_id"] == "p-empty"]
    assert kept == [1]
    (long_dead,) = [d for d in _dead(out) if "max-tokens" in d["reason"]]
    assert long_dead["response_index"] == 1  # the same numbering as the input list, not a renumbering


def test_pairs_are_partitioned_readable_and_trl_shaped(direct_run):
    _, _, out = direct_run
    pairs = _read(out, "pairs")
    scores = _read(out, "scores").to_pylist()
    manifest = json.loads((out / "manifests" / f"run_date={RUN_DATE}.json").read_text())
    assert {p.name for p in (out / "pairs" / f"run_date={RUN_DATE}").iterdir()} == {
        f"domain={d}" for d in manifest["counts"]["pairs_by_domain"]
    }
    assert pairs.num_rows == sum(manifest["counts"]["pairs_by_domain"].values())
    by_prompt = {}
    for s in scores:
        by_prompt.setdefault(s["prompt_id"], []).append(s)
    for p in pairs.to_pylist():
        cands = by_prompt[p["prompt_id"]]
        best = max(cands, key=lambda c: c["reward"])
        worst = min(cands, key=lambda c: c["reward"])
        assert p["chosen"] == [{"role": "assistant", "content": best["response"]}]
        assert p["rejected"] == [{"role": "assistant", "content": worst["response"]}]
        assert p["margin"] == pytest.approx(best["reward"] - worst["reward"]) and p["margin"] > 0
        assert p["n_candidates"] == len(cands) and p["run_date"] == RUN_DATE
        assert p["prompt"][-1]["role"] == "user"
    # every prompt with >= 2 distinct candidates made a pair (rewards never tie here)
    assert pairs.num_rows == sum(1 for c in by_prompt.values() if len({x["response"] for x in c}) > 1)
    math_pair = next(p for p in pairs.to_pylist() if p["prompt_id"] == "p-math")
    assert json.loads(math_pair["metadata"]) == {"src": "t"}

    import duckdb

    n = duckdb.sql(
        f"select count(*) from read_parquet('{out}/pairs/**/*.parquet', hive_partitioning=true) "
        f"where run_date = '{RUN_DATE}'"
    ).fetchall()[0][0]
    assert n == pairs.num_rows
    from datasets import load_dataset

    data = load_dataset("parquet", data_files=str(out / "pairs" / "**" / "*.parquet"), split="train")
    assert data.num_rows == pairs.num_rows
    row = data[0]
    assert row["chosen"][0]["role"] == "assistant" and isinstance(row["prompt"], list)


def test_rerunning_a_date_replaces_it(direct_run, chatml_strong, chatml_weak):
    _, tmp, out = direct_run
    before = _read(out, "scores").num_rows
    files_before = sorted(p.name for p in (out / "scores").rglob("*.parquet"))
    assert _annotate(tmp, _corpus(tmp), out, chatml_strong, chatml_weak, "--router", "keyword") == 0
    assert _read(out, "scores").num_rows == before
    assert sorted(p.name for p in (out / "scores").rglob("*.parquet")) == files_before
    assert not (out / "_staging").exists()


def _assert_same_rows(out_a: Path, out_b: Path, table: str) -> None:
    """Same rows; values equal to float32 batching noise (batches differ across runners)."""

    def rows(out):
        key = ("prompt_id", "response_index") if table == "scores" else ("prompt_id", "chosen", "rejected")
        got = {tuple(str(r[k]) for k in key): r for r in _read(out, table).to_pylist()}
        return got

    a, b = rows(out_a), rows(out_b)
    assert a.keys() == b.keys()
    field = "reward" if table == "scores" else "margin"
    for k in a:
        assert abs(a[k][field] - b[k][field]) <= 1e-4


def test_multiprocess_direct_runner_gives_the_same_rows(direct_run, tmp_path, chatml_strong, chatml_weak):
    _, tmp, out = direct_run
    out2 = tmp_path / "mp"
    rc = _annotate(
        tmp,
        _corpus(tmp),
        out2,
        chatml_strong,
        chatml_weak,
        "--router",
        "keyword",
        "--direct_running_mode=multi_processing",
        "--direct_num_workers=2",
    )
    assert rc == 0
    _assert_same_rows(out2, out, "scores")
    _assert_same_rows(out2, out, "pairs")
    assert len(_dead(out2)) == len(_dead(out))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_portable_runner_with_local_job_service(direct_run, tmp_path, chatml_strong, chatml_weak):
    """The portable path Flink and Dataflow Runner v2 use: job service + LOOPBACK workers."""
    _, tmp, out = direct_run
    port = _free_port()
    service = subprocess.Popen(
        [sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main", f"--port={port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:  # wait for the job service; fail, never carry on, if it does not come up
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert service.poll() is None, f"job service exited with {service.returncode}"
            assert time.monotonic() < deadline, f"job service did not listen on port {port} within 60 s"
            time.sleep(0.2)
        out3 = tmp_path / "portable"
        rc = _annotate(
            tmp,
            _corpus(tmp),
            out3,
            chatml_strong,
            chatml_weak,
            "--router",
            "keyword",
            "--runner=PortableRunner",
            f"--job_endpoint=localhost:{port}",
            "--environment_type=LOOPBACK",
        )
        assert rc == 0
        _assert_same_rows(out3, out, "scores")
        _assert_same_rows(out3, out, "pairs")
    finally:
        service.terminate()
        service.wait(timeout=30)


def test_llm_router_default_and_parquet_input(tmp_path, chatml_strong, chatml_weak):
    rows = [json.loads(line) for line in SAMPLE_CORPUS.read_text().splitlines()[:6]]
    for r in rows:
        r["metadata"] = json.dumps(r["metadata"])
        if isinstance(r["prompt"], str):
            r["prompt"] = [{"role": "user", "content": r["prompt"]}]
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=2)  # 3 row groups -> 3 read units
    pq.write_table(pa.table({"text": ["a", "b"]}), tmp_path / "wrong.parquet")
    # Prompts only: a valid schema (for --generate); without it, a per-record parse reason.
    pq.write_table(pa.table({"prompt": ["Name a prime above 90."]}), tmp_path / "prompts.parquet")
    out = tmp_path / "out"
    rc = _annotate(tmp_path, [str(tmp_path / "*.parquet")], out, chatml_strong, chatml_weak)  # --router llm
    assert rc == 0
    scores = _read(out, "scores").to_pylist()
    assert len(scores) == sum(len(r["responses"]) for r in rows)
    # Softmax over the three labels: the winner's probability is at least 1/3; below the 0.5
    # threshold the prompt falls back to the default domain (chat).
    assert all(1 / 3 - 1e-9 <= s["router_confidence"] <= 1.0 for s in scores)
    assert all(s["domain"] == "chat" for s in scores if s["router_confidence"] < 0.5)
    per_prompt = {}
    for s in scores:
        per_prompt.setdefault(s["prompt_id"], set()).add(s["router_confidence"])
    assert all(len(v) == 1 for v in per_prompt.values())  # one routing decision per prompt
    assert {s["domain"] for s in scores} <= {"chat", "safety", "reasoning"}
    dead = _dead(out)
    schema_dead = [d for d in dead if "Parquet schema lacks the required column 'prompt'" in d["reason"]]
    assert len(schema_dead) == 2 and all(d["source"].startswith(str(tmp_path / "wrong.parquet")) for d in schema_dead)
    (prompt_only,) = [d for d in dead if d not in schema_dead]
    assert prompt_only["stage"] == "parse" and "--generate" in prompt_only["reason"]


def test_unguided_run_with_column_router(tmp_path, chatml_strong, chatml_weak):
    plain = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"prompt_id": "labelled", "prompt": "Tell me more.", "responses": ["a", "bb", "ccc"], "domain": "safety"},
            {"prompt_id": "unlabelled", "prompt": "Tell me more.", "responses": ["a", "bb", "ccc"]},
        ],
    )
    corpus = tmp_path / "c.jsonl.gz"  # gzip is detected from the extension
    corpus.write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    out = tmp_path / "out"
    rc = _annotate(
        tmp_path,
        [str(corpus)],
        out,
        chatml_strong,
        chatml_weak,
        "--guides",
        "none",
        "--router",
        "column",
        "--pairing",
        "all",
    )
    assert rc == 0
    scores = _read(out, "scores").to_pylist()
    assert {(s["domain"], s["guide_id"]) for s in scores} == {("safety", "none"), ("chat", "none")}
    # Unguided means no guide text at all: the same conversation and response score the
    # same whichever domain the record is filed under.
    by = {(s["prompt_id"], s["response"]): s["reward"] for s in scores}
    assert len(by) == 6
    for response in ("a", "bb", "ccc"):
        assert by[("labelled", response)] == pytest.approx(by[("unlabelled", response)], abs=1e-6)
    assert len(_read(out, "pairs")) == 6  # --pairing all: 3 pairs per prompt (rewards differ)


HOSTILE_DOMAINS = ["..", "../../../../tmp/x", "x/y", "a=b", "100%", "with space", "sécurité", "安全"]


def test_domain_labels_are_data_not_paths(tmp_path, chatml_strong, chatml_weak):
    """Any label a corpus carries reads back unchanged, and none decides where files go."""
    long_label = "z" * 1000
    records = [
        {"prompt_id": f"p{i}", "prompt": f"Question {i}?", "responses": ["yes", "no, not at all"], "domain": d}
        for i, d in enumerate([*HOSTILE_DOMAINS, long_label])
    ]
    corpus = write_jsonl(tmp_path / "corpus.jsonl", records)
    out = tmp_path / "out"
    rc = _annotate(tmp_path, [str(corpus)], out, chatml_strong, chatml_weak, "--guides", "none", "--router", "column")
    assert rc == 0

    # Nothing outside the output root (the corpus aside), one domain=... folder level per partition.
    for d, _, files in os.walk(tmp_path):
        for name in files:
            f = Path(d) / name
            assert f == corpus or f.resolve().is_relative_to(out.resolve()), f
            if f.suffix == ".parquet":
                assert f.parent.name.startswith("domain=") and f.parent.parent.name == f"run_date={RUN_DATE}", f
    scores, pairs = _read(out, "scores").to_pylist(), _read(out, "pairs").to_pylist()
    assert sorted({s["domain"] for s in scores}) == sorted(HOSTILE_DOMAINS)
    assert {(s["prompt_id"], s["domain"]) for s in scores} == {(f"p{i}", d) for i, d in enumerate(HOSTILE_DOMAINS)}
    assert sorted(p["domain"] for p in pairs) == sorted(HOSTILE_DOMAINS)  # one pair per prompt

    import duckdb

    got = duckdb.sql(
        "select prompt_id, domain, cast(run_date as varchar) "
        f"from read_parquet('{out}/scores/**/*.parquet', hive_partitioning=true)"
    ).fetchall()
    assert sorted(got) == sorted((s["prompt_id"], s["domain"], RUN_DATE) for s in scores)

    manifest = json.loads((out / "manifests" / f"run_date={RUN_DATE}.json").read_text())
    c = manifest["counts"]
    assert c["records_in"] == len(records) and c["records_dead_lettered"] == 1
    assert c["candidates_in"] == 2 * len(HOSTILE_DOMAINS) == c["candidates_scored"] + c["candidates_dead_lettered"]
    assert c["candidates_scored"] == len(scores) and c["reconciled"] is True
    assert c["scored_by_domain"] == {d: 2 for d in HOSTILE_DOMAINS}
    (dead,) = _dead(out)
    assert dead["stage"] == "parse" and dead["source"] == f"{corpus}:{len(records)}"
    assert "too long for a partition folder" in dead["reason"] and "1000 characters" in dead["reason"]
    assert dead["record"]["domain"] == long_label


@pytest.mark.parametrize(
    "args, message",
    [
        (["--input", "/nonexistent/*.jsonl"], "--input matched no files"),
        (["--strong", "/nonexistent/model"], "model path not found"),
        (["--guides", "/nonexistent/guides"], "guide directory not found"),
        (["--bogus-flag", "1"], "unknown flag(s): --bogus-flag"),
        (["--run-date", "2026-13-45"], "must be a valid date"),
        (["--guides", "none", "--default-domain", "d" * 300], "--default-domain: 'domain' label too long"),
        (["--default-domain", "cooking"], "has no guide"),
    ],
)
def test_user_errors_are_one_clear_line(tmp_path, capsys, chatml_strong, chatml_weak, args, message):
    corpus = write_jsonl(tmp_path / "c.jsonl", GOOD[:1])
    base = {
        "--input": str(corpus),
        "--output": str(tmp_path / "o"),
        "--strong": str(chatml_strong),
        "--weak": str(chatml_weak),
    }
    argv = []
    overridden = {args[0]} if args[0] in base else set()
    for k, v in base.items():
        if k not in overridden:
            argv += [k, v]
    rc = run(argv + args)
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_trl_dpo_trainer_accepts_the_pairs(direct_run, tmp_path, chatml_strong):
    """The pairs table is TRL's conversational preference format: DPOTrainer trains on it and learns it.

    At step 0 the policy equals the reference, so the loss is log 2 whatever the data; what
    shows the columns were read as preferences is that a few steps lower the loss and open a
    positive margin between the chosen and rejected rewards on the training pairs.
    """
    import trl  # a test extra: missing, it must fail, not skip
    from datasets import load_dataset

    _, _, out = direct_run
    data = load_dataset("parquet", data_files=str(out / "pairs" / "**" / "*.parquet"), split="train")
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(chatml_strong)
    tokenizer = AutoTokenizer.from_pretrained(chatml_strong)
    args = trl.DPOConfig(
        output_dir=str(tmp_path / "dpo"), per_device_train_batch_size=4, max_steps=12, learning_rate=1e-3,
        logging_steps=1, report_to=[], save_strategy="no", use_cpu=True, seed=0,
    )  # fmt: skip
    trainer = trl.DPOTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
    result = trainer.train()
    logs = [e for e in trainer.state.log_history if "loss" in e and "rewards/margins" in e]
    assert result.global_step == 12 and len(logs) == 12
    assert logs[0]["loss"] == pytest.approx(0.6931, abs=1e-3)  # log 2: policy == reference
    late = logs[-4:]
    assert max(e["loss"] for e in late) < 0.6931 - 0.05, [e["loss"] for e in logs]
    assert min(e["rewards/margins"] for e in late) > 0, [e["rewards/margins"] for e in logs]
