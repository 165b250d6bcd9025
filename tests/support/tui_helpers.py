"""Helpers shared by the TUI tests (not a test module)."""

from __future__ import annotations

import asyncio
import time

from conftest import HANG_TIMEOUT


def screen_text(app) -> str:
    """The current screen as plain text, one line per terminal row."""
    strips = app.screen._compositor.render_strips()  # noqa: SLF001 - test helper
    return "\n".join("".join(seg.text for seg in strip).rstrip() for strip in strips)


async def wait_for(pilot, predicate, timeout: float = HANG_TIMEOUT,
                   interval: float = 0.05) -> None:
    """Let the app run until ``predicate()`` is true. ``timeout`` only stops a hung test: a
    busy machine makes the wait longer, never a failure."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s\n{screen_text(pilot.app)}")
        await pilot.pause(interval)
        await asyncio.sleep(0)


def write_fake_session(folder, steps: int = 3, seconds: float = 0.5, rate: int = 44100):
    """A session with fixed, deterministic metrics (for snapshots) and quiet audio."""
    import torch

    from progdemix_tui import engine
    from progdemix_tui.engine.progressive import IterationResult, StepMetrics

    sources = ("drums", "bass", "other", "vocals")
    config = engine.RunConfig(target="vocals", steps=steps - 1,
                              separator=engine.SeparatorConfig(model="tiny"))
    info = {"path": "track/mixture.wav", "start": 0.0, "duration": seconds,
            "references": True}
    model = {"name": "tiny", "origin": "test", "parameters": 1, "samplerate": rate,
             "sources": list(sources)}
    n = int(seconds * rate)
    t = torch.arange(n) / rate
    refs = torch.stack([torch.stack([torch.sin(2 * torch.pi * f * t)] * 2) * 0.1
                        for f in (110, 220, 330, 440)])
    sdr = [(4.25, 3.5, 1.75, 6.0), (4.5, 3.25, 2.0, 7.25), (4.0, 3.0, 1.5, 6.5)]
    with engine.SessionWriter(folder, config, input_info=info, model_info=model, device="cpu",
                              samplerate=rate, sources=sources) as writer:
        writer.write_references(refs)
        for k in range(steps):
            values = sdr[k % len(sdr)]
            metrics = StepMetrics(
                step=k, beta=None if k == 0 else k / (steps - 1), seconds=1.5 + k,
                clip_factor=1.0, loudness_gain_db=0.0, residual_db=-30.0 - k,
                estimate_change=None if k == 0 else dict.fromkeys(sources, 20.0 + k),
                si_sdr=dict(zip(sources, values, strict=True)),
                si_sdr_delta=values[3] - sdr[0][3])
            writer.write_step(IterationResult(metrics, refs.sum(0), refs * (1 - 0.1 * k),
                                              sources, "vocals", rate, steps - 1))
    return folder


def sync(fn):
    """Run an async test function with asyncio.run (no pytest async plugin needed)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper


def make_app(path, model_file, backend=None, models=None, **params):
    """A ProgdemixApp on ``path`` running the tiny model file fast (2 steps, 1 s segments,
    2 s excerpt, CPU), silent unless ``backend`` is given; ``params`` override the panel."""
    from progdemix_tui.tui.app import ProgdemixApp
    from progdemix_tui.tui.audition import NullBackend
    from progdemix_tui.tui.settings import Settings

    settings = Settings.load()
    settings.params.update({"model_path": str(model_file), "steps": "2", "segment": "1",
                            "duration": "2", "device": "cpu"})
    settings.params.update(params)
    # torch_threads=None: leave the test process's torch threads alone
    return ProgdemixApp(path, settings=settings, models=models, torch_threads=None,
                        backend=backend if backend is not None else NullBackend("no audio device"))
