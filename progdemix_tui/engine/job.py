"""One run from input to session folder: the API the CLI and the TUI share.

:func:`check_run` does every check that needs no model, each once; :func:`run_session`
runs the progressive loop (:func:`.progressive.iterate`) and writes the session folder.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import audio
from .config import RunConfig, check_excerpt
from .models import family_version, parameter_count, shape_of
from .procedure import procedure_for
from .progressive import CheckedConfig, IterationResult, StepProgress, check_config, iterate
from .resources import preflight
from .resume import ResumePlan, check_same, loop_state
from .separator import Separator
from .session import SessionWriter, StemFormat
from .tracks import InputInfo, PreparedInput, inspect_input


def model_description(separator: Separator) -> dict:
    """JSON-ready description of the model and how it runs."""
    m = separator.model
    return {"name": m.name, "family": m.family, "package": family_version(m.family),
            "origin": m.origin,
            "parameters": parameter_count(m),
            "samplerate": m.samplerate, "sources": list(m.sources),
            "segment": separator.segment, "overlap": separator.overlap,
            "shifts": separator.shifts, "half": separator.half,
            "precision": separator.precision, "batch_chunks": separator.batch_chunks,
            "signature": separator.model_signature()}


@dataclass(frozen=True)
class CheckedRun:
    """A run that passed :func:`check_run`: its input and its checked config."""

    input: InputInfo
    checked: CheckedConfig


def check_run(source: str | Path, config: RunConfig, start: float = 0.0,
              duration: float | None = None,
              references: str | Path | None = None) -> CheckedRun:
    """Everything that can be checked before the model loads, each check once.

    The excerpt, the input (:func:`.tracks.inspect_input`), the config and whether it needs
    references (:func:`.progressive.check_config`; the target is checked against the
    model's own stems once it is loaded, by :func:`run_session`), and whether the run fits
    in memory (:func:`.resources.preflight`, where the model's rate and stems are known
    before it loads; else :func:`run_session` checks with the loaded model's). Reads headers
    only. Raises the :class:`.errors.ProgdemixError` that applies.
    """
    check_excerpt(start, duration)
    found = inspect_input(source, references)
    checked = check_config(config, None, found.references)
    preflight(audio.excerpt_frames(found.audio, start, duration), found.audio.samplerate, config,
              found.references, procedure=procedure_for(config))
    return CheckedRun(found, checked)


def check_loaded_fits(separator: Separator, prepared: PreparedInput, config: RunConfig) -> None:
    """:func:`.resources.preflight` with the loaded model's rate, stems and size, where
    :func:`check_run` could not know them before it loaded (a model not cached yet)."""
    from .models import model_shape

    sep = config.separator
    if model_shape(sep.model, sep.repo, sep.model_config or None) is not None:
        return  # checked before loading
    rate = prepared.info.samplerate
    frames = int(prepared.mixture.shape[-1] * rate / separator.samplerate)
    preflight(frames, rate, config, prepared.references is not None,
              shape=shape_of(separator.model))


def run_session(
    separator: Separator,
    prepared: PreparedInput,
    config: RunConfig,
    out: str | Path,
    cancel: threading.Event | None = None,
    on_chunk: StepProgress | None = None,
    overwrite: bool = False,
    stem_format: StemFormat = "flac",
    checked: CheckedConfig | None = None,
) -> Iterator[IterationResult]:
    """Run progressive inference and write the session folder ``out`` as steps complete.

    Yields each :class:`IterationResult` after its files are on disk. The session ends as
    ``complete``/``converged``, ``cancelled`` (cancel event, Ctrl-C, or the consumer closing
    the generator) or ``failed``; completed steps are valid in every case. ``config`` is
    checked before the folder is created, unless ``checked`` (from :func:`check_run`)
    already covers it for this model's sources and these references.
    """
    has_references = prepared.references is not None
    if checked is None or not checked.covers(config, separator.sources, has_references):
        checked = check_config(config, separator.sources, has_references)
    check_loaded_fits(separator, prepared, config)
    writer = SessionWriter(out, config, input_info=prepared.describe(),
                           model_info=model_description(separator),
                           device=separator.device_name, samplerate=separator.samplerate,
                           sources=separator.sources, stem_format=stem_format,
                           overwrite=overwrite)
    with writer:
        if prepared.references is not None:
            writer.write_references(prepared.references)
        for result in iterate(separator, prepared.mixture, config, prepared.references, cancel,
                              on_chunk, checked):
            writer.write_step(result)
            for note in separator.notes:
                if note not in writer.manifest["notes"]:
                    writer.note(note)
            yield result


def resume_session(
    separator: Separator,
    prepared: PreparedInput,
    plan: ResumePlan,
    cancel: threading.Event | None = None,
    on_chunk: StepProgress | None = None,
) -> Iterator[IterationResult]:
    """Continue the session of ``plan`` (:func:`.resume.plan_resume`) after its last
    complete step, appending to it; yields the new steps as :func:`run_session` does.
    :class:`.errors.ResumeRefused` when the input or the model is not the session's."""
    check_same(plan, prepared, separator.model_signature(), separator.sources)
    state = loop_state(plan, prepared)
    checked = check_config(plan.config, separator.sources, prepared.references is not None)
    writer = SessionWriter.reopen(plan.session)
    with writer:
        for result in iterate(separator, prepared.mixture, plan.config, prepared.references,
                              cancel, on_chunk, checked, resume_from=state):
            writer.write_step(result)
            yield result
