"""Exporting a session's step as audio files, with demucs's meanings.

One function for the CLI (``export``, ``run --export``) and the TUI's export dialog:
:func:`plan_export` reads the sessions (validated like every session reader), resolves the
step (``best``, ``last`` or a number), the stems (all, a list, or ``two_stems``: the target
and ``no_<target>`` = the sum of the step's other estimates) and the file names from the
template, and refuses two outputs with the same name, all before anything is written;
:func:`write_export` then writes each file atomically. Clip modes are
``demucs.audio.prevent_clip``'s; WAV/FLAC are written with soundfile (our verified atomic
writer), MP3 with ``demucs.audio.encode_mp3`` (lameenc).

Template variables: ``{track}`` (the input's name without extension; a MUSDB-style
track folder's name for its ``mixture`` file), ``{trackext}`` (its
extension), ``{stem}``, ``{ext}``, ``{step}`` (three digits) and ``{session}`` (the session
folder's name). Nothing read from a session becomes a path without being sanitised.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal, get_args

from .errors import ConfigError, OutputError, SessionError

if TYPE_CHECKING:  # torch, demucs and the session reader load when an export runs
    import torch

    from .session import Session

ExportFormat = Literal["wav16", "wav24", "float32", "flac", "mp3"]
ClipMode = Literal["rescale", "clamp", "none"]
EXPORT_FORMATS: tuple[str, ...] = get_args(ExportFormat)
CLIP_MODES: tuple[str, ...] = get_args(ClipMode)
MP3_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
MP3_SAMPLERATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
DEFAULT_TEMPLATE = "{track}/{stem}.{ext}"  # demucs's default
TEMPLATE_FIELDS = ("track", "trackext", "stem", "ext", "step", "session")
MAX_TEMPLATE = 512
MAX_NAME = 255  # bytes per path component on common file systems
EXTENSION: dict[str, str] = {"wav16": "wav", "wav24": "wav", "float32": "wav", "flac": "flac",
                             "mp3": "mp3"}
SUBTYPE: dict[str, Literal["PCM_16", "PCM_24", "FLOAT"]] = {"wav16": "PCM_16", "wav24": "PCM_24", "float32": "FLOAT",
                                     "flac": "PCM_24"}
StepChoice = Literal["best", "last"] | int


@dataclass(frozen=True)
class ExportSpec:
    """What to export from each session. ``stems`` None means all; ``two_stems`` writes
    that stem and ``no_<stem>``; the two are exclusive."""

    step: StepChoice = "last"
    stems: tuple[str, ...] | None = None
    two_stems: str | None = None
    fmt: ExportFormat = "wav16"
    mp3_bitrate: int = 320
    clip: ClipMode = "rescale"
    template: str = DEFAULT_TEMPLATE

    def validate(self) -> None:
        """Raise :class:`ConfigError` (one line) for a bad choice; reads no session."""
        if self.fmt not in EXPORT_FORMATS:
            raise ConfigError(f"unknown format {self.fmt!r}; choose {', '.join(EXPORT_FORMATS)}.")
        if self.clip not in CLIP_MODES:
            raise ConfigError(f"unknown clip mode {self.clip!r}; choose {', '.join(CLIP_MODES)}.")
        if self.mp3_bitrate not in MP3_BITRATES:
            raise ConfigError(f"--mp3-bitrate {self.mp3_bitrate} is not an MP3 bitrate; choose "
                              f"one of {', '.join(map(str, MP3_BITRATES))}.")
        if self.stems is not None and self.two_stems is not None:
            raise ConfigError("--stems and --two-stems cannot be combined; give one of them.")
        if self.stems is not None and not self.stems:
            raise ConfigError("--stems is empty; name stems such as drums,vocals.")
        if isinstance(self.step, int) and not isinstance(self.step, bool) and self.step < 0:
            raise ConfigError(f"--step {self.step} is negative; say best, last or a step number.")
        check_template(self.template)


@dataclass(frozen=True)
class PlannedFile:
    """One file to write: ``parts`` are the stems summed into it (one for a plain stem)."""

    session: Session
    step: int
    name: str
    parts: tuple[str, ...]
    path: Path


def parse_step(text: str) -> StepChoice:
    """``best``, ``last`` or a step number; :class:`ConfigError` otherwise."""
    text = text.strip()
    if text in ("best", "last"):
        return text  # type: ignore[return-value]
    if text.isdigit() and len(text) <= 6:
        return int(text)
    raise ConfigError(f"--step {text!r} is not a step; say best, last or a step number.")


def parse_stems(text: str) -> tuple[str, ...]:
    """``drums,vocals`` → ``("drums", "vocals")`` (duplicates dropped, order kept)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    return tuple(dict.fromkeys(names))


