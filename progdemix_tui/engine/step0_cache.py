"""The step-0 cache: one-shot separations kept on disk, so a re-run starts at step 1.

Step 0 separates the original excerpt; it does not depend on the schedule, the mode or any
other loop parameter. An entry is keyed (:func:`step0_key`) by the excerpt's samples and
everything that changes the separation (:meth:`.separator.Separator.step0_identity`): the
model's weights and class, the separator's run parameters (segment, overlap, shifts, seed,
precision, … every field of the separator but the model, device and notes), the device type
and the torch and demucs versions.

An entry is hostile input like any file: it is never unpickled. Its format is ``MAGIC``, a
4-byte little-endian header length, a JSON header (``key``, ``shape``, ``hmac``) and the raw
little-endian float32 payload. The ``hmac`` (HMAC-SHA256 of key, shape and payload) is keyed
by a per-user secret kept outside the cache folder (``cache.key`` in the config folder,
:mod:`.userdirs`, created 0600 at once): whoever can write the cache folder but not the config
folder cannot forge an entry. An entry is opened without following links and without
blocking (a FIFO, a device or a link to ``/dev/zero`` is refused), must be a regular file no
larger than its expected shape allows, and its header is small and flat.
:meth:`Step0Cache.get` checks every part (size, header, key, shape against the one expected,
payload length and HMAC) and treats anything wrong as a miss, deleting the entry so that the
next :meth:`Step0Cache.put` rewrites it (``damaged`` counts them, for one note per run).
Writes are atomic (a temporary file in the folder, then a rename). The folder is bounded
(:data:`MAX_BYTES`): after each write the least recently used entries go first (a hit
refreshes an entry's modification time), and temporaries left by a killed writer (older than
:data:`STALE_TMP_SECONDS`) are removed. Errors of the file system are misses and skipped
writes: the cache never fails a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from .regular import read_regular

APP_NAME = "progdemix-tui"
ENV_DIR = "PROGDEMIX_CACHE_DIR"
"""Environment variable naming the cache folder (else platformdirs' user cache folder)."""
MAX_BYTES = 2 << 30
"""The folder's size bound: 2 GiB, about 50 entries of 30 s stereo excerpts (4 stems)."""
MAGIC = b"PDXSTEP1"  # 1: entries carry an HMAC (entries of format 0 are misses)
SUFFIX = ".step0"
MAX_HEADER = 1024  # a header is about 200 bytes of flat JSON
TMP_PREFIX = ".tmp-"
STALE_TMP_SECONDS = 600
"""A temporary older than this is a killed writer's (a write takes seconds)."""
KEY_FILE = "cache.key"
KEY_BYTES = 32


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

    def __init__(self, folder: Path | None = None, max_bytes: int = MAX_BYTES,
                 key_file: Path | None = None) -> None:
        self.folder = folder if folder is not None else default_folder()
        self.max_bytes = max_bytes
        self.key_file = key_file
        self.damaged = 0
        """Entries found damaged or forged (and removed) since this cache was made."""
        self._secret: bytes | None = None

    def secret(self) -> bytes:
        """The per-user HMAC key (:func:`user_secret`); OSError when it cannot be had."""
        if self._secret is None:
            from .userdirs import config_dir

            self._secret = user_secret(self.key_file or config_dir() / KEY_FILE)
        return self._secret

    def path(self, key: str) -> Path:
        return self.folder / f"{key}{SUFFIX}"

    def get(self, key: str, shape: tuple[int, ...]) -> torch.Tensor | None:
        """The float32 tensor stored under ``key`` if it has ``shape`` and is intact, else
        None (a damaged entry is deleted)."""
        path = self.path(key)
        expected = 4 * int(np.prod(shape)) + len(MAGIC) + 4 + MAX_HEADER
        try:
            secret = self.secret()
        except OSError:
            return None  # no key: no cache (never a failed run)
        try:
            data = read_regular(path, expected)
            tensor = _decode(data, key, shape, secret)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError):
            self.damaged += 1
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
        try:
            secret = self.secret()
        except OSError:
            return False
        header = json.dumps({"key": key, "shape": list(payload.shape),
                             "hmac": _mac(secret, key, list(payload.shape), body)}).encode()
        if len(MAGIC) + 4 + len(header) + body.nbytes > self.max_bytes:
            return False
        tmp = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=self.folder)
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
        (the entry ``keep`` last of all), and temporaries a killed writer left behind."""
        self._remove_stale_temporaries()
        entries = sorted(self._entries(), key=lambda e: (e[0].stem == keep, e[2]))
        total = sum(size for _, size, _ in entries)
        for path, size, _ in entries:
            if total <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                path.unlink()
            total -= size

    def _remove_stale_temporaries(self) -> None:
        try:
            temporaries = list(self.folder.glob(f"{TMP_PREFIX}*"))
        except OSError:
            return
        old = time.time() - STALE_TMP_SECONDS
        for path in temporaries:
            with contextlib.suppress(OSError):
                if path.lstat().st_mtime < old:
                    path.unlink()

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


def user_secret(path: Path) -> bytes:
    """The HMAC key in ``path`` (created at once with mode 0600 when absent: written to a
    private temporary, then linked into place, so two processes agree on one key)."""
    try:
        return _read_secret(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(KEY_BYTES))
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    data = read_regular(path, KEY_BYTES)
    info = path.lstat()
    if len(data) != KEY_BYTES or info.st_mode & 0o077 or info.st_uid != os.getuid():
        raise PermissionError(f"{path} is not a private {KEY_BYTES}-byte key of this user")
    return data


def _mac(secret: bytes, key: str, shape: list[int], body: memoryview | bytes) -> str:
    digest = hmac.new(secret, f"{key}:{shape}:".encode(), hashlib.sha256)
    digest.update(body)
    return digest.hexdigest()


def _decode(data: bytes, key: str, shape: tuple[int, ...], secret: bytes) -> torch.Tensor:
    """The tensor in an entry's bytes; ValueError for anything but an intact entry of
    ``key`` with ``shape`` made with ``secret``."""
    from .jsondoc import depth

    start = len(MAGIC) + 4
    if len(data) < start or data[:len(MAGIC)] != MAGIC:
        raise ValueError("not an entry")
    length = int.from_bytes(data[len(MAGIC):start], "little")
    if length > MAX_HEADER or len(data) < start + length:
        raise ValueError("bad header length")
    header = json.loads(data[start:start + length])  # RecursionError is caught as damage
    if depth(header, 4) > 3:  # {"shape": [n, …]} and no deeper
        raise ValueError("header nested")
    if (not isinstance(header, dict) or header.get("key") != key
            or header.get("shape") != list(shape)):
        raise ValueError("another entry")
    body = memoryview(data)[start + length:]
    if body.nbytes != 4 * int(np.prod(shape)):
        raise ValueError("truncated")
    mac = header.get("hmac")
    if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(secret, key, list(shape),
                                                                     body)):
        raise ValueError("not made with this user's key (damaged or forged)")
    array = np.frombuffer(body, dtype="<f4").reshape(shape)
    return torch.from_numpy(array.astype(np.float32))  # a writable copy
