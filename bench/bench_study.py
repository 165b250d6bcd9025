"""How much each of the study's procedural choices moves the numbers (docs/study.md).

On held-out demo songs (seeds 1…, never seen by the demo model) with the shipped demo
model, side by side in one run:

- step 0 separated the tool's way (10 s segments, 25 % overlap, mean/std normalisation),
  the study's way (one pass over the whole excerpt, no normalisation) and one pass with
  normalisation: the chunking and the normalisation effects apart;
- the oracle mixture at intermediate steps as the study's text states it (the tool's) and
  as its code computes it (its stems dict also holds mixture and new mixture);
- BSSEval v4 SDR (median over 1 s frames) and the study's whole-excerpt SDR of step 0;
- the population and the sample standard deviation of step 0's SI-SDR over the songs.

    python bench/bench_study.py [--songs 8] [--seconds 30] [--steps 10]

Prints means and extremes over songs (dB). Times are not measured.
"""

from __future__ import annotations

import argparse
import os
import platform

import numpy as np
import torch

from progdemix_tui.demo import generate_song
from progdemix_tui.engine import Separator, SeparatorConfig, study
from progdemix_tui.engine.metrics import si_sdr_db, si_sdr_stems
from progdemix_tui.engine.mixing import build_mixture
from progdemix_tui.engine.sdr import sdr_db, whole_sdr_db


def normalised_whole_pass(whole: study.WholeExcerptSeparator, mix: torch.Tensor) -> torch.Tensor:
    """One pass over the whole excerpt with the tool's mean/std normalisation."""
    ref = mix.mean(0)
    mean, std = ref.mean(), ref.std(correction=0).clamp_min(1e-8)
    out = whole.separate(((mix - mean) / std)[None])[0]
    return out * std + mean / out.shape[0]


def describe(values: list[float]) -> str:
    a = np.asarray(values)
    return f"mean {a.mean():+.3f}  min {a.min():+.3f}  max {a.max():+.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    sep = Separator.from_config(SeparatorConfig(model="demo", device="cpu"))
    whole = study.WholeExcerptSeparator(sep)
    sources = sep.sources
    target = sources.index("vocals")
    chunking: dict[str, list[float]] = {s: [] for s in sources}
    normalising: dict[str, list[float]] = {s: [] for s in sources}
    tool_step0: dict[str, list[float]] = {s: [] for s in sources}
    oracle: dict[int, list[float]] = {}
    bss_minus_whole: dict[str, list[float]] = {s: [] for s in sources}
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared with "
          f"4 other engineers' work), torch {torch.__version__}, {torch.get_num_threads()} "
          f"thread(s); demo model, {args.songs} held-out demo songs of {args.seconds:g} s")
    for seed in range(1, args.songs + 1):
        song = generate_song(seed, duration=args.seconds)
        refs = torch.from_numpy(song.stems)
        mix = torch.from_numpy(song.mixture)
        tool = sep.separate(mix)
        plain = whole.separate(mix[None])[0]
        normed = normalised_whole_pass(whole, mix)
        for name, a, b, c in zip(sources, si_sdr_stems(tool, refs), si_sdr_stems(normed, refs),
                                 si_sdr_stems(plain, refs), strict=True):
            tool_step0[name].append(a)
            chunking[name].append(c - a)  # the study's whole pass minus the tool's chunks
            normalising[name].append(c - b)  # without minus with normalisation
        for name, b, w in zip(sources, sdr_db(tool, refs, sep.samplerate),
                              whole_sdr_db(tool, refs), strict=True):
            if b is not None and w is not None:
                bss_minus_whole[name].append(b - w)
        new_mix = study.new_mixture(mix, refs)
        for n in (2, 5, 8):
            beta = n / args.steps
            y_tool = build_mixture("oracle", beta, mix, refs, target, refs)
            y_study = study.oracle_mixture(beta, new_mix, refs, target, mix)
            got = [si_sdr_db(whole.separate(y[None])[0, target], refs[target])
                   for y in (y_tool, y_study)]
            oracle.setdefault(n, []).append(got[1] - got[0])
        print(f"  song {seed}: done", flush=True)
    print("\nstep 0 SI-SDR, the study's whole pass minus the tool's 10 s chunks (dB):")
    for name in sources:
        print(f"  {name:7s} {describe(chunking[name])}")
    print("step 0 SI-SDR, whole pass without minus with normalisation (dB):")
    for name in sources:
        print(f"  {name:7s} {describe(normalising[name])}")
    print(f"oracle mode, vocals SI-SDR with the study's code's mixture minus its text's "
          f"(whole pass, N = {args.steps}) (dB):")
    for n, values in oracle.items():
        print(f"  step {n} (β = {n / args.steps:.1f}) {describe(values)}")
    print("step 0, BSSEval v4 SDR minus the whole-excerpt SDR (dB):")
    for name in sources:
        print(f"  {name:7s} {describe(bss_minus_whole[name])}")
    print("step 0 SI-SDR over songs (tool's separation): population std vs sample std (dB):")
    for name in sources:
        a = np.asarray(tool_step0[name])
        print(f"  {name:7s} mean {a.mean():.2f}  std {a.std():.3f}  sample std "
              f"{a.std(ddof=1):.3f}")


if __name__ == "__main__":
    main()