def check_template(template: str) -> None:
    """Raise :class:`ConfigError` unless ``template`` uses only :data:`TEMPLATE_FIELDS`,
    plain ``{name}`` fields, and stays a relative path."""
    if not template or len(template) > MAX_TEMPLATE:
        raise ConfigError(f"--filename must be 1 to {MAX_TEMPLATE} characters.")
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"--filename {template!r} is not a valid template ({exc}); "
                          "use {track}, {trackext}, {stem}, {ext}, {step}, {session}.") from None
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS or spec or conversion:
            raise ConfigError(f"--filename uses {{{name}{'!' + conversion if conversion else ''}"
                              f"{':' + spec if spec else ''}}}; only "
                              f"{', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)} are known.")
    if template.startswith(("/", "\\")) or "\0" in template:
        raise ConfigError("--filename must be a relative path (files go under --out).")
    sample = template.format(**dict.fromkeys(TEMPLATE_FIELDS, "x"))  # fields never hold ".."
    if any(part in ("..", ".") for part in PurePosixPath(sample.replace("\\", "/")).parts):
        raise ConfigError(f"--filename {template!r} leads out of --out ('..' or '.'); "
                          "name files under --out.")


def safe_part(text: str, fallback: str) -> str:
    """``text`` as one harmless path component: no separators, no leading dots, bounded."""
    cleaned = re.sub(r"[^\w.\- ]+", "_", text).lstrip(".").strip()[:100]
    return cleaned or fallback


def track_names(session: Session) -> tuple[str, str]:
    """``(track, trackext)`` as demucs forms them from the input's name, sanitised."""
    raw = session.manifest.get("input", {}).get("path")
    path = PurePosixPath(str(raw).replace("\\", "/")) if isinstance(raw, str) else None
    name = path.name if path is not None else ""
    if not name:
        name = session.folder.name
    track, _, ext = name.rpartition(".") if "." in name else (name, "", name)
    if track == "mixture" and path is not None and path.parent.name:
        track = path.parent.name  # a MUSDB-style track folder: the folder names the track
    return safe_part(track, "track"), safe_part(ext, "track")


def resolve_step(session: Session, choice: StepChoice) -> int:
    """The step number ``choice`` names in ``session``; :class:`ConfigError` otherwise."""
    steps = [r.step for r in session.steps]
    if not steps:
        raise ConfigError(f"{session.folder} has no completed step to export.")
    if choice == "last":
        return steps[-1]
    if choice == "best":
        best = session.best_step()
        if best is None:
            raise ConfigError(f"{session.folder} has no references, so no best step; "
                              "say --step last or a step number.")
        return best
    if choice not in steps:
        raise ConfigError(f"{session.folder} has no step {choice} (steps {steps[0]}–"
                          f"{steps[-1]}); say best, last or one of them.")
    return int(choice)


def _outputs(session: Session, spec: ExportSpec) -> list[tuple[str, tuple[str, ...]]]:
    sources = session.sources
    if spec.two_stems is not None:
        if spec.two_stems not in sources:
            raise ConfigError(f"--two-stems {spec.two_stems!r} is not a stem of "
                              f"{session.folder} ({', '.join(sources)}).")
        rest = tuple(s for s in sources if s != spec.two_stems)
        return [(spec.two_stems, (spec.two_stems,)), (f"no_{spec.two_stems}", rest)]
    names = spec.stems if spec.stems is not None else sources
    unknown = [n for n in names if n not in sources]
    if unknown:
        raise ConfigError(f"--stems {', '.join(unknown)} not in {session.folder} "
                          f"({', '.join(sources)}).")
    return [(n, (n,)) for n in names]


