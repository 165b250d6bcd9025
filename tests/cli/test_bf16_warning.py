"""--precision bf16 on a CPU without native bf16 says so before the run, with the factor a
short probe measured (PROGDEMIX_BF16_FACTOR stands in for the probe, so both outcomes are
tested on any CPU; the probe itself runs for real once)."""

from __future__ import annotations

import math

import pytest
import torch

from progdemix_tui.cli import main
from progdemix_tui.engine.errors import ConfigError
from progdemix_tui.engine.precision import (
    BF16_FACTOR_ENV,
    bf16_cpu_factor,
    slow_bf16_warning,
)

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def fresh_probe():
    bf16_cpu_factor.cache_clear()
    yield
    bf16_cpu_factor.cache_clear()


def test_the_probe_measures_this_cpu(monkeypatch):
    monkeypatch.delenv(BF16_FACTOR_ENV, raising=False)
    factor = bf16_cpu_factor()
    assert math.isfinite(factor) and factor > 0
    warning = slow_bf16_warning("bf16", CPU)
    assert (warning is None) == (factor <= 1.5)


@pytest.mark.parametrize(("factor", "warns"), [("36", True), ("1.6", True), ("1.4", False),
                                               ("0.5", False)])
def test_the_warning_follows_the_measured_factor(monkeypatch, factor, warns):
    monkeypatch.setenv(BF16_FACTOR_ENV, factor)
    warning = slow_bf16_warning("bf16", CPU)
    if warns:
        assert warning is not None and f"{float(factor):.1f}x slower" in warning
        assert "--precision fp32 or auto" in warning and "\n" not in warning
    else:
        assert warning is None


def test_no_warning_but_for_bf16_on_the_cpu(monkeypatch):
    monkeypatch.setenv(BF16_FACTOR_ENV, "36")
    assert slow_bf16_warning("fp32", CPU) is None
    assert slow_bf16_warning("bf16", torch.device("cuda")) is None


def test_a_bad_override_is_a_config_error(monkeypatch):
    monkeypatch.setenv(BF16_FACTOR_ENV, "fast")
    with pytest.raises(ConfigError, match=BF16_FACTOR_ENV):
        bf16_cpu_factor()


@pytest.fixture
def run(monkeypatch, capsys):
    """``run`` through the CLI in this process, the probe's factor set; its exit code and
    stderr (what the warning is about is the order of the lines there)."""

    def call(track, model, precision: str, factor: str) -> tuple[int, str]:
        monkeypatch.setenv(BF16_FACTOR_ENV, factor)
        bf16_cpu_factor.cache_clear()
        capsys.readouterr()
        code = main(["run", str(track), "--model", str(model), "--device", "cpu",
                     "--precision", precision, "--steps", "0", "--no-cache", "--out",
                     str(track.parent / "s"), "--overwrite"])
        return code, capsys.readouterr().err

    return call


def test_the_cli_warns_in_one_line_before_the_run(track, tiny_model_path, run):
    code, stderr = run(track, tiny_model_path, "bf16", "36.2")
    assert code == 0, stderr
    lines = stderr.splitlines()
    warning = [n for n, line in enumerate(lines) if line.startswith("warning: bf16")]
    started = [n for n, line in enumerate(lines) if line.startswith("model ")]
    assert len(warning) == 1 and warning[0] < started[0]
    assert "36.2x slower than fp32" in lines[warning[0]]
    assert "--precision fp32 or auto" in lines[warning[0]]
    code, stderr = run(track, tiny_model_path, "bf16", "0.6")
    assert code == 0 and "warning: bf16" not in stderr
    code, stderr = run(track, tiny_model_path, "fp32", "36.2")
    assert code == 0 and "warning: bf16" not in stderr
