"""The TUI in a real terminal: tmux runs ``python -m progdemix_tui PATH``, keys are sent
with ``send-keys`` and ``capture-pane`` shows the timeline filling in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest
from conftest import HANG_TIMEOUT, write_track

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def test_timeline_fills_in_a_real_terminal(tmp_path, tiny_model_path):
    work = tmp_path / "work"
    write_track(work / "track", seconds=2.0)
    config = tmp_path / "config"
    config.mkdir()
    params = {"model_path": str(tiny_model_path), "steps": "2", "segment": "1",
              "duration": "2", "device": "cpu"}
    (config / "settings.json").write_text(json.dumps({"params": params}))
    socket = f"progdemix-test-{uuid.uuid4().hex[:8]}"
    env = {"PROGDEMIX_TUI_CONFIG_DIR": str(config), "HF_HUB_OFFLINE": "1", "TERM": "xterm-256color"}
    command = " ".join([*(f"{k}={v}" for k, v in env.items()), sys.executable, "-m",
                        "progdemix_tui", "track"])
    tmux = ["tmux", "-L", socket]

    def capture() -> str:
        return subprocess.run([*tmux, "capture-pane", "-p", "-t", "tui"], capture_output=True,
                              text=True, check=False).stdout

    def wait(predicate, timeout: float = HANG_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = capture()
            if predicate(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"timed out; screen:\n{capture()}")

    subprocess.run([*tmux, "new-session", "-d", "-s", "tui", "-x", "100", "-y", "30", "-c",
                    str(work), command], check=True,
                   env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        wait(lambda s: "input: track" in s)
        subprocess.run([*tmux, "send-keys", "-t", "tui", "r"], check=True)
        rows_seen = wait(lambda s: " 0★" in s or " 0 " in s and "β" in s)
        assert "step" in rows_seen
        final = wait(lambda s: "complete" in s and " 2 " in s)
        assert "vocals" in final
        # keys typed ahead in one burst: B must be the row the cursor reached, not a stale one
        subprocess.run([*tmux, "send-keys", "-t", "tui", "t", "a", "Down", "Down", "b"],
                       check=True)
        wait(lambda s: "A: step 0 vocals" in s and "B: step 2 vocals" in s)
        # letters typed right after p must not run app commands (z would hide the panel).
        # The footer tells where the keys went, so nothing here depends on timing: it hides
        # the app's keys while a field has focus and shows them again once Esc has left it.
        subprocess.run([*tmux, "send-keys", "-t", "tui", "p", "Tab", "z"], check=True)
        wait(lambda s: "q Quit" not in s)
        subprocess.run([*tmux, "send-keys", "-t", "tui", "Escape"], check=True)
        assert "model path" in wait(lambda s: "q Quit" in s)  # after z and Esc
        # q only now: read together with the Esc byte it would parse as alt+q
        subprocess.run([*tmux, "send-keys", "-t", "tui", "q"], check=True)
        deadline = time.monotonic() + HANG_TIMEOUT
        while "tui" in subprocess.run([*tmux, "list-sessions"], capture_output=True,
                                      text=True).stdout:
            assert time.monotonic() < deadline, f"q did not quit; screen:\n{capture()}"
            time.sleep(0.2)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True, check=False)
    assert json.loads((config / "settings.json").read_text())["params"]["steps"] == "2"
    sessions = list((work / "sessions").glob("*/manifest.json"))
    assert len(sessions) == 1
    assert json.loads(sessions[0].read_text())["status"] == "complete"
