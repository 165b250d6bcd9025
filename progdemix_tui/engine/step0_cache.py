"""The step-0 cache: one-shot separations kept on disk, so a re-run starts at step 1.

Step 0 separates the original excerpt; it does not depend on the schedule, the mode or any
other loop parameter. An entry is keyed (:func:`step0_key`) by the excerpt's samples and
everything that changes the separation (:meth:`.separator.Separator.step0_identity`): the
model's weights and class, the separator's run parameters (segment, overlap, shifts, seed,
precision, … every field of the separator but the model, device and notes), the device type
and the torch and demucs versions.

An entry is hostile input like any file: it is never unpickled. Its format is ``MAGIC``, a
4-byte little-endian header length, a JSON header (``key``, ``shape``, ``sha256`` of the
payload) and the raw little-endian float32 payload. :meth:`Step0Cache.get` checks every part
(size, header, key, shape against the one expected, payload length and checksum) and treats
anything wrong as a miss, deleting the entry so that the next :meth:`Step0Cache.put`
rewrites it. Writes are atomic (a temporary file in the folder, then a rename). The folder is
bounded (:data:`MAX_BYTES`): after each write the least recently used entries go first
(a hit refreshes an entry's modification time). Errors of the file system are misses and
skipped writes: the cache never fails a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

APP_NAME = "progdemix-tui"
ENV_DIR = "PROGDEMIX_CACHE_DIR"
"""Environment variable naming the cache folder (else platformdirs' user cache folder)."""
MAX_BYTES = 2 << 30
"""The folder's size bound: 2 GiB, about 50 entries of 30 s stereo excerpts (4 stems)."""
MAGIC = b"PDXSTEP0"
SUFFIX = ".step0"
MAX_HEADER = 4096


def default_folder() -> Path:
    """``$PROGDEMIX_CACHE_DIR``, else ``<user cache folder>/progdemix-tui/step0``."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "step0"


def model_signature(module: torch.nn.Module) -> str:
    """SHA-256 of a model's class, parameter and buffer names, shapes, dtypes and values
    (and a bag's weights): two models with one signature separate alike."""
    digest = hashlib.sha256(type(module).__qualname__.encode())
    digest.update(repr(getattr(module, "weights", None)).encode())
    for name, tensor in module.state_dict().items():
        value = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(value.shape)}:{value.dtype}".encode())
        digest.update(value.reshape(-1).view(torch.uint8).numpy().data if value.numel() else b"")
    return digest.hexdigest()


def step0_key(identity: dict, mix: torch.Tensor) -> str:
    """The entry name for separating ``mix`` ``[batch, channels, time]`` as ``identity``
    (:meth:`.separator.Separator.step0_identity`) says: SHA-256 of both, hex."""
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode())
    samples = mix.detach().to("cpu", torch.float32).contiguous()
    digest.update(f"{tuple(samples.shape)}".encode())
    digest.update(samples.numpy().data)
    return digest.hexdigest()


class Step0Cache:
    """One cache folder holding at most ``max_bytes`` of entries (see the module docstring)."""

    def __init__(self, folder: Path | None = None, max_bytes: int = MAX_BYTES) -> None:
        self.folder = folder if folder is not None else default_folder()
        self.max_bytes = max_bytes

    def path(self, key: str) -> Path:
        return self.folder / f"{key}{SUFFIX}"

    def get(self, key: str, shape: tuple[int, ...]) -> torch.Tensor | None:
        """The float32 tensor stored under ``key`` if it has ``shape`` and is intact, else
        None (a damaged entry is deleted)."""
        path = self.path(key)
        expected = 4 * int(np.prod(shape)) + len(MAGIC) + 4 + MAX_HEADER
        try:
            if path.stat().st_size > expected:
                raise ValueError("too large")
            data = path.read_bytes()
            tensor = _decode(data, key, shape)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # most recently used
        return tensor

    def put(self, key: str, tensor: torch.Tensor) -> bool:
        """Store ``tensor`` (float32) under ``key`` atomically, then evict the least recently
        used entries beyond the bound. False when not stored (larger than the bound, or the
        file system refused)."""
        payload = tensor.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4")
        body = payload.data.cast("B")
        header = json.dumps({"key": key, "shape": list(payload.shape),
                             "sha256": hashlib.sha256(body).hexdigest()}).encode()
        if len(MAGIC) + 4 + len(header) + body.nbytes > self.max_bytes:
            return False
        tmp = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.folder)
            with os.fdopen(fd, "wb") as out:
                out.write(MAGIC + len(header).to_bytes(4, "little") + header)
                out.write(body)
            os.replace(tmp, self.path(key))
            tmp = None
            self.evict(keep=key)
        except OSError:
            return False
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        return True

    def size(self) -> int:
        """Bytes the entries take now."""
        return sum(size for _, size, _ in self._entries())

    def evict(self, keep: str | None = None) -> None:
        """Delete the least recently used entries until the folder is within the bound
        (the entry ``keep`` last of all)."""
        entries = sorted(self._entries(), key=lambda e: (e[0].stem == keep, e[2]))
        total = sum(size for _, size, _ in entries)
        for path, size, _ in entries:
            if total <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                path.unlink()
            total -= size

    def _entries(self) -> list[tuple[Path, int, float]]:
        found = []
        try:
            paths = list(self.folder.glob(f"*{SUFFIX}"))
        except OSError:
            return []
        for path in paths:
            with contextlib.suppress(OSError):
                info = path.stat()
                found.append((path, info.st_size, info.st_mtime))
        return found


def _decode(data: bytes, key: str, shape: tuple[int, ...]) -> torch.Tensor:
    """The tensor in an entry's bytes; ValueError for anything but an intact entry of
    ``key`` with ``shape``."""
    start = len(MAGIC) + 4
    if len(data) < start or data[:len(MAGIC)] != MAGIC:
        raise ValueError("not an entry")
    length = int.from_bytes(data[len(MAGIC):start], "little")
    if length > MAX_HEADER or len(data) < start + length:
        raise ValueError("bad header length")
    header = json.loads(data[start:start + length])
    if (not isinstance(header, dict) or header.get("key") != key
            or header.get("shape") != list(shape)):
        raise ValueError("another entry")
    body = memoryview(data)[start + length:]
    if body.nbytes != 4 * int(np.prod(shape)):
        raise ValueError("truncated")
    if hashlib.sha256(body).hexdigest() != header.get("sha256"):
        raise ValueError("checksum")
    array = np.frombuffer(body, dtype="<f4").reshape(shape)
    return torch.from_numpy(array.astype(np.float32))  # a writable copy
