"""Importing the ``openunmix`` package where torchaudio cannot be imported.

openunmix imports torchaudio at the top of two modules but uses it only to resample in
``openunmix.utils.preprocess``, which this tool never calls (the engine resamples itself).
torchaudio has no build for a CPU-only torch from a local wheel (``pip install torch==2.13.0``):
it is absent, or present and failing to load its CUDA library. Then a stand-in that refuses
every use takes its place for the length of that one import, and is removed afterwards, so
``import torchaudio`` elsewhere fails as before.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import ModelUnavailable

INSTALL = "pip install --no-deps 'openunmix>=1.3.0'"
"""How a user gets the package: without its dependencies, whose torchaudio pins one torch
release and would replace the installed one (docs/models.md); not an extra for that reason."""

_LOCK = threading.Lock()


class _AbsentTorchaudio(types.ModuleType):
    """Stands for a torchaudio that cannot be imported: every attribute is an ImportError."""

    def __init__(self, why: str) -> None:
        super().__init__("torchaudio")
        self.why = why

    def __getattr__(self, attribute: str) -> object:
        raise ModuleNotFoundError(
            f"torchaudio.{attribute} is not usable here ({self.why}); openunmix needs it only "
            "to resample, which progdemix-tui does itself.", name="torchaudio")


def torchaudio_problem() -> str | None:
    """Why ``import torchaudio`` fails here (one phrase), or None when it works."""
    if isinstance(sys.modules.get("torchaudio"), types.ModuleType) and not isinstance(
            sys.modules["torchaudio"], _AbsentTorchaudio):
        return None
    if importlib.util.find_spec("torchaudio") is None:
        return "torchaudio is not installed"
    try:
        importlib.import_module("torchaudio")
    except Exception as exc:  # OSError: its library wants CUDA; ImportError: wrong torch
        lines = str(exc).strip().splitlines()
        return f"torchaudio does not load: {type(exc).__name__}: {lines[0] if lines else ''}"
    return None


@contextmanager
def _stand_in(why: str) -> Iterator[None]:
    """``sys.modules['torchaudio']`` is the stand-in inside; whatever was there before (a
    half-imported torchaudio's submodules included) comes back afterwards."""
    saved = {name: module for name, module in sys.modules.items()
             if name == "torchaudio" or name.startswith("torchaudio.")}
    for name in saved:
        del sys.modules[name]
    sys.modules["torchaudio"] = _AbsentTorchaudio(why)
    try:
        yield
    finally:
        for name in [n for n in sys.modules if n == "torchaudio" or n.startswith("torchaudio.")]:
            del sys.modules[name]
        sys.modules.update(saved)


def openunmix() -> types.ModuleType:
    """The ``openunmix`` package with ``model``, ``utils`` and ``predict`` imported;
    :class:`ModelUnavailable` (one line) when it is not installed."""
    with _LOCK:
        loaded = sys.modules.get("openunmix.predict")
        if loaded is not None:
            return sys.modules["openunmix"]
        if importlib.util.find_spec("openunmix") is None:
            raise ModelUnavailable(f"Open-Unmix models need the openunmix package, which is not "
                                   f"installed; install it: {INSTALL}.")
        why = torchaudio_problem()
        if why is None:
            return _import()
        with _stand_in(why):
            return _import()


def _import() -> types.ModuleType:
    for name in ("openunmix.model", "openunmix.utils", "openunmix.predict"):
        importlib.import_module(name)
    return sys.modules["openunmix"]
