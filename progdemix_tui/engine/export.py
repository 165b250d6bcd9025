"""Exporting a session's step as audio files, with demucs's meanings.

One function for the CLI (``export``, ``run --export``) and the TUI's export dialog:
:func:`plan_export` reads the sessions (validated like every session reader), resolves the
step (``auto``, ``best``, ``last`` or a number), the stems (all, a list, or ``two_stems``:
a stem and ``no_<stem>``) and the file names from the template, and refuses two outputs with
the same name, all before anything is written; :func:`write_export` decodes and checks every
stem it needs (length, rate, channels against the manifest), then writes each file
atomically, its metadata saying what it holds. Clip modes are
``demucs.audio.prevent_clip``'s; WAV/FLAC are written with soundfile (our verified atomic
writer), MP3 with ``demucs.audio.encode_mp3`` (lameenc).

What a step's files are: at step n > 0 only the target is a new estimate of the *song*; the
other stems are separations of y_n (a remix dominated by the target). So a step's export is
the song's: the target from step n, the other stems from step 0 (or the step's own with
``others="own"``, labelled so), and ``no_<target>`` = mixture − target (demucs's ``minus``,
the default for n > 0; ``add`` sums the other exported stems, the default at step 0). The
default step (``auto``) is never a degenerate β = 1 step, where y_n is the previous estimate
alone: the best step with references, else the last step with β < 1.

Template variables: ``{track}`` (the input's name without extension; a MUSDB-style
track folder's name for its ``mixture`` file), ``{trackext}`` (its
extension), ``{stem}``, ``{ext}``, ``{step}`` (three digits) and ``{session}`` (the session
folder's name). Nothing read from a session becomes a path without being sanitised.
"""

from __future__ import annotations

import contextlib
import os
import re
import string
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Literal, get_args

from .errors import ConfigError, OutputError, SessionError
from .files import atomic_path

if TYPE_CHECKING:  # torch, demucs and the session reader load when an export runs
    import torch

    from .session import Session

ExportFormat = Literal["wav16", "wav24", "float32", "flac", "mp3", "ogg", "opus", "m4a"]
ClipMode = Literal["rescale", "clamp", "none"]
OtherMethod = Literal["minus", "add", "none"]
OthersFrom = Literal["step0", "own"]
EXPORT_FORMATS: tuple[str, ...] = get_args(ExportFormat)
CLIP_MODES: tuple[str, ...] = get_args(ClipMode)
OTHER_METHODS: tuple[str, ...] = get_args(OtherMethod)
OTHERS_FROM: tuple[str, ...] = get_args(OthersFrom)
DURATION_TOLERANCE = 0.01  # seconds a step's files may differ from the manifest's duration
MIN_RATE, MAX_RATE = 8000, 384000  # --sample-rate bounds, Hz
MP3_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
MP3_SAMPLERATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
DEFAULT_TEMPLATE = "{track}/{stem}.{ext}"  # demucs's default under its OUT/{model}
LAYOUTS = {"plain": DEFAULT_TEMPLATE, "demucs": "{model}/{track}/{stem}.{ext}"}
TEMPLATE_FIELDS = ("track", "trackext", "stem", "ext", "step", "session", "model")
MP3_PRESETS = (2, 3, 4, 5, 6, 7)  # demucs's --mp3-preset: LAME quality, 2 best
FFMPEG_CODECS: dict[str, tuple[str, str, str]] = {  # format: (ffmpeg encoder, muxer, bitrate)
    "ogg": ("libvorbis", "ogg", "192k"), "opus": ("libopus", "ogg", "160k"),
    "m4a": ("aac", "ipod", "256k")}
MAX_TEMPLATE = 512
MAX_NAME = 255  # bytes per path component on common file systems
EXTENSION: dict[str, str] = {"wav16": "wav", "wav24": "wav", "float32": "wav", "flac": "flac",
                             "mp3": "mp3", "ogg": "ogg", "opus": "opus", "m4a": "m4a"}
SUBTYPE: dict[str, Literal["PCM_16", "PCM_24", "FLOAT"]] = {"wav16": "PCM_16", "wav24": "PCM_24", "float32": "FLOAT",
                                     "flac": "PCM_24"}
StepChoice = Literal["auto", "best", "last"] | int
STEP_WORDS = ("auto", "best", "last")


