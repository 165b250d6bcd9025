"""torch's default thread count against the tool's policy, idle and beside a competing load.

Same separation (a real-size HDemucs: hdemucs_mmi's architecture, random weights, through the
tool's :class:`Separator`) timed with torch's default threads (every core) and with
:func:`progdemix_tui.engine.threads.torch_threads` (the policy ``run``, ``eval`` and the TUI
use), interleaved, first on the machine as it is, then beside a second process spinning torch
matmuls on every core (started and stopped here; it stands for a second run). Each timing runs
in its own process after an untimed warm-up separation: a process that switches its thread
count between timings slows down (bench_precision.py), which a run never does. Prints
medians and ratios default/policy.

    env -u OMP_NUM_THREADS python bench/bench_threads.py [--seconds 6] [--rounds 3]
        [--channels 48] [--precision auto|fp32|bf16]

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


def child(args: argparse.Namespace) -> None:
    """One timing in a fresh process on ``args.child`` threads: one untimed warm-up
    separation, then one timed; prints the seconds."""
    torch.set_num_threads(args.child)
    torch.manual_seed(0)
    model = HDemucs(sources=SOURCES, channels=args.channels).eval()
    mixture = torch.randn(2, int(args.seconds * model.samplerate))
    separator = Separator.from_config(
        SeparatorConfig(device="cpu", segment=args.seconds, precision=args.precision,
                        cache=False),
        model=_wrap("hdemucs-random", model, "benchmark"))
    separator.separate(mixture)  # warm-up
    start = time.perf_counter()
    separator.separate(mixture)
    print(time.perf_counter() - start, separator.precision)


def timed(args: argparse.Namespace, threads: int) -> tuple[float, str]:
    """Seconds of one separation on ``threads`` threads, in its own process."""
    done = subprocess.run([sys.executable, __file__, "--child", str(threads),
                           "--seconds", str(args.seconds), "--channels", str(args.channels),
                           "--precision", args.precision],
                          check=True, capture_output=True, text=True)
    seconds, precision = done.stdout.split()[-2:]
    return float(seconds), precision


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--channels", type=int, default=48)
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)  # one timing
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    default, policy = torch.get_num_threads(), torch_threads()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs ({available_cpus()} usable), "
          f"load average {os.getloadavg()[0]:.1f} at start, torch {torch.__version__}")
    print(f"model: HDemucs channels={args.channels}, input {args.seconds:g} s stereo, "
          f"--precision {args.precision}; threads: torch default {default}, policy {policy}; "
          "each timing in its own process after a warm-up separation")
    for label in ("idle", "busy"):
        load = start_load() if label == "busy" else None
        try:
            times: dict[int, list[float]] = {default: [], policy: []}
            for _ in range(args.rounds):
                for threads in times:
                    seconds, precision = timed(args, threads)
                    times[threads].append(seconds)
        finally:
            if load is not None:
                load.terminate()
                load.wait()
        d, p = statistics.median(times[default]), statistics.median(times[policy])
        print(f"{label} ({precision}): default ({default} threads) median {d:.2f} s "
              f"({', '.join(f'{t:.2f}' for t in times[default])}); policy ({policy}) "
              f"median {p:.2f} s ({', '.join(f'{t:.2f}' for t in times[policy])}); "
              f"ratio default/policy {d / p:.2f}")


if __name__ == "__main__":
    main()
