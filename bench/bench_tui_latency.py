"""TUI input latency while a run is in progress: key press → next screen update.

A real-size Hybrid Demucs (``demucs.hdemucs.HDemucs`` defaults, channels=48, random
weights, saved with ``save_safetensors``) runs on the CPU in the app's thread worker while
the Pilot presses ``z`` (hide/show the side panel, a visible layout change) many times.
Latency is the time from posting the key event to the first compositor update that shows
the change (``App._display`` is called right after the screen is re-rendered). Reports
p50/p95 per torch thread setting and records them under "## TUI input latency" in
bench/RESULTS.md.

``--views`` (issue 13) first opens a stored session with A and B marked and shows the A/B
difference map (D) and the spectrogram (S), which then follow the player and the run's
selection; the Pilot alternates ``z`` (a relayout: both views redraw at the new size) and
``n`` (next largest difference: the playhead moves, both views redraw), each timed to the
first screen update showing it. Recorded under "## TUI input latency with the views".

    python bench/bench_tui_latency.py                # default: threads "torch,auto"
    python bench/bench_tui_latency.py --samples 200 --threads 1 --no-record
    python bench/bench_tui_latency.py --views --threads auto
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
VIEWS_HEADING = "## TUI input latency with the views"
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


def make_session(folder: Path, seconds: float) -> Path:
    """A stored 3-step session whose step 2 vocals differ from step 1's in one second."""
    from progdemix_tui import engine
    from progdemix_tui.engine.progressive import IterationResult, StepMetrics

    rate = 44100
    config = engine.RunConfig(target="vocals", steps=2,
                              separator=engine.SeparatorConfig(model="bench"))
    t = torch.arange(int(seconds * rate)) / rate
    g = torch.Generator().manual_seed(0)
    stems = torch.stack([torch.stack([0.2 * torch.sin(2 * torch.pi * f * t)] * 2)
                         + 0.01 * torch.randn(2, t.numel(), generator=g)
                         for f in (110.0, 220.0, 330.0, 440.0)])
    burst = stems.clone()
    burst[3, :, 3 * rate:4 * rate] += 0.2 * torch.randn(2, rate, generator=g)
    info = {"path": "bench.wav", "start": 0.0, "duration": seconds, "references": False}
    model = {"name": "bench", "origin": "bench", "parameters": 1, "samplerate": rate,
             "sources": list(STEMS)}
    with engine.SessionWriter(folder, config, input_info=info, model_info=model, device="cpu",
                              samplerate=rate, sources=STEMS) as writer:
        for k, estimates in enumerate((stems, stems, burst)):
            metrics = StepMetrics(step=k, beta=None if k == 0 else k / 2, seconds=1.0,
                                  clip_factor=1.0, loudness_gain_db=0.0, residual_db=-40.0,
                                  estimate_change=None, si_sdr=None, si_sdr_delta=None)
            writer.write_step(IterationResult(metrics, stems.sum(0), estimates, STEMS,
                                              "vocals", rate, 2))
    return folder


async def show_views(app, pilot, session: Path) -> None:
    """Open ``session``, mark steps 1 and 2 as A and B, show the difference map and the
    spectrogram, and wait until both are computed."""
    from progdemix_tui.tui.widgets.spectrogram_view import SpectrogramView

    app.open_session_folder(session)
    await pilot.press("down", "a", "down", "b", "D", "S")
    view = app.query_one(SpectrogramView)
    deadline = time.monotonic() + 120
    while app.diff_strip.current is None or view.current is None:
        if time.monotonic() > deadline:
            raise RuntimeError("the views were not computed")
        await asyncio.sleep(0.05)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


