"""Will a run fit in memory? An estimate from the model's rate, stems and size, and the free
memory.

:func:`estimate_run_bytes` adds up what a run holds at its peak: the Python/torch runtime,
the model (its file's size, twice while loading), the separator's working memory for one
segment,
and the audio tensors (mixture, references, the previous and the current step's estimates,
the separator's normalised input and output, and the SI-SDR temporaries), each
``frames × channels × 4`` bytes. The coefficients come from ``bench/bench_memory_length.py``
(see bench/RESULTS.md); the estimate errs on the high side. :func:`available_bytes` is the
smallest of ``MemAvailable`` in /proc/meminfo (or ``os.sysconf``), the cgroup's limit less
its usage, and the :data:`MEMORY_ENV` override. :func:`check_fits` refuses a run that does
not fit with one line. The model's rate, stems and size come from the model
(:class:`.models.ModelShape`): read from its local metadata before it loads, else from the
loaded model.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from .config import DEFAULT_SEGMENT, MAX_SEGMENT, RunConfig
from .errors import DeviceError

if TYPE_CHECKING:
    import torch

    from .models import ModelShape

class Segmenting(Protocol):
    """The part of a :class:`.procedure.Procedure` the memory check asks (not imported here:
    the procedure's study imports the separator, which imports this module)."""

    def memory_segment(self, segment: float, seconds: float) -> float: ...


#: Environment variable overriding the free memory the check assumes, in bytes or with a
#: K/M/G/T suffix ("512M"). For tests and for users who know their machine better; ``0``
#: or ``off`` disables the check.
MEMORY_ENV = "PROGDEMIX_MEMORY_AVAILABLE"
RUNTIME_BYTES = 500 << 20  # interpreter, torch, demucs, soundfile: RSS before any audio
REFERENCE_MODEL_BYTES = 335 << 20  # real-size HDemucs (channels=48): 83.6 M float32 parameters
#: Peak working memory of the separator per second of segment and batch item, measured
#: (bench/RESULTS.md): about the same for the real-size and the tests' tiny HDemucs, because
#: the spectrograms of every source, not the layers' width, dominate it.
ACTIVATION_BYTES_PER_SECOND = 50 << 20
CGROUP_FILES = (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                 "/sys/fs/cgroup/memory/memory.usage_in_bytes"))


def estimate_run_bytes(*, frames: int, channels: int = 2, sources: int = 4,
                       references: bool = False, steps: int = 10, parameters: int | None = None,
                       model_bytes: int | None = None, segment: float = 10.0,
                       samplerate: int | None = None, candidates: int = 0,
                       resampled: bool = False, loudness: bool = False,
                       batch_chunks: int = 1) -> int:
    """Peak bytes a run on ``frames`` frames (at the model's ``samplerate``) needs, estimated.

    ``sources``: the model's stem count; ``model_bytes`` (or ``parameters`` × 4) sizes the model; ``candidates`` is adaptive β's
    K (0: off); ``resampled`` adds the resampler's working copies, ``loudness`` the float64
    copy the loudness meter reads (``--loudness-match``); ``batch_chunks`` chunks go through
    the model at once (``--batch-chunks``).
    """
    track = frames * channels * 4
    s = sources
    batch = max(1, candidates)
    if model_bytes is None:
        model_bytes = parameters * 4 if parameters else REFERENCE_MODEL_BYTES
    copies = 1 + (s if references else 0)  # mixture, references
    copies += 2  # the residual's temporaries, the writer's copy of one stem
    copies += batch * (1 + s)  # the separator's normalised input and its output
    if steps > 0:
        copies += s + 1 + batch  # previous estimates and mixture, y_n
        if candidates:
            copies += batch * s + (batch + 1) * (s + 1)  # candidates stacked, with previous
    if references or steps > 0:
        copies += 3 * s  # SI-SDR temporaries
    if resampled:
        copies += 3
    if loudness:
        copies += 2
    if frames and samplerate:  # the separator caps the segment at the input (never under
        # the default)
        segment = min(segment, max(frames / samplerate, DEFAULT_SEGMENT))
    activations = ACTIVATION_BYTES_PER_SECOND * segment * batch * max(1, batch_chunks)
    return int(RUNTIME_BYTES + 2 * model_bytes + activations + copies * track)


def parse_bytes(text: str) -> int:
    """``"512M"`` → 536870912; plain numbers are bytes. Raises ValueError."""
    text = text.strip().upper().removesuffix("B")
    factor = 1
    if text and text[-1] in "KMGT":
        factor = 1024 ** ("KMGT".index(text[-1]) + 1)
        text = text[:-1]
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(text)
    return int(value * factor)


