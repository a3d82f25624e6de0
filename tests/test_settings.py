"""The settings layer: every flag declared once, and the CLI, the Beam options, the config and the
manifest generated from that one declaration; the one model rule every command follows."""

from __future__ import annotations

import argparse
import dataclasses
import logging

import pytest

from beam_pipeline import config as config_module
from beam_pipeline.config import AnnotateConfig
from beam_pipeline.evaluate import EVALUATE, EvaluateConfig
from beam_pipeline.launch import parse_command
from beam_pipeline.options import AnnotateOptions
from beam_pipeline.run import ANNOTATE
from beam_pipeline.settings import (
    GROUPS,
    ConfigError,
    PairChoice,
    check_flags,
    flag_fields,
    flag_names,
    flag_values,
    option_name,
)
from beam_pipeline.sweep import SWEEP, SweepConfig
from tests.conftest import write_jsonl
from transforms.engine.model_registry import load_registry


def _actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.dest: a for a in parser._actions if a.option_strings and a.dest != "help"}


@pytest.mark.parametrize("command", [ANNOTATE, EVALUATE, SWEEP], ids=lambda c: c.name)
def test_each_command_has_exactly_its_config_flags_with_their_declared_default_and_help(command):
    actions = _actions(command.parser())
    actions.pop("verbose")
    fields = {f.name: f for f in flag_fields(command.config_cls)}
    assert set(actions) == set(fields)
    for name, f in fields.items():
        a = actions[name]
        assert a.option_strings == [option_name(name)]
        assert a.help == f.metadata["gdr_flag"].help
        assert a.default == (False if isinstance(a, argparse._StoreTrueAction) else f.default)


def test_flags_are_declared_once_across_groups():
    names = [f.name for g in GROUPS for f in flag_fields(g)]
    assert len(names) == len(set(names)), "a flag declared in two groups"
    # Every group is used by some command, and every command's flags come from groups only.
    used = {g for cls in (AnnotateConfig, EvaluateConfig, SweepConfig) for g in GROUPS if issubclass(cls, g)}
    assert used == set(GROUPS)


def test_beam_options_carry_annotates_flags():
    opts = AnnotateOptions(["--input", "a.jsonl", "--router-threshold", "0.7", "--generate", "4", "--runner", "X"])
    seen = opts.get_all_options(drop_default=True)
    assert seen["input"] == ["a.jsonl"] and seen["router_threshold"] == 0.7 and seen["generate"] == 4


def test_config_from_the_command_line_and_back_into_the_manifest():
    argv = ["--input", "x.jsonl", "--output", "o", "--pair", "p", "--min-margin", "0.5", "--top-up", "--runner", "R"]
    config, beam_args = parse_command(ANNOTATE, argv)
    assert isinstance(config, AnnotateConfig)
    assert (config.input, config.output, config.pair, config.min_margin, config.top_up) == (
        ["x.jsonl"],
        "o",
        "p",
        0.5,
        True,
    )
    assert config.reward is None and config.router == "embedding"  # declared defaults (reward: resolved later)
    assert beam_args == argv  # annotate's job options carry the app flags too
    values = flag_values(config)
    assert set(values) == set(flag_names(AnnotateConfig)) and values["min_margin"] == 0.5
    config, beam_args = parse_command(EVALUATE, ["--input", "x.jsonl", "--output", "o", "--runner", "R"])
    assert beam_args == ["--runner", "R"] and config.task == "pairs"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"router_threshold": 1.5}, "--router-threshold must be between 0 and 1"),
        ({"reward": "median"}, "--reward must be one of sum, mean"),
        ({"max_dead_letter_fraction": -0.1}, "--max-dead-letter-fraction must be between 0 and 1"),
        ({"run_date": "2026-13-01"}, "--run-date must be a valid date"),
        ({"output_shards": 0}, "--output-shards must be 'auto' or a positive integer"),
        ({"top_p": 0.0}, "--top-p must be in (0, 1]"),
        ({"max_tokens": 1}, "--max-tokens must be >= 2"),
    ],
)
def test_per_flag_checks_name_the_flag(changes, message):
    config = dataclasses.replace(AnnotateConfig(input=["x"], output="o"), **changes)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        check_flags(config)


def test_no_model_given_means_the_registry_default_pair(monkeypatch):
    registry = load_registry()
    assert registry.default_pair in registry.pairs
    monkeypatch.setattr(config_module, "default_pair", lambda: "qwen-0.5b-over-gemma-270m")
    chosen = PairChoice()
    chosen.choose_models()
    assert (chosen.strong, chosen.weak) == ("qwen2.5-coder-0.5b-instruct", "gemma-3-270m")
    assert "default pair qwen-0.5b-over-gemma-270m" in chosen.models_line()
    # --pair fills both; --strong overrides one member; one model alone is an error.
    named = PairChoice(pair="qwen-0.5b-over-gemma-270m", strong="/my/strong")
    named.choose_models()
    assert (named.strong, named.weak, named.default_pair_used) == ("/my/strong", "gemma-3-270m", None)
    with pytest.raises(ConfigError, match="give --pair NAME or both --strong and --weak"):
        PairChoice(weak="/only/weak").choose_models()
    optional = PairChoice()
    optional.choose_models(required=False)  # the keyword router task needs no model
    assert optional.strong is None


def test_reward_defaults_to_the_pairs_measured_best_and_the_flag_wins():
    registry = load_registry()
    default = registry.pair(registry.default_pair)
    assert default.reward in ("sum", "mean")
    # A run with the default pair repeats what the pair measured (manifest, summary, report).
    assert "held-out" in default.measured and config_module.pair_measured(registry.default_pair) == default.measured
    assert config_module.pair_measured(None) is None
    chosen = AnnotateConfig(input=["x"], output="o")
    chosen.choose_reward(registry.default_pair)
    assert chosen.reward == default.reward
    given = AnnotateConfig(input=["x"], output="o", reward="sum")
    given.choose_reward(registry.default_pair)
    assert given.reward == "sum"
    no_record = AnnotateConfig(input=["x"], output="o")
    no_record.choose_reward(None)  # --strong/--weak: the paper's summed ratio
    assert no_record.reward == "sum" and no_record.reward_key == "reward"


def test_the_first_log_line_names_the_models(tmp_path, caplog, chatml_strong, chatml_weak):
    from beam_pipeline.evaluate import run as evaluate

    labelled_file = write_jsonl(
        tmp_path / "pairs.jsonl",
        [{"prompt": "Is 7 prime?", "chosen": "Yes.", "rejected": "No.", "domain": "reasoning"}],
    )
    args = ["--input", str(labelled_file), "--output", str(tmp_path / "o"), "--router", "keyword"]
    with caplog.at_level(logging.INFO, logger="gdr"):
        assert evaluate([*args, "--strong", str(chatml_strong), "--weak", str(chatml_weak)]) == 0
    first = next(r.getMessage() for r in caplog.records if r.name == "gdr")
    assert first.startswith("gdr evaluate: strong=") and str(chatml_weak) in first
