"""Each model family: a progressive step against the family's own inference, bf16 against fp32.

Per family, a real-size model with random weights built from its published configuration:
Open-Unmix ``umxhq`` (four 512-unit BiLSTM targets, 35.6 M weights, saved as the package saves
it and loaded through the family's loader), BS-RoFormer and Mel-Band RoFormer as the training
code's published vocals configs (dim 192, depth 6 / 8; 2.98 s chunks, ``num_overlap`` 4; a
checkpoint as the training code saves it, loaded with its YAML config). One ``--seconds``
stereo input at 44.1 kHz. Timed side by side in every round (a busy machine slows all alike),
after one untimed warm-up round that also fills step 0's cache:

- ``own fp32``: the family's own inference — the package's ``Separator`` called on the whole
  input as ``openunmix.predict.separate`` calls it; for RoFormers the re-derivation of the
  training code's ``demix`` that tests/unit/test_family_roformer.py checks the family against;
- ``step fp32`` / ``step bf16``: step 1 of a one-step run (:func:`iterate`: building y_1,
  separating it through the tool's :class:`Separator`, the metrics): the work the run's
  generator does between yielding step 0 and step 1.

Each is timed twice: wall seconds, and CPU seconds of the process (``time.process_time``).
On a shared machine the wall time swings with the other processes' load (one BS-RoFormer
round took 58 s, the next 113 s); with one torch thread the CPU time counts the work itself
and stays within a few percent. The settings run in turn, their order reversed every other
round. Printed: medians (and min–max), ``step fp32 / own fp32`` on CPU and on wall time (goal
<= 1.05) and ``step bf16 / step fp32``, and bf16's error: the energy of (bf16 − fp32) over that
of fp32, on step 0's stems.

    python bench/bench_families.py [--seconds 6] [--rounds 3] [--families umxhq bs mel]
        [--threads 1] [--json OUT] [--quick]   (--quick: shrunk models, 2 s, 1 round: a smoke test of the script)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import yaml

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))
from unit import test_family_openunmix as umx_ref  # noqa: E402
from unit import test_family_roformer as rof_ref  # noqa: E402

from progdemix_tui.engine import RunConfig  # noqa: E402
from progdemix_tui.engine.families import openunmix as umx_family  # noqa: E402
from progdemix_tui.engine.families import roformer  # noqa: E402
from progdemix_tui.engine.families.umx_package import openunmix  # noqa: E402
from progdemix_tui.engine.models.base import LoadedModel, ModelRequest  # noqa: E402
from progdemix_tui.engine.precision import cast_weights  # noqa: E402
from progdemix_tui.engine.progressive import iterate  # noqa: E402
from progdemix_tui.engine.separator import Separator  # noqa: E402
from progdemix_tui.engine.step0_cache import Step0Cache  # noqa: E402

RATE = 44100
CPU = torch.device("cpu")
FLAGS = ("avx512_bf16", "amx_bf16", "amx_tile", "avx512f", "avx2")
ROFORMERS = {"bs": "bs_roformer", "mel": "mel_band_roformer"}


def cpu_flags() -> dict[str, bool]:
    """Which of :data:`FLAGS` /proc/cpuinfo lists."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    flags = set(next((line.partition(":")[2].split() for line in text.splitlines()
                      if line.startswith("flags")), []))
    return {flag: flag in flags for flag in FLAGS}


# --------------------------------------------------------------------------- models


