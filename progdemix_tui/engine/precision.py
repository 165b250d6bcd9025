"""The separator's numeric precision: ``auto``, ``fp32``, ``bf16`` or ``fp16``.

Reduced precision runs the model under :func:`torch.autocast`: convolutions, matrix products
and the LSTMs run in bf16/fp16, and what autocast keeps in float32 (the STFT and ISTFT among
it) stays there. For bf16 the weights are also stored in bf16 (:data:`WEIGHT_DTYPES`; the
normalisation layers' in float32, :data:`FLOAT32_LAYERS`), so autocast does not cast every
weight again on every call. The separator's input normalisation
and everything the progressive loop computes stay float32 (:mod:`.separator`).

``auto`` picks bf16 where the device computes it natively (a CPU with AVX512-BF16 or AMX, a
CUDA device that supports it) when :data:`AUTO_BF16` says the measured quality allows it, and
fp32 otherwise. fp16 is CUDA only.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import torch

from .config import PRECISIONS
from .errors import ConfigError, DeviceError

Resolved = Literal["fp32", "bf16", "fp16"]
"""A precision a run actually uses (``auto`` decided)."""

AUTO_BF16 = True
"""Whether ``auto`` uses bf16 where it is native. Measured (bench/bench_precision.py, results
in bench/RESULTS.md): on the 20 held-out demo songs the bf16 separator's mean SI-SDR is within
0.1 dB of fp32 for every stem (at most 0.005 dB), and a progressive step of a real-size HDemucs
is 1.9–2.0× faster than in fp32 on the same threads on this AVX512-BF16 CPU (0.51–0.52×
demucs's own fp32 ``apply_model``)."""

CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
"""/proc/cpuinfo flags of a CPU that computes bf16 natively."""


CPUINFO_ENV = "PROGDEMIX_CPUINFO"
"""Environment variable naming the file :func:`cpu_has_bf16` reads instead of /proc/cpuinfo
(so a run can be tested as on a CPU without native bf16, on any CPU)."""


@functools.cache
def cpu_has_bf16(cpuinfo: Path | None = None) -> bool:
    """Whether this CPU computes bf16 natively (an AVX512-BF16 or AMX flag in ``cpuinfo``;
    by default :data:`CPUINFO_ENV`'s file, else /proc/cpuinfo).

    False where ``cpuinfo`` cannot be read (not Linux): auto then keeps fp32.
    """
    if cpuinfo is None:
        cpuinfo = Path(os.environ.get(CPUINFO_ENV, "").strip() or "/proc/cpuinfo")
    try:
        text = cpuinfo.read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            return any(flag in flags for flag in CPU_BF16_FLAGS)
    return False


WEIGHT_DTYPES: dict[Resolved, torch.dtype] = {"bf16": torch.bfloat16}
"""The dtype a precision stores the model's weights in (float32 when not listed). Measured
(bench/bench_precision.py, bench/RESULTS.md): with bf16 weights under bf16 autocast a
progressive step of a real-size HDemucs ran 1.2-1.3x faster than with float32 weights under
the same autocast (fewer dtype copies, faster convolutions), with the same quality on the 20
held-out demo songs. fp16 is not listed: with no GPU here fp16 weights were never measured, so
fp16 stays autocast over float32 weights."""


FLOAT32_LAYERS: tuple[type[torch.nn.Module], ...] = (torch.nn.LayerNorm, torch.nn.GroupNorm)
"""Layers whose weights stay float32 when a precision stores the others in bf16. CPU autocast
leaves their inputs as they come, and the CPU kernels take a bf16 input with float32
parameters but not a float32 input with bf16 ones (HTDemucs's transformer normalises float32
activations: with bf16 norm weights it stops with "mixed dtype (CPU)")."""


def weight_dtype(precision: Resolved) -> torch.dtype:
    """The dtype ``precision`` keeps the model's weights in (but :data:`FLOAT32_LAYERS`)."""
    return WEIGHT_DTYPES.get(precision, torch.float32)


def _weights(module: torch.nn.Module) -> Iterator[tuple[torch.nn.Module, torch.Tensor]]:
    """(layer, floating parameter or buffer) pairs of ``module``, each tensor once."""
    for layer in module.modules():
        for tensor in (*layer.parameters(recurse=False), *layer.buffers(recurse=False)):
            if tensor.is_floating_point():
                yield layer, tensor


Layers = tuple[type, ...]


def float32_layers(model: object) -> Layers:
    """A loaded model's own layers that must stay float32 (its optional
    ``float32_layers``: a RoFormer's rotary embeddings), beside :data:`FLOAT32_LAYERS`."""
    return tuple(getattr(model, "float32_layers", ()))


def cast_weights(module: torch.nn.Module, precision: Resolved, keep: Layers = ()) \
        -> torch.nn.Module:
    """Store ``module``'s weights in :func:`weight_dtype` of ``precision``, in place, those of
    :data:`FLOAT32_LAYERS` and ``keep`` (:func:`float32_layers`) in float32; returns
    ``module``."""
    module.to(weight_dtype(precision))
    for layer in module.modules():
        if isinstance(layer, (*FLOAT32_LAYERS, *keep)):
            layer.float()
    return module


def has_weights_of(module: torch.nn.Module, precision: Resolved, keep: Layers = ()) -> bool:
    """Whether ``module``'s weights are stored as :func:`cast_weights` stores them."""
    dtype = weight_dtype(precision)
    float32 = (*FLOAT32_LAYERS, *keep)
    return all(tensor.dtype == (torch.float32 if isinstance(layer, float32) else dtype)
               for layer, tensor in _weights(module))


def module_in(module: torch.nn.Module, precision: Resolved, keep: Layers = ()) \
        -> torch.nn.Module:
    """``module`` with its weights as :func:`cast_weights` stores them for ``precision``:
    ``module`` itself when they already are, else a converted copy (``module`` is left as it
    is, so a model shared with a separator of another precision keeps working)."""
    if has_weights_of(module, precision, keep):
        return module
    return cast_weights(copy.deepcopy(module), precision, keep)


DTYPE_FAILURE = re.compile(r"mixed dtype|scalar type|(?:input|weight|bias) type", re.IGNORECASE)
"""What torch's messages about mismatched dtypes contain."""


@contextlib.contextmanager
def precision_errors(model: str, precision: Resolved) -> Iterator[None]:
    """A dtype mismatch inside a bf16/fp16 run (a layer of ``model`` that this precision does
    not handle) as a one-line :class:`DeviceError` that names the way out; other errors, and
    any in fp32, pass unchanged."""
    try:
        yield
    except RuntimeError as exc:
        if precision == "fp32" or not DTYPE_FAILURE.search(str(exc)):
            raise
        reason = (str(exc).strip().splitlines() or ["?"])[0][:160]
        raise DeviceError(f"model {model} cannot run in {precision} here ({reason}); use "
                          "--precision fp32.") from None


def bf16_native(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively."""
    if device.type == "cpu":
        return cpu_has_bf16()
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return False


def resolve_precision(requested: str, device: torch.device) -> Resolved:
    """The precision a run uses on ``device``: ``requested`` checked, ``auto`` decided.

    (``--half`` is read as fp16 when the arguments are parsed: :func:`.config.fold_half`.)
    Raises :class:`ConfigError` for an unknown name, :class:`DeviceError` for fp16 off CUDA
    or bf16 on a device without bf16 autocast (MPS).
    """
    if requested not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, "
                          f"not {requested!r}.")
    if requested == "fp16" and device.type != "cuda":
        raise DeviceError(f"--precision fp16 needs a CUDA device ({device.type} has no fast "
                          "fp16); use --precision bf16 or fp32, or --device cuda.")
    if requested == "bf16" and device.type not in ("cpu", "cuda"):
        raise DeviceError(f"--precision bf16 runs on the CPU or CUDA, not {device.type}; "
                          "use --precision fp32.")
    if requested == "auto":
        return "bf16" if AUTO_BF16 and bf16_native(device) else "fp32"
    return requested  # type: ignore[return-value]  # fp32, bf16 or fp16, checked above


def autocast(precision: Resolved, device: torch.device) -> contextlib.AbstractContextManager:
    """The context the model runs in: autocast to bf16/fp16, or nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


BF16_FACTOR_ENV = "PROGDEMIX_BF16_FACTOR"
"""Environment variable that stands in for :func:`bf16_cpu_factor`'s measurement (a number:
bf16's time over fp32's), so both outcomes of the warning can be tested on any CPU."""
SLOW_BF16_FACTOR = 1.5
"""bf16 slower than fp32 by more than this on the CPU: :func:`slow_bf16_warning` says so."""


def _probe_seconds(dtype: torch.dtype, repeats: int = 3) -> float:
    """The best of ``repeats`` timings of a convolution and a matrix product in ``dtype``,
    shaped like a real-size HDemucs layer (48 → 96 channels), after one warm-up."""
    import time

    generator = torch.Generator().manual_seed(0)
    signal = torch.randn(1, 48, 4096, generator=generator).to(dtype)
    kernel = torch.randn(96, 48, 8, generator=generator).to(dtype)
    matrix = torch.randn(256, 256, generator=generator).to(dtype)
    best = float("inf")
    with torch.no_grad():
        for attempt in range(repeats + 1):
            start = time.perf_counter()
            torch.nn.functional.conv1d(signal, kernel, stride=4)
            matrix @ matrix
            if attempt:
                best = min(best, time.perf_counter() - start)
    return best


@functools.cache
def bf16_cpu_factor() -> float:
    """How many times longer bf16 takes than fp32 on this CPU: a probe of a few
    milliseconds (:func:`_probe_seconds`), or :data:`BF16_FACTOR_ENV` when set."""
    override = os.environ.get(BF16_FACTOR_ENV, "").strip()
    if override:
        try:
            return float(override)
        except ValueError:
            raise ConfigError(f"{BF16_FACTOR_ENV}={override!r} is not a number.") from None
    return _probe_seconds(torch.bfloat16) / max(_probe_seconds(torch.float32), 1e-9)


def slow_bf16_warning(precision: Resolved, device: torch.device) -> str | None:
    """One warning line when ``precision`` is bf16 on a CPU that computes it much slower
    than fp32 (:func:`bf16_cpu_factor` over :data:`SLOW_BF16_FACTOR`: no AVX512-BF16 or AMX
    there), else None."""
    if precision != "bf16" or device.type != "cpu":
        return None
    factor = bf16_cpu_factor()
    if factor <= SLOW_BF16_FACTOR:
        return None
    flags = f"{'/'.join(CPU_BF16_FLAGS)} {'present' if cpu_has_bf16() else 'absent'}"
    return (f"warning: bf16 ran {factor:.1f}x slower than fp32 in a short probe on this CPU "
            f"({flags}); use --precision fp32 or auto.")
