"""Named exceptions of the engine.

Every error a user can cause or fix derives from :class:`ProgdemixError`; its message is a
single line saying what went wrong and what to do. ``exit_code`` is what the CLI exits with.
"""

from __future__ import annotations

MAX_MESSAGE = 1000
"""The most characters of an error line (a message quoting a file is cut, never a wall)."""


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` as one line of at most ``limit`` characters: line breaks become spaces, and a
    longer text loses its middle to " … " (the start says what, the end what to do): the
    shared bound of every error line the CLI prints."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    tail = (limit - 3) * 2 // 5
    return f"{flat[:limit - 3 - tail]} … {flat[-tail:]}"


class ProgdemixError(Exception):
    """Base class: a problem the user can understand and act on (exit code 2)."""

    exit_code = 2


class AudioInputError(ProgdemixError):
    """An input file is missing, unreadable, empty or holds invalid samples."""


class InputUnreadable(AudioInputError):
    """The OS refused to list an input folder; ``cause`` is its ``OSError``."""

    def __init__(self, message: str, cause: OSError) -> None:
        super().__init__(message)
        self.cause = cause


class NoMixture(AudioInputError):
    """An input folder holds no ``mixture.wav``/``.flac``: it is not a track folder."""


class OutputError(ProgdemixError):
    """An output folder or file cannot be written."""


class ConfigError(ProgdemixError):
    """Parameters are invalid or inconsistent."""


class ReferencesRequired(ConfigError):
    """The requested mode or score needs reference stems and none were given."""


class SessionError(ProgdemixError):
    """A session or evaluation folder is malformed, foreign, or points outside itself."""


class ResumeRefused(SessionError):
    """A session cannot be resumed: finished, foreign, or its input or model changed."""


class ModelUnavailable(ProgdemixError):
    """A model's weights cannot be found, fetched, or trusted.

    ``in_app`` is the same message with advice for the terminal app instead of CLI flags.
    """

    def __init__(self, message: str, in_app: str | None = None) -> None:
        super().__init__(message)
        self.in_app = in_app or message


class NonFiniteOutput(ProgdemixError):
    """A model returned NaN or infinite samples (damaged weights, or a bag weighted to 0)."""


class UntrustedCheckpoint(ProgdemixError):
    """A pickled checkpoint was given without ``trust_checkpoint``."""


class DeviceError(ProgdemixError):
    """The requested compute device is not available, or ran out of memory."""


class Cancelled(ProgdemixError):
    """The run was cancelled by the user; completed steps are kept."""

    exit_code = 130


def is_allocation_failure(exc: BaseException) -> bool:
    """True for a failed host-memory allocation: ``MemoryError``, or the ``RuntimeError``
    torch raises on the CPU ("DefaultCPUAllocator: can't allocate memory")."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "can't allocate memory" in text or "DefaultCPUAllocator" in text
        or "not enough memory" in text)


ACCELERATOR_ALLOCATION_FAILURES = ("CUDNN_STATUS_ALLOC_FAILED", "CUBLAS_STATUS_ALLOC_FAILED",
                                   "CUDA out of memory")
"""What the RuntimeErrors of a library on the GPU say when it could not allocate memory (cuDNN
and cuBLAS workspaces are not always allocated through torch's OutOfMemoryError)."""


def is_accelerator_oom(exc: BaseException) -> bool:
    """True for an out-of-memory error on an accelerator: torch's ``OutOfMemoryError``, or a
    cuDNN/cuBLAS allocation failure (:data:`ACCELERATOR_ALLOCATION_FAILURES`)."""
    import torch

    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and any(
        marker in str(exc) for marker in ACCELERATOR_ALLOCATION_FAILURES)


OUT_OF_MEMORY_ADVICE = "use a shorter --duration (with --start), a shorter --segment or fewer --adaptive candidates"


def out_of_memory(where: str) -> DeviceError:
    """The one-line :class:`DeviceError` for a failed allocation on ``where`` (e.g. "cpu")."""
    return DeviceError(f"out of memory on {where}: the run needs more memory than is free; "
                       f"{OUT_OF_MEMORY_ADVICE}.")