def build_umx(work: Path, quick: bool) -> tuple[LoadedModel, Callable[[torch.Tensor], torch.Tensor]]:
    """umxhq's sizes (or tiny ones), random weights, saved as the package's train.py does and
    loaded through the family's loader; its own inference is the package's Separator."""
    if quick:
        targets, args = umx_ref.tiny_targets(), umx_ref.TINY_ARGS
    else:
        targets = {name: umx_ref.randomise(model, i) for i, (name, model) in
                   enumerate(openunmix().umxhq_spec(pretrained=False).items())}
        args = umx_ref.UMXHQ_ARGS
    folder = umx_ref.save_folder(work / "umx", targets, args)
    model = umx_family.OpenUnmixSource().load(ModelRequest(str(folder)))

    def own(mix: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():  # openunmix.predict.separate: separator(audio), one EM pass
            return model.module(mix[None])[0]

    return model, own


def build_roformer(kind: str, work: Path, quick: bool) \
        -> tuple[LoadedModel, Callable[[torch.Tensor], torch.Tensor]]:
    """The published vocals config of ``kind`` (or its shrunk test copy), random weights in a
    ``.ckpt`` as the training code saves it, loaded with its YAML; its own inference is the
    re-derived ``demix``."""
    data = rof_ref.document(kind)
    if not quick:
        data["model"] = {**rof_ref.PUBLISHED[kind], "num_stems": 1}
        data["audio"].update(sample_rate=RATE, chunk_size=131584, n_fft=2048, hop_length=512)
    folder = work / kind
    folder.mkdir()
    checkpoint = rof_ref.random_checkpoint(folder, data, kind)
    config = folder / "config.yaml"
    config.write_text(yaml.dump(data))
    model = roformer.load(checkpoint, config)
    chunk = data["audio"]["chunk_size"]
    overlap = data["inference"]["num_overlap"]

    def own(mix: torch.Tensor) -> torch.Tensor:
        return rof_ref.training_code_demix(model.module, mix, chunk, overlap)

    return model, own


def separator(model: LoadedModel, precision: str, cache: Path) -> Separator:
    """The tool's separator of ``model`` as a run builds it: the model's own segment and
    overlap, weights in ``precision``'s dtype, a step-0 cache in ``cache``."""
    return Separator(model, CPU, float(min(model.max_segment, 1e9)),
                     overlap=getattr(model, "default_overlap", 0.25),
                     precision=precision,  # type: ignore[arg-type]
                     half=False, step0_cache=Step0Cache(cache))


Timing = tuple[float, float]
"""``(wall seconds, CPU seconds)``."""


def timed(work: Callable[[], object]) -> tuple[Timing, object]:
    """``work()``'s wall and process CPU seconds, and its value."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = work()
    return (time.perf_counter() - wall, time.process_time() - cpu), value


def step_timing(sep: Separator, mix: torch.Tensor, target: str) -> tuple[Timing, torch.Tensor]:
    """Seconds of step 1 of a one-step run (what the generator does between yielding step 0
    and step 1), and step 0's stems."""
    run = iterate(sep, mix, RunConfig(steps=1, target=target))
    first = next(run)
    timing, _ = timed(lambda: next(run))
    return timing, first.estimates


def error(test: torch.Tensor, reference: torch.Tensor) -> float:
    """Energy of ``test - reference`` over that of ``reference``."""
    return float(((test - reference) ** 2).sum() / (reference ** 2).sum().clamp_min(1e-20))


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def bench_family(name: str, model: LoadedModel, own: Callable[[torch.Tensor], torch.Tensor],
                 mix: torch.Tensor, rounds: int, cache: Path) -> dict:
    target = "vocals"
    cast_weights(model.module, "fp32")
    separators = {"step fp32": separator(model, "fp32", cache),
                  "step bf16": separator(model, "bf16", cache)}
    times: dict[str, list[Timing]] = {"own fp32": [], **{k: [] for k in separators}}
    stems: dict[str, torch.Tensor] = {}
    for round_ in range(rounds + 1):  # round 0 warms up (and fills step 0's caches)
        order = list(times) if round_ % 2 else list(reversed(times))
        for key in order:
            if key == "own fp32":
                timing, _ = timed(lambda: own(mix))
            else:
                timing, stems[key] = step_timing(separators[key], mix, target)
            if round_:
                times[key].append(timing)
    wall = {key: summary([t[0] for t in values]) for key, values in times.items()}
    cpu = {key: summary([t[1] for t in values]) for key, values in times.items()}

    def ratio(of: dict, a: str, b: str) -> float:
        return of[a]["median"] / of[b]["median"]

    return {"family": name, "parameters": sum(p.numel() for p in model.module.parameters()),
            "times": times, "wall": wall, "cpu": cpu,
            "step / own cpu": ratio(cpu, "step fp32", "own fp32"),
            "step / own wall": ratio(wall, "step fp32", "own fp32"),
            "bf16 / fp32 cpu": ratio(cpu, "step bf16", "step fp32"),
            "bf16 / fp32 wall": ratio(wall, "step bf16", "step fp32"),
            "bf16 error": error(stems["step bf16"], stems["step fp32"])}


def spread(of: dict) -> str:
    return f"{of['median']:7.2f} ({of['min']:.2f}–{of['max']:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--families", nargs="+", choices=("umxhq", "bs", "mel"),
                        default=["umxhq", "bs", "mel"])
    parser.add_argument("--quick", action="store_true",
                        help="shrunk models, 2 s, 1 round: check that the script runs")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: the thread policy's count on 2 cores)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds = 2.0, 1
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), Python "
          f"{platform.python_version()}, CPU flags: "
          + ", ".join(f"{flag} {'yes' if on else 'no'}" for flag, on in cpu_flags().items()))
    results = []
    loads = [os.getloadavg()]
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families:
            work = Path(tmp) / family
            work.mkdir()
            if family == "umxhq":
                model, own = build_umx(work, args.quick)
                rate = model.samplerate
            else:
                model, own = build_roformer(ROFORMERS[family], work, args.quick)
                rate = model.samplerate
            generator = torch.Generator().manual_seed(0)
            mix = 0.1 * torch.randn(2, int(args.seconds * rate), generator=generator)
            result = bench_family(family, model, own, mix, args.rounds, work / "step0")
            results.append(result)
            print(f"{family:6} {result['parameters'] / 1e6:6.1f} M weights, bf16 error "
                  f"{result['bf16 error']:.1e}", flush=True)
            for clock in ("cpu", "wall"):
                m = result[clock]
                print(f"  {clock:4} s: own fp32 {spread(m['own fp32'])}  step fp32 "
                      f"{spread(m['step fp32'])}  step bf16 {spread(m['step bf16'])}  "
                      f"step/own {result[f'step / own {clock}']:.3f}  bf16/fp32 "
                      f"{result[f'bf16 / fp32 {clock}']:.3f}", flush=True)
    loads.append(os.getloadavg())
    print("load average (1, 5, 15 min) at the start "
          + ", ".join(f"{x:.1f}" for x in loads[0]) + "; at the end "
          + ", ".join(f"{x:.1f}" for x in loads[1]))
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu_flags(), "seconds": args.seconds,
                                         "threads": args.threads, "load": loads,
                                         "results": results}, indent=1))


if __name__ == "__main__":
    main()
