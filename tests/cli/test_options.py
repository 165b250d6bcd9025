"""The option table is the one declaration of every run parameter: the CLI, the engine's
check names, the panel and the saved settings are derived from it and agree with it."""

from __future__ import annotations

import argparse
import dataclasses

from progdemix_tui.cli import tui as tui_cli
from progdemix_tui.cli.common import add_loop_arguments, add_model_arguments, config_from_args
from progdemix_tui.engine.config import (
    DEFAULT_MODEL,
    AdaptiveConfig,
    RunConfig,
    SeparatorConfig,
)
from progdemix_tui.engine.options import (
    FIELD_NAMES,
    OPTION,
    OPTIONS,
    PANEL,
    field_default,
    run_config,
)
from progdemix_tui.tui.run_plan import parse
from progdemix_tui.tui.settings import DEFAULTS
from progdemix_tui.tui.widgets.param_panel import NAMES


def _run_parser() -> argparse.ArgumentParser:
    from progdemix_tui.cli import build_parser

    commands = next(a for a in build_parser()._actions
                    if isinstance(a, argparse._SubParsersAction))
    return commands.choices["run"]


def _leaf_fields(cls: type, prefix: str = "") -> set[str]:
    """Every leaf field path of a config dataclass (``"separator.overlap"``…)."""
    nested = {"adaptive": AdaptiveConfig, "separator": SeparatorConfig}
    out: set[str] = set()
    for f in dataclasses.fields(cls):
        if f.name in nested:
            out |= _leaf_fields(nested[f.name], f"{f.name}.")
        else:
            out.add(prefix + f.name)
    return out


def test_every_config_field_has_exactly_one_option():
    fields = [option.field for option in OPTIONS if option.field]
    assert len(fields) == len(set(fields))
    assert set(fields) == _leaf_fields(RunConfig)


def test_option_defaults_are_the_engines():
    for option in OPTIONS:
        if option.field and option.name != "adaptive_k":  # 0 = adaptive β off
            assert option.default == field_default(option.field), option.name
    assert OPTION["model"].default == DEFAULT_MODEL
    assert run_config({}) == RunConfig()


def test_every_flag_is_on_the_command_line_with_the_tables_default():
    run = _run_parser()
    actions = {a.dest: a for a in run._actions}
    for option in OPTIONS:
        if option.group in ("loop", "model", "io"):
            action = actions[option.name]
            assert tuple(action.option_strings) == option.flags + option.demucs_flags
            assert action.default == option.default, option.name
            assert action.help == option.help_text
            assert "{" not in action.help
            assert tuple(action.choices or ()) == (() if option.open_choices else option.choices)
    # and nothing besides the rows in the shared groups
    titles = {"progressive inference": "loop", "model and device": "model"}
    for group in run._action_groups:
        if group.title in titles:
            assert [a.dest for a in group._group_actions] == [
                o.name for o in OPTIONS if o.group == titles[group.title]]
    args = run.parse_args(["song.wav"])
    assert config_from_args(args) == RunConfig()


def test_the_cli_builds_the_config_from_every_option():
    parser = argparse.ArgumentParser()
    add_loop_arguments(parser)
    add_model_arguments(parser)
    args = parser.parse_args([
        "--target", "bass", "--steps", "3", "--mode", "add-sources", "--schedule", "cosine",
        "--beta-max", "0.5", "--adaptive", "2", "--adaptive-score", "oracle",
        "--adaptive-chunk", "0.5", "--early-stop", "30", "--wiener", "--loudness-match",
        "--no-clip-guard", "--model", "demo", "--repo", "r", "--trust-checkpoint",
        "--device", "cpu", "--half", "--segment", "4", "--overlap", "0.5", "--shifts", "2",
        "--seed", "7"])
    assert config_from_args(args) == RunConfig(
        target="bass", steps=3, mode="add-sources", schedule="cosine", beta_max=0.5,
        adaptive=AdaptiveConfig(2, "oracle", 0.5), early_stop_db=30.0, wiener=True,
        loudness_match=True, clip_guard=False,
        separator=SeparatorConfig(model="demo", repo="r", trust_checkpoint=True, device="cpu",
                                  segment=4.0, overlap=0.5, shifts=2, precision="fp16", seed=7))


def test_the_tui_command_line_takes_model_and_out_from_the_table():
    actions = {a.dest: a for a in tui_cli.build_parser()._actions}
    assert tuple(actions["model"].option_strings) == OPTION["model"].flags
    assert tuple(actions["out"].option_strings) == OPTION["out"].flags
    assert actions["model"].default is None and actions["out"].default is None
    assert tuple(actions["threads"].option_strings) == OPTION["threads"].flags
    assert tuple(actions["cache"].option_strings) == OPTION["cache"].flags
    assert set(tui_cli.TUI_OPTIONS) == {"--model", "--out", "--session", "--audio-device",
                                        "--threads", "--no-cache"}


def test_the_panel_and_the_settings_are_the_tables_panel_rows():
    assert tuple(DEFAULTS) == NAMES == tuple(option.name for option in PANEL)
    for option in PANEL:
        assert DEFAULTS[option.name] == option.panel_value
        assert isinstance(DEFAULTS[option.name], bool) == (option.kind == "flag")
    plan = parse(dict(DEFAULTS))
    assert not isinstance(plan, dict)
    assert plan.config == RunConfig()  # the panel's defaults are the engine's


def test_validate_names_are_the_tables():
    assert set(FIELD_NAMES) == {o.field for o in OPTIONS if o.checked_as}
    assert list(FIELD_NAMES) == [  # in --help order, as validate() always named them
        "target", "steps", "mode", "schedule", "beta_max", "preset", "adaptive.candidates",
        "adaptive.score", "adaptive.chunk_seconds", "early_stop_db", "separator.device",
        "separator.precision", "separator.segment", "separator.overlap", "separator.shifts",
        "separator.batch_chunks"]