def available_bytes() -> int | None:
    """Memory a new allocation can get now, in bytes; None when unknown or disabled."""
    override = os.environ.get(MEMORY_ENV, "").strip()
    if override:
        if override.lower() in ("0", "off"):
            return None
        try:
            return parse_bytes(override)
        except ValueError:
            raise DeviceError(f"{MEMORY_ENV}={override!r} is not a size like 512M or 8G.") from None
    found = [value for value in (_meminfo_available(), _cgroup_free()) if value is not None]
    return min(found) if found else None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_free() -> int | None:
    for limit_file, usage_file in CGROUP_FILES:
        try:
            limit = Path(limit_file).read_text().strip()
            usage = int(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or not limit.isdigit() or int(limit) >= 1 << 60:
            return None
        return max(0, int(limit) - usage)
    return None


def gib(count: int) -> str:
    """Bytes as ``"1.2 GB"`` (GiB) or ``"850 MB"`` (MiB) for messages."""
    return f"{count / 2**30:.1f} GB" if count >= 2**30 else f"{count / 2**20:.0f} MB"


#: How a refusal suggests an excerpt that fits, per command (``{n}``: seconds that fit).
EXCERPT_HINTS = {
    "run": "process an excerpt with --start/--duration (--duration {n} or less should fit)",
    "eval": "evaluate shorter excerpts (--excerpt {n} or less should fit)",
}


def check_fits(need: int, fixed: int, seconds: float, what: str = "this run",
               command: Literal["run", "eval"] = "run") -> None:
    """Raise :class:`DeviceError` when ``need`` bytes exceed the memory available.

    ``fixed`` is the part of ``need`` that does not grow with the input's length
    (``seconds``), so the message can suggest an excerpt that would fit.
    """
    free = available_bytes()
    if free is None or need <= free:
        return
    fits = seconds * (free - fixed) / max(1, need - fixed) if free > fixed else 0.0
    hint = (EXCERPT_HINTS[command].format(n=int(fits * 0.9)) if fits * 0.9 >= 1
            else "free some memory, or use a smaller model, a shorter --segment or fewer "
                 "--batch-chunks")
    raise DeviceError(
        f"{what} needs about {gib(need)} of memory for {seconds:.0f} s of audio but only "
        f"{gib(free)} is available; {hint}, or set {MEMORY_ENV} to override."
    )


def model_file_bytes(spec: str, repo: str | os.PathLike | None = None) -> int:
    """The model's size in memory as far as known before loading it (its file's size)."""
    from .models import DEMO_WEIGHTS

    if repo is None and spec == "demo":
        return 2 * DEMO_WEIGHTS.stat().st_size  # stored as float16
    try:
        path = Path(spec).expanduser()
        if path.is_file():
            return path.stat().st_size
    except OSError:
        pass
    return REFERENCE_MODEL_BYTES


def segment_seconds(given: float | None, model: float | None, seconds: float) -> float:
    """The seconds one forward sees: ``--segment`` (``given``), else the model's own
    (``model``; infinite: the whole input of ``seconds``), else the default; capped by the
    model's and by :data:`MAX_SEGMENT`."""
    segment = given or model or DEFAULT_SEGMENT
    if model is not None:
        segment = min(segment, model)
    return seconds if math.isinf(segment) else min(segment, MAX_SEGMENT)


def preflight(frames: int, file_rate: int, config: RunConfig, references: bool,
              channels: int = 2, what: str = "this run",
              command: Literal["run", "eval"] = "run", shape: ModelShape | None = None,
              procedure: Segmenting | None = None) -> bool:
    """Refuse a run of ``frames`` input frames (at ``file_rate``) that cannot fit in memory.

    ``shape`` is the model's rate, stems and size; by default what its local metadata says
    without loading it (:func:`.models.model_shape`). ``procedure``
    (:func:`.procedure.procedure_for` the config) says how long one forward pass is; None:
    this tool's segment. Cheap: reads no audio and builds no model, so callers run it first.
    Returns False, checking nothing, where the model's shape is not known before it loads
    (the caller checks again with the loaded model's).
    """
    sep = config.separator
    if shape is None:
        from .models import model_shape

        shape = model_shape(sep.model, sep.repo, sep.model_config or None)
        if shape is None:
            return False
    rate = shape.samplerate
    model_frames = int(frames * rate / file_rate) if file_rate else frames
    common: dict[str, Any] = dict(
        channels=channels, sources=shape.sources, references=references, steps=config.steps,
        model_bytes=(shape.model_bytes if shape.model_bytes is not None
                     else model_file_bytes(sep.model, sep.repo)),
        segment=segment_seconds(sep.segment, shape.segment, model_frames / rate),
        samplerate=rate,
        candidates=config.adaptive.candidates if config.adaptive else 0,
        resampled=file_rate != rate, loudness=config.loudness_match,
        batch_chunks=host_batch_chunks(sep.batch_chunks, sep.device))
    if procedure is not None:  # the study's one pass over the whole excerpt
        common["segment"] = procedure.memory_segment(common["segment"], model_frames / rate)
    need = estimate_run_bytes(frames=model_frames, **common)
    fixed = estimate_run_bytes(frames=0, **common)
    check_fits(need, fixed, model_frames / rate, what, command)
    return True


#: The most chunks per forward ``--batch-chunks 0`` picks on CUDA.
MAX_AUTO_BATCH_CHUNKS = 16
#: The share of the free accelerator memory ``--batch-chunks 0`` lets the chunks' working
#: memory take (the rest: the model, the track's tensors, the allocator's slack).
AUTO_BATCH_SHARE = 0.5


def host_batch_chunks(requested: int, device: str) -> int:
    """The chunks per forward whose working memory may be host memory: ``requested`` (0
    means 1) on the CPU or ``auto``, 1 on an accelerator named (its memory holds them)."""
    named = str(device).strip().lower()
    return 1 if named.startswith(("cuda", "mps")) else max(1, requested)


def batch_chunks_for(requested: int, device: torch.device, segment: float,
                     items: int = 1) -> int:
    """The chunks per forward pass a separator on ``device`` uses: ``requested``, or for 0
    (auto) 1 on the CPU (measured no faster batched, bench/RESULTS.md) and on CUDA as many as
    :data:`AUTO_BATCH_SHARE` of its free memory holds (``segment`` seconds each, ``items``
    mixtures per chunk), from 1 to :data:`MAX_AUTO_BATCH_CHUNKS`."""
    if requested > 0:
        return requested
    if device.type != "cuda":
        return 1
    import torch

    free, _total = torch.cuda.mem_get_info(device)
    per_chunk = ACTIVATION_BYTES_PER_SECOND * segment * max(1, items)
    return max(1, min(MAX_AUTO_BATCH_CHUNKS, int(free * AUTO_BATCH_SHARE // per_chunk)))
