"""Checks on model files before demucs's loaders see them.

demucs's loaders trust their input: a bag YAML names files to open, and a safetensors file's
metadata names the class to instantiate (``klass: os.system`` runs a shell command). Every
load path runs these checks first: bag files are plain mappings naming plain signatures,
each file resolves inside the folder it belongs to, and each safetensors file names an
allowed demucs class with plain JSON arguments within bounds. The model is then built on the
meta device (allocating nothing) and compared with the file's tensors before it is filled
(:mod:`.model_build`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from .errors import ModelUnavailable
from .files import inside
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


def contained(folder: Path, path: Path, what: str) -> Path:
    """``path`` resolved (symlinks too); ModelUnavailable unless it lies inside ``folder``
    (:func:`~progdemix_tui.engine.files.inside` with the models' message)."""
    return inside(folder, path, ModelUnavailable(f"{what} {path} leads outside {folder}; "
                                                 "refused."))


MAX_BAG_BYTES = 64 * 1024
"""The largest bag YAML read (demucs's own are under 200 bytes)."""


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader refusing anchors' aliases: an alias bomb expands nothing."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a bag file",
                self.peek_event().start_mark)
        return super().compose_node(parent, index)


def _bag_text(path: Path) -> str:
    """The bag file's text: a regular file of at most :data:`MAX_BAG_BYTES`."""
    import stat

    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise ModelUnavailable(f"{path} is not a regular file; a bag file must be one.")
    with path.open("rb") as handle:
        data = handle.read(MAX_BAG_BYTES + 1)
    if len(data) > MAX_BAG_BYTES:
        raise ModelUnavailable(f"{path} is larger than {MAX_BAG_BYTES // 1024} KiB; "
                               "a bag file lists a few model names.")
    return data.decode("utf-8")


def read_bag(path: Path) -> Bag:
    """Parse and validate a demucs bag YAML (``models``, optional ``weights``, ``segment``):
    a small regular file, no aliases, weights finite, none negative, every source weighted."""
    try:
        data = yaml.load(_bag_text(path), Loader=_NoAliasLoader)  # noqa: S506 (a SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ModelUnavailable(f"{path} is not a readable YAML bag file ({first_line(exc)}).") from None
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
    if weights is not None and not _usable_weights(weights):
        raise ModelUnavailable(f"{path}: 'weights' must be finite numbers, none below 0, with "
                               "every source's weights summing above 0 (else it gets no audio).")
    segment = data.get("segment")
    if segment is not None and not (_is_number(segment) and 0 < segment < float("inf")):
        raise ModelUnavailable(f"{path}: 'segment' must be a positive number of seconds.")
    return Bag(models, weights, None if segment is None else float(segment))


def safetensors_header(path: Path) -> tuple[dict[str, tuple], dict[str, str]]:
    """``(tensor shapes, metadata)`` of a safetensors file, from its header alone (no tensor
    is read); ModelUnavailable when it is not one."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            names = handle.keys()
            shapes = {key: tuple(handle.get_slice(key).get_shape()) for key in names}
    except Exception as exc:
        raise ModelUnavailable(f"{path} is not a valid safetensors file ({first_line(exc)}).") from None
    return shapes, metadata


def check_safetensors(path: Path) -> tuple[str, list, dict, dict[str, tuple]]:
    """Refuse a safetensors file that must not be built; nothing is built or called.

    The class must be in :data:`SAFE_CLASSES`, the state unquantized, the arguments plain
    JSON (a list and an object) within :mod:`.model_build`'s bounds. Returns ``(class, args,
    kwargs, tensor shapes)``.
    """
    shapes, metadata = safetensors_header(path)
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
    _bounded(path, klass, args, kwargs)
    sources = kwargs.get("sources", args[0] if args else None)
    if sources is not None:  # the loaded model's stems are checked again in any case
        check_stem_names(sources, str(path))
    return klass, args, kwargs, shapes


def _bounded(path: Path, klass: str, args: list, kwargs: dict) -> None:
    """:func:`.model_build.check_arguments` on the named (allowed) class; builds nothing."""
    import importlib

    from .model_build import check_arguments

    module, name = klass.rsplit(".", 1)
    check_arguments(path, getattr(importlib.import_module(module), name), args, kwargs)


def load_checked_safetensors(path: Path) -> torch.nn.Module:
    """:func:`check_safetensors`, then the bounded build; any failure is ModelUnavailable."""
    return load_checked_safetensors_files([path])[0]


def load_checked_safetensors_files(paths: list[Path]) -> list[torch.nn.Module]:
    """Check every file, then load them all: nothing is built unless all pass."""
    for path in paths:
        check_safetensors(path)
    return [_demucs_load(path) for path in paths]


def _demucs_load(path: Path) -> torch.nn.Module:
    """A checked file's model: bounded arguments, built on the meta device and compared with
    the file's tensors before any memory is used (:mod:`.model_build`); any failure is one line."""
    import importlib

    from .model_build import build

    klass, args, kwargs, shapes = check_safetensors(path)
    module, name = klass.rsplit(".", 1)
    return build(path, getattr(importlib.import_module(module), name), args, kwargs, shapes)


def _init_arguments(path: Path, metadata: dict[str, str]) -> tuple[list, dict]:
    from demucs.hf import _decode_json

    try:
        args = _decode_json(json.loads(metadata.get("args", "")))
        kwargs = _decode_json(json.loads(metadata.get("kwargs", "")))
    except (ValueError, TypeError, KeyError, RecursionError, ArithmeticError) as exc:
        raise ModelUnavailable(f"{path}: bad args/kwargs metadata ({first_line(exc)}).") from None
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise ModelUnavailable(f"{path}: metadata args must be a JSON list and kwargs an object.")
    return args, kwargs


def _usable_weights(weights: list[list[float]]) -> bool:
    """Finite, non-negative, and every source weighted by some model (demucs divides by the
    sum: 0 gives NaN audio, a negative sum flips or blows up the estimate)."""
    if not all(0 <= w < float("inf") for row in weights for w in row):
        return False
    columns = zip(*weights, strict=False)
    return len({len(row) for row in weights}) == 1 and all(sum(c) > 0 for c in columns)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def first_line(exc: BaseException) -> str:
    """The exception's first line, whole (never cut mid-word)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__

