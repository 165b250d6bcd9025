"""GPU checks of the engine (run on a CUDA machine): device choice, per-step overhead of the
loop against bare ``apply_model``, half precision, and the out-of-memory retry.

    python bench/gpu_check.py [--seconds 30] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from demucs.apply import apply_model
from demucs.hdemucs import HDemucs

from progdemix_tui.engine import RunConfig, SeparatorConfig, progressive
from progdemix_tui.engine.device import resolve_device
from progdemix_tui.engine.models import _wrap
from progdemix_tui.engine.separator import Separator

SOURCES = ["drums", "bass", "other", "vocals"]


def sync() -> None:
    torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    device = resolve_device("auto")
    print(f"auto device: {device} ({torch.cuda.get_device_name(device)})")
    assert device.type == "cuda"

    torch.manual_seed(0)
    model = HDemucs(sources=SOURCES, channels=48).eval()
    mixture = torch.randn(2, int(args.seconds * 44100))  # unit variance, as the separator sees it
    refs = 0.05 * torch.randn(4, *mixture.shape)
    sep = Separator.from_config(SeparatorConfig(device="auto", segment=10.0),
                                model=_wrap("hdemucs-random", model, "gpu-check"))
    config = RunConfig(steps=args.rounds)

    def bare() -> float:
        sync()
        start = time.perf_counter()
        with torch.inference_mode():
            apply_model(model, mixture[None], shifts=0, split=True, overlap=0.25, segment=10.0,
                        device=device)
        sync()
        return time.perf_counter() - start

    bare()
    loop = progressive.iterate(sep, mixture, config, refs)
    next(loop)
    b_times, l_times = [], []
    for _ in range(args.rounds):
        b_times.append(bare())
        sync()
        start = time.perf_counter()
        next(loop)
        sync()
        l_times.append(time.perf_counter() - start)
    b, lp = statistics.median(b_times), statistics.median(l_times)
    print(f"{args.seconds:.0f} s stereo, HDemucs channels=48, segment 10 s, overlap 0.25")
    print(f"bare apply_model median {b * 1000:.1f} ms; loop step median {lp * 1000:.1f} ms; "
          f"ratio {lp / b:.3f}")

    half = Separator.from_config(SeparatorConfig(device="cuda", segment=10.0, half=True),
                                 model=_wrap("h", HDemucs(sources=SOURCES, channels=48), "h"))
    out = half.separate(mixture[None])
    print(f"half precision: output {tuple(out.shape)} {out.dtype}, finite: "
          f"{bool(torch.isfinite(out).all())}")

    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(0.04, torch.cuda.current_device())
    oom = Separator.from_config(SeparatorConfig(device="cuda", segment=120.0),
                                model=_wrap("o", HDemucs(sources=SOURCES, channels=48), "o"))
    long_mix = 0.1 * torch.randn(1, 2, 120 * 44100)
    out = oom.separate(long_mix)
    print(f"OOM retry: segment 120 s -> {oom.segment:.2f} s, notes: {oom.notes}, "
          f"output {tuple(out.shape)}")


if __name__ == "__main__":
    main()
