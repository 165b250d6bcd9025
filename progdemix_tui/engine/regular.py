"""Reading a file by name from a folder someone else could write: never blocking on a FIFO,
never reading a device or ``/dev/zero`` forever, never more than the caller can use."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotRegular(ValueError):
    """The file is not a regular file, or larger than allowed (one phrase)."""


def read_regular(path: Path, max_bytes: int, follow: bool = False) -> bytes:
    """The bytes of ``path``, a regular file of at most ``max_bytes``, opened without
    blocking (a FIFO or a device is refused, not read) and, unless ``follow``, without
    following a link (``follow``: the caller checks where links lead).
    FileNotFoundError when absent; OSError or :class:`NotRegular` for anything else."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegular("not a regular file")
        if info.st_size > max_bytes:
            raise NotRegular(f"larger than {max_bytes} bytes")
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise NotRegular(f"larger than {max_bytes} bytes")
    return data
