"""A batch ``run`` in a real terminal (tmux) prints in order, nothing garbled (issue "First
hour" 8): per input its lines, its table whole (title on its own line, both caption lines),
then where its chart went; no progress bar left behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest
from conftest import HANG_TIMEOUT, write_track

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def test_batch_run_output_in_a_real_terminal(tmp_path, tiny_model_path):
    for name in ("one", "two"):
        write_track(tmp_path / name, seconds=1.0)
    done = tmp_path / "done"
    command = (f"{sys.executable} -m progdemix_tui run one two --model {tiny_model_path} "
               f"--segment 1 --device cpu --steps 1 --out runs; touch {done}; sleep 600")
    tmux = ["tmux", "-L", f"progdemix-test-{uuid.uuid4().hex[:8]}"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "TERM": "xterm-256color"}
    subprocess.run([*tmux, "new-session", "-d", "-s", "run", "-x", "100", "-y", "60", "-c",
                    str(tmp_path), command], check=True, env=env)
    try:
        deadline = time.monotonic() + HANG_TIMEOUT
        while not done.exists():
            assert time.monotonic() < deadline, "the batch never finished"
            time.sleep(0.2)
        screen = subprocess.run([*tmux, "capture-pane", "-p", "-S", "-", "-t", "run"],
                                capture_output=True, text=True, check=True).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)
    lines = [line.rstrip() for line in screen.splitlines() if line.strip()]
    titles = [i for i, line in enumerate(lines) if "progressive inference — target" in line]
    charts = [i for i, line in enumerate(lines) if line.startswith("chart written to")]
    assert len(titles) == 2 and len(charts) == 2, screen
    for title, chart in zip(titles, charts, strict=True):
        assert lines[title].startswith("progressive inference"), screen  # not glued to a bar
        assert title < chart, screen  # the table, then its chart
        table = lines[title:chart]
        assert any("previous step" in line for line in table), screen  # the caption's end
    assert not any(word in line for line in lines for word in ("files ", "steps ━")), screen
    assert lines[-1].startswith("2 sessions written"), screen