async def measure(model_path: Path, track: Path, workdir: Path, threads: int | str | None,
                  samples: int, seconds: float, views: bool = False) -> dict:
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
    by_key: dict[str, list[float]] = {"z": [], "n": []}
    async with app.run_test(size=(80, 24)) as pilot:
        if views:
            await show_views(app, pilot, make_session(workdir / "stored", seconds))
        await pilot.press("r")
        deadline = time.monotonic() + 300
        while app.run_view.chunks <= 1 or app.timeline.folder is None:  # model loaded, chunks going
            if time.monotonic() > deadline or not app.run_view.running:
                raise RuntimeError("the run did not start")
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
        sidebar = app.query_one("#sidebar")
        steps_before = len(app.timeline.rows)
        for i in range(samples):
            if not app.run_view.running:
                break
            key = "n" if views and i % 2 else "z"
            shown = sidebar.display
            position = app.player.position
            start = time.perf_counter()
            n_before = len(displays)
            app.post_message(events.Key(key, key))
            while True:
                await asyncio.sleep(0.0005)
                changed = sidebar.display != shown if key == "z" \
                    else app.player.position != position
                if changed and len(displays) > n_before and displays[-1] > start:
                    # the first update after the key took effect
                    later = [d for d in displays[n_before:] if d > start]
                    latencies.append(later[0] - start)
                    by_key[key].append(later[0] - start)
                    break
                if time.perf_counter() - start > 5:
                    latencies.append(5.0)
                    by_key[key].append(5.0)
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
            "steps_during": steps_during, "views": views,
            "p95_by_key": {k: percentile([x * 1000 for x in v], 95)
                           for k, v in by_key.items() if v}}


def record(lines: list[str], heading: str = HEADING) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.is_file() else "# Benchmarks\n"
    section = "\n".join([heading, "", *lines]).rstrip() + "\n"
    if heading + "\n" in text:
        head, rest = text.split(heading + "\n", 1)
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
    parser.add_argument("--views", action="store_true",
                        help="with the difference map and spectrogram shown; keys z and n")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model_path, track = make_inputs(folder, args.seconds)
        # --views: without and with the views, side by side, for each thread setting
        runs = [(item.strip(), views) for item in args.threads.split(",")
                for views in ((False, True) if args.views else (False,))]
        for item, views in runs:
            threads = None if item == "torch" else item if item == "auto" else int(item)
            workdir = folder / f"run-{item}-{views}"
            workdir.mkdir()
            res = asyncio.run(measure(model_path, track, workdir, threads, args.samples,
                                      args.seconds, views))
            results.append(res)
            keys = " ".join(f"p95[{k}]={v:.1f} ms" for k, v in res["p95_by_key"].items())
            print(f"{'views' if views else 'no views'}, "
                  f"torch threads {res['threads']:>13}: n={res['n']} p50={res['p50']:.1f} ms "
                  f"p95={res['p95']:.1f} ms max={res['max']:.1f} ms {keys} "
                  f"(run in progress throughout: {res['running']}, "
                  f"steps completed meanwhile: {res['steps_during']})", flush=True)
    if not args.no_record:
        cpu = os.cpu_count()
        views = " --views" if args.views else ""
        lines = [
            f"Command: `python bench/bench_tui_latency.py --samples {args.samples} "
            f"--threads {args.threads} --seconds {args.seconds:g}{views}`",
            f"Machine: {platform.machine()} VM, {cpu} CPU cores, Python "
            f"{platform.python_version()}, torch {torch.__version__} (CPU). Model: HDemucs "
            "defaults (channels=48, random weights), 5 s segments, running in the TUI's "
            "thread worker while the Pilot toggles the side panel (`z`) at 80×24"
            + (", the A/B difference map and the spectrogram shown, `n` (next largest "
               "difference) alternating with `z`." if args.views else "."),
            "",
            "| worker torch threads | presses | p50 (ms) | p95 (ms) | max (ms) |"
            + (" views | p95 z (ms) | p95 n (ms) |" if args.views else ""),
            "|---|---|---|---|---|" + ("---|---|---|" if args.views else ""),
        ]
        lines += [f"| {r['threads']} | {r['n']} | {r['p50']:.1f} | {r['p95']:.1f} | "
                  f"{r['max']:.1f} |" + (
                      f" {'D, S shown' if r['views'] else 'none'} | "
                      + " | ".join(f"{r['p95_by_key'][k]:.1f}" if k in r["p95_by_key"]
                                   else "—" for k in ("z", "n")) + " |" if args.views else "")
                  for r in results]
        if args.views:
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            lines += ["", f"Load average at the end (1, 5, 15 min): {load} (the bench's own "
                      "run worker counts about 1). Compare the rows of one run: on a machine "
                      "shared with other work the spread between runs is large."]
        record(lines, VIEWS_HEADING if args.views else HEADING)
    return 0


if __name__ == "__main__":
    sys.exit(main())
