"""One run from input to session folder: the API the CLI and the TUI share."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from . import audio, tracks
from .config import RunConfig, check_excerpt
from .errors import AudioInputError
from .progressive import IterationResult, StepProgress, check_references, run
from .resources import preflight
from .separator import Separator
from .session import SessionWriter, StemFormat
from .tracks import PreparedInput


def model_description(separator: Separator) -> dict:
    """JSON-ready description of the model and how it runs."""
    m = separator.model
    return {"name": m.name, "origin": m.origin, "parameters": m.parameters,
            "samplerate": m.samplerate, "sources": list(m.sources),
            "segment": separator.segment, "overlap": separator.overlap,
            "shifts": separator.shifts, "half": separator.half}


def check_run(source: str | Path, config: RunConfig, start: float = 0.0,
              duration: float | None = None, references: str | Path | None = None) -> bool:
    """Everything that can be checked before the model loads; returns whether references exist.

    The excerpt, the input (readable audio, or a track folder's mixture), whether the config
    needs references, and whether the run fits in memory (:func:`.resources.preflight`).
    Reads headers only. Raises the :class:`.errors.ProgdemixError` that applies.
    """
    check_excerpt(start, duration)
    source = Path(source)
    try:
        mixture = tracks.find_stem(source, "mixture") if source.is_dir() else None
        has_refs = references is not None or tracks.is_track_folder(source)
    except OSError as exc:
        raise AudioInputError(f"{source}: cannot be read ({exc.strerror}); check the path and "
                              "its folders' permissions.") from None
    meta = audio.info(mixture or source)
    check_references(config, has_refs)
    preflight(audio.excerpt_frames(meta, start, duration), meta.samplerate, config, has_refs)
    return has_refs


def execute(
    separator: Separator,
    prepared: PreparedInput,
    config: RunConfig,
    out: str | Path,
    cancel: threading.Event | None = None,
    on_chunk: StepProgress | None = None,
    overwrite: bool = False,
    stem_format: StemFormat = "flac",
) -> Iterator[IterationResult]:
    """Run progressive inference and write the session folder ``out`` as steps complete.

    Yields each :class:`IterationResult` after its files are on disk. The session ends as
    ``complete``/``converged``, ``cancelled`` (cancel event, Ctrl-C, or the consumer closing
    the generator) or ``failed``; completed steps are valid in every case.
    """
    config.validate(separator.sources)
    check_references(config, prepared.references is not None)
    writer = SessionWriter(out, config, input_info=prepared.describe(),
                           model_info=model_description(separator),
                           device=separator.device_name, samplerate=separator.samplerate,
                           sources=separator.sources, stem_format=stem_format,
                           overwrite=overwrite)
    with writer:
        if prepared.references is not None:
            writer.write_references(prepared.references)
        for result in run(separator, prepared.mixture, config, prepared.references, cancel,
                          on_chunk):
            writer.write_step(result)
            for note in separator.notes:
                if note not in writer.manifest["notes"]:
                    writer.note(note)
            yield result
