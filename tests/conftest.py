"""Shared fixtures: a tiny real HDemucs on disk and short synthetic tracks."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

STEMS = ("drums", "bass", "other", "vocals")
RATE = 44100

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# One torch thread here and in the CLI subprocesses (OMP_NUM_THREADS is inherited): with two,
# torch's OpenMP threads spin against every other process on a busy 2-core machine. The
# 4-step demo run took 182 s with two threads and 39 s with one beside one busy process.
torch.set_num_threads(int(os.environ.setdefault("OMP_NUM_THREADS", "1")))


def _private_dir(var: str, prefix: str) -> None:
    """Point ``var`` at a new temporary folder of this test process, unless the user set it.

    A folder another pytest process made for itself (xdist's controller, whose workers
    inherit its environment) is not the user's: each worker gets its own, so that no two
    processes share settings, the cache's HMAC key or cache entries."""
    mine = f"_PROGDEMIX_TEST_OWN_{var}"
    if var in os.environ and os.environ[var] != os.environ.get(mine):
        return
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    os.environ[var] = os.environ[mine] = path


# The step-0 cache of every test (and of the CLI subprocesses, which inherit it) lives in one
# temporary folder per test process, not in the user's cache folder.
_private_dir("PROGDEMIX_CACHE_DIR", "progdemix-step0-")
# Likewise the config folder (settings, the step-0 cache's HMAC key): never the user's own.
_private_dir("PROGDEMIX_TUI_CONFIG_DIR", "progdemix-config-")

# Waits in the tests are on events (a file appears, a screen shows a line, a process exits),
# never races against the clock: this bound only stops a test that would otherwise hang
# forever, so it is far longer than anything takes on a slow or busy machine.
# Only stops a hung test; PROGDEMIX_TEST_HANG_TIMEOUT shortens it while debugging a hang.
HANG_TIMEOUT = float(os.environ.get("PROGDEMIX_TEST_HANG_TIMEOUT", "900"))


def wait_while_running(proc: subprocess.Popen, done: Callable[[], bool], what: str) -> None:
    """Poll until ``done()`` while ``proc`` is alive; fail at once if ``proc`` exits first.

    No deadline but :data:`HANG_TIMEOUT`: a slow machine makes this wait longer, not fail."""
    deadline = time.monotonic() + HANG_TIMEOUT
    while not done():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"exited with {proc.returncode} before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"hung: no {what} after {HANG_TIMEOUT:.0f} s")
        time.sleep(0.1)


def interrupt_when(proc: subprocess.Popen, done: Callable[[], bool], what: str):
    """Ctrl-C ``proc`` once ``done()`` (:func:`wait_while_running`), however long that takes
    on a busy machine; returns its stderr. ``proc`` never outlives the call."""
    try:
        wait_while_running(proc, done, what)
        proc.send_signal(signal.SIGINT)
        return proc.communicate(timeout=HANG_TIMEOUT)[1]
    finally:
        if proc.poll() is None:
            proc.kill()


def tiny_hdemucs(seed: int = 0):
    """A real demucs HDemucs with 4 channels (0.6 M parameters, random weights)."""
    from demucs.hdemucs import HDemucs

    torch.manual_seed(seed)
    return HDemucs(sources=list(STEMS), channels=4).eval()


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> Path:
    """A tiny HDemucs saved in demucs's safetensors format."""
    from progdemix_tui.engine.models import save_safetensors

    path = tmp_path_factory.mktemp("models") / "tiny.safetensors"
    return save_safetensors(tiny_hdemucs(), path)


def synth_stems(seconds: float = 2.0, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Four distinguishable stereo stems ``[4, 2, time]`` float32: clicks, a low sine,
    a chord, a vibrato tone."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    drums = np.zeros_like(t)
    drums[:: rate // 4] = 1.0
    drums = np.convolve(drums, np.exp(-np.arange(2000) / 200) * rng.standard_normal(2000))[: len(t)]
    bass = 0.4 * np.sin(2 * np.pi * 55 * t)
    other = 0.15 * sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0))
    vocals = 0.3 * np.sin(2 * np.pi * 440 * t + 3 * np.sin(2 * np.pi * 5 * t))
    stems = []
    for i, x in enumerate((drums * 0.3, bass, other, vocals)):
        pan = 0.3 + 0.1 * i
        stems.append(np.stack([x * (1 - pan), x * pan]))
    return np.asarray(stems, dtype=np.float32)


def write_track(folder: Path, seconds: float = 2.0, rate: int = RATE, seed: int = 0,
                skip: tuple[str, ...] = (), silent: tuple[str, ...] = ()) -> Path:
    """Write a MUSDB-style track folder (mixture + 4 stems as float WAV)."""
    folder.mkdir(parents=True, exist_ok=True)
    stems = synth_stems(seconds, rate, seed)
    for i, name in enumerate(STEMS):
        if name in silent:
            stems[i] = 0.0
    for i, name in enumerate(STEMS):
        if name not in skip:
            sf.write(folder / f"{name}.wav", stems[i].T, rate, subtype="FLOAT")
    sf.write(folder / "mixture.wav", stems.sum(0).T, rate, subtype="FLOAT")
    return folder


@pytest.fixture
def track(tmp_path) -> Path:
    return write_track(tmp_path / "track")


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    """A working folder (the cwd) with a track folder, and TUI settings in a tmp config dir."""
    from progdemix_tui.tui.settings import ENV_DIR

    monkeypatch.setenv(ENV_DIR, str(tmp_path / "config"))
    folder = tmp_path / "work"
    write_track(folder / "track", seconds=2.0)
    monkeypatch.chdir(folder)
    return folder


SLOW_SECONDS = 10.0  # the `slow` marker's bound (pyproject.toml)


def pytest_terminal_summary(terminalreporter) -> None:
    """Name the tests that ran over :data:`SLOW_SECONDS` without the ``slow`` marker."""
    unmarked = sorted(((r.duration, r.nodeid) for reports in terminalreporter.stats.values()
                       for r in reports if getattr(r, "when", None) == "call"
                       and r.duration > SLOW_SECONDS and "slow" not in r.keywords),
                      reverse=True)
    if unmarked:
        terminalreporter.write_sep("-", f"over {SLOW_SECONDS:.0f} s without the slow marker")
        for seconds, nodeid in unmarked:
            terminalreporter.write_line(f"{seconds:6.1f} s  {nodeid}")
