"""Run preparation, once, for every front end: ``run``, ``eval`` and the TUI's worker.

:func:`prepare` takes a :class:`RunRequest` to a :class:`PreparedRun`: the excerpt (the
procedure's choice, :mod:`.procedure`), the input and its references (headers only), the
config's need for them, the memory check, the output folder, then the separator loaded or
reused (:class:`.separator.SeparatorCache`) and the target checked against its stems. It
runs as two phases, :func:`check` (no model) and :func:`load`, so that a front end may add
its own checks between them (``run``'s export options). :func:`check_eval` and
:func:`load_eval` do the same for an evaluation over a dataset, :func:`.resume.plan_resume` and
:func:`load_resume` for a session to continue.

The config's values are checked once (:meth:`.config.RunConfig.problems` keeps them);
``--half`` was folded into ``precision`` when the arguments were parsed
(:func:`.config.fold_half`). No Textual, no Rich.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .config import RunConfig, excerpt_length_problem, not_finite
from .errors import ConfigError
from .job import CheckedRun, check_run, model_description
from .procedure import procedure_for
from .progressive import CheckedConfig, check_references
from .resume import ResumePlan, check_same
from .separator import Separator, SeparatorCache
from .tracks import InputInfo, PreparedInput, load_input

if TYPE_CHECKING:
    from .dataset import Dataset
    from .evaluation import EvalFolder, EvalSettings, Plan

Notify = Callable[[str], None]
"""Gets the model loader's notes (a download starts, where a model comes from)."""


def check_model_available(config: RunConfig) -> None:
    """Before torch loads: a hub model neither cached nor reachable fails at once."""
    from .hub import preflight

    spec = config.separator
    preflight(spec.model, spec.repo, spec.trust_checkpoint, spec.model_config)


@dataclass(frozen=True)
class RunRequest:
    """One run to prepare: the input file or track folder and how to run it.

    ``start`` None is the procedure's choice (0, or the study's onset on a track folder);
    ``out`` the session folder to check (None: the caller makes a new one later).
    """

    source: Path
    config: RunConfig
    start: float | None = None
    duration: float | None = None
    references: Path | None = None
    out: Path | None = None
    overwrite: bool = False


@dataclass(frozen=True)
class CheckedRequest:
    """A request that passed :func:`check`: its excerpt resolved and its input's headers."""

    request: RunRequest
    start: float
    duration: float | None
    ready: CheckedRun
    notes: tuple[str, ...] = ()
    """What the user should know about the excerpt (the study's onset)."""

    @property
    def config(self) -> RunConfig:
        return self.request.config

    @property
    def input(self) -> InputInfo:
        return self.ready.input


@dataclass(frozen=True)
class PreparedRun:
    """A run ready to go: checked, its separator loaded, its config checked for the model's
    stems and for its references (:attr:`checked`, which :func:`.job.run_session` trusts)."""

    source: Path
    config: RunConfig
    start: float
    duration: float | None
    references: Path | None
    input: InputInfo
    checked: CheckedConfig
    separator: Separator
    notes: tuple[str, ...] = ()

    def load_input(self) -> PreparedInput:
        """The excerpt's audio at the model's rate, with its references (if any)."""
        return load_input(self.source, self.separator.samplerate, self.separator.sources,
                          self.start, self.duration, self.references)


def check(request: RunRequest) -> CheckedRequest:
    """Everything before the model: the excerpt, the input, references, memory and the
    output folder (:func:`.job.check_run`), each once. Raises the error that applies."""
    from .models import family_of
    from .session import check_output_folder

    config = request.config
    procedure = procedure_for(config)
    spec = config.separator
    procedure.check_family(family_of(spec.model, spec.repo, spec.model_config or None),
                           spec.model)
    start, duration, note = procedure.excerpt(request.source, request.start, request.duration)
    ready = check_run(request.source, config, start, duration, request.references)
    if request.out is not None:
        check_output_folder(request.out, request.overwrite)
    return CheckedRequest(request, start, duration, ready, (note,) if note else ())