@dataclass(frozen=True)
class ExportSpec:
    """What to export from each session. ``stems`` None means all; ``two_stems`` writes
    that stem and ``no_<stem>``; the two are exclusive. ``other_method`` None: ``minus`` at
    a step n > 0, ``add`` at step 0; ``others``: the non-target stems from step 0 (the
    song's) or the step's ``own`` (separations of y_n)."""

    step: StepChoice = "auto"
    stems: tuple[str, ...] | None = None
    two_stems: str | None = None
    other_method: OtherMethod | None = None
    others: OthersFrom = "step0"
    sample_rate: int | None = None  # None: the input's own rate (the manifest's)
    fmt: ExportFormat = "wav16"
    mp3_bitrate: int = 320
    mp3_preset: int = 2
    clip: ClipMode = "rescale"
    template: str = DEFAULT_TEMPLATE

    def validate(self) -> None:
        """Raise :class:`ConfigError` (one line) for a bad choice; reads no session."""
        if self.fmt not in EXPORT_FORMATS:
            raise ConfigError(f"unknown format {self.fmt!r}; choose {', '.join(EXPORT_FORMATS)}.")
        if self.other_method is not None and self.other_method not in OTHER_METHODS:
            raise ConfigError(f"unknown --other-method {self.other_method!r}; choose "
                              f"{', '.join(OTHER_METHODS)}.")
        if self.others not in OTHERS_FROM:
            raise ConfigError(f"unknown --others {self.others!r}; choose {', '.join(OTHERS_FROM)}.")
        if self.sample_rate is not None and not MIN_RATE <= self.sample_rate <= MAX_RATE:
            raise ConfigError(f"--sample-rate {self.sample_rate} is out of range; give "
                              f"{MIN_RATE} to {MAX_RATE} Hz.")
        if self.clip not in CLIP_MODES:
            raise ConfigError(f"unknown clip mode {self.clip!r}; choose {', '.join(CLIP_MODES)}.")
        if self.mp3_bitrate not in MP3_BITRATES:
            raise ConfigError(f"--mp3-bitrate {self.mp3_bitrate} is not an MP3 bitrate; choose "
                              f"one of {', '.join(map(str, MP3_BITRATES))}.")
        if self.mp3_preset not in MP3_PRESETS:
            raise ConfigError(f"--mp3-preset {self.mp3_preset} is not a preset; choose 2 (best "
                              "quality) to 7 (fastest).")
        if self.fmt in FFMPEG_CODECS:
            from . import decode

            if not decode.available():
                raise ConfigError(f"--format {self.fmt} is encoded with ffmpeg, which is not "
                                  "installed (e.g. apt install ffmpeg); choose wav16, wav24, "
                                  "float32, flac or mp3.")
        if self.stems is not None and self.two_stems is not None:
            raise ConfigError("--stems and --two-stems cannot be combined; give one of them.")
        if self.stems is not None and not self.stems:
            raise ConfigError("--stems is empty; name stems such as drums,vocals.")
        if isinstance(self.step, int) and not isinstance(self.step, bool) and self.step < 0:
            raise ConfigError(f"--step {self.step} is negative; say auto, best, last or a step "
                              "number.")
        check_template(self.template)


@dataclass(frozen=True)
class Term:
    """One stored file summed into an output: ``name`` (a stem or ``mixture``) of ``step``,
    times ``sign``."""

    step: int
    name: str
    sign: int = 1


@dataclass(frozen=True)
class PlannedFile:
    """One file to write: the sum of ``terms``; ``label`` says what it is (the summary and
    the file's metadata)."""

    session: Session
    step: int
    name: str
    terms: tuple[Term, ...]
    path: Path
    label: str
    root: Path  # --out: the folder nothing may lead out of
    samplerate: int  # the file's rate (the session's is the model's)


def parse_step(text: str) -> StepChoice:
    """``auto``, ``best``, ``last`` or a step number; :class:`ConfigError` otherwise."""
    text = text.strip()
    if text in STEP_WORDS:
        return text  # type: ignore[return-value]
    if text.isdigit() and len(text) <= 6:
        return int(text)
    raise ConfigError(f"--step {text!r} is not a step; say auto, best, last or a step number.")


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
                          "use " + ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS) + ".") from None
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


def degenerate(beta: float | None) -> bool:
    """Whether a step's β makes y_n the previous estimate alone (β = 1)."""
    return beta is not None and beta >= 1.0 - 1e-9


def resolve_step(session: Session, choice: StepChoice) -> int:
    """The step number ``choice`` names in ``session``; :class:`ConfigError` otherwise.

    ``auto``: the best step among those with β < 1 when the session has references, else
    the last of them (step 0 always qualifies)."""
    from .progressive import best_step

    steps = [r.step for r in session.steps]
    if not steps:
        raise ConfigError(f"{session.folder} has no completed step to export.")
    if choice == "auto":
        usable = [r.metrics for r in session.steps if not degenerate(r.metrics.beta)]
        best = best_step(usable, session.config.target) if usable else None
        return best if best is not None else (usable[-1].step if usable else steps[0])
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
                          f"{steps[-1]}); say auto, best, last or one of them.")
    return int(choice)


