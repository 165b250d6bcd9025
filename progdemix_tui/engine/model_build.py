"""Building a demucs model from a checked safetensors file, bounded before any memory is used.

A file's arguments are bounded first (:func:`check_arguments`: every number finite and small,
the shape-giving ones within what real models use, the sources a list of names, a positive
sample rate). The model is then built on the meta device (no memory), its parameter shapes
compared with the file's tensors, and only then materialised on the CPU and filled from the file.
"""

from __future__ import annotations

import inspect
import math
import warnings
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ModelUnavailable

if TYPE_CHECKING:
    import torch

MAX_NUMBER = 1_000_000
"""The largest magnitude of any number in a model file's arguments."""
MAX_ITEMS = 64
"""The most entries of a list in the arguments (sources, frequency splits…)."""
MAX_KWARGS = 256
"""The most named arguments (HTDemucs takes about 60)."""
MAX_DEPTH = 8
"""The deepest nesting of lists and objects in the arguments."""
LIMITS: dict[str, tuple[float, float]] = {
    "audio_channels": (1, 64), "channels": (1, 4096), "channels_time": (1, 4096),
    "bottom_channels": (0, 4096), "growth": (0, 8), "depth": (0, 16), "t_layers": (0, 32),
    "dconv_depth": (0, 16), "multi_freqs_depth": (0, 16), "lstm_layers": (0, 16),
    "nfft": (16, 65536), "kernel_size": (1, 64), "stride": (1, 64), "time_stride": (1, 64),
    "context": (0, 64), "context_enc": (0, 64), "t_heads": (1, 64), "t_hidden_scale": (0, 64),
    "dconv_comp": (1, 64), "dconv_attn": (0, 64), "dconv_lstm": (0, 64),
    "norm_groups": (1, 1024), "samplerate": (1, 768_000), "segment": (0, 3600),
}
"""Bounds of the arguments that size the model (real demucs models lie well inside)."""
INTEGERS = {"audio_channels", "samplerate", "channels", "depth", "nfft"}
"""Arguments that must be whole numbers."""


def check_arguments(path: Path, klass: type, args: list, kwargs: dict) -> dict[str, object]:
    """The arguments ``klass`` would get (unknown kwargs dropped, as demucs drops them),
    by name; ModelUnavailable naming the first one that is out of bounds."""
    if len(args) > MAX_ITEMS or len(kwargs) > MAX_KWARGS:
        raise ModelUnavailable(f"{path}: its model arguments are too many ({len(args)} "
                               f"positional, {len(kwargs)} named).")
    for index, value in enumerate(args):
        _check_values(path, value, f"#{index + 1}", 1)
    for name, value in kwargs.items():
        _check_values(path, value, str(name), 1)
    known = inspect.signature(klass).parameters
    kept = {k: v for k, v in kwargs.items() if k in known}
    try:
        bound = inspect.signature(klass).bind(*args, **kept).arguments
    except TypeError as exc:
        raise ModelUnavailable(f"{path}: its {klass.__name__} arguments do not build a model "
                               f"(TypeError: {exc}).") from None
    for name, (low, high) in LIMITS.items():
        value = bound.get(name)
        if value is None:
            continue
        if not _is_number(value) or not low <= value <= high or (
                name in INTEGERS and not isinstance(value, int)) or (
                name in ("samplerate", "segment") and value <= 0):
            kind = "a whole number" if name in INTEGERS else "a number"
            raise ModelUnavailable(f"{path}: model argument {name}={_short(value)} is out of "
                                   f"bounds ({kind} in {low:g}…{high:g}, above 0 for rates and "
                                   "segments); the file is damaged or not a demucs model.")
    sources = bound.get("sources")
    if not (isinstance(sources, list) and 0 < len(sources) <= MAX_ITEMS
            and all(isinstance(s, str) for s in sources)):
        raise ModelUnavailable(f"{path}: model argument sources={_short(sources)} is not a "
                               "list of stem names; the file is damaged or not a demucs model.")
    return bound


def build(path: Path, klass: type, args: list, kwargs: dict,
          shapes: dict[str, tuple]) -> torch.nn.Module:
    """The model, built on the meta device, checked against the file's tensor ``shapes``,
    then materialised on the CPU and filled from the file (eval mode)."""
    import torch
    from safetensors import safe_open

    bound = check_arguments(path, klass, args, kwargs)
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = klass(**bound)
    except Exception as exc:
        raise ModelUnavailable(
            f"{path}: its {klass.__name__} arguments do not build a model ({_first_line(exc)})."
        ) from None
    compare_state(path, {key: tuple(value.shape) for key, value in model.state_dict().items()},
                  shapes)
    model.to_empty(device="cpu")
    try:
        with safe_open(str(path), framework="pt") as handle:
            names = handle.keys()
            model.load_state_dict({key: handle.get_tensor(key) for key in names})
    except Exception as exc:
        raise ModelUnavailable(f"{path} could not be loaded ({_first_line(exc)}).") from None
    return model.eval()


def compare_state(path: Path, expected: dict[str, tuple], found: dict[str, tuple]) -> None:
    """ModelUnavailable unless the file's tensors are exactly the model's, shape for shape."""
    missing = sorted(expected.keys() - found.keys())
    extra = sorted(found.keys() - expected.keys())
    if missing or extra:
        parts = [f"{len(missing)} missing (e.g. {missing[0]})"] if missing else []
        parts += [f"{len(extra)} unexpected (e.g. {extra[0]})"] if extra else []
        raise ModelUnavailable(
            f"{path}: its tensors do not match its model arguments: {', '.join(parts)}."
        )
    wrong = [k for k in sorted(expected) if expected[k] != found[k]]
    if wrong:
        raise ModelUnavailable(
            f"{path}: {len(wrong)} tensor(s) have the wrong shape for its model arguments "
            f"(e.g. {wrong[0]}: {list(found[wrong[0]])}, expected {list(expected[wrong[0]])})."
        )


def _check_values(path: Path, value: object, where: str, depth: int) -> None:
    """Every number finite and within :data:`MAX_NUMBER`, lists and nesting bounded."""
    if depth > MAX_DEPTH:
        raise ModelUnavailable(f"{path}: its model arguments nest deeper than {MAX_DEPTH}.")
    if isinstance(value, Fraction):
        value = max(abs(value.numerator), abs(value.denominator))
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or abs(value) > MAX_NUMBER:
            raise ModelUnavailable(f"{path}: model argument {where}={_short(value)} is out of "
                                   f"bounds (numbers up to {MAX_NUMBER:,}); the file is damaged "
                                   "or not a demucs model.")
        return
    items = list(value.items()) if isinstance(value, dict) else (
        list(enumerate(value)) if isinstance(value, list) else None)
    if items is None:
        raise ModelUnavailable(f"{path}: model argument {where} is not plain JSON.")
    if len(items) > MAX_ITEMS:
        raise ModelUnavailable(f"{path}: model argument {where} has {len(items)} entries "
                               f"(at most {MAX_ITEMS}).")
    for key, item in items:
        _check_values(path, item, f"{where}[{key!r}]", depth + 1)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, Fraction)) and not isinstance(value, bool)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
