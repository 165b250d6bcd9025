"""Checks on model files before demucs's loaders see them.

demucs's loaders trust their input: a bag YAML names files to open, and a safetensors file's
metadata names the class to instantiate (``klass: os.system`` runs a shell command). Every
load path runs these checks first: bag files are plain mappings naming plain signatures,
each file resolves inside the folder it belongs to, and each safetensors file names an
allowed demucs class with plain JSON arguments. When demucs then fails to build or fill the
model, the arguments are built on the meta device (allocating nothing) and compared with the
file's tensors, to say in one line what does not match.
"""

from __future__ import annotations

import inspect
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from .containment import resolved_inside
from .errors import ModelUnavailable
from .stem_names import stem_names_problem

if TYPE_CHECKING:  # torch loads only when a model file is checked (hub.py stays light)
    import torch

SAFE_CLASSES = {
    "demucs.hdemucs.HDemucs",
    "demucs.htdemucs.HTDemucs",
    "demucs.demucs.Demucs",
}
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}")


@dataclass(frozen=True)
class Bag:
    """A validated bag-of-models file: model signatures, optional weights and segment."""

    models: tuple[str, ...]
    weights: list[list[float]] | None = None
    segment: float | None = None


def check_plain_name(name: object, where: str) -> str:
    """``name`` if it is a plain file-name stem (no folder, no ``..``); else ModelUnavailable."""
    if not isinstance(name, str) or not _PLAIN_NAME.fullmatch(name):
        raise ModelUnavailable(
            f"{where}: {name!r} is not a plain model name (letters, digits, '_', '-', '.', "
            "'+'; no folders, no '..')."
        )
    return name


def check_stem_names(sources: object, where: str) -> tuple[str, ...]:
    """``sources`` if they are plain stem names (:mod:`.stem_names`); else ModelUnavailable.
    Stem names become file paths, so every model's are checked before anything is built."""
    problem = ("stems must be a list of names" if not isinstance(sources, (list, tuple))
               else stem_names_problem(sources))
    if problem:
        raise ModelUnavailable(f"{where}: {problem}; this model cannot be used.")
    return tuple(sources)  # type: ignore[arg-type]  # checked: a list or tuple of str


def inside(path: Path, folder: Path, what: str) -> Path:
    """``path`` resolved (symlinks too); ModelUnavailable unless it lies inside ``folder``."""
    resolved = resolved_inside(path, folder)
    if resolved is None:
        raise ModelUnavailable(f"{what} {path} leads outside {folder}; refused.")
    return resolved


def read_bag(path: Path) -> Bag:
    """Parse and validate a demucs bag YAML (``models``, optional ``weights``, ``segment``)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ModelUnavailable(f"{path} is not a readable YAML bag file ({_first_line(exc)}).") from None
    if not isinstance(data, dict):
        raise ModelUnavailable(f"{path} is not a bag file: expected a mapping with 'models'.")
    sigs = data.get("models")
    if not isinstance(sigs, list) or not sigs:
        raise ModelUnavailable(f"{path}: 'models' must be a non-empty list of model signatures.")
    models = tuple(check_plain_name(sig, f"{path} 'models'") for sig in sigs)
    weights = data.get("weights")
    if weights is not None and not (
        isinstance(weights, list) and len(weights) == len(models)
        and all(isinstance(row, list) and all(_is_number(w) for w in row) for row in weights)
    ):
        raise ModelUnavailable(f"{path}: 'weights' must be one list of numbers per model.")
    segment = data.get("segment")
    if segment is not None and not (_is_number(segment) and 0 < segment < float("inf")):
        raise ModelUnavailable(f"{path}: 'segment' must be a positive number of seconds.")
    return Bag(models, weights, None if segment is None else float(segment))


def check_safetensors(path: Path) -> tuple[str, list, dict, dict[str, tuple]]:
    """Refuse a safetensors file demucs's loader must not see; nothing is built or called.

    The class must be in :data:`SAFE_CLASSES`, the state unquantized, the arguments plain
    JSON (a list and an object). Returns ``(class, args, kwargs, tensor shapes)``.
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            names = handle.keys()
            shapes = {key: tuple(handle.get_slice(key).get_shape()) for key in names}
    except Exception as exc:
        raise ModelUnavailable(f"{path} is not a valid safetensors file ({_first_line(exc)}).") from None
    klass = metadata.get("klass")
    if klass not in SAFE_CLASSES:
        raise ModelUnavailable(
            f"{path} does not hold a demucs model (metadata class {klass!r}); "
            "expected one saved with class, args and kwargs metadata."
        )
    if "structure" in metadata:
        raise ModelUnavailable(
            f"{path} holds a quantized (diffq) state, which is not supported; use an unquantized model."
        )
    args, kwargs = _init_arguments(path, metadata)
    sources = kwargs.get("sources", args[0] if args else None)
    if sources is not None:  # the loaded model's stems are checked again in any case
        check_stem_names(sources, str(path))
    return klass, args, kwargs, shapes


