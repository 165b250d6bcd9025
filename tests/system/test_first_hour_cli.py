"""Issue "First hour", the commands' part: words that say what they mean (subprocesses of
the real CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HANG_TIMEOUT

from progdemix_tui.engine.threads import available_cpus, torch_threads


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="120")
    return subprocess.run([sys.executable, "-m", "progdemix_tui", *args], capture_output=True,
                          text=True, timeout=HANG_TIMEOUT, cwd=cwd, env=env)


def test_help_says_run_takes_several_inputs():
    for args in (("--help",), ("run", "--help")):
        result = cli(*args)
        assert result.returncode == 0, result.stderr
        assert "one file" not in result.stdout, args


def test_models_says_default_once():
    result = cli("models")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("default") == 1, result.stdout


def test_demo_says_what_its_seconds_are(tmp_path):
    result = cli("demo", str(tmp_path / "songs"), "--count", "1", "--duration", "1")
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("wrote"))
    assert "1.0 s long" in line and "made in" in line, line


@pytest.mark.slow
def test_eval_demo_model_script_applies_the_thread_policy():
    script = Path(__file__).resolve().parents[2] / "scripts" / "eval_demo_model.py"
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    for args, words in ((["--threads", "1"], "cpu, 1 thread,"),
                        ([], f"cpu, {torch_threads(cpus=available_cpus(), environ={})} thread")):
        result = subprocess.run([sys.executable, str(script), "--seeds", "1", "--duration", "1",
                                 "--device", "cpu", *args], capture_output=True, text=True,
                                timeout=HANG_TIMEOUT, env=env)
        assert result.returncode == 0, result.stderr
        assert words in result.stdout, result.stdout
