"""An ALSA "sound card" that writes to a file, for tests, benchmarks and machines without one.

:func:`write_asoundrc` writes ``HOME/.asoundrc`` making ALSA's default PCM a ``plug`` (any
rate/format in) onto a ``file`` PCM (over ``null``) that pipes the raw interleaved float32
samples into ``python filesink.py OUT BYTES_PER_S`` (this file run as a script). That helper writes them
to ``OUT`` at ``speed`` times real time: the pipe's back-pressure paces PortAudio like a real
card (a bare ``null`` PCM would consume samples as fast as the CPU can produce them).

PortAudio reads the ALSA configuration once, when sounddevice is imported, so use it in a fresh
process with ``HOME`` pointing at the folder (see :func:`sink_env`). ``die_after`` bytes makes
the helper exit early, which PortAudio sees as a lost device.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any


def write_asoundrc(home: str | Path, out: str | Path, samplerate: int = 44100,
                   channels: int = 2, speed: float = 1.0, die_after: int | None = None) -> Path:
    """Write ``home/.asoundrc`` routing the default ALSA device into the raw file ``out``."""
    home, out = Path(home), Path(out)
    home.mkdir(parents=True, exist_ok=True)
    rate = int(samplerate * channels * 4 * speed)
    cmd = f"{sys.executable} {Path(__file__).resolve()} {out} {rate}"
    if die_after is not None:
        cmd += f" {int(die_after)}"
    text = f"""pcm.!default {{
    type plug
    slave {{ pcm "progdemix_filesink" format FLOAT_LE rate {samplerate} channels {channels} }}
}}
pcm.progdemix_filesink {{
    type file
    slave {{ pcm "null" }}
    file "|{cmd}"
    format "raw"
}}
"""
    path = home / ".asoundrc"
    path.write_text(text)
    return path


def sink_env(home: str | Path) -> dict[str, str]:
    """The environment for a child process whose ALSA default device is the file sink."""
    env = dict(os.environ)
    env["HOME"] = str(home)
    env.pop("ALSA_CONFIG_PATH", None)
    root = str(Path(__file__).resolve().parents[2])  # the repository
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def read_raw(path: str | Path, channels: int = 2) -> Any:
    """The samples a sink wrote, ``[frames, channels]`` float32."""
    import numpy as np

    data = np.fromfile(path, dtype="<f4")
    return data[: len(data) // channels * channels].reshape(-1, channels)


def _pace(out: str, bytes_per_s: float, die_after: int | None) -> None:
    """Copy stdin to ``out`` no faster than ``bytes_per_s`` (stop after ``die_after`` bytes)."""
    stdin = sys.stdin.buffer
    total, start = 0, None
    with open(out, "wb") as f:
        while True:
            chunk = stdin.read1(4096)
            if not chunk:
                return
            if die_after is not None and total + len(chunk) > die_after:
                f.write(chunk[: max(die_after - total, 0)])
                return
            start = time.monotonic() if start is None else start
            f.write(chunk)
            f.flush()
            total += len(chunk)
            ahead = total / bytes_per_s - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)


if __name__ == "__main__":
    _pace(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)
