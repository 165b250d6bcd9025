"""demucs model files: safetensors in demucs's format (class, args and kwargs in the metadata)
and pickled checkpoints (``.th``: loading one runs code, so only when trusted)."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import stat
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import torch

from ..errors import ModelUnavailable, UntrustedCheckpoint
from ..model_files import check_safetensors, load_checked_safetensors
from .base import ModelShape

PICKLED_SUFFIXES = (".th", ".pt", ".pth")


def file_kind(path: Path) -> str:
    """``"safetensors"`` or ``"pickled"``, read from the file's first bytes (a name can lie);
    ModelUnavailable for a missing, non-regular or other file, saying what it is."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ModelUnavailable(f"model file {path} is not a regular file (a folder, device "
                                   "or FIFO); give a .safetensors file, a model name or --repo.")
        with path.open("rb") as handle:
            head = handle.read(9)
    except FileNotFoundError:
        raise ModelUnavailable(f"model file {path} does not exist (and {str(path)!r} is not a "
                               "model name: a demucs name or OWNER/NAME).") from None
    except OSError as exc:
        raise ModelUnavailable(f"model file {path} cannot be read ({exc.strerror}).") from None
    if path.suffix == ".safetensors" or (  # a damaged one: check_safetensors says how
            len(head) == 9 and head[8:9] == b"{"
            and int.from_bytes(head[:8], "little") < info.st_size):
        return "safetensors"
    if head.startswith((b"PK\x03\x04", b"\x80")) and path.suffix in PICKLED_SUFFIXES:
        return "pickled"  # a zip (torch.save) or a pickle
    raise ModelUnavailable(
        f"model file {path} is not a model: neither safetensors nor a torch checkpoint"
        f"{'' if path.suffix in PICKLED_SUFFIXES else ' (.th, .pt, .pth)'}; give a "
        ".safetensors file in demucs's format, a model name, or --repo DIR.")


def load_safetensors(path: str | os.PathLike) -> torch.nn.Module:
    """Load a demucs model saved as safetensors with class/args/kwargs metadata.

    The file is checked first (:func:`~..model_files.check_safetensors`): only demucs model
    classes, with arguments that match the file's tensors, so a crafted file cannot make
    the loader call arbitrary code.
    """
    return load_checked_safetensors(Path(path))


def save_safetensors(model: torch.nn.Module, path: str | os.PathLike, half: bool = False) -> Path:
    """Save a demucs model (built with ``capture_init``) in demucs's safetensors format."""
    from safetensors.torch import save_file

    from ..files import atomic_path

    # Set by demucs.states.capture_init.
    args, kwargs = cast("tuple[tuple[Any, ...], dict[str, Any]]", model._init_args_kwargs)
    klass = f"{type(model).__module__}.{type(model).__qualname__}"
    dtype = torch.float16 if half else None
    state = {k: v.detach().to("cpu", dtype=dtype if v.is_floating_point() else None).contiguous()
             for k, v in model.state_dict().items()}
    metadata = {"klass": klass, "args": json.dumps(_encode_json(list(args))),
                "kwargs": json.dumps(_encode_json(dict(kwargs)))}
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return path


def _encode_json(value):
    if isinstance(value, Fraction):
        return {"_type": "fraction", "numerator": value.numerator, "denominator": value.denominator}
    if isinstance(value, dict):
        return {k: _encode_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode_json(v) for v in value]
    return value


def load_pickled(path: Path, trust: bool) -> torch.nn.Module:
    """A pickled demucs checkpoint, through demucs's loader; only when ``trust``."""
    if not trust:
        raise UntrustedCheckpoint(
            f"{path} is a pickled checkpoint, and loading it runs code from the file; "
            "pass --trust-checkpoint if you trust its source, or use a .safetensors file."
        )
    from demucs.states import load_model as demucs_load

    try:
        model = demucs_load(path)
    except Exception as exc:
        raise ModelUnavailable(f"{path} could not be loaded as a demucs checkpoint ({exc}).") from None
    model.eval()
    return model


def safetensors_sources(files: list[Path]) -> tuple[str, ...] | None:
    """The stems named in the first safetensors file's checked metadata (nothing is built);
    None without one, or when its metadata does not name them."""
    safe = [f for f in files if f.suffix == ".safetensors"]
    if not safe:
        return None
    _klass, args, kwargs, _shapes = check_safetensors(safe[0])
    sources = kwargs.get("sources", args[0] if args else None)
    if isinstance(sources, list) and sources and all(isinstance(s, str) for s in sources):
        return tuple(sources)
    return None


def cached_sources(files: list[Path]) -> tuple[str, ...] | None:
    """:func:`safetensors_sources`, None where the file is refused (loading it will say why)."""
    try:
        return safetensors_sources(files)
    except ModelUnavailable:
        return None


def safetensors_shape(files: list[Path], model_bytes: int | None) -> ModelShape | None:
    """The rate and stems in the first safetensors file's checked metadata (the class's
    default rate where the metadata does not give one); None where unknown or refused."""
    safe = [f for f in files if f.suffix == ".safetensors"]
    if not safe:
        return None
    try:
        klass, args, kwargs, _shapes = check_safetensors(safe[0])
        sources = safetensors_sources(safe)
    except ModelUnavailable:
        return None
    rate = kwargs.get("samplerate", _default(klass, "samplerate"))
    if sources is None or not isinstance(rate, int) or isinstance(rate, bool) or rate <= 0:
        return None
    return ModelShape(rate, len(sources), model_bytes)


def _default(klass: str, argument: str) -> object:
    """``argument``'s default in the constructor of the allowed demucs class ``klass``."""
    module, _, name = klass.rpartition(".")
    parameter = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    found = parameter.get(argument)
    return None if found is None else found.default
