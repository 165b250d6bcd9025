"""Optional dependencies: pyproject's extras, which feature needs which, and the one line that
says so when one is missing.

``[plots]`` (matplotlib) draws PNG charts (``report``, ``eval``, ``run``'s chart), ``[web]``
(aiohttp) serves the browser speaker, ``[eval]`` (museval) computes BSSEval v4 SDR
(``--sdr bss``). The core install runs the TUI and ``run`` without any of them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from .errors import ConfigError


@dataclass(frozen=True)
class Extra:
    """One extra of ``pyproject.toml``: ``pip install 'progdemix-tui[name]'`` gives ``module``."""

    name: str
    module: str

    @property
    def install(self) -> str:
        return f"pip install 'progdemix-tui[{self.name}]'"


EXTRAS: dict[str, Extra] = {extra.name: extra for extra in (
    Extra("plots", "matplotlib"), Extra("web", "aiohttp"), Extra("eval", "museval"))}
"""The extras by name."""


class ExtraMissing(ConfigError):
    """A feature was asked for whose extra is not installed; ``extra`` names it."""

    def __init__(self, message: str, extra: Extra) -> None:
        super().__init__(message)
        self.extra = extra


def missing(name: str, what: str, instead: str = "", why: str = "") -> ExtraMissing:
    """The error for ``what`` without extra ``name``: "WHAT needs MODULE: pip install
    'progdemix-tui[NAME]'" (then ``, or INSTEAD``; ``why``: the import's own reason)."""
    extra = EXTRAS[name]
    reason = f" ({why})" if why else ""
    alternative = f", or {instead}" if instead else ""
    return ExtraMissing(f"{what} needs {extra.module}{reason}: {extra.install}{alternative}.",
                        extra)


def require(name: str, what: str, instead: str = "") -> None:
    """Import extra ``name``'s module, or raise :func:`missing`'s :class:`ExtraMissing`.

    An import that fails below the module (one of its own dependencies) is reported too,
    with its reason: the same install repairs it.
    """
    module = EXTRAS[name].module
    try:
        importlib.import_module(module)
    except ImportError as exc:
        why = "" if (exc.name or "").split(".")[0] == module else str(exc)
        raise missing(name, what, instead, why) from None


def available(name: str) -> bool:
    """Whether extra ``name``'s module imports."""
    try:
        require(name, name)
    except ExtraMissing:
        return False
    return True