def load(checked: CheckedRequest, separators: SeparatorCache,
         notify: Notify | None = None) -> PreparedRun:
    """The separator for ``checked`` (kept by ``separators`` while its config is unchanged)
    and the target checked against its stems."""
    request = checked.request
    separator = separators.get(request.config.separator, notify)
    procedure_for(request.config).check_model(separator.model)
    ready = for_model(checked.ready.checked, separator.sources)
    check_model_references(request, ready, separator)
    return PreparedRun(request.source, request.config, checked.start, checked.duration,
                       request.references, checked.input, ready, separator, checked.notes)


def check_model_references(request: RunRequest, checked: CheckedConfig,
                           separator: Separator) -> None:
    """A run that needs references (oracle mode, the oracle adaptive score) must have them
    for the loaded model's own stems (:func:`.tracks.reference_parts`): one line naming
    those it lacks, before anything is written."""
    from .errors import ReferencesRequired
    from .tracks import missing_stems

    folder = request.references or (request.source if request.source.is_dir() else None)
    if folder is None or not checked.has_references or not Path(folder).is_dir():
        return
    missing = missing_stems(Path(folder), separator.sources)
    if not missing:
        return
    try:
        check_references(request.config, False)
    except ReferencesRequired as exc:
        raise ReferencesRequired(
            f"{exc} Model {separator.model.name}'s stems are {', '.join(separator.sources)}; "
            f"{folder} has no reference for {', '.join(missing)} (a file of that name, or the "
            "four standard stems, whose sum stands for a model's last stem).") from None


def prepare(request: RunRequest, separators: SeparatorCache | None = None,
            notify: Notify | None = None) -> PreparedRun:
    """:func:`check`, then :func:`load` (a new cache: the model for this run only)."""
    return load(check(request), separators or SeparatorCache(), notify)


@dataclass(frozen=True)
class PreparedResume:
    """A session to continue (:mod:`.resume`): its plan, the separator, and its input loaded
    again and found the same as when the session was written."""

    plan: ResumePlan
    separator: Separator
    input: PreparedInput


def load_resume(plan: ResumePlan, separators: SeparatorCache, notify: Notify | None = None,
                references: str | Path | None = None) -> PreparedResume:
    """The separator and the input of ``plan`` (:func:`.resume.plan_resume`, the checks that
    need no model), refused in one line (:class:`.errors.ResumeRefused`) when the input or the
    model changed; before anything is written."""
    separator = separators.get(plan.config.separator, notify)
    prepared = load_input(plan.source, separator.samplerate, separator.sources, plan.start,
                          plan.duration, references)
    check_same(plan, prepared, separator.model_signature(), separator.sources)
    return PreparedResume(plan, separator, prepared)


def for_model(checked: CheckedConfig, sources: tuple[str, ...]) -> CheckedConfig:
    """``checked`` (made before the model was known) for the loaded model's ``sources``:
    only the target is checked again (:class:`ConfigError` in one line)."""
    check_target(checked.config, sources)
    return CheckedConfig(checked.config, tuple(sources), checked.has_references, checked.score)


def check_target(config: RunConfig, sources: tuple[str, ...]) -> None:
    """``--target`` must be one of the loaded model's stems (one line, before any folder)."""
    if config.target not in sources:
        raise ConfigError(f"--target {config.target} is not a stem of model "
                          f"{config.separator.model} ({', '.join(sources)}); choose one of "
                          "them.")


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class EvalRequest:
    """One evaluation to prepare: a dataset, the run config (its target is replaced by each
    of ``targets``) and the evaluation's own options, as given (``oracle_gain`` and
    ``oracle_gain`` as text: ``"0,6,inf"``)."""

    dataset: Path
    config: RunConfig
    targets: tuple[str, ...]
    excerpt: float = 30.0
    silence_db: float = -60.0
    new_mixture: bool = False
    sdr: str | None = None  # bss, whole or both
    oracle_gain: str | None = None
    shard: tuple[int, int] = (0, 1)  # tracks I, I+N, I+2N… (``--shard I/N``)
    shard_text: str | None = None  # ``--shard`` as given, recorded in eval.json
    out: Path | None = None  # None: eval-<time>
    threads: int | None = None  # recorded in eval.json


