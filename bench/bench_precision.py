"""Precision and threads against demucs's own ``apply_model`` fp32, side by side in one run.

1. Time. A real-size HDemucs (hdemucs_mmi's architecture, channels=48, random weights; or
   htdemucs's with ``--arch htdemucs``) and one
   ``--seconds`` stereo excerpt. The anchor is ``demucs.apply.apply_model`` in fp32 on torch's
   default threads (what demucs itself does, normalised like ``demucs.separate``). Against it:
   one progressive step of the tool (:func:`iterate`, step 1's own seconds: building y_1,
   separating it through the tool's :class:`Separator`, the metrics) under each precision and
   thread count (the policy, and every CPU), and bf16 autocast over float32 weights (the
   tool's bf16 before it stored the weights in bf16). Every round runs every setting, so a machine
   busy with other work slows them all alike: one child process per thread count (a process
   that keeps its thread count, as a run does), each timing its settings after a warm-up
   round. Medians and ratios to the anchor are printed.
2. Quality. The demo model on the 20 held-out demo songs (seeds 1..20, 6 s each): per-stem
   mean SI-SDR of the anchor and of the tool's separator under each precision, and the change
   against the anchor (goal: within 0.1 dB for every stem).
3. The step-0 cache. A ``--cache-seconds`` demo song on disk, the real-size model, the
   TUI's path (:func:`run_session` on a kept separator, as the TUI's run worker does): the
   time until step 0's files are written and it is handed out, cold and then re-run with a
   new schedule (a cache hit; goal under 1 s).

    env -u OMP_NUM_THREADS python bench/bench_precision.py [--seconds 10] [--rounds 3]
        [--songs 20] [--cache-seconds 30] [--arch hdemucs|htdemucs]

(unset OMP_NUM_THREADS: with it set, torch's default and the policy are both that count)
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from demucs.apply import apply_model
from demucs.hdemucs import HDemucs
from demucs.htdemucs import HTDemucs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from demo_common import HELD_OUT_SEEDS, held_out_songs, si_sdr  # noqa: E402

from progdemix_tui.engine import RunConfig  # noqa: E402
from progdemix_tui.engine.job import run_session  # noqa: E402
from progdemix_tui.engine.models import _wrap, load_model  # noqa: E402
from progdemix_tui.engine.precision import cpu_has_bf16  # noqa: E402
from progdemix_tui.engine.progressive import iterate  # noqa: E402
from progdemix_tui.engine.separator import Separator  # noqa: E402
from progdemix_tui.engine.step0_cache import Step0Cache  # noqa: E402
from progdemix_tui.engine.threads import available_cpus, torch_threads  # noqa: E402
from progdemix_tui.engine.tracks import load_input  # noqa: E402

SOURCES = ["drums", "bass", "other", "vocals"]
ARCHITECTURES = {
    "hdemucs": lambda: HDemucs(sources=SOURCES, channels=48),  # hdemucs_mmi's
    "htdemucs": lambda: HTDemucs(sources=SOURCES),  # htdemucs's (transformer, 10 s segment)
}
"""Real-size architectures ``--arch`` times (random weights)."""
PRECISIONS = ("fp32", "bf16")
AUTOCAST_ONLY = "bf16 autocast, fp32 weights"
"""The bf16 the tool used before its weights were stored in bf16 (timed for comparison)."""


def anchor(module: torch.nn.Module, mix: torch.Tensor, segment: float) -> torch.Tensor:
    """demucs's own way: normalise, ``apply_model`` in fp32, denormalise. ``[S, C, T]``.

    ``shifts=0`` as the tool's default (``apply_model``'s own default, 1, pads the input by
    a random shift of up to 0.5 s: another chunk, and another result)."""
    ref = mix.mean(0)
    mean, std = ref.mean(), ref.std()
    with torch.no_grad():
        out = apply_model(module, ((mix - mean) / std)[None], shifts=0, split=True,
                          overlap=0.25, segment=segment, device="cpu")[0]
    return out * std + mean / len(SOURCES)


class AutocastOnly(Separator):
    """bf16 autocast over the float32 weights (the tool's bf16 before WEIGHT_DTYPES)."""

    def runnable_module(self) -> torch.nn.Module:
        return self.model.module


def tool(module: torch.nn.Module, precision: str, segment: float) -> Separator:
    kind = AutocastOnly if precision == AUTOCAST_ONLY else Separator
    return kind(_wrap("bench", module, "bench"), torch.device("cpu"), segment,
                precision="bf16" if precision == AUTOCAST_ONLY else precision)  # type: ignore[arg-type]


def progressive_step(separator: Separator, mix: torch.Tensor) -> float:
    """Seconds of step 1 of a one-step run (step 0 comes from the separator's cache)."""
    results = list(iterate(separator, mix, RunConfig(steps=1)))
    return results[1].metrics.seconds


def time_settings(default: int) -> dict[str, tuple[str, str, int]]:
    """Every timed setting: name -> (anchor or tool, precision, threads)."""
    policy, cpus = torch_threads(), available_cpus()
    settings = {"anchor: apply_model fp32": ("anchor", "fp32", default)}
    for threads in sorted({policy, cpus} - {default}):
        settings[f"apply_model fp32, {threads} thread(s)"] = ("anchor", "fp32", threads)
    for threads in sorted({policy, cpus}):
        for precision in (*PRECISIONS, AUTOCAST_ONLY):
            settings[f"tool step, {precision}, {threads} thread(s)"] = ("tool", precision,
                                                                        threads)
    return settings


def time_group(args: argparse.Namespace) -> None:
    """Child process: one round of the settings on ``args.group`` threads, after an untimed
    warm-up round; prints ``{name: seconds}`` as JSON."""
    torch.set_num_threads(args.group)
    settings = {name: s for name, s in time_settings(args.default).items()
                if s[2] == args.group}
    torch.manual_seed(0)
    module = ARCHITECTURES[args.arch]().eval()
    mix = torch.randn(2, int(args.seconds * module.samplerate)) * 0.3
    folder = tempfile.TemporaryDirectory(prefix="bench-step0-")  # removed when the child ends
    cache = Step0Cache(Path(folder.name))
    separators = {}
    for name, (kind, precision, _) in settings.items():
        if kind == "tool":
            separators[name] = tool(module, precision, args.seconds)
            separators[name].step0_cache = cache
    times = {}
    for _ in range(2):  # the first round warms up (and fills step 0's cache)
        for name, (kind, _, _) in settings.items():
            start = time.perf_counter()
            if kind == "anchor":
                anchor(module, mix, args.seconds)
                times[name] = time.perf_counter() - start
            else:
                times[name] = progressive_step(separators[name], mix)
    print(json.dumps(times))


def timing(args: argparse.Namespace) -> None:
    default = torch.get_num_threads()
    settings = time_settings(default)
    # One child process per thread count and round: a process that switches its thread
    # count between settings ran the bf16 step up to 1.4x slower than one that keeps it
    # (measured here), which a real run, on one thread count, never pays.
    groups = sorted({threads for _, _, threads in settings.values()}, key=lambda t: t != default)
    times: dict[str, list[float]] = {name: [] for name in settings}
    print(f"\n== time: {args.arch} (random weights), {args.seconds:g} s excerpt, "
          f"{args.rounds} rounds; in each round one process per thread count times its "
          f"settings after a warm-up round; the anchor on torch's default threads "
          f"({default}) ==")
    for _ in range(args.rounds):
        for group in groups:
            child = subprocess.run(
                [sys.executable, __file__, "--group", str(group), "--default", str(default),
                 "--seconds", str(args.seconds), "--arch", args.arch], check=True,
                capture_output=True, text=True)
            for name, seconds in json.loads(child.stdout.splitlines()[-1]).items():
                times[name].append(seconds)
    base = statistics.median(times["anchor: apply_model fp32"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<50} median {median:6.2f} s ({', '.join(f'{v:.2f}' for v in values)})"
              f"  this/anchor {median / base:.2f}")


def quality(args: argparse.Namespace) -> None:
    seeds = HELD_OUT_SEEDS[:args.songs]
    stems = held_out_songs(seeds)
    module = load_model("demo").module
    torch.set_num_threads(torch_threads())
    scores: dict[str, list[np.ndarray]] = {"anchor fp32": []}
    separators = {f"tool {p}": tool(module, p, 10.0) for p in PRECISIONS}
    scores.update({name: [] for name in separators})
    for song in stems:  # interleaved per song
        refs = torch.from_numpy(song)
        mix = refs.sum(0)
        scores["anchor fp32"].append(si_sdr(anchor(module, mix, 10.0), refs).mean(-1).numpy())
        for name, sep in separators.items():
            scores[name].append(si_sdr(sep.separate(mix), refs).mean(-1).numpy())
    print(f"\n== quality: demo model, {len(seeds)} held-out songs (seeds {seeds[0]}.."
          f"{seeds[-1]}), 6 s each, one-shot, mean SI-SDR dB (change against the anchor; "
          f"largest change on one song) ==")
    print(f"  {'':<12}" + "".join(f"{s:>26}" for s in SOURCES))
    base = np.stack(scores["anchor fp32"])
    for name, values in scores.items():
        table = np.stack(values)
        cells = []
        for i in range(len(SOURCES)):
            delta = table[:, i] - base[:, i]
            cells.append(f"{table[:, i].mean():7.3f} ({delta.mean():+.3f}; "
                         f"{delta[np.abs(delta).argmax()]:+.3f})")
        print(f"  {name:<12}" + "".join(f"{c:>26}" for c in cells))


def cache_hit(args: argparse.Namespace) -> None:
    """Step 0 shown after a cold run, then after re-runs with new schedules (cache hits)."""
    torch.set_num_threads(torch_threads())
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as folder:
        cache_runs(args, Path(folder))


def cache_runs(args: argparse.Namespace, work: Path) -> None:
    """:func:`cache_hit` in the scratch folder ``work``."""
    from progdemix_tui.demo import generate_song, write_song

    track = work / "song"
    write_song(generate_song(7, args.cache_seconds), track)
    torch.manual_seed(0)
    module = HDemucs(sources=SOURCES, channels=48).eval()
    separator = tool(module, "bf16" if cpu_has_bf16() else "fp32", 10.0)
    separator.step0_cache = Step0Cache(work / "cache")
    prepared = load_input(track, separator.samplerate)
    print(f"\n== step-0 cache: run_session to step 0 on disk, {args.cache_seconds:g} s song, "
          f"{separator.precision}, {torch.get_num_threads()} thread(s) ==")
    for n, schedule in enumerate(("linear", "cosine", "geometric", "sigmoid")):
        config = RunConfig(steps=1, schedule=schedule)  # type: ignore[arg-type]
        start = time.perf_counter()
        results = run_session(separator, prepared, config, work / f"session-{n}")
        next(results)
        seconds = time.perf_counter() - start
        results.close()
        print(f"  {'cold' if n == 0 else 'cache hit, new schedule'} ({schedule}): step 0 "
              f"shown after {seconds:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="hdemucs",
                        help="the timed model: hdemucs_mmi's or htdemucs's architecture")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--songs", type=int, default=len(HELD_OUT_SEEDS))
    parser.add_argument("--cache-seconds", type=float, default=30.0)
    parser.add_argument("--skip", nargs="*", default=[], choices=["time", "quality", "cache"])
    parser.add_argument("--group", type=int, help=argparse.SUPPRESS)  # a timing child
    parser.add_argument("--default", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.group:
        time_group(args)
        return
    print(f"torch {torch.__version__}, Python {platform.python_version()}, "
          f"{platform.machine()}, {available_cpus()} CPU(s), native bf16: {cpu_has_bf16()}, "
          f"torch default threads {torch.get_num_threads()}, policy {torch_threads()}")
    if "time" not in args.skip:
        timing(args)
    if "quality" not in args.skip:
        quality(args)
    if "cache" not in args.skip:
        cache_hit(args)


if __name__ == "__main__":
    main()
