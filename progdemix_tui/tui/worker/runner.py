"""The background run: consumes :func:`progdemix_tui.engine.run_session` in a thread.

:func:`run_job` is called from a Textual thread worker. It never touches widgets: it
reports through ``emit`` (the app's ``post_message``, which is thread-safe) with the small
messages below, carrying numbers only — step audio stays in the session folder on disk.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from textual.message import Message

from progdemix_tui import engine
from progdemix_tui.engine import prepare
from progdemix_tui.engine.progressive import StepMetrics
from progdemix_tui.engine.separator import SeparatorCache
from progdemix_tui.engine.threads import use_threads

from ..run_plan import RunPlan


@dataclass(frozen=True)
class RunRequest:
    """One run: the input file or track folder, the plan, and the session folder to write."""

    input: Path
    plan: RunPlan
    folder: Path
    torch_threads: int | None = None
    resume: bool = False  # continue the session in ``folder`` (``run --resume``)


class RunStatus(Message):
    """A line of status while the run prepares (loading the model, reading the input)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class RunNote(Message):
    """Something the user should know about the input (missing reference stems, a downmix,
    a very short file): shown as a warning, not a passing status line."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class RunStarted(Message):
    """The model and input are ready; steps are about to run."""

    def __init__(self, folder: Path, config: engine.RunConfig, sources: tuple[str, ...],
                 has_references: bool, chunks_per_step: int, description: str) -> None:
        super().__init__()
        self.folder = folder
        self.config = config
        self.sources = sources
        self.has_references = has_references
        self.chunks_per_step = chunks_per_step
        self.description = description


class ChunkProgress(Message):
    """Chunk ``done`` of ``total`` of step ``step`` is separated."""

    def __init__(self, step: int, done: int, total: int) -> None:
        super().__init__()
        self.step = step
        self.done = done
        self.total = total


class StepCompleted(Message):
    """A step is on disk; ``metrics`` holds its numbers."""

    def __init__(self, folder: Path, metrics: StepMetrics) -> None:
        super().__init__()
        self.folder = folder
        self.metrics = metrics


class RunEnded(Message):
    """The run is over: ``status`` is complete, converged, cancelled or failed."""

    def __init__(self, folder: Path | None, status: str, steps_done: int,
                 error: str | None = None) -> None:
        super().__init__()
        self.folder = folder
        self.status = status
        self.steps_done = steps_done
        self.error = error


def run_job(request: RunRequest, cancel: threading.Event,
            emit: Callable[[Message], object], progress_interval: float = 0.1,
            separators: SeparatorCache | None = None) -> None:
    """Run one job to the end, reporting through ``emit``. Never raises.

    ``separators`` keeps the model between runs (the app owns one); without it the model
    loads for this run only."""
    plan = request.plan
    separators = separators if separators is not None else SeparatorCache()

    def say(text: str) -> None:
        emit(RunStatus(text))

    done = 0
    started = False
    try:
        if request.torch_threads:
            use_threads(request.torch_threads)
        if request.resume:
            _resume(request, cancel, emit, separators)
            return
        # fail fast, before loading a model: a bad input, or a run that cannot fit in memory
        checked = prepare.check(prepare.RunRequest(request.input, plan.config, plan.start,
                                                   plan.duration, out=request.folder))
        say(f"loading model {plan.model}…")
        run = prepare.load(checked, separators, say)
        separator = run.separator
        if cancel.is_set():
            raise engine.Cancelled("cancelled")
        say(f"reading {request.input.name}…")
        prepared = run.load_input()
        for note in (*checked.notes, *prepared.notes):
            emit(RunNote(note))
        length = prepared.mixture.shape[-1]
        chunks = separator.chunks(length)  # adaptive candidates share each chunk's pass
        seconds = length / separator.samplerate
        emit(RunStarted(request.folder, plan.config, separator.sources,
                        prepared.references is not None, chunks,
                        f"{separator.model.name} on {separator.device_name}, {seconds:.1f} s"))
        started = True
        last = [0.0]

        def on_chunk(step: int, chunk: int, total: int) -> None:
            now = time.monotonic()
            if chunk >= total or now - last[0] >= progress_interval:
                last[0] = now
                emit(ChunkProgress(step, chunk, total))

        for result in engine.run_session(separator, prepared, plan.config, request.folder,
                                         cancel, on_chunk, stem_format=plan.stem_format,
                                         checked=run.checked):
            done += 1
            emit(StepCompleted(request.folder, result.metrics))
            del result
        status = _final_status(request.folder)
        emit(RunEnded(request.folder, status, done))
    except engine.Cancelled:
        emit(RunEnded(request.folder if started else None, "cancelled", done))
    except engine.ProgdemixError as exc:  # a model error carries the app's own advice
        emit(RunEnded(request.folder if started else None, "failed", done,
                      getattr(exc, "in_app", str(exc))))
    except Exception as exc:  # a bug or an unexpected library error: report, don't crash
        emit(RunEnded(request.folder if started else None, "failed", done,
                      f"{type(exc).__name__}: {exc}"))


def _resume(request: RunRequest, cancel: threading.Event, emit: Callable[[Message], object],
            separators: SeparatorCache) -> None:
    """Continue the session ``request.folder`` (:mod:`progdemix_tui.engine.resume`): its
    kept steps are shown first, then each new one."""
    from progdemix_tui.engine.job import resume_session
    from progdemix_tui.engine.resume import plan_resume

    plan = plan_resume(request.folder)
    def say(text: str) -> None:
        emit(RunStatus(text))

    say(f"loading model {plan.config.separator.model}…")
    ready = prepare.load_resume(plan, separators, say)
    separator, prepared = ready.separator, ready.input
    emit(RunStarted(request.folder, plan.config, separator.sources,
                    prepared.references is not None, separator.chunks(prepared.mixture.shape[-1]),
                    f"resuming {request.folder.name} after step {plan.last_step}"))
    for record in plan.session.steps:
        emit(StepCompleted(request.folder, record.metrics))
    done = len(plan.session.steps)
    for result in resume_session(separator, prepared, plan, cancel):
        done += 1
        emit(StepCompleted(request.folder, result.metrics))
    emit(RunEnded(request.folder, _final_status(request.folder), done))


def _final_status(folder: Path) -> str:
    try:
        return engine.open_session(folder).status
    except engine.ProgdemixError:
        return "complete"
