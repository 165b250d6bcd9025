"""A band-split RoFormer's YAML config, as its training code writes them, read and bounded.

Community RoFormer checkpoints come with the YAML config of the training code they were
trained with (ZFTurbo's Music-Source-Separation-Training): ``model`` holds the constructor
arguments, ``audio`` the rate and chunk size, ``inference`` the overlap (and whether the input
is normalised), ``training`` the stems. The file is read with a safe loader (plain YAML plus
the ``!!python/tuple`` those configs use; no aliases), at most :data:`MAX_CONFIG_BYTES`, and
every number that sizes the model is bounded here, before anything is built.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import ModelUnavailable
from ..model_files import check_stem_names

KINDS = ("bs_roformer", "mel_band_roformer")
"""The architectures: BS-RoFormer (fixed bands) and Mel-Band RoFormer (mel-scale bands)."""
MAX_CONFIG_BYTES = 256 * 1024
"""The largest config read (published ones are under 8 KiB)."""
MAX_LIST = 1024
"""The most entries of a list in a config (BS-RoFormer's bands: about 60)."""

LIMITS: dict[str, tuple[float, float]] = {
    "dim": (1, 4096), "depth": (1, 64), "num_stems": (1, 16),
    "time_transformer_depth": (1, 16), "freq_transformer_depth": (1, 16),
    "dim_head": (1, 1024), "heads": (1, 128), "mask_estimator_depth": (1, 16),
    "dim_freqs_in": (1, 65536), "stft_n_fft": (16, 16384), "stft_hop_length": (1, 16384),
    "stft_win_length": (1, 16384), "num_bands": (2, 1024), "sample_rate": (8000, 384000),
    "multi_stft_hop_size": (1, 65536), "attn_dropout": (0, 1), "ff_dropout": (0, 1),
    "multi_stft_resolution_loss_weight": (0, 1e6),
}
"""Bounds of the model arguments (published models lie well inside)."""
FLOATS = {"attn_dropout", "ff_dropout", "multi_stft_resolution_loss_weight"}
"""Arguments that may be fractions; every other bounded one is a whole number."""
FLAGS = {"stereo", "flash_attn", "stft_normalized", "multi_stft_normalized",
         "match_input_audio_length"}
"""Arguments that are true or false."""
COMMON = set(LIMITS) - {"num_bands", "sample_rate"} | FLAGS - {"match_input_audio_length"}
ARGUMENTS = {
    "bs_roformer": COMMON | {"freqs_per_bands", "multi_stft_resolutions_window_sizes"},
    "mel_band_roformer": COMMON | {"num_bands", "sample_rate", "match_input_audio_length",
                                   "multi_stft_resolutions_window_sizes"},
}
"""The package constructors' arguments a config may set, per architecture."""
TRAINING_CODE_ONLY: dict[str, object] = {
    "linear_transformer_depth": 0, "mlp_expansion_factor": 4, "skip_connection": False,
    "use_pope": False,
}
"""Arguments of the training code's own copy of the models that the package lacks: only
these values (the training code's defaults) build the same network."""
IGNORED = {"use_torch_checkpoint", "sage_attention"}
"""Arguments that change how training runs or which attention kernel runs, not the weights
or the result."""


@dataclass(frozen=True)
class RoformerConfig:
    """What a RoFormer config says, checked: the constructor arguments and how to run it."""

    kind: str
    arguments: dict[str, Any]
    """The package constructor's keyword arguments (lists made tuples)."""
    outputs: tuple[str, ...]
    """The stems the network outputs, in order."""
    residual: str | None
    """A stem derived as mixture − the target (a one-target model), or None."""
    samplerate: int
    chunk_size: int
    """Samples one forward sees (the training code's ``chunk_size``)."""
    num_overlap: int
    """Chunks overlapping each sample (the step is ``chunk_size // num_overlap``)."""
    normalize: bool
    """Whether the input is normalised (mean, std of its mono mix) before separation."""
    zero_dc: bool
    """Whether the DC bin of each estimate is zeroed before the inverse STFT."""
    document: dict[str, Any]
    """The checked config, as plain data (what a converted file embeds)."""

    @property
    def sources(self) -> tuple[str, ...]:
        return self.outputs + ((self.residual,) if self.residual else ())

    @property
    def audio_channels(self) -> int:
        return 2 if self.arguments.get("stereo") else 1

    @property
    def hop_length(self) -> int:
        return int(self.arguments.get("stft_hop_length", 512))


class _Loader(yaml.SafeLoader):
    """The safe loader with ``!!python/tuple`` (a plain sequence) and no aliases."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)


def _tuple(loader: yaml.SafeLoader, node: yaml.Node) -> tuple:
    if not isinstance(node, yaml.SequenceNode):
        raise yaml.constructor.ConstructorError(None, None, "!!python/tuple must tag a list",
                                                node.start_mark)
    return tuple(loader.construct_sequence(node))


_Loader.add_constructor("tag:yaml.org,2002:python/tuple", _tuple)


def read_config(path: str | os.PathLike, kind: str | None = None) -> RoformerConfig:
    """The config file at ``path``, checked (:func:`parse_config`); ModelUnavailable else."""
    path = Path(path).expanduser()
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise ModelUnavailable(f"{path} is not a regular file; a model config must be one.")
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ModelUnavailable(f"cannot read the model config {path} ({exc.strerror or exc}).") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ModelUnavailable(f"{path} is larger than {MAX_CONFIG_BYTES // 1024} KiB; a "
                               "RoFormer config is a few KiB of YAML.")
    try:
        document = yaml.load(data.decode("utf-8"), Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except (UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelUnavailable(f"{path} is not a readable YAML model config ({first}).") from None
    return parse_config(document, str(path), kind)


def parse_config(document: object, where: str, kind: str | None = None) -> RoformerConfig:
    """The checked config of a parsed YAML ``document``; ModelUnavailable naming the first
    problem. ``kind`` (one of :data:`KINDS`) is inferred from the model section when None."""
    if not isinstance(document, dict):
        raise ModelUnavailable(f"{where}: a RoFormer config is a mapping with model, audio, "
                               "training and inference sections.")
    model = _section(document, "model", where)
    audio = _section(document, "audio", where)
    training = _section(document, "training", where)
    inference = _section(document, "inference", where, required=False)
    kind = kind or _kind(model, where)
    if kind not in KINDS:
        raise ModelUnavailable(f"{where}: unknown RoFormer kind {kind!r} (one of {', '.join(KINDS)}).")
    arguments = _arguments(model, kind, where)
    outputs, residual = _stems(training, int(arguments.get("num_stems", 1)), where)
    samplerate = _whole(audio.get("sample_rate", 44100), "audio.sample_rate", 8000, 384000, where)
    chunk = inference.get("chunk_size", audio.get("chunk_size"))
    chunk_size = _whole(chunk, "chunk_size", 1, samplerate * 60, where)
    hop = int(arguments.get("stft_hop_length", 512))
    if chunk_size % hop:
        raise ModelUnavailable(f"{where}: chunk_size {chunk_size} is not a multiple of the STFT "
                               f"hop {hop}; the training code's chunks always are.")
    num_overlap = _whole(inference.get("num_overlap", 4), "inference.num_overlap", 1, 64, where)
    if chunk_size // num_overlap < 1 or chunk_size < 10:
        raise ModelUnavailable(f"{where}: chunk_size {chunk_size} is too short for "
                               f"num_overlap {num_overlap}.")
    normalize = inference.get("normalize", False) is True
    zero_dc = model.get("zero_dc", True)
    if not isinstance(zero_dc, bool):
        raise ModelUnavailable(f"{where}: model.zero_dc must be true or false.")
    plain = {"model": {**_plain(arguments), "zero_dc": zero_dc},
             "audio": {"sample_rate": samplerate, "chunk_size": chunk_size},
             "inference": {"num_overlap": num_overlap, "normalize": normalize},
             "training": {"instruments": list(training.get("instruments") or []),
                          "target_instrument": training.get("target_instrument")}}
    return RoformerConfig(kind, arguments, outputs, residual, samplerate, chunk_size,
                          num_overlap, normalize, zero_dc, plain)


def _section(document: dict, name: str, where: str, required: bool = True) -> dict:
    value = document.get(name)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise ModelUnavailable(f"{where}: its '{name}' section is missing or not a mapping.")
    return value


def _kind(model: dict, where: str) -> str:
    if "num_bands" in model:
        return "mel_band_roformer"
    if "freqs_per_bands" in model:
        return "bs_roformer"
    raise ModelUnavailable(f"{where}: its model section has neither num_bands (Mel-Band "
                           "RoFormer) nor freqs_per_bands (BS-RoFormer); name the kind.")


def _arguments(model: dict, kind: str, where: str) -> dict[str, Any]:
    """The constructor arguments, each known and within bounds."""
    allowed = ARGUMENTS[kind]
    arguments: dict[str, Any] = {}
    for key, value in model.items():
        if key in IGNORED or key == "zero_dc":
            continue
        if key in TRAINING_CODE_ONLY:
            if value != TRAINING_CODE_ONLY[key]:
                raise ModelUnavailable(
                    f"{where}: model.{key}={_short(value)} is not supported (the BS-RoFormer "
                    f"package builds only {key}={TRAINING_CODE_ONLY[key]!r}).")
            continue
        if key not in allowed:
            raise ModelUnavailable(f"{where}: model.{_short(key)} is not an argument of a "
                                   f"{kind} model; the config is damaged or of another model.")
        arguments[key] = _checked(key, value, where)
    if "dim" not in arguments or "depth" not in arguments:
        raise ModelUnavailable(f"{where}: its model section must give dim and depth.")
    n_fft = arguments.get("stft_n_fft", 2048)
    win = arguments.get("stft_win_length", 2048)
    hop = arguments.get("stft_hop_length", 512)
    if not hop <= win <= n_fft:
        raise ModelUnavailable(f"{where}: the STFT needs hop ≤ window ≤ n_fft (got "
                               f"{hop}, {win}, {n_fft}).")
    bands = arguments.get("freqs_per_bands")
    if kind == "bs_roformer" and bands is not None and sum(bands) != n_fft // 2 + 1:
        raise ModelUnavailable(f"{where}: freqs_per_bands sum to {sum(bands)}, but an STFT of "
                               f"{n_fft} has {n_fft // 2 + 1} frequencies.")
    if kind == "mel_band_roformer" and arguments.get("num_bands", 60) > n_fft // 2 + 1:
        raise ModelUnavailable(f"{where}: num_bands exceeds the STFT's frequencies.")
    return arguments


def _checked(key: str, value: object, where: str) -> object:
    if key in FLAGS:
        if not isinstance(value, bool):
            raise ModelUnavailable(f"{where}: model.{key} must be true or false.")
        return value
    if key in ("freqs_per_bands", "multi_stft_resolutions_window_sizes"):
        if not isinstance(value, (list, tuple)) or not 0 < len(value) <= MAX_LIST or not all(
                _is_number(v) and isinstance(v, int) and 1 <= v <= 65536 for v in value):
            raise ModelUnavailable(f"{where}: model.{key} must be a list of at most {MAX_LIST} "
                                   "whole numbers from 1 to 65536.")
        if key == "freqs_per_bands" and len(value) < 2:
            raise ModelUnavailable(f"{where}: model.freqs_per_bands needs at least 2 bands.")
        return tuple(value)
    low, high = LIMITS[key]
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(
            value) or not low <= value <= high or (key not in FLOATS and not isinstance(value, int)):
        kind = "a number" if key in FLOATS else "a whole number"
        raise ModelUnavailable(f"{where}: model.{key}={_short(value)} is out of bounds ({kind} "
                               f"in {low:g}…{high:g}); the config is damaged or not a RoFormer's.")
    return value


def _stems(training: dict, num_stems: int, where: str) -> tuple[tuple[str, ...], str | None]:
    """The network's output stems and the derived residual stem, from ``training``."""
    instruments = training.get("instruments") or []
    if not isinstance(instruments, list) or len(instruments) > MAX_LIST:
        raise ModelUnavailable(f"{where}: training.instruments must be a list of stem names.")
    names = check_stem_names(instruments, where) if instruments else ()
    target = training.get("target_instrument")
    if target:
        (target,) = check_stem_names([target], where)
        if num_stems != 1:
            raise ModelUnavailable(f"{where}: a target_instrument model outputs one stem, but "
                                   f"num_stems is {num_stems}.")
        others = [name for name in names if name != target]
        several = "instrumental" if target != "instrumental" else "residual"
        residual = others[0] if len(others) == 1 else (several if others else None)
        return (target,), residual
    if len(names) != num_stems:
        raise ModelUnavailable(f"{where}: training.instruments names {len(names)} stem(s) but "
                               f"the model outputs {num_stems}; they must agree.")
    return names, None


def _whole(value: object, name: str, low: int, high: int, where: str) -> int:
    if not _is_number(value) or not isinstance(value, int) or not low <= value <= high:
        raise ModelUnavailable(f"{where}: {name}={_short(value)} must be a whole number in "
                               f"{low}…{high}.")
    return value


def _plain(arguments: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in arguments.items()}


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"
