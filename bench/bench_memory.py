"""Peak RSS of a run on a 3-minute stereo input at 1 step vs 10 steps.

Each configuration runs in a fresh subprocess (``engine.run_session``, session written to a
temporary folder) and reports its peak RSS; the ratio shows whether memory grows with the
number of steps. A small HDemucs keeps this quick: the audio tensors, not the model, are what
could accumulate across steps.

    python bench/bench_memory.py [--seconds 180] [--channels 4]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile

CHILD = r"""
import json, resource, sys, tempfile, torch
from demucs.hdemucs import HDemucs
from progdemix_tui import engine
from progdemix_tui.engine.models import _wrap
from progdemix_tui.engine.tracks import PreparedInput
from progdemix_tui.engine.audio import AudioInfo
from pathlib import Path
steps, seconds, channels = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
model = _wrap("hdemucs-small", HDemucs(sources=list(engine.STEMS), channels=channels), "bench")
sep = engine.Separator.from_config(engine.SeparatorConfig(device="cpu", segment=10), model=model)
mix = 0.1 * torch.randn(2, int(seconds * 44100))
refs = 0.05 * torch.randn(4, *mix.shape)
info = AudioInfo(Path("synthetic.wav"), mix.shape[-1], 44100, 2, "WAV", "FLOAT")
prepared = PreparedInput(Path("synthetic.wav"), mix, 44100, refs, 0.0, info)
cfg = engine.RunConfig(steps=steps)
with tempfile.TemporaryDirectory() as out:
    n = sum(1 for _ in engine.run_session(sep, prepared, cfg, Path(out) / "s"))
print(json.dumps({"steps": steps, "results": n,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(steps: int, seconds: float, channels: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(steps), str(seconds), str(channels)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--channels", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory():
        one = measure(1, args.seconds, args.channels)
        ten = measure(10, args.seconds, args.channels)
    print(f"machine: {platform.machine()} {platform.system()}, python {platform.python_version()}")
    print(f"input: {args.seconds:.0f} s stereo 44.1 kHz with references, HDemucs "
          f"channels={args.channels}, session written (FLAC)")
    print(f" 1 step : {one['results']:2d} results, peak RSS {one['peak_rss_mb']:.0f} MB")
    print(f"10 steps: {ten['results']:2d} results, peak RSS {ten['peak_rss_mb']:.0f} MB")
    print(f"ratio 10/1: {ten['peak_rss_mb'] / one['peak_rss_mb']:.3f}  (target ≤ 1.10)")


if __name__ == "__main__":
    main()
