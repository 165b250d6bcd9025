"""``run --resume SESSION``: continue a cancelled or interrupted session after its last
complete step, with the parameters its manifest holds.

The manifest is read by the one hostile-safe reader (:func:`.session.open_session`); the
few values resuming adds (the input's path, excerpt and digest, the model's signature) are
type- and range-checked here, and the loop's state (``steps/NNN/state.npy``, float32, as
the loop held it) is loaded without pickles and checked against the shape it must have.
The input must give the same excerpt (SHA-256 of its samples) and the model the same
signature (:meth:`.separator.Separator.model_signature`) as when the session was written;
anything else is a :class:`.errors.ResumeRefused` with one line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import RunConfig
from .errors import ResumeRefused, SessionError
from .manifest import Invalid, member
from .procedure import procedure_for
from .progressive import LoopState
from .session import STATE, Session, open_session
from .tracks import PreparedInput, excerpt_digest

RESUMABLE = ("cancelled", "interrupted")


@dataclass(frozen=True)
class ResumePlan:
    """What resuming ``session`` needs, checked: its config, and the input to load again."""

    session: Session
    config: RunConfig
    source: Path
    start: float
    duration: float | None
    digest: str
    signature: str

    @property
    def last_step(self) -> int:
        return self.session.steps[-1].step


def plan_resume(folder: str | Path) -> ResumePlan:
    """Open ``folder`` and check it can be resumed; :class:`ResumeRefused` otherwise."""
    try:
        session = open_session(folder)
    except SessionError as exc:
        raise ResumeRefused(str(exc)) from None
    where = session.folder
    status = session.status
    if status == "running":
        raise ResumeRefused(f"{where} is being written by a live run; wait for it or stop it.")
    if status not in RESUMABLE:
        raise ResumeRefused(f"{where} is {status}; only a cancelled or interrupted session can "
                            "be resumed (start a new run instead).")
    config = session.config
    if not procedure_for(config).resumable:
        raise ResumeRefused(f"{where} uses the study preset, which cannot be resumed; start a "
                            "new run.")
    if not session.steps:
        raise ResumeRefused(f"{where} has no complete step; start a new run instead.")
    info = session.manifest.get("input", {})
    resume = info.get("resume")
    model = session.manifest.get("model", {})
    start, duration = info.get("start"), resume.get("duration") if isinstance(resume, dict) \
        else None
    if not (isinstance(resume, dict) and isinstance(resume.get("source"), str)
            and resume["source"] and "\0" not in resume["source"]
            and _number(start) and (duration is None or (_number(duration) and duration > 0))
            and isinstance(resume.get("sha256"), str)
            and isinstance(model.get("signature"), str)):
        raise ResumeRefused(f"{where} does not record what resuming needs (written by an "
                            "older version, or edited); start a new run.")
    return ResumePlan(session, config, Path(resume["source"]), float(start), duration,
                      resume["sha256"], model["signature"])


def _number(value: object) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


def check_same(plan: ResumePlan, prepared: PreparedInput, signature: str,
               sources: tuple[str, ...]) -> None:
    """The input and model must be those the session was written with."""
    if excerpt_digest(prepared.mixture) != plan.digest:
        raise ResumeRefused(f"{plan.source} changed since {plan.session.folder} was written; "
                            "start a new run for it.")
    if signature != plan.signature or tuple(sources) != plan.session.sources:
        raise ResumeRefused(f"model {plan.config.separator.model} changed since "
                            f"{plan.session.folder} was written; start a new run with it.")
    had = bool(plan.session.manifest.get("references"))
    if (prepared.references is not None) != had:
        raise ResumeRefused(f"{plan.session.folder} was run with{'' if had else 'out'} "
                            "references and this run would not be; give the same --references.")


def loop_state(plan: ResumePlan, prepared: PreparedInput) -> LoopState:
    """The loop's state after the session's last step, checked against ``prepared``."""
    session, step = plan.session, plan.last_step
    try:
        path = member(session.folder, f"steps/{step:03d}/{STATE}", "the loop state")
    except Invalid as exc:
        raise ResumeRefused(f"{session.folder}: {exc}; refusing to resume it.") from None
    expected = (len(session.sources) + 1, *prepared.mixture.shape)
    try:
        state = np.load(path, allow_pickle=False, mmap_mode=None)
    except (OSError, ValueError) as exc:
        raise ResumeRefused(f"{session.folder} lacks a readable loop state for step {step} "
                            f"({type(exc).__name__}); start a new run.") from None
    if state.dtype != np.float32 or state.shape != expected or not np.isfinite(state).all():
        raise ResumeRefused(f"{path} is not the loop state of this session (shape "
                            f"{state.shape}, {state.dtype}); start a new run.")
    tensor = torch.from_numpy(state)
    first = session.steps[0].metrics
    base = first.si_sdr.get(plan.config.target) if first.step == 0 and first.si_sdr else None
    return LoopState(step, tensor[:-1], tensor[-1], base)
