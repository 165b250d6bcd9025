"""Evaluation overhead: how much of `eval`'s time is not the separator.

Runs the evaluation engine (dataset scan, excerpt choice, loading, the progressive loop with
its SI-SDR metrics, per-track JSON files, tables and plots) on a small synthetic dataset with
a real-size Hybrid Demucs (``HDemucs`` with the default 48 channels, as ``hdemucs_mmi``;
random weights), timing every separator call. Overhead = total − separator time; the target
is ≤ 5 % of the total. The optional SDR (``--sdr``, museval) is timed apart: it is a
per-step cost of its own, reported per step.

    python bench/bench_eval_overhead.py [--tracks 3] [--seconds 10] [--steps 3] [--write]

``--write`` puts the results under "## Evaluation overhead" in bench/RESULTS.md (replacing
that section only). Model loading is excluded (once per run).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from progdemix_tui.engine import dataset as ds
from progdemix_tui.engine import evaluation as ev
from progdemix_tui.engine.config import STEMS, RunConfig, SeparatorConfig
from progdemix_tui.engine.models import save_safetensors
from progdemix_tui.engine.separator import Separator

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADING = "## Evaluation overhead"
RATE = 44100


class TimedSeparator:
    """A separator proxy that adds up the wall time of ``separate`` calls."""

    def __init__(self, inner: Separator):
        self.inner = inner
        self.sources = inner.sources
        self.samplerate = inner.samplerate
        self.seconds = 0.0
        self.calls = 0

    def separate(self, mix, on_chunk=None, cancel=None):
        start = time.perf_counter()
        out = self.inner.separate(mix, on_chunk, cancel)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return out


def write_dataset(root: Path, tracks: int, seconds: float) -> None:
    """Tracks of noise-modulated tones, one folder each, float WAV (mixture = Σ stems)."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * RATE)) / RATE
    for k in range(tracks):
        folder = root / f"track{k:02d}"
        folder.mkdir(parents=True)
        stems = []
        for i, _name in enumerate(STEMS):
            tone = np.sin(2 * np.pi * (55 * (i + 1) * (k + 1)) * t)
            x = 0.1 * tone * (1 + 0.5 * np.sin(2 * np.pi * 0.5 * t)) \
                + 0.02 * rng.standard_normal(t.shape)
            stems.append(np.stack([x, 0.8 * x]).astype(np.float32))
        for name, x in zip(STEMS, stems, strict=True):
            sf.write(folder / f"{name}.wav", x.T, RATE, subtype="FLOAT")
        sf.write(folder / "mixture.wav", np.sum(stems, axis=0).T, RATE, subtype="FLOAT")


def run(tracks: int, seconds: float, steps: int, device: str = "cpu") -> dict:
    from demucs.hdemucs import HDemucs

    work = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    torch.manual_seed(0)
    model_path = save_safetensors(HDemucs(sources=list(STEMS)).eval(), work / "hdemucs.safetensors")
    write_dataset(work / "data", tracks, seconds + 2)
    config = RunConfig(target="vocals", steps=steps,
                       separator=SeparatorConfig(model=str(model_path), device=device))
    separator = Separator.from_config(config.separator)
    params = sum(p.numel() for p in separator.model.module.parameters())
    timed = TimedSeparator(separator)
    settings = ev.EvalSettings(config, ("vocals",), excerpt=seconds)

    start = time.perf_counter()
    dataset = ds.open_dataset(work / "data")
    folder = ev.EvalFolder.create_or_resume(work / "out", settings, {"bench": True})
    ev.evaluate(timed, ev.plan(dataset, settings, folder), settings, folder)
    loop_done = time.perf_counter()
    ev.finalize(folder, plots=True)
    total = time.perf_counter() - start
    tables_plots = time.perf_counter() - loop_done

    # SDR (--sdr): one step's cost, timed apart (museval's BSSEval v4).
    from progdemix_tui.engine.sdr import sdr_db

    loaded = ds.load_track(dataset.tracks[0], RATE, STEMS, seconds)
    estimates = loaded.references + 0.01 * torch.randn_like(loaded.references)
    sdr_db(estimates[..., :RATE], loaded.references[..., :RATE], RATE)  # import + warm-up
    t0 = time.perf_counter()
    sdr_db(estimates, loaded.references, RATE)
    sdr_step = time.perf_counter() - t0
    return {"tracks": tracks, "seconds": seconds, "steps": steps, "params": params,
            "calls": timed.calls, "total": total, "separator": timed.seconds,
            "tables_plots": tables_plots, "sdr_step": sdr_step,
            "sep_step": timed.seconds / max(1, timed.calls), "device": separator.device_name}


def report(r: dict, command: str) -> str:
    overhead = r["total"] - r["separator"]
    share = overhead / r["total"]
    machine = (f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPU cores, "
               f"Python {platform.python_version()}, torch {torch.__version__} "
               f"({torch.get_num_threads()} threads), device {r['device']}")
    return "\n".join([
        HEADING, "",
        f"Command: `{command}` ({datetime.date.today()}). Machine: {machine}.", "",
        f"Real-size HDemucs ({r['params'] / 1e6:.1f} M parameters, random weights), "
        f"{r['tracks']} tracks × {r['seconds']:g} s excerpts, target vocals, "
        f"{r['steps']} steps ({r['calls']} separator calls).", "",
        "| measure | seconds | share of total |", "|---|---:|---:|",
        f"| total (scan, load, loop, metrics, track files, tables, plots) | {r['total']:.2f} "
        "| 100 % |",
        f"| separator calls | {r['separator']:.2f} | {r['separator'] / r['total']:.1%} |",
        f"| **evaluation overhead** (total − separator) | {overhead:.2f} | **{share:.1%}** |",
        f"| of which tables + plots (once per run) | {r['tables_plots']:.2f} | "
        f"{r['tables_plots'] / r['total']:.1%} |", "",
        f"Target ≤ 5 %: {'met' if share <= 0.05 else 'NOT met'}. With `--sdr`, museval's "
        f"BSSEval v4 adds {r['sdr_step']:.2f} s per step on a {r['seconds']:g} s excerpt "
        f"({r['sdr_step'] / r['sep_step']:.0%} of one separator call of "
        f"{r['sep_step']:.2f} s here); it is optional and reported apart.", "",
    ])


def write_section(text: str, path: Path = RESULTS) -> None:
    """Replace (or append) this benchmark's section of RESULTS.md, leaving others alone."""
    old = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmark results\n"
    if HEADING in old:
        before, rest = old.split(HEADING, 1)
        after = rest.split("\n## ", 1)
        tail = ("\n## " + after[1]) if len(after) > 1 else ""
        new = before + text + tail
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="excerpt length")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, …")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    result = run(args.tracks, args.seconds, args.steps, args.device)
    command = "python bench/bench_eval_overhead.py " + " ".join(
        f"--{k} {getattr(args, k):g}" for k in ("tracks", "seconds", "steps"))
    if args.device != "cpu":
        command += f" --device {args.device}"
    text = report(result, command)
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