def _path(out: Path, spec: ExportSpec, session: Session, step: int, stem: str) -> Path:
    track, trackext = track_names(session)
    rel = spec.template.format(track=track, trackext=trackext, stem=stem,
                               ext=EXTENSION[spec.fmt], step=f"{step:03d}",
                               session=safe_part(session.folder.name, "session"))
    parts = PurePosixPath(rel.replace("\\", "/")).parts
    if not parts or rel.startswith("/") or any(p in ("..", ".") for p in parts) \
            or any(len(p.encode()) > MAX_NAME for p in parts):
        raise ConfigError(f"--filename gives {rel!r}, not a file name under --out; "
                          "change the template.")
    return out.joinpath(*parts)


def plan_export(folders: list[Path] | list[Session], spec: ExportSpec,
                out: str | Path) -> list[PlannedFile]:
    """Every file the export would write, checked; raises before anything is written.

    :class:`SessionError` for a folder that is not a valid session, :class:`ConfigError`
    for a step/stem it lacks or a template that names two outputs alike.
    """
    from .session import Session, open_session

    spec.validate()
    out = Path(out)
    plan: list[PlannedFile] = []
    seen: dict[Path, str] = {}
    for item in folders:
        session = item if isinstance(item, Session) else open_session(item)
        step = resolve_step(session, spec.step)
        if spec.fmt == "mp3" and session.samplerate not in MP3_SAMPLERATES:
            raise ConfigError(f"{session.folder} is at {session.samplerate} Hz, which MP3 "
                              "cannot hold; choose another --format.")
        for name, parts in _outputs(session, spec):
            path = _path(out, spec, session, step, name)
            what = f"{session.folder.name} {name}"
            if path in seen:
                raise ConfigError(f"--filename names two outputs {path} ({seen[path]} and "
                                  f"{what}); add {{session}} or {{step}} to the template.")
            if path.is_dir():
                raise OutputError(f"{path} is a folder; choose another --out or --filename.")
            seen[path] = what
            plan.append(PlannedFile(session, step, name, parts, path))
    return plan


def load_stem(session: Session, step: int, name: str) -> torch.Tensor:
    """``[channels, time]`` of ``name`` at ``step``, its rate checked against the manifest."""
    from . import audio

    loaded = audio.load(session.path(step, name), channels=2)
    if loaded.samplerate != session.samplerate:
        raise SessionError(f"{session.folder}: {name} of step {step} is at {loaded.samplerate} "
                           f"Hz, not the session's {session.samplerate} Hz; refusing it.")
    return loaded.samples * session.scale(step, name)


def render(planned: PlannedFile) -> torch.Tensor:
    """The samples ``[channels, time]`` of one planned file (a stem, or the sum of several)."""
    total: torch.Tensor | None = None
    for name in planned.parts:
        samples = load_stem(planned.session, planned.step, name)
        if total is not None and total.shape != samples.shape:
            raise SessionError(f"{planned.session.folder}: the stems of step {planned.step} "
                               "differ in length; refusing to sum them.")
        total = samples if total is None else total + samples
    assert total is not None
    return total


def write_file(samples: torch.Tensor, path: Path, samplerate: int, spec: ExportSpec) -> Path:
    """Write ``samples`` ``[channels, time]`` to ``path`` in ``spec``'s format, atomically."""
    from demucs.audio import encode_mp3, prevent_clip

    from . import audio

    samples = prevent_clip(samples.float(), mode=spec.clip)
    if spec.fmt != "mp3":
        return audio.save(path, samples, samplerate, SUBTYPE[spec.fmt])
    with audio.atomic_path(path) as tmp:
        encode_mp3(samples, tmp, samplerate, spec.mp3_bitrate, quality=2)
    return path


def write_export(plan: list[PlannedFile], spec: ExportSpec) -> list[Path]:
    """Write every planned file (each atomically); the paths written, in plan order."""
    return [write_file(render(p), p.path, p.session.samplerate, spec) for p in plan]


def export_sessions(folders: list[Path] | list[Session], spec: ExportSpec,
                    out: str | Path) -> list[Path]:
    """:func:`plan_export` then :func:`write_export`."""
    return write_export(plan_export(folders, spec, out), spec)
