"""torch's default thread count against the tool's policy, idle and beside a competing load.

Same separation (a real-size HDemucs: hdemucs_mmi's architecture, random weights, through the
tool's :class:`Separator`) timed with torch's default threads (every core) and with
:func:`progdemix_tui.engine.threads.torch_threads` (the policy ``run``, ``eval`` and the TUI
use), interleaved, first on the machine as it is, then beside a second process spinning torch
matmuls on every core (started and stopped here; it stands for a second run). Prints medians
and ratios default/policy.

    env -u OMP_NUM_THREADS python bench/bench_threads.py [--seconds 6] [--rounds 3] [--channels 48]

(unset OMP_NUM_THREADS: with it set, torch's default and the policy are both that count)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

import torch
from demucs.hdemucs import HDemucs

from progdemix_tui.engine import SeparatorConfig
from progdemix_tui.engine.models import _wrap
from progdemix_tui.engine.separator import Separator
from progdemix_tui.engine.threads import available_cpus, torch_threads

SOURCES = ["drums", "bass", "other", "vocals"]
LOAD = """
import sys, torch
a = torch.randn(512, 512)
print("ready", flush=True)
while True:
    a = torch.tanh(a @ a)
"""


def start_load() -> subprocess.Popen:
    """A process spinning torch matmuls on torch's default threads; returns once it runs."""
    proc = subprocess.Popen([sys.executable, "-c", LOAD], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--channels", type=int, default=48)
    args = parser.parse_args()

    default, policy = torch.get_num_threads(), torch_threads()
    torch.manual_seed(0)
    model = HDemucs(sources=SOURCES, channels=args.channels).eval()
    mixture = torch.randn(2, int(args.seconds * model.samplerate))
    separator = Separator.from_config(SeparatorConfig(device="cpu", segment=args.seconds),
                                      model=_wrap("hdemucs-random", model, "benchmark"))

    def timed(threads: int) -> float:
        torch.set_num_threads(threads)
        start = time.perf_counter()
        separator.separate(mixture)
        return time.perf_counter() - start

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs ({available_cpus()} usable), "
          f"load average {os.getloadavg()[0]:.1f} at start, torch {torch.__version__}")
    print(f"model: HDemucs channels={args.channels}, input {args.seconds:g} s stereo; "
          f"threads: torch default {default}, policy {policy}")
    timed(policy)  # warm-up
    for label in ("idle", "busy"):
        load = start_load() if label == "busy" else None
        try:
            times: dict[int, list[float]] = {default: [], policy: []}
            for _ in range(args.rounds):
                for threads in times:
                    times[threads].append(timed(threads))
        finally:
            if load is not None:
                load.terminate()
                load.wait()
        d, p = statistics.median(times[default]), statistics.median(times[policy])
        print(f"{label}: default ({default} threads) median {d:.2f} s "
              f"({', '.join(f'{t:.2f}' for t in times[default])}); policy ({policy}) "
              f"median {p:.2f} s ({', '.join(f'{t:.2f}' for t in times[policy])}); "
              f"ratio default/policy {d / p:.2f}")


if __name__ == "__main__":
    main()
