"""Choosing the compute device: ``auto`` prefers CUDA, then MPS, then the CPU."""

from __future__ import annotations

import torch

from .errors import DeviceError


def resolve_device(spec: str = "auto") -> torch.device:
    """Turn ``auto|cpu|cuda|cuda:N|mps`` into an available ``torch.device``."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {spec}: CUDA is not available here; use --device cpu or auto.")
        device = torch.device(spec)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(
                f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) present."
            )
        return device
    if spec == "mps":
        if not _mps_available():
            raise DeviceError("--device mps: Apple MPS is not available here; use --device cpu or auto.")
        return torch.device("mps")
    raise DeviceError(f"--device {spec!r} is not one of auto, cpu, cuda, cuda:N, mps.")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def describe(device: torch.device) -> str:
    """Human-readable device name for manifests and the UI."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)
