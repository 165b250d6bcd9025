"""Peak RSS of ``progdemix-tui run`` against input length, real-size HDemucs.

Each length runs the real CLI in a fresh subprocess (``engine.audio.load`` → separator →
progressive loop → session writer) on a synthetic 16-bit stereo 44.1 kHz WAV, with an
HDemucs of default size (channels=48, 83.6 M parameters, random weights) saved as a
``.safetensors`` file. Peak RSS is the child's ``VmHWM``; a run still going at ``--cap``
seconds is killed and its peak so far is reported, marked as such. The estimate column is
what the run's pre-flight check (:mod:`progdemix_tui.engine.resources`) predicts.

    python bench/bench_memory_length.py [--minutes 1 3 10 30] [--steps 0] [--cap 1800]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 44100


def write_input(path: Path, minutes: float) -> None:
    """Write ``minutes`` of quiet stereo noise plus a tone as PCM_16, block by block."""
    rng = np.random.default_rng(0)
    frames = int(minutes * 60 * RATE)
    block = RATE * 60
    with sf.SoundFile(str(path), "w", RATE, 2, subtype="PCM_16") as f:
        for start in range(0, frames, block):
            n = min(block, frames - start)
            t = (start + np.arange(n)) / RATE
            tone = 0.2 * np.sin(2 * np.pi * 220 * t)
            f.write((0.05 * rng.standard_normal((n, 2)) + tone[:, None]).astype(np.float32))


def write_model(path: Path, channels: int) -> int:
    import torch
    from demucs.hdemucs import HDemucs

    from progdemix_tui.engine.models import save_safetensors

    torch.manual_seed(0)
    model = HDemucs(sources=["drums", "bass", "other", "vocals"], channels=channels)
    save_safetensors(model, path)
    return sum(p.numel() for p in model.parameters())


def peak_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def measure(wav: Path, model: Path, out: Path, steps: int, cap: float) -> dict:
    cmd = [sys.executable, "-m", "progdemix_tui", "run", str(wav), "--model", str(model),
           "--device", "cpu", "--steps", str(steps), "--out", str(out), "--overwrite"]
    start = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak, killed = 0, False
    while child.poll() is None:
        peak = max(peak, peak_kb(child.pid) or 0)
        if time.perf_counter() - start > cap:
            child.kill()
            killed = True
            break
        time.sleep(0.2)
    _, stderr = child.communicate()
    seconds = time.perf_counter() - start
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    return {"peak_mb": peak / 1024, "seconds": seconds, "rc": child.returncode,
            "killed": killed, "last": last}


def estimate_mb(seconds: float, steps: int, model: Path) -> float | None:
    """What the run's pre-flight check estimates (None with code that has no estimate)."""
    try:
        from progdemix_tui.engine import resources
    except ImportError:
        return None
    need = resources.estimate_run_bytes(frames=int(seconds * RATE), steps=steps,
                                        model_bytes=model.stat().st_size)
    return need / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 3, 10, 30])
    parser.add_argument("--steps", type=int, default=0)
    parser.add_argument("--cap", type=float, default=1800, help="seconds per run, then kill")
    parser.add_argument("--channels", type=int, default=48,
                        help="HDemucs width (48: real size; 4: the tests' tiny model)")
    args = parser.parse_args()
    import torch

    print(f"machine: {platform.machine()} {platform.system()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, torch {torch.__version__}", flush=True)
    print(f"steps {args.steps}, default segment, device cpu, session written as FLAC",
          flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = folder / f"hdemucs{args.channels}.safetensors"
        parameters = write_model(model, args.channels)
        print(f"HDemucs channels={args.channels}: {parameters / 1e6:.1f} M parameters, "
              f"file {model.stat().st_size / 2**20:.0f} MB", flush=True)
        print("| input | input MB (float32) | peak RSS MB | estimate MB | seconds | result |")
        print("|---|---:|---:|---:|---:|---|", flush=True)
        for minutes in args.minutes:
            wav = folder / f"in{minutes:g}.wav"
            write_input(wav, minutes)
            got = measure(wav, model, folder / "session", args.steps, args.cap)
            wav.unlink()
            est = estimate_mb(minutes * 60, args.steps, model)
            result = ("killed at cap (peak so far)" if got["killed"]
                      else "ok" if got["rc"] == 0 else f"rc {got['rc']}: {got['last'][:80]}")
            input_mb = minutes * 60 * RATE * 2 * 4 / 2**20
            print(f"| {minutes:g} min | {input_mb:.0f} | {got['peak_mb']:.0f} | "
                  f"{'—' if est is None else f'{est:.0f}'} | {got['seconds']:.0f} | {result} |",
                  flush=True)


if __name__ == "__main__":
    main()