Output = tuple[str, tuple[Term, ...], str]  # name, terms, label


def stem_label(name: str, step: int, target: str) -> str:
    """What the stored estimate ``name`` of ``step`` is, for metadata and summaries."""
    if step == 0:
        return f"{name}: step 0 (one-shot) estimate"
    if name == target:
        return f"{name}: the target's estimate at step {step}"
    return f"{name}: step {step}'s own estimate, a separation of y_{step}, not of the song"


def _stem(session: Session, spec: ExportSpec, step: int, name: str) -> Output:
    """``name`` as the song's stem at ``step``: the target from the step, others from step 0
    unless ``spec.others`` asks for the step's own."""
    target = session.config.target
    if step == 0 or name == target or spec.others == "own":
        return name, (Term(step, name),), stem_label(name, step, target)
    return name, (Term(0, name),), (f"{name}: step 0 (one-shot) estimate; only the target "
                                    f"is re-estimated at step {step}")


def _outputs(session: Session, spec: ExportSpec, step: int) -> list[Output]:
    sources = session.sources
    if spec.two_stems is not None:
        stem = spec.two_stems
        if stem not in sources:
            raise ConfigError(f"--two-stems {stem!r} is not a stem of "
                              f"{session.folder} ({', '.join(sources)}).")
        kept = _stem(session, spec, step, stem)
        method = spec.other_method or ("minus" if step > 0 else "add")
        if method == "none":
            return [kept]
        if method == "minus":
            terms = (Term(0, "mixture"), *(Term(t.step, t.name, -t.sign) for t in kept[1]))
            label = f"no_{stem}: mixture - {stem} ({kept[2].split(': ', 1)[1]})"
        else:
            rest = [_stem(session, spec, step, s) for s in sources if s != stem]
            terms = tuple(t for r in rest for t in r[1])
            label = f"no_{stem}: sum of " + ", ".join(f"{t.name} of step {t.step}"
                                                       for t in terms)
            if any(t.step > 0 and t.name != session.config.target for t in terms):
                label += f" (separations of y_{step}, not of the song)"
        return [kept, (f"no_{stem}", terms, label)]
    names = spec.stems if spec.stems is not None else sources
    unknown = [n for n in names if n not in sources]
    if unknown:
        raise ConfigError(f"--stems {', '.join(unknown)} not in {session.folder} "
                          f"({', '.join(sources)}).")
    return [_stem(session, spec, step, n) for n in names]


def _path(out: Path, spec: ExportSpec, session: Session, step: int, stem: str) -> Path:
    track, trackext = track_names(session)
    model = session.manifest.get("model", {}).get("name")
    rel = spec.template.format(track=track, trackext=trackext, stem=stem,
                               ext=EXTENSION[spec.fmt], step=f"{step:03d}",
                               session=safe_part(session.folder.name, "session"),
                               model=safe_part(PurePosixPath(str(model)).name, "model"))
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
        rate = output_rate(session, spec)
        if spec.fmt == "mp3" and rate not in MP3_SAMPLERATES:
            raise ConfigError(f"{session.folder} exports at {rate} Hz, which MP3 cannot hold; "
                              "give --sample-rate 44100 or 48000, or another --format.")
        for name, terms, label in _outputs(session, spec, step):
            path = _path(out, spec, session, step, name)
            what = f"{session.folder.name} {name}"
            if path in seen:
                raise ConfigError(f"--filename names two outputs {path} ({seen[path]} and "
                                  f"{what}); add {{session}} or {{step}} to the template.")
            if path.is_dir():
                raise OutputError(f"{path} is a folder; choose another --out or --filename.")
            seen[path] = what
            check_folders(out, path)
            plan.append(PlannedFile(session, step, name, terms, path, label, out, rate))
    return plan


def output_rate(session: Session, spec: ExportSpec) -> int:
    """The exported files' rate: ``--sample-rate``, else the input file's own rate (the
    manifest's ``input.file_samplerate``), else the session's (the model's)."""
    if spec.sample_rate is not None:
        return spec.sample_rate
    rate = session.manifest.get("input", {}).get("file_samplerate")
    if isinstance(rate, int) and not isinstance(rate, bool) and MIN_RATE <= rate <= MAX_RATE:
        return rate
    return session.samplerate


