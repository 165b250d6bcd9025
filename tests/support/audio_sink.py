"""Run a snippet in a fresh Python whose ALSA default device is a file (real PortAudio path).

PortAudio reads ALSA's configuration when sounddevice is imported, so each run gets its own
process, with ``HOME`` pointing at a folder holding the sink's ``.asoundrc``.
"""

from __future__ import annotations

import ctypes.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import HANG_TIMEOUT

from support.filesink import read_raw, sink_env, write_asoundrc

PRELUDE = """
import json, sys, time
import numpy as np
from progdemix_tui.playback import AudioUnavailable, Player

def wait_until(cond, timeout=HANG_TIMEOUT):
    t = time.monotonic()
    while not cond():
        if time.monotonic() - t > timeout:
            raise SystemExit("timed out waiting")
        time.sleep(0.002)

def ramp(n, lo=0.1, hi=0.9, sign=1.0):
    x = (lo + (hi - lo) * np.arange(n) / n).astype(np.float32) * sign
    return np.stack([x, x])

def report(**kw):
    print("RESULT " + json.dumps(kw))
"""


def require_portaudio() -> None:
    if ctypes.util.find_library("portaudio") is None:
        pytest.fail("PortAudio is missing: the audio tests need it. "
                    "Install it with `apt-get install libportaudio2`.")


def run_sink(tmp_path: Path, code: str, *, speed: float = 4.0, samplerate: int = 44100,
             die_after: int | None = None, asoundrc: str | None = None,
             env: dict[str, str] | None = None, timeout: float = HANG_TIMEOUT
             ) -> tuple[dict, np.ndarray, subprocess.CompletedProcess]:
    """Run ``PRELUDE + code`` against a file-sink ALSA device; return (the dict it passed to
    ``report``, the samples the device received ``[frames, 2]``, the process)."""
    require_portaudio()
    home, out = tmp_path / "home", tmp_path / "out.raw"
    write_asoundrc(home, out, samplerate=samplerate, speed=speed, die_after=die_after)
    if asoundrc is not None:
        (home / ".asoundrc").write_text(asoundrc)
    script = tmp_path / "script.py"
    script.write_text(f"HANG_TIMEOUT = {HANG_TIMEOUT}\n" + PRELUDE + textwrap.dedent(code))
    full_env = sink_env(home)
    full_env.pop("SSH_CONNECTION", None)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, str(script)], env=full_env, capture_output=True,
                          text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, (
        f"audio subprocess failed (rc={proc.returncode})\nstdout:\n{proc.stdout}\n"
        f"stderr:\n{proc.stderr}")
    samples = read_raw(out) if out.exists() else np.zeros((0, 2), np.float32)
    return json.loads(lines[-1][7:]), samples, proc


def ramp(n: int, lo: float = 0.1, hi: float = 0.9, sign: float = 1.0) -> np.ndarray:
    """The mono ramp the PRELUDE's ``ramp`` plays: ``[n]`` float32."""
    return (lo + (hi - lo) * np.arange(n) / n).astype(np.float32) * sign


def locate(out: np.ndarray, ref: np.ndarray, near: int | None = None) -> int:
    """Offset ``k0`` such that ``out[k0 + n] == ref[n]`` for a strictly monotonic ``ref``,
    found from one sample ``out[near]`` (default: the middle of the nonzero part)."""
    if near is None:
        nz = np.flatnonzero(out)
        near = int(nz[len(nz) // 2])
    n = int(np.argmin(np.abs(ref - out[near])))
    return near - n