@dataclass(frozen=True)
class CheckedEval:
    """An evaluation that passed :func:`check_eval`, before the model loads."""

    request: EvalRequest
    settings: EvalSettings
    dataset: Dataset
    out: Path
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PreparedEval:
    """An evaluation ready to run: its folder (new or resumed), what is left, the separator."""

    checked: CheckedEval
    separator: Separator
    folder: EvalFolder
    work: Plan
    notes: tuple[str, ...] = ()
    """The dataset's notes (tracks passed over while it was searched)."""


def model_targets(config: RunConfig, separators: SeparatorCache,
                  notify: Notify | None = None) -> tuple[str, ...]:
    """``--target all``: every stem of the config's model, read without loading it where its
    metadata tells (:func:`.models.model_stems`), else from the model loaded (and kept by
    ``separators`` for the run)."""
    from .models import model_stems

    spec = config.separator
    if spec.repo is None:
        stems = model_stems(spec.model, spec.model_config or None)
        if stems:
            return stems
    check_model_available(config)
    return tuple(separators.get(spec, notify).sources)


def check_eval(request: EvalRequest) -> CheckedEval:
    """Everything an evaluation can check before the model: its options, the model's
    availability, the config's need for references, the dataset and the output folder."""
    from . import dataset as ds
    from . import evaluation as ev

    for option, why in (("--excerpt", excerpt_length_problem(request.excerpt)),
                        ("--silence-db", not_finite(request.silence_db))):
        if why:
            raise ConfigError(f"{option} {why}.")
    check_model_available(request.config)
    from .models import family_of

    spec = request.config.separator
    procedure_for(request.config).check_family(
        family_of(spec.model, spec.repo, spec.model_config or None), spec.model)
    betas = ev.parse_oracle_gains(request.oracle_gain) if request.oracle_gain else ()
    if request.sdr in ("bss", "both"):
        from .sdr import check_available

        check_available()
    settings = ev.EvalSettings(request.config, tuple(request.targets), request.excerpt or None,
                               request.new_mixture, request.sdr in ("bss", "both"),
                               request.silence_db, betas,
                               sdr_whole=request.sdr in ("whole", "both"))
    for target in request.targets:
        check_references(settings.config_for(target), True)
    dataset = ds.open_dataset(request.dataset)
    out = request.out or Path(f"eval-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}")
    ev.EvalFolder.check(out, settings)
    warning = ds.leakage_warning(request.config.separator.model, dataset)
    return CheckedEval(request, settings, dataset, out, (warning,) if warning else ())


def load_eval(checked: CheckedEval, separators: SeparatorCache,
              notify: Notify | None = None) -> PreparedEval:
    """The separator, every target checked against its stems, and the evaluation folder
    created or resumed with what is left to do (:func:`.evaluation.plan`)."""
    from . import evaluation as ev
    from .provenance import provenance

    request, settings, dataset = checked.request, checked.settings, checked.dataset
    separator = separators.get(request.config.separator, notify)
    procedure_for(request.config).check_model(separator.model)
    for target in request.targets:
        if target not in separator.sources:
            settings.config_for(target).validate(separator.sources)  # says which and why
    info = {**provenance(model_description(separator), separator.device_name, request.threads),
            "shard": request.shard_text,
            "dataset": {"root": str(dataset.root), "tracks": len(dataset.tracks),
                        "notes": dataset.notes},
            "warnings": list(checked.warnings)}
    folder = ev.EvalFolder.create_or_resume(checked.out, settings, info)
    work = ev.plan(dataset, settings, folder, request.shard)
    return PreparedEval(checked, separator, folder, work, tuple(dataset.notes))

