"""Per-step cost of the progressive loop against a bare ``apply_model`` call.

Same model (a real-size HDemucs: hdemucs_mmi's architecture, random weights), same input,
segment and overlap, measured side by side in one run, interleaved (bare, loop step, bare,
…) so that drift of the machine affects both alike. Reports medians and their ratio.

    python bench/bench_loop_overhead.py [--seconds 20] [--rounds 4] [--channels 48]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
from demucs.apply import apply_model
from demucs.hdemucs import HDemucs

from progdemix_tui.engine import RunConfig, SeparatorConfig, progressive
from progdemix_tui.engine.models import _wrap
from progdemix_tui.engine.separator import Separator

SOURCES = ["drums", "bass", "other", "vocals"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--channels", type=int, default=48)
    parser.add_argument("--segment", type=float, default=10.0)
    parser.add_argument("--overlap", type=float, default=0.25)
    args = parser.parse_args()

    torch.manual_seed(0)
    model = HDemucs(sources=SOURCES, channels=args.channels).eval()
    rate = model.samplerate
    # Unit variance: the separator normalises its input like demucs.separate, so the bare
    # call gets the same numbers only if the input is already normalised.
    mixture = torch.randn(2, int(args.seconds * rate))
    references = 0.05 * torch.randn(4, *mixture.shape)
    separator = Separator.from_config(
        SeparatorConfig(device="cpu", segment=args.segment, overlap=args.overlap),
        model=_wrap("hdemucs-random", model, "benchmark"))
    config = RunConfig(steps=args.rounds, separator=SeparatorConfig(segment=args.segment))

    def bare() -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            apply_model(model, mixture[None], shifts=0, split=True, overlap=args.overlap,
                        segment=args.segment, device="cpu")
        return time.perf_counter() - start

    bare()  # warm-up
    loop = progressive.iterate(separator, mixture, config, references)
    next(loop)  # step 0 (warm-up for the loop)
    bare_times, loop_times = [], []
    for _ in range(args.rounds):
        bare_times.append(bare())
        start = time.perf_counter()
        next(loop)
        loop_times.append(time.perf_counter() - start)
    b, lp = statistics.median(bare_times), statistics.median(loop_times)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}")
    print(f"model: HDemucs channels={args.channels} "
          f"({sum(p.numel() for p in model.parameters()) / 1e6:.1f} M params), "
          f"input {args.seconds:.0f} s stereo, segment {args.segment} s, overlap {args.overlap}")
    print(f"bare apply_model   median {b:.3f} s  ({', '.join(f'{t:.2f}' for t in bare_times)})")
    print(f"loop step (n ≥ 1)  median {lp:.3f} s  ({', '.join(f'{t:.2f}' for t in loop_times)})")
    print(f"ratio loop/bare: {lp / b:.3f}  (target ≤ 1.03)")


if __name__ == "__main__":
    main()