def resample(samples: torch.Tensor, old: int, new: int) -> torch.Tensor:
    """``samples`` ``[channels, time]`` from ``old`` to ``new`` Hz with julius (as the input
    was brought to the model's rate); the length follows the rates."""
    if old == new:
        return samples
    import julius

    length = int(round(samples.shape[-1] * new / old))
    return julius.resample_frac(samples, old, new, output_length=length)


def load_stem(session: Session, step: int, name: str) -> torch.Tensor:
    """``[channels, time]`` of ``name`` (a stem or ``mixture``) at ``step``, its rate checked
    against the manifest; a file that does not decode is a :class:`SessionError`."""
    from . import audio
    from .errors import AudioInputError

    try:
        loaded = audio.load(session.path(step, name), channels=2)
    except AudioInputError as exc:
        raise SessionError(f"{session.folder}: {name} of step {step} is damaged ({exc}); "
                           "nothing was exported.") from None
    if loaded.samplerate != session.samplerate:
        raise SessionError(f"{session.folder}: {name} of step {step} is at {loaded.samplerate} "
                           f"Hz, not the session's {session.samplerate} Hz; refusing it.")
    return loaded.samples * session.scale(step, name)


def check_stems(plan: list[PlannedFile]) -> None:
    """Decode every stored file the plan sums, before anything is written: each must decode
    whole and hold the session's rate, and all of a session the same channels and length,
    that of the manifest's input duration. :class:`SessionError` (one line) otherwise."""
    from . import audio
    from .errors import AudioInputError

    terms: dict[Path, tuple[Session, set[Term]]] = {}
    for planned in plan:
        entry = terms.setdefault(planned.session.folder, (planned.session, set()))
        entry[1].update(Term(t.step, t.name) for t in planned.terms)
    for session, needed in terms.values():
        shapes: dict[tuple[int, int], str] = {}
        for term in sorted(needed, key=lambda t: (t.step, t.name)):
            samples = load_stem(session, term.step, term.name)
            try:
                stored = audio.info(session.path(term.step, term.name))
            except AudioInputError as exc:
                raise SessionError(f"{session.folder}: {exc}") from None
            shapes.setdefault((stored.channels, samples.shape[-1]),
                              f"{term.name} of step {term.step}")
        duration = session.manifest.get("input", {}).get("duration")
        for (_channels, frames), what in shapes.items():
            seconds = frames / session.samplerate
            if len(shapes) > 1:
                found = ", ".join(f"{w}: {c} ch, {f / session.samplerate:.3f} s"
                                  for (c, f), w in shapes.items())
                raise SessionError(f"{session.folder}: its files differ ({found}); a file was "
                                   "cut or replaced; nothing was exported.")
            if isinstance(duration, (int, float)) and abs(seconds - duration) > DURATION_TOLERANCE:
                raise SessionError(f"{session.folder}: {what} holds {seconds:.3f} s, the "
                                   f"manifest says {duration:.3f} s; a file was cut or replaced; "
                                   "nothing was exported.")


def render(planned: PlannedFile) -> torch.Tensor:
    """The samples ``[channels, time]`` of one planned file (a stem, or a signed sum)."""
    total: torch.Tensor | None = None
    for term in planned.terms:
        samples = load_stem(planned.session, term.step, term.name)
        if term.sign < 0:
            samples = -samples
        if total is not None and total.shape != samples.shape:
            raise SessionError(f"{planned.session.folder}: the files of step {planned.step} "
                               "differ in length; refusing to sum them.")
        total = samples if total is None else total + samples
    assert total is not None
    return total


def tags(planned: PlannedFile) -> dict[str, str]:
    """The file's metadata: what it holds, from which session and step."""
    track, _ = track_names(planned.session)
    return {"title": f"{track} - {planned.name}", "comment": planned.label,
            "album": f"progdemix-tui session {safe_part(planned.session.folder.name, 'session')}"
                     f", step {planned.step}",
            "software": "progdemix-tui"}


def write_file(samples: torch.Tensor, path: Path, samplerate: int, spec: ExportSpec,
               metadata: dict[str, str] | None = None) -> Path:
    """Write ``samples`` ``[channels, time]`` to ``path`` in ``spec``'s format, atomically,
    with ``metadata`` (RIFF INFO, Vorbis comments or an ID3v2 tag)."""
    from demucs.audio import encode_mp3, prevent_clip

    from . import audio

    samples = prevent_clip(samples.float(), mode=spec.clip)
    if spec.fmt in FFMPEG_CODECS:
        return encode_ffmpeg(samples, path, samplerate, spec.fmt, metadata or {})
    if spec.fmt != "mp3":
        return audio.save(path, samples, samplerate, SUBTYPE[spec.fmt], tags=metadata)
    with atomic_path(path) as tmp:
        encode_mp3(samples, tmp, samplerate, spec.mp3_bitrate, quality=spec.mp3_preset)
        if metadata:
            tmp.write_bytes(id3_tag(metadata) + tmp.read_bytes())
    return path


