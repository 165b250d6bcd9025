"""Files written and named safely: one atomic writer (:class:`atomic_path`, with
:func:`write_text_atomic`) and one containment check (:func:`inside`) for paths that a file
someone else wrote names. No torch, no audio here."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from .errors import OutputError


def short_reason(exc: Exception) -> str:
    """The first line of ``exc`` (its type's name when empty), at most 160 characters."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def inside(folder: str | os.PathLike, path: str | os.PathLike, refusal: Exception) -> Path:
    """``path`` with symlinks resolved if it is ``folder`` or lies inside it; raises
    ``refusal`` when it leads out (absolute, ``..``, a link elsewhere) or cannot be resolved
    (a symlink loop)."""
    try:
        resolved, root = Path(path).resolve(), Path(folder).resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop before Python 3.13
        raise refusal from None
    if resolved == root or resolved.is_relative_to(root):
        return resolved
    raise refusal from None


class IncompleteWrite(RuntimeError):
    """A file was written without an error, yet does not hold everything written to it."""


class atomic_path:  # noqa: N801 - used as a context manager like open()
    """Context manager giving a temporary path beside ``path``; renamed over it on success.

    On any error the temporary file is removed, so ``path`` is either the old file, absent,
    or complete. Write errors (read-only folder, full disk) and :class:`IncompleteWrite`
    (the writers' own check that the file is whole) become :class:`OutputError`.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.tmp: Path | None = None

    def __enter__(self) -> Path:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".part",
                                        dir=self.path.parent)
            os.close(fd)
        except OSError as exc:
            raise OutputError(
                f"cannot write in {self.path.parent} ({exc.strerror}); choose another folder."
            ) from None
        self.tmp = Path(name)
        os.chmod(self.tmp, 0o666 & ~_current_umask())  # mkstemp makes 0600; follow the umask instead
        return self.tmp

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self.tmp is not None
        if exc_type is None:
            try:
                os.replace(self.tmp, self.path)
                return
            except OSError as err:
                exc = err
        self.tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(
                f"cannot write {self.path} ({exc.strerror or exc}); free space or choose another folder."
            ) from None
        if exc is not None and isinstance(exc, RuntimeError):  # soundfile's LibsndfileError too
            reason = short_reason(exc)
            if _nearly_full(self.path.parent):
                reason = "no space left on the device"
            raise OutputError(
                f"cannot write {self.path} ({reason}); free space or choose another folder."
            ) from None


def _nearly_full(folder: Path, margin: int = 16 << 20) -> bool:
    """libsndfile reports a full disk as a bare "System error": check the free space."""
    try:
        return shutil.disk_usage(folder).free < margin
    except OSError:
        return False


def _current_umask() -> int:
    """The process umask, read from /proc where possible (os.umask would briefly change it,
    which is not thread-safe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically (temp file + rename), checking that every byte landed."""
    path = Path(path)
    data = text.encode("utf-8")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as file:
            file.write(data)
        if tmp.stat().st_size != len(data):
            raise IncompleteWrite(f"wrote {tmp.stat().st_size} of {len(data)} bytes")
    return path
