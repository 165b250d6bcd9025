"""Open-Unmix weight files, read without running code and checked before anything is built.

The package saves a model as a folder (its ``scripts/train.py``): ``separator.json`` (``nfft``,
``nhop``, ``sample_rate``, ``nb_channels``), and per target ``<target>.json`` (the training
arguments under ``args``) beside ``<target>.pth`` (a state dict; ``<target>-<hash>.pth`` as
published). ``<target>.safetensors`` may stand for the ``.pth``. Every number is bounded
before a model is built; the model is built on the meta device, compared key for key and shape
for shape with the file, and only then filled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModelUnavailable
from ..jsondoc import DocumentError, parse_bounded
from ..model_build import compare_state
from ..model_files import check_stem_names, contained, safetensors_header
from .umx_package import openunmix

if TYPE_CHECKING:
    import torch

MAX_JSON_BYTES = 4 << 20
"""The largest json read (a target's holds its loss history: some 100 kB after 1000 epochs)."""
LIMITS: dict[str, tuple[int, int]] = {
    "nfft": (16, 16384), "nhop": (1, 16384), "nb_channels": (1, 2), "hidden_size": (2, 2048),
    "nb_layers": (1, 6), "sample_rate": (1000, 384_000)}
"""Bounds of the numbers that size a model (umxl, the largest published: 4096, 1024, 2, 1024,
3, 44100): a hostile json cannot make a model of more than a few GB."""
LEGACY_KEYS = frozenset({"stft.window", "transform.0.window", "sample_rate"})
"""Tensors of open-unmix 1.0 state dicts (the STFT lived in the model then), which the package
skips (``strict=False``); any other key the model lacks is refused."""
OPTIONAL_SUFFIX = ".num_batches_tracked"
"""A batch-norm counter: unused at inference, so a file may lack it."""


@dataclass(frozen=True)
class Filterbank:
    """``separator.json``: the STFT and the rate every target of the folder shares."""

    nfft: int
    nhop: int
    sample_rate: int
    nb_channels: int


@dataclass(frozen=True)
class TargetSpec:
    """One target's model sizes, from its json's ``args``."""

    nfft: int
    nb_channels: int
    hidden_size: int
    nb_layers: int = 3
    unidirectional: bool = False


def read_json(path: Path, folder: Path) -> dict[str, Any]:
    """The JSON object in ``path`` (inside ``folder``, bounded); else one-line ModelUnavailable."""
    try:
        data = parse_bounded(contained(folder, path, "Open-Unmix file"), MAX_JSON_BYTES)
    except DocumentError as exc:
        raise ModelUnavailable(f"{path}: {exc}; it is not an Open-Unmix model file.") from None
    if not isinstance(data, dict):
        raise ModelUnavailable(f"{path}: expected a JSON object; it is not an Open-Unmix "
                               "model file.")
    return data


def bounded(path: Path, data: dict[str, Any], name: str, default: int | None = None) -> int:
    """``data[name]`` as a whole number within :data:`LIMITS` (``44100.0`` is whole)."""
    value = data.get(name, default)
    low, high = LIMITS[name]
    whole = (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and math.isfinite(value) and value.is_integer())
    if not whole or not low <= value <= high:  # type: ignore[operator]  # a number: checked
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise ModelUnavailable(f"{path}: {name}={shown} is out of bounds (a whole number in "
                               f"{low}…{high}); the file is damaged or not an Open-Unmix model.")
    return int(value)  # type: ignore[arg-type]  # checked above


def read_filterbank(folder: Path) -> Filterbank:
    path = folder / "separator.json"
    data = read_json(path, folder)
    bank = Filterbank(bounded(path, data, "nfft"), bounded(path, data, "nhop"),
                      bounded(path, data, "sample_rate"), bounded(path, data, "nb_channels"))
    if bank.nhop > bank.nfft:
        raise ModelUnavailable(f"{path}: nhop={bank.nhop} is longer than nfft={bank.nfft}; the "
                               "file is damaged.")
    return bank


def read_target(folder: Path, target: str, bank: Filterbank) -> TargetSpec:
    path = folder / f"{target}.json"
    args = read_json(path, folder).get("args")
    if not isinstance(args, dict):
        raise ModelUnavailable(f"{path}: no 'args' object (the training arguments); it is not "
                               "an Open-Unmix target file.")
    unidirectional = args.get("unidirectional", False)
    if not isinstance(unidirectional, bool):
        raise ModelUnavailable(f"{path}: unidirectional={unidirectional!r} is not true or false.")
    spec = TargetSpec(bounded(path, args, "nfft"), bounded(path, args, "nb_channels"),
                      bounded(path, args, "hidden_size"), bounded(path, args, "nb_layers", 3),
                      unidirectional)
    if (spec.nfft, spec.nb_channels) != (bank.nfft, bank.nb_channels):
        raise ModelUnavailable(f"{path}: nfft={spec.nfft}, nb_channels={spec.nb_channels} differ "
                               f"from separator.json's {bank.nfft}, {bank.nb_channels}.")
    if not unidirectional and spec.hidden_size % 2:
        raise ModelUnavailable(f"{path}: hidden_size={spec.hidden_size} must be even for a "
                               "bidirectional model.")
    return spec


def weights_file(folder: Path, target: str) -> Path:
    """``<target>.safetensors``, else the package's ``<target>*.pth`` (one of them)."""
    safe = folder / f"{target}.safetensors"
    if safe.is_file():
        return contained(folder, safe, "Open-Unmix weights")
    found = sorted(folder.glob(f"{target}*.pth"))
    if len(found) != 1:
        raise ModelUnavailable(
            f"{folder}: {'no' if not found else 'more than one'} weights file for target "
            f"{target!r} ({target}.safetensors or {target}.pth); give one per target.")
    return contained(folder, found[0], "Open-Unmix weights")


def folder_targets(folder: Path) -> tuple[str, ...]:
    """The targets of a model folder: each ``<target>.json`` beside ``separator.json``,
    the package's order (vocals, drums, bass, other) first, then by name."""
    names = [p.stem for p in folder.glob("*.json") if p.name != "separator.json"]
    order = ("vocals", "drums", "bass", "other")
    names.sort(key=lambda n: (order.index(n) if n in order else len(order), n))
    if not names:
        raise ModelUnavailable(f"{folder}: no <target>.json beside separator.json; it is not an "
                               "Open-Unmix model folder.")
    return check_stem_names(names, f"Open-Unmix model {folder}")


def file_shapes(path: Path, trust: bool) -> tuple[dict[str, tuple[int, ...]], Any]:
    """``(shapes, reader)``: the tensors' shapes, and a callable giving the state dict (a
    safetensors file is read only when called; a ``.pth`` is read now, as plain tensors)."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return safetensors_header(path)[0], lambda: load_file(str(path))
    state = read_pth(path, trust)
    return {k: tuple(v.shape) for k, v in state.items()}, lambda: state


def read_pth(path: Path, trust: bool) -> dict[str, torch.Tensor]:
    """A ``.pth`` state dict read as plain tensors (``weights_only``: no code runs); with
    ``trust``, a file that needs more is unpickled whole."""
    import pickle

    import torch

    try:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            if not trust:
                raise ModelUnavailable(
                    f"{path} holds more than tensors ({_first_line(exc)}); loading it would "
                    "run code from the file: add --trust-checkpoint if you trust its source."
                ) from None
            state = torch.load(path, map_location="cpu", weights_only=False)
    except ModelUnavailable:
        raise
    except Exception as exc:
        raise ModelUnavailable(f"{path} is not a readable state dict ({_first_line(exc)}).") \
            from None
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ModelUnavailable(f"{path} is not a state dict of named tensors; it is not "
                               "an Open-Unmix target model.")
    return state


def fill(path: Path, model: torch.nn.Module, shapes: dict[str, tuple[int, ...]],
         reader: Any) -> None:
    """Compare ``model``'s tensors with the file's (:data:`LEGACY_KEYS` skipped, the
    :data:`OPTIONAL_SUFFIX` counters optional), then load them (a meta model is materialised
    on the CPU first)."""
    import torch

    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: s for k, s in shapes.items() if k not in LEGACY_KEYS}
    optional = {k for k in expected.keys() - found.keys() if k.endswith(OPTIONAL_SUFFIX)}
    compare_state(path, {k: s for k, s in expected.items() if k not in optional}, found)
    if any(t.is_meta for t in model.state_dict().values()):
        model.to_empty(device="cpu")
    state = {k: v for k, v in reader().items() if k in found}
    state.update({k: torch.zeros((), dtype=torch.long) for k in optional})
    model.load_state_dict(state)
    model.eval()


def build_target(path: Path, spec: TargetSpec, shapes: dict[str, tuple[int, ...]]) \
        -> torch.nn.Module:
    """The package's ``OpenUnmix`` for ``spec`` on the meta device; ``max_bin`` is the file's
    ``input_mean`` length, as the package's ``load_target_models`` takes it."""
    import torch

    nb_bins = spec.nfft // 2 + 1
    mean = shapes.get("input_mean")
    if mean is None or len(mean) != 1 or not 1 <= mean[0] <= nb_bins:
        raise ModelUnavailable(f"{path}: input_mean has shape {list(mean or ())}, expected "
                               f"[n] with 1 ≤ n ≤ {nb_bins}; it is not this target's model.")
    with torch.device("meta"):
        return openunmix().model.OpenUnmix(
            nb_bins=nb_bins, nb_channels=spec.nb_channels, hidden_size=spec.hidden_size,
            nb_layers=spec.nb_layers, unidirectional=spec.unidirectional, max_bin=mean[0])


def load_folder_targets(folder: Path, bank: Filterbank, trust: bool) \
        -> dict[str, torch.nn.Module]:
    """Each target's checked model: every json read and bounded, every file compared,
    before the next is built."""
    models = {}
    for target in folder_targets(folder):
        spec = read_target(folder, target, bank)
        path = weights_file(folder, target)
        shapes, reader = file_shapes(path, trust)
        model = build_target(path, spec, shapes)
        fill(path, model, shapes, reader)
        models[target] = model
    return models


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__
