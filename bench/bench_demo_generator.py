"""Demo song generator speed: render time against the audio's duration (real-time factor).

Renders songs with ``progdemix_tui.demo.generate_song`` on one thread (numpy only) and
prints, per song length, the median render time over the seeds and its ratio to the audio's
duration; below 1 renders faster than real time. ``progdemix-tui demo`` and the training
script's worker processes use exactly this function.

    python bench/bench_demo_generator.py [--durations 4 8 30] [--seeds 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from progdemix_tui.demo import generate_song  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--durations", type=float, nargs="+", default=[4.0, 8.0, 30.0])
    p.add_argument("--seeds", type=int, default=5, help="songs per duration (seeds 1..N)")
    args = p.parse_args(argv)
    print(f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, numpy {np.__version__}, one thread")
    print(f"{'song':>8} {'median render':>14} {'render / audio':>15}")
    generate_song(0, 1.0)  # warm-up: imports, wavetables
    for duration in args.durations:
        times = []
        for seed in range(1, args.seeds + 1):
            start = time.perf_counter()
            generate_song(seed, duration)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        print(f"{duration:7.1f}s {median:13.3f}s {median / duration:15.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
