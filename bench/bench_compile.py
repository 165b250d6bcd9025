"""torch.compile and channels-last on this CPU: do they make the separator faster?

A real-size HDemucs (hdemucs_mmi's architecture, channels=48, random weights) separates one
``--seconds`` stereo excerpt through the tool's :class:`Separator`, in fp32 and bf16, as is,
with its 2-D convolutions' weights in channels-last memory format, and wrapped in
``torch.compile`` (inductor; the first call, which compiles, is timed apart). Rounds are
interleaved; medians and ratios against "as is" are printed, and the largest difference of
each variant's output from the plain one (it must stay at float rounding).

    env -u OMP_NUM_THREADS python bench/bench_compile.py [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import time

import torch
from demucs.hdemucs import HDemucs

from progdemix_tui.engine.models import _wrap
from progdemix_tui.engine.separator import Separator
from progdemix_tui.engine.threads import torch_threads

SOURCES = ["drums", "bass", "other", "vocals"]


def separator(module: torch.nn.Module, precision: str, segment: float) -> Separator:
    return Separator(_wrap("bench", module, "bench"), torch.device("cpu"), segment,
                     precision=precision)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(torch_threads())
    torch.manual_seed(0)
    plain = HDemucs(sources=SOURCES, channels=48).eval()
    mix = torch.randn(2, int(args.seconds * plain.samplerate)) * 0.3
    channels_last = copy.deepcopy(plain).to(memory_format=torch.channels_last)
    compiled = torch.compile(copy.deepcopy(plain))
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} thread(s), {args.seconds:g} s excerpt")
    variants: dict[str, torch.nn.Module] = {"as is": plain, "channels-last": channels_last,
                                            "torch.compile": compiled}
    results = {}
    for precision in ("fp32", "bf16"):
        seps = {name: separator(m, precision, args.seconds) for name, m in variants.items()}
        start = time.perf_counter()
        try:
            reference = seps["as is"].separate(mix)
            first = time.perf_counter()
            compiled_out = seps["torch.compile"].separate(mix)
            compile_s = time.perf_counter() - first
        except Exception as exc:  # noqa: BLE001 - report why compile is unusable here
            print(f"{precision}: torch.compile failed: {type(exc).__name__}: "
                  f"{str(exc).splitlines()[0][:200]}")
            seps.pop("torch.compile")
            compile_s, compiled_out = float("nan"), None
        print(f"{precision}: first call with compilation {compile_s:.1f} s "
              f"(after {first - start:.1f} s as is)")
        times: dict[str, list[float]] = {name: [] for name in seps}
        outputs = {"torch.compile": compiled_out}
        for _ in range(args.rounds):
            for name, sep in seps.items():
                start = time.perf_counter()
                outputs[name] = sep.separate(mix)
                times[name].append(time.perf_counter() - start)
        base = statistics.median(times["as is"])
        for name, values in times.items():
            out = outputs[name]
            diff = float((out - reference).abs().max()) if out is not None else float("nan")
            results[(precision, name)] = statistics.median(values)
            print(f"  {name:<14} median {statistics.median(values):6.2f} s "
                  f"({', '.join(f'{v:.2f}' for v in values)})  as-is/this "
                  f"{base / statistics.median(values):.2f}×  max |diff| {diff:.2e}")


if __name__ == "__main__":
    main()
