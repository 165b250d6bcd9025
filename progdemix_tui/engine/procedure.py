"""The procedure a run follows, chosen once from its preset: this tool's, or the study's.

:data:`TOOL` is this tool's procedure; :data:`STUDY` (``--preset study``) is the study's code
exactly (:mod:`.study`, docs/study.md). Everything the two do differently at run time is a
member here, so the loop, the memory check, the excerpt, the evaluation, the session and
resuming ask :func:`procedure_for` instead of testing the preset. (What the preset fixes in
the config itself, float32 and β = n/N, is checked with the config: :mod:`.config`.)

Light to import: no torch until a member that needs it runs (:mod:`.study` loads lazily).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from .config import RunConfig

SeparatorLike = Any
"""A :class:`.progressive.SeparatorLike` (not imported: the loop imports this module)."""


def result_count(config: RunConfig) -> int:
    """How many results a run of ``config`` yields without early stop: its last step + 1."""
    return procedure_for(config).last_step(config.steps) + 1


@dataclass(frozen=True)
class Procedure:
    """This tool's procedure (N+1 results, chunked normalised separation, the excerpt as
    given), and what a procedure answers; :class:`StudyProcedure` overrides what the study
    does differently."""

    preset: str = "none"
    """The ``--preset`` value that chooses it."""
    resumable: bool = True
    """Whether ``run --resume`` can continue a session made with it."""
    sample_std: bool = False
    """Whether an evaluation's summary uses the sample standard deviation (n − 1)."""
    std_note: str = ""
    """The evaluation tables' caption note on the standard deviation ("" for none)."""

    def last_step(self, steps: int) -> int:
        """The last step a run of ``steps`` steps reports."""
        return steps

    def excerpt(self, source: str | Path, start: float | None,
                duration: float | None) -> tuple[float, float | None, str | None]:
        """``run``'s excerpt of ``source``: ``(start, duration, note)`` in seconds."""
        return (0.0 if start is None else start), duration, None

    def track_start(self, folder: Path) -> float | None:
        """An evaluation track's excerpt start in seconds; None: the dataset's own choice."""
        return None

    def memory_segment(self, segment: float, seconds: float) -> float:
        """The seconds one forward pass takes at once (for the memory check) on an input of
        ``seconds``."""
        return segment

    def check_model(self, model: object) -> None:
        """:class:`.errors.ConfigError` in one line when this procedure cannot run ``model``
        (a :class:`.models.LoadedModel`); this tool runs every family."""
        self.check_family(getattr(model, "family", None), getattr(model, "name", "?"))

    def check_family(self, family: str | None, name: str) -> None:
        """As :meth:`check_model`, before loading: ``family`` None when not known yet."""

    def separator(self, separator: SeparatorLike, frames: int) -> SeparatorLike:
        """The separator the loop calls on an input of ``frames``; raises the
        :class:`.errors.ConfigError` that applies when it cannot take them."""
        return separator

    def mixtures(self, mixture: torch.Tensor, references: torch.Tensor | None
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(y, file mixture)``: the mixture the loop separates, and the track's own when y
        is another (None: y is the track's mixture)."""
        return mixture, None

    def mixture_n(self, mode: str, beta: float, mixture: torch.Tensor,
                  references: torch.Tensor | None, target: int,
                  file_mixture: torch.Tensor | None) -> torch.Tensor | None:
        """y_n as this procedure builds it in ``mode``; None: as :func:`.mixing.build_mixture`
        does."""
        return None


@dataclass(frozen=True)
class StudyProcedure(Procedure):
    """The study's code (:mod:`.study`): float32, β = n/N, steps 0…N−1, one pass over the
    whole excerpt without normalisation, its excerpt, its new and oracle mixtures and the
    sample std."""

    preset: str = "study"
    resumable: bool = False
    sample_std: bool = True
    std_note: str = "std: sample (n − 1), as the study"

    def last_step(self, steps: int) -> int:
        return steps - 1 if steps > 0 else steps  # its curves stop before β = 1

    def excerpt(self, source: str | Path, start: float | None,
                duration: float | None) -> tuple[float, float | None, str | None]:
        from .study import run_excerpt

        return run_excerpt(source, start, duration)

    def track_start(self, folder: Path) -> float | None:
        from .audio import info
        from .study import files_onset, folder_files

        files = folder_files(folder)
        if not files:
            return None  # loading the track says what is missing
        return files_onset(files) / info(files[0]).samplerate

    def memory_segment(self, segment: float, seconds: float) -> float:
        return max(segment, seconds)  # one forward pass over the whole excerpt

    def check_family(self, family: str | None, name: str) -> None:
        if family not in (None, "demucs"):
            from .errors import ConfigError

            raise ConfigError(f"--preset study reproduces a study of demucs (its code calls "
                              f"demucs's apply_model); model {name} is {family}: drop "
                              "--preset study, or use a demucs model (hdemucs_mmi).")

    def separator(self, separator: SeparatorLike, frames: int) -> SeparatorLike:
        from .study import WholeExcerptSeparator

        whole = WholeExcerptSeparator(separator)  # type: ignore[arg-type]  # a Separator
        whole.check_length(frames)
        return whole

    def mixtures(self, mixture: torch.Tensor, references: torch.Tensor | None
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if references is None:
            return mixture, None
        from .study import new_mixture

        return new_mixture(mixture, references), mixture  # the study separates its new mixture

    def mixture_n(self, mode: str, beta: float, mixture: torch.Tensor,
                  references: torch.Tensor | None, target: int,
                  file_mixture: torch.Tensor | None) -> torch.Tensor | None:
        if mode != "oracle" or references is None or file_mixture is None:
            return None
        from .study import oracle_mixture

        return oracle_mixture(beta, mixture, references, target, file_mixture)


TOOL: Procedure = Procedure()
STUDY: Procedure = StudyProcedure()
PROCEDURES: dict[str, Procedure] = {p.preset: p for p in (TOOL, STUDY)}
"""The procedures by preset name (:data:`.config.PRESETS`)."""


def procedure_for(config: RunConfig | str | None) -> Procedure:
    """The procedure of a config's preset (or of a preset's name): chosen here, once per
    run; this tool's for an unknown name (which :meth:`.config.RunConfig.problems` reports)."""
    preset = config if isinstance(config, str) or config is None else config.preset
    return PROCEDURES.get(preset, TOOL) if isinstance(preset, str) else TOOL
