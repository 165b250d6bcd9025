"""The demo model's training script still runs end to end (CPU, a few steps, tiny model)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HANG_TIMEOUT
from safetensors import safe_open

from progdemix_tui.demo import STEMS
from progdemix_tui.engine.models import load_model

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "train_demo_model.py"


@pytest.mark.slow
def test_train_and_export(tmp_path, capsys, monkeypatch):
    tiny = ["--device", "cpu", "--channels", "4", "--batch", "2", "--segment", "1",
            "--song-duration", "2", "--pool", "4", "--pool-start", "2", "--workers", "1",
            # --max-steps ends training; the time budget is set out of reach so that a busy
            # machine cannot stop it before "trained 2 steps"
            "--max-steps", "2", "--budget", "1e6", "--log-every", "1e9",
            # two held-out songs score the same code as twenty (20 took 20 of the 24 s)
            "--eval-songs", "2"]
    out = tmp_path / "run"
    first = subprocess.run([sys.executable, str(SCRIPT), *tiny, "--seed-base", "990000",
                            "--out", str(out)], capture_output=True, text=True,
                           timeout=HANG_TIMEOUT)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "trained 2 steps" in first.stdout and "held-out seeds 1..2 " in first.stdout
    checkpoint = out / "demo_fp32.safetensors"

    weights = tmp_path / "demo.safetensors"
    # the export is the script's own main() in this process: a conversion, no process matter
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    import train_demo_model

    assert train_demo_model.main(["--export", str(checkpoint), "--weights", str(weights)]) == 0
    assert f"wrote {weights}" in capsys.readouterr().out
    with safe_open(str(weights), "pt") as f:
        names = list(f.keys())  # noqa: SIM118 (safe_open is not iterable)
        assert {str(f.get_tensor(name).dtype) for name in names} == {"torch.float16"}
    model = load_model(str(weights))
    assert model.sources == STEMS and model.samplerate == 44100
