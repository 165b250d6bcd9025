"""Ctrl-C works however the tool was started (issue "First hour" 1): a shell's background
job inherits SIGINT ignored; the tool installs its own handler, so it still stops at once,
keeps the finished steps (whole: every stem file, no partial one) and exits 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import interrupt_when, write_track

from progdemix_tui.engine import open_session


@pytest.mark.parametrize("inherited", [signal.SIG_IGN, signal.SIG_DFL],
                         ids=["background-job", "foreground"])
def test_ctrl_c_stops_a_run_whatever_sigint_it_inherited(tmp_path, tiny_model_path, inherited):
    track = write_track(tmp_path / "song", seconds=2.0)
    out = tmp_path / "session"
    proc = subprocess.Popen(
        [sys.executable, "-m", "progdemix_tui", "run", str(track), "--steps", "200",
         "--out", str(out), "--model", str(tiny_model_path), "--segment", "1",
         "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, inherited))  # as a shell starts it
    manifest = out / "manifest.json"
    err = interrupt_when(proc, lambda: manifest.exists()
                         and len(json.loads(manifest.read_text())["steps"]) >= 2,
                         "two steps in the manifest")
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    session = open_session(out)
    assert session.status == "cancelled"
    assert 2 <= len(session.steps) < 201  # the completed steps are kept, whole
    for record in session.steps:
        assert session.path(record.step, "vocals").is_file()
    assert not list(out.rglob("*.part"))
