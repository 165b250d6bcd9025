"""``--threads`` and the thread policy: one engine function for ``run``, ``eval`` and the TUI."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from conftest import HANG_TIMEOUT, write_track

from progdemix_tui.cli import main
from progdemix_tui.cli.tui import build_app
from progdemix_tui.engine.errors import ConfigError
from progdemix_tui.engine.threads import MAX_THREADS, available_cpus, torch_threads
from progdemix_tui.tui.audition import NullBackend
from progdemix_tui.tui.settings import ENV_DIR

NO_ENV: dict[str, str] = {}


@pytest.mark.parametrize(("cpus", "threads"), [(1, 1), (2, 1), (4, 3), (16, 15), (128, 127)])
def test_policy_leaves_one_core(cpus, threads):
    assert torch_threads(None, cpus, NO_ENV) == threads


def test_a_request_wins_then_omp_num_threads():
    assert torch_threads(3, 2, {"OMP_NUM_THREADS": "1"}) == 3
    assert torch_threads(MAX_THREADS, 2, NO_ENV) == MAX_THREADS
    assert torch_threads(None, 16, {"OMP_NUM_THREADS": "4"}) == 4
    for junk in ("", "0", "-2", "two", "4,2", str(MAX_THREADS + 1)):  # not a count: the policy
        assert torch_threads(None, 16, {"OMP_NUM_THREADS": junk}) == 15, junk


@pytest.mark.parametrize("bad", [0, -1, MAX_THREADS + 1, 10**12])
def test_out_of_range_request_is_refused(bad):
    with pytest.raises(ConfigError, match=f"--threads must be between 1 and {MAX_THREADS}"):
        torch_threads(bad, 2, NO_ENV)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="no CPU affinity here")
def test_the_policy_counts_the_cpus_this_process_may_use():
    mask = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(mask)})
        assert available_cpus() == 1
        assert torch_threads(None, environ=NO_ENV) == 1
    finally:
        os.sched_setaffinity(0, mask)
    assert available_cpus() == len(mask)


@pytest.mark.parametrize("bad", ["0", "-1", "100000"])
@pytest.mark.parametrize("command", ["run", "eval", "tui"])
def test_bad_threads_one_line_exit_2(tmp_path, tiny_model_path, capsys, monkeypatch, command,
                                     bad):
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "config"))
    song = tmp_path / "song.wav"
    sf.write(song, np.zeros((4410, 2)) + 0.1, 44100)
    argv = {"run": ["run", str(song), "--out", str(tmp_path / "out")],
            "eval": ["eval", str(tmp_path), "--out", str(tmp_path / "out")],
            "tui": [str(song)]}[command]
    code = main([*argv, f"--threads={bad}", "--model", str(tiny_model_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: --threads must be between 1 and {MAX_THREADS} (got {bad})."]
    assert not (tmp_path / "out").exists()


CLI_RUNS = """
import json, sys
from pathlib import Path
from progdemix_tui.cli import main

track, model, out = sys.argv[1:]
for name, extra in (("policy", []), ("two", ["--threads", "2"])):  # a fresh torch first
    assert main(["run", track, "--steps", "0", "--out", f"{out}/{name}", "--model", model,
                 "--segment", "1", "--device", "cpu", "-q", *extra]) == 0
    print("threads", json.loads((Path(out) / name / "manifest.json").read_text())["threads"])
"""


def test_cli_run_uses_and_records_the_threads(tmp_path, tiny_model_path):
    """Real ``run``s in their own process (torch's threads are process-wide): the first in
    a fresh torch, so no flag and no OMP_NUM_THREADS must give the policy, not torch's
    default (every core); then ``--threads 2``."""
    track = write_track(tmp_path / "song", seconds=1.0)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", CLI_RUNS, str(track), str(tiny_model_path),
                           str(tmp_path)], env=env, capture_output=True, text=True,
                          check=True, timeout=HANG_TIMEOUT)
    recorded = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("threads ")]
    assert recorded == [str(torch_threads(None, environ=NO_ENV)), "2"]


TUI_RUN = """
import json, sys, threading
from pathlib import Path
from progdemix_tui.cli.tui import build_app
from progdemix_tui.tui.audition import NullBackend
from progdemix_tui.tui.run_plan import parse
from progdemix_tui.tui.settings import DEFAULTS
from progdemix_tui.tui.worker.runner import RunEnded, RunRequest, run_job

track, model, out = sys.argv[1:]
plan = parse(dict(DEFAULTS, model_path=model, steps="0", segment="1", device="cpu"))
for name, argv in (("policy", []), ("two", ["--threads", "2"])):  # a fresh torch first
    app = build_app([*argv, track], backend=NullBackend(), save_settings=False)
    messages = []
    session = Path(out) / name
    worker = threading.Thread(target=run_job, args=(RunRequest(Path(track), plan, session,
                              app.torch_threads), threading.Event(), messages.append))
    worker.start()
    worker.join()
    assert isinstance(messages[-1], RunEnded) and messages[-1].status == "complete", messages
    print(app.torch_threads, json.loads((session / "manifest.json").read_text())["threads"])
"""


def test_tui_run_uses_the_same_policy(tmp_path, tiny_model_path):
    """The TUI's command line and its run worker: the thread count the CLI would use, with
    no flag (in a fresh torch) and with ``--threads 2``."""
    track = write_track(tmp_path / "song", seconds=1.0)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env[ENV_DIR] = str(tmp_path / "config")
    done = subprocess.run([sys.executable, "-c", TUI_RUN, str(track), str(tiny_model_path),
                           str(tmp_path)], env=env, capture_output=True, text=True,
                          check=True, timeout=HANG_TIMEOUT)
    policy = str(torch_threads(None, environ=NO_ENV))
    assert done.stdout.split() == [policy, policy, "2", "2"]


def test_tui_threads_default_is_the_policy(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "config"))
    app = build_app([str(tmp_path)], backend=NullBackend(), save_settings=False)
    assert app.torch_threads == torch_threads()
    assert build_app(["--threads", "3", str(tmp_path)], backend=NullBackend(),
                     save_settings=False).torch_threads == 3
