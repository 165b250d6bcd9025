"""A run as on a CPU without AVX512-BF16/AMX (issue 27.4), on any CPU: PROGDEMIX_CPUINFO
names an AVX2-only flags file and PROGDEMIX_BF16_FACTOR stands in for the probe's 36x (the
factor the issue measured there). ``auto`` keeps fp32 without a word; an explicit bf16 says
so in one line before the run, naming the missing flags."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from progdemix_tui.engine.precision import BF16_FACTOR_ENV, CPUINFO_ENV

AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw\n"


@pytest.mark.slow
def test_a_cpu_without_native_bf16(track, tiny_model_path, tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(AVX2_ONLY)
    env = dict(os.environ, **{CPUINFO_ENV: str(cpuinfo), BF16_FACTOR_ENV: "36"})

    def run(precision: str) -> tuple[subprocess.CompletedProcess, dict]:
        out = tmp_path / precision
        done = subprocess.run([sys.executable, "-m", "progdemix_tui", "run", str(track),
                               "--model", str(tiny_model_path), "--device", "cpu",
                               "--precision", precision, "--steps", "0", "--no-cache",
                               "--out", str(out)],
                              capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0, done.stderr
        return done, json.loads((out / "manifest.json").read_text())

    auto, manifest = run("auto")
    assert manifest["model"]["precision"] == "fp32"
    assert "warning" not in auto.stderr
    bf16, manifest = run("bf16")
    assert manifest["model"]["precision"] == "bf16"
    lines = bf16.stderr.splitlines()
    warnings = [line for line in lines if line.startswith("warning: bf16")]
    assert warnings == [
        "warning: bf16 ran 36.0x slower than fp32 in a short probe on this CPU "
        "(avx512_bf16/amx_bf16 absent); use --precision fp32 or auto."]
    assert lines.index(warnings[0]) < next(n for n, line in enumerate(lines)
                                           if line.startswith("model "))
