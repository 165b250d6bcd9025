"""Batched chunks on this machine: the separator with ``--batch-chunks`` 1, 2 and 4.

A real-size HDemucs (hdemucs_mmi's architecture, channels=48, random weights; or HTDemucs's
with ``--arch htdemucs``) separates one ``--seconds`` stereo excerpt with 10 s segments
(``--seconds 40``: five full chunks and a short one) in each precision and batch; every round
runs every setting, alternating, after one untimed warm-up round. Prints the medians, the
ratio to one chunk at a time, the largest difference between the outputs, and the CPU's
bf16 flags (the figures depend on them).

    python bench/bench_batch_chunks.py [--seconds 40] [--rounds 3] [--arch hdemucs|htdemucs]
        [--precisions fp32,bf16] [--batches 1,2,4]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import torch

from progdemix_tui.engine.config import SeparatorConfig
from progdemix_tui.engine.models import _wrap
from progdemix_tui.engine.precision import CPU_BF16_FLAGS, cpu_has_bf16
from progdemix_tui.engine.separator import Separator
from progdemix_tui.engine.threads import torch_threads, use_threads

SOURCES = ["drums", "bass", "other", "vocals"]


def build(arch: str) -> torch.nn.Module:
    from demucs.hdemucs import HDemucs
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(0)
    module = HDemucs(sources=SOURCES, channels=48) if arch == "hdemucs" else HTDemucs(
        sources=SOURCES)
    return module.eval()


def cpu_flags() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = line.partition(":")[2].split()
            return ", ".join(f"{f} {'yes' if f in flags else 'no'}"
                             for f in (*CPU_BF16_FLAGS, "amx_tile", "avx512f", "avx2"))
    return "?"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--arch", choices=("hdemucs", "htdemucs"), default="hdemucs")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--batches", default="1,2,4")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    threads = torch_threads(args.threads)
    use_threads(threads)
    module = build(args.arch)
    mix = 0.1 * torch.randn(1, 2, int(args.seconds * 44100),
                            generator=torch.Generator().manual_seed(1))
    settings = [(p, int(b)) for p in args.precisions.split(",") for b in args.batches.split(",")]
    separators = {}
    for precision, batch in settings:
        config = SeparatorConfig(device="cpu", precision=precision,  # type: ignore[arg-type]
                                 batch_chunks=batch, cache=False)
        separators[precision, batch] = Separator.from_config(
            config, model=_wrap(args.arch, module, "bench"))
    times: dict[tuple[str, int], list[float]] = {s: [] for s in settings}
    outputs: dict[tuple[str, int], torch.Tensor] = {}
    for round_ in range(args.rounds + 1):
        for setting in settings:
            start = time.perf_counter()
            outputs[setting] = separators[setting].separate(mix)
            if round_:
                times[setting].append(time.perf_counter() - start)
    chunks = separators[settings[0]].chunks(mix.shape[-1])
    print(f"{args.arch} real-size, {args.seconds:g} s stereo, 10 s segments ({chunks} chunks), "
          f"{threads} thread(s), torch {torch.__version__}, Python {platform.python_version()}")
    print(f"CPU: {platform.processor() or platform.machine()}; {cpu_flags()}; native bf16: "
          f"{cpu_has_bf16()}")
    print("| precision | batch | median s | rounds | / batch 1 | max abs diff to batch 1 |")
    print("|---|---:|---:|---|---:|---:|")
    for precision, batch in settings:
        median = statistics.median(times[precision, batch])
        first = statistics.median(times[precision, 1]) if (precision, 1) in times else median
        diff = (outputs[precision, batch] - outputs.get((precision, 1), outputs[precision, batch])
                ).abs().max().item()
        rounds = ", ".join(f"{t:.2f}" for t in times[precision, batch])
        print(f"| {precision} | {batch} | {median:.2f} | {rounds} | {median / first:.2f} | "
              f"{diff:.1e} |")


if __name__ == "__main__":
    main()
