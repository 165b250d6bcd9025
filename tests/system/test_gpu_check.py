"""bench/gpu_check.py runs end to end on the CPU (``--device cpu --quick``), so a broken
script is found before a GPU minute is spent on it."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "gpu_check.py"


def load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gpu_check", module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_gpu_check_runs_on_the_cpu(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--quick",
                           "--out", str(out), "--budget", "1e9"],  # no time limit: a busy machine is slower
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((out / "summary.json").read_text())
    status = {check["name"]: check["status"] for check in doc["checks"]}
    assert doc["failed"] == []
    assert doc["meta"]["torch_threads"] >= 1  # the tool's thread policy, as a run
    for name in ("imports", "cli_cpu_fp32", "cli_cpu_bf16", "cli_cpu_auto", "cli_cpu_study",
                 "cli_cpu_batch_chunks", "step0_cache", "tui_worker", "quality",
                 "speed_hdemucs", "speed_htdemucs"):
        assert status[name] == "PASS", name
    assert status["cli_cpu_fp16"] == "PASS"  # refused with one line, as it should be
    assert status["oom_retry_batch"] == status["oom_retry_segment"] == "SKIP"
    assert "[PASS] tui_worker" in (out / "summary.txt").read_text()
    assert "[PASS] speed_hdemucs" in proc.stdout


def test_a_failing_check_does_not_stop_the_others(tmp_path, capsys):
    script = load_script()
    runner = script.Runner(tmp_path, {"device": "cpu"})

    def broken():
        raise RuntimeError("no such kernel")

    runner.run("first", broken)
    runner.run("second", lambda: ("PASS", "fine", {}))
    printed = capsys.readouterr().out
    assert "[FAIL] first" in printed and "RuntimeError: no such kernel" in printed
    assert "[PASS] second" in printed
    doc = json.loads((tmp_path / "summary.json").read_text())
    assert doc["failed"] == ["first"]
    assert [c["name"] for c in doc["checks"]] == ["first", "second"]


def test_checks_past_the_budget_are_skipped(tmp_path, capsys):
    script = load_script()
    runner = script.Runner(tmp_path, {}, budget=-1.0)
    runner.run("late", lambda: ("PASS", "never runs", {}))
    assert "[SKIP] late" in capsys.readouterr().out
    assert runner.failed == []


def test_cuda_missing_is_one_line(tmp_path):
    script = load_script()
    if script.torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "--device cpu" in proc.stderr
