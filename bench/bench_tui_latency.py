"""TUI input latency while a run is in progress: key press → next screen update.

A real-size Hybrid Demucs (``demucs.hdemucs.HDemucs`` defaults, channels=48, random
weights, saved with ``save_safetensors``) runs on the CPU in the app's thread worker while
the Pilot presses ``z`` (hide/show the side panel, a visible layout change) many times.
Latency is the time from posting the key event to the first compositor update that shows
the change (``App._display`` is called right after the screen is re-rendered). Reports
p50/p95 per torch thread setting and records them under "## TUI input latency" in
bench/RESULTS.md.

    python bench/bench_tui_latency.py                # default: threads "torch,auto"
    python bench/bench_tui_latency.py --samples 200 --threads 1 --no-record
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
HEADING = "## TUI input latency"
STEMS = ("drums", "bass", "other", "vocals")


def make_inputs(folder: Path, seconds: float) -> tuple[Path, Path]:
    from demucs.hdemucs import HDemucs

    from progdemix_tui.engine.models import save_safetensors

    torch.manual_seed(0)
    model = HDemucs(sources=list(STEMS)).eval()
    model_path = save_safetensors(model, folder / "hdemucs_random.safetensors")
    rate = 44100
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(0)
    track = folder / "track"
    track.mkdir()
    stems = [0.1 * rng.standard_normal(t.shape), 0.3 * np.sin(2 * np.pi * 55 * t),
             0.2 * np.sin(2 * np.pi * 330 * t), 0.3 * np.sin(2 * np.pi * 440 * t)]
    for name, x in zip(STEMS, stems, strict=True):
        sf.write(track / f"{name}.wav", np.stack([x, x]).T.astype(np.float32), rate)
    sf.write(track / "mixture.wav", np.stack([sum(stems)] * 2).T.astype(np.float32), rate)
    return model_path, track


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


async def measure(model_path: Path, track: Path, workdir: Path, threads: int | str | None,
                  samples: int, seconds: float) -> dict:
    from textual import events

    from progdemix_tui.tui.app import ProgdemixApp
    from progdemix_tui.tui.audition import NullBackend
    from progdemix_tui.tui.settings import Settings

    settings = Settings(path=workdir / "settings.json")
    settings.params.update({"model_path": str(model_path), "steps": "50", "segment": "5",
                            "duration": str(seconds), "device": "cpu",
                            "out": str(workdir / "sessions")})
    app = ProgdemixApp(track, settings=settings, backend=NullBackend(), models=[("x", "x")],
                       torch_threads=threads, save_settings=False)
    displays: list[float] = []
    original = app._display

    def display(screen, renderable):
        if renderable is not None:
            displays.append(time.perf_counter())
        return original(screen, renderable)

    app._display = display  # type: ignore[method-assign]
    latencies: list[float] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("r")
        deadline = time.monotonic() + 300
        while app.run_view.chunks <= 1 or app.timeline.folder is None:  # model loaded, chunks going
            if time.monotonic() > deadline or not app.run_view.running:
                raise RuntimeError("the run did not start")
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        sidebar = app.query_one("#sidebar")
        steps_before = len(app.timeline.rows)
        for _ in range(samples):
            if not app.run_view.running:
                break
            shown = sidebar.display
            start = time.perf_counter()
            n_before = len(displays)
            app.post_message(events.Key("z", "z"))
            while True:
                await asyncio.sleep(0.0005)
                if sidebar.display != shown and len(displays) > n_before \
                        and displays[-1] > start:
                    # the first update after the toggle took effect
                    later = [d for d in displays[n_before:] if d > start]
                    latencies.append(later[0] - start)
                    break
                if time.perf_counter() - start > 5:
                    latencies.append(5.0)
                    break
            await asyncio.sleep(random.uniform(0.05, 0.15))
        steps_during = len(app.timeline.rows) - steps_before
        still_running = app.run_view.running
        app.action_cancel()
        deadline = time.monotonic() + 60
        while app.run_view.running and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    ms = [x * 1000 for x in latencies]
    label = f"{threads} ({app.torch_threads})" if threads == "auto" else str(threads)
    return {"threads": "torch default" if threads is None else label, "n": len(ms),
            "p50": percentile(ms, 50), "p95": percentile(ms, 95), "max": max(ms),
            "mean": statistics.fmean(ms), "running": still_running,
            "steps_during": steps_during}


def record(lines: list[str]) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.is_file() else "# Benchmarks\n"
    section = "\n".join([HEADING, "", *lines]).rstrip() + "\n"
    if HEADING in text:
        head, rest = text.split(HEADING, 1)
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1:] if nxt >= 0 else ""
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip() + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=120, help="key presses per setting")
    parser.add_argument("--threads", default="torch,auto",
                        help="comma list of worker torch thread counts: N, 'torch' (torch's "
                             "default: all cores) or 'auto' (the app's default: cores - 1)")
    parser.add_argument("--seconds", type=float, default=20.0, help="excerpt length")
    parser.add_argument("--no-record", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model_path, track = make_inputs(folder, args.seconds)
        for item in args.threads.split(","):
            item = item.strip()
            threads = None if item == "torch" else item if item == "auto" else int(item)
            workdir = folder / f"run-{item}"
            workdir.mkdir()
            res = asyncio.run(measure(model_path, track, workdir, threads, args.samples,
                                      args.seconds))
            results.append(res)
            print(f"torch threads {res['threads']:>13}: n={res['n']} p50={res['p50']:.1f} ms "
                  f"p95={res['p95']:.1f} ms max={res['max']:.1f} ms "
                  f"(run in progress throughout: {res['running']}, "
                  f"steps completed meanwhile: {res['steps_during']})", flush=True)
    if not args.no_record:
        cpu = os.cpu_count()
        lines = [
            f"Command: `python bench/bench_tui_latency.py --samples {args.samples} "
            f"--threads {args.threads} --seconds {args.seconds:g}`",
            f"Machine: {platform.machine()} VM, {cpu} CPU cores, Python "
            f"{platform.python_version()}, torch {torch.__version__} (CPU). Model: HDemucs "
            "defaults (channels=48, random weights), 5 s segments, running in the TUI's "
            "thread worker while the Pilot toggles the side panel (`z`) at 80×24.",
            "",
            "| worker torch threads | presses | p50 (ms) | p95 (ms) | max (ms) |",
            "|---|---|---|---|---|",
        ]
        lines += [f"| {r['threads']} | {r['n']} | {r['p50']:.1f} | {r['p95']:.1f} | "
                  f"{r['max']:.1f} |" for r in results]
        record(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
