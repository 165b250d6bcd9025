"""RunConfig's checks: every invalid value is named, in one line, with the CLI's names."""

from __future__ import annotations

import pytest

from progdemix_tui.engine.config import AdaptiveConfig, RunConfig, SeparatorConfig
from progdemix_tui.engine.errors import ConfigError


def test_defaults_are_valid():
    assert RunConfig().problems() == {}
    assert RunConfig().validate() == RunConfig()


def test_every_invalid_value_is_reported_once():
    config = RunConfig(
        target="kazoo", steps=-1, mode="sideways", schedule="random", beta_max=float("nan"),
        adaptive=AdaptiveConfig(0, "psychic", 0.0), early_stop_db=0.0,  # type: ignore[arg-type]
        separator=SeparatorConfig(device="gpu", segment=0.05, overlap=1.0, shifts=21))
    assert set(config.problems()) == {
        "target", "steps", "mode", "schedule", "beta_max", "adaptive.candidates",
        "adaptive.score", "adaptive.chunk_seconds", "early_stop_db", "separator.device",
        "separator.segment", "separator.overlap", "separator.shifts"}
    with pytest.raises(ConfigError) as info:
        config.validate()
    line = str(info.value)
    assert "\n" not in line and line.endswith(".")
    assert "beta-max must be a finite number, not nan" in line
    assert "device must be auto, cpu, cuda, cuda:N or mps, not 'gpu'" in line


@pytest.mark.parametrize("device", ["auto", "cpu", "CUDA", "cuda:1", "mps"])
def test_device_spellings(device):
    assert RunConfig(separator=SeparatorConfig(device=device)).problems() == {}


def test_target_is_checked_against_the_models_sources():
    config = RunConfig(target="guitar")
    assert "target" in config.problems()
    assert config.problems(("drums", "bass", "other", "vocals", "guitar", "piano")) == {}