def load_checked_safetensors(path: Path) -> torch.nn.Module:
    """:func:`check_safetensors`, then demucs's own loader; any failure is ModelUnavailable."""
    return load_checked_safetensors_files([path])[0]


def load_checked_safetensors_files(paths: list[Path]) -> list[torch.nn.Module]:
    """Check every file, then load them all: nothing is built unless all pass."""
    for path in paths:
        check_safetensors(path)
    return [_demucs_load(path) for path in paths]


def _demucs_load(path: Path) -> torch.nn.Module:
    """demucs's own safetensors loader, on a checked file; a failure is explained in one line."""
    from demucs.hf import load_safetensors_model

    try:
        with warnings.catch_warnings():  # demucs warns once per unknown kwarg it drops
            warnings.filterwarnings("ignore", message="Dropping inexistant parameter")
            model = load_safetensors_model(path)
    except Exception as exc:
        _explain_failure(path)
        raise ModelUnavailable(f"{path} could not be loaded ({_first_line(exc)}).") from None
    model.eval()
    return model


def _explain_failure(path: Path) -> None:
    """Raise a precise ModelUnavailable for a file demucs could not load, if one is found:
    arguments that build no model, or tensors that do not fit the model they build.

    Only on failure: building on the meta device allocates nothing, but makes torch import
    its compiler (seconds), which a good file's load should not pay.
    """
    klass, args, kwargs, shapes = check_safetensors(path)
    _compare_state(path, _meta_state_shapes(path, klass, args, kwargs), shapes)


def _init_arguments(path: Path, metadata: dict[str, str]) -> tuple[list, dict]:
    from demucs.hf import _decode_json

    try:
        args = _decode_json(json.loads(metadata.get("args", "")))
        kwargs = _decode_json(json.loads(metadata.get("kwargs", "")))
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise ModelUnavailable(f"{path}: bad args/kwargs metadata ({_first_line(exc)}).") from None
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise ModelUnavailable(f"{path}: metadata args must be a JSON list and kwargs an object.")
    return args, kwargs


def _meta_state_shapes(path: Path, klass: str, args: list, kwargs: dict) -> dict[str, tuple]:
    """Names and shapes of the state the class builds from these arguments (no memory)."""
    import importlib

    import torch

    module, name = klass.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    known = inspect.signature(cls).parameters
    kept = {k: v for k, v in kwargs.items() if k in known}  # demucs drops the others too
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = cls(*args, **kept)
    except Exception as exc:
        raise ModelUnavailable(
            f"{path}: its {name} arguments do not build a model ({_first_line(exc)})."
        ) from None
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def _compare_state(path: Path, expected: dict[str, tuple], found: dict[str, tuple]) -> None:
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


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _first_line(exc: BaseException) -> str:
    """The exception's first line, whole (never cut mid-word)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__