def encode_ffmpeg(samples: torch.Tensor, path: Path, samplerate: int, fmt: str,
                  metadata: dict[str, str]) -> Path:
    """Ogg Vorbis, Opus or M4A/AAC through ffmpeg (float WAV piped in), atomically, with
    ``metadata``; :class:`OutputError` (one line) when ffmpeg fails."""
    import subprocess

    import numpy as np


    codec, muxer, bitrate = FFMPEG_CODECS[fmt]
    data = np.ascontiguousarray(samples.detach().cpu().float().numpy().T)
    tags = [arg for key, value in metadata.items() if key != "software"
            for arg in ("-metadata", f"{key}={value}")]
    with atomic_path(path) as tmp:
        done = subprocess.run(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "f32le",
             "-ar", str(samplerate), "-ac", str(data.shape[1]), "-i", "pipe:0", "-c:a", codec,
             "-b:a", bitrate, *tags, "-f", muxer, str(tmp)],
            input=data.tobytes(), capture_output=True, check=False)
        if done.returncode != 0:
            why = (done.stderr.decode(errors="replace").strip().splitlines() or ["failed"])[-1]
            raise OutputError(f"ffmpeg could not write {path} ({why[:200]}); choose another "
                              "--format.")
    return path


def id3_tag(metadata: dict[str, str]) -> bytes:
    """An ID3v2.4 tag (UTF-8 text frames) holding ``metadata``'s title, album and comment."""
    def syncsafe(n: int) -> bytes:
        return bytes((n >> shift) & 0x7F for shift in (21, 14, 7, 0))

    frames = b""
    for frame, key in (("TIT2", "title"), ("TALB", "album"), ("TSSE", "software"),
                       ("COMM", "comment")):
        if key not in metadata:
            continue
        text = metadata[key].encode()
        body = b"\x03" + (b"eng\x00" if frame == "COMM" else b"") + text
        frames += frame.encode() + syncsafe(len(body)) + b"\x00\x00" + body
    return b"ID3\x04\x00\x00" + syncsafe(len(frames)) + frames


def make_folders(root: Path, path: Path) -> None:
    """Create ``path``'s folders under ``root`` one at a time, refusing to pass through a
    symbolic link (``O_NOFOLLOW``): a link inside ``--out`` never leads the files out."""
    parts = path.parent.relative_to(root).parts
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise OutputError(f"cannot write in {root} ({exc.strerror}); choose another "
                          "--out.") from None
    try:
        for i, part in enumerate(parts):
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o777, dir_fd=fd)
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError as exc:
                where = root.joinpath(*parts[:i + 1])
                why = ("a symbolic link" if os.path.islink(where)
                       else exc.strerror or "not a folder")
                raise OutputError(f"{where} is {why}; exports do not follow links out of --out"
                                  "; remove it or choose another --out.") from None
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)


def check_folders(root: Path, path: Path) -> None:
    """Refuse (before writing anything) a symbolic link already on ``path``'s way under
    ``root``, or a file where a folder must go."""
    where = root
    for part in path.parent.relative_to(root).parts:
        where = where / part
        if where.is_symlink():
            raise OutputError(f"{where} is a symbolic link; exports do not follow links out of "
                              "--out; remove it or choose another --out.")
        if where.exists() and not where.is_dir():
            raise OutputError(f"{where} is a file where a folder must go; choose another --out "
                              "or --filename.")


def write_export(plan: list[PlannedFile], spec: ExportSpec) -> list[Path]:
    """Check every stem the plan needs (:func:`check_stems`), then write every planned file
    (each atomically, its folders made without following links); the paths, in plan order."""
    check_stems(plan)
    written = []
    for planned in plan:
        make_folders(planned.root, planned.path)
        samples = resample(render(planned), planned.session.samplerate, planned.samplerate)
        written.append(write_file(samples, planned.path, planned.samplerate, spec,
                                  tags(planned)))
    return written


def export_sessions(folders: list[Path] | list[Session], spec: ExportSpec,
                    out: str | Path) -> list[Path]:
    """:func:`plan_export` then :func:`write_export`."""
    return write_export(plan_export(folders, spec, out), spec)
