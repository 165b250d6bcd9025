"""Reading a session's ``manifest.json`` without trusting it.

A manifest may come from another version, another tool, a half-finished edit or an
attacker. :func:`read_manifest` is the one reader: it bounds the file's size and nesting,
checks every key and type the engine relies on (metrics and parameters against their
dataclasses), and checks that every file it names resolves inside the session folder.
Anything else is a :class:`.errors.SessionError` with a one-line reason.
"""

from __future__ import annotations

import dataclasses
import math
import types
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from .config import MAX_STEPS, RunConfig, upgrade_config_dict
from .errors import ConfigError, SessionError
from .files import inside
from .jsondoc import MAX_DEPTH, DocumentError, parse_bounded
from .progressive import StepMetrics
from .stem_names import stem_names_problem

NAME = "manifest.json"
MAX_BYTES = 32 << 20  # 1001 steps of metrics take well under 2 MB
STATUSES = ("running", "complete", "converged", "cancelled", "failed")

# top-level key: (accepted types, required)
TOP_LEVEL: dict[str, tuple[tuple[type, ...], bool]] = {
    "format": ((str,), True), "version": ((int,), True), "status": ((str,), True),
    "samplerate": ((int,), True), "sources": ((list,), True), "config": ((dict,), True),
    "steps": ((list,), True), "created": ((str,), False), "updated": ((str,), False),
    "input": ((dict,), False), "model": ((dict,), False), "device": ((str,), False),
    "threads": ((int,), False),
    "versions": ((dict,), False), "references": ((dict, type(None)), False),
    "error": ((str, type(None)), False), "notes": ((list,), False),
    "exported": ((dict,), False),  # what export_step adds to its copy
}


class Invalid(ValueError):
    """One problem in a manifest; its message names where (``steps[3].metrics.beta: …``)."""


def read_manifest(folder: Path, fmt: str, version: int) -> dict:
    """The validated manifest of session ``folder``; :class:`SessionError` otherwise."""
    path = folder / NAME
    if not path.is_file():
        raise SessionError(f"{folder} is not a session folder (no {NAME}).")
    try:
        member(folder, NAME)
        manifest = _parse(path)
        check(manifest, folder, fmt, version)
    except Invalid as exc:
        raise SessionError(f"{folder} is not a valid session ({exc}); it was refused.") from None
    return manifest


def _parse(path: Path) -> dict:
    try:
        return parse_bounded(path, MAX_BYTES, MAX_DEPTH)
    except DocumentError as exc:
        raise Invalid(f"{NAME} is {exc}") from None


def check(manifest: Any, folder: Path, fmt: str, version: int) -> None:
    """Raise :class:`Invalid` for the first problem in ``manifest``."""
    if not isinstance(manifest, dict) or manifest.get("format") != fmt:
        raise Invalid(f"{NAME} is not a progdemix-tui session file")
    for key, value in manifest.items():
        if key not in TOP_LEVEL:
            raise Invalid(f"unknown key {_show(key)}")
        if not isinstance(value, TOP_LEVEL[key][0]) or isinstance(value, bool):
            raise Invalid(f"{key} has the wrong type ({type(value).__name__})")
    missing = [key for key, (_, required) in TOP_LEVEL.items()
               if required and key not in manifest]
    if missing:
        raise Invalid(f"missing {', '.join(missing)}")
    if manifest["version"] != version:
        raise Invalid(f"version {manifest['version']} is not {version}")
    if manifest["status"] not in STATUSES:
        raise Invalid(f"unknown status {_show(manifest['status'])}")
    if not 0 < manifest["samplerate"] <= 1_000_000:
        raise Invalid(f"samplerate {manifest['samplerate']} is out of range")
    sources = _check_sources(manifest["sources"])
    _check_config(manifest["config"], sources)
    _check_small_dicts(manifest)
    if manifest.get("references") is not None:
        _check_files(manifest["references"], set(sources), folder, "references", subset=True)
    _check_steps(manifest["steps"], sources, folder)


def _check_sources(sources: list) -> tuple[str, ...]:
    problem = stem_names_problem(sources)
    if problem:
        raise Invalid(f"sources: {problem}")
    return tuple(sources)


def _check_config(config: dict, sources: tuple[str, ...]) -> None:
    try:  # old names (a ``constant`` schedule, ``half``) read as their new ones
        config = upgrade_config_dict(config)
    except ConfigError as exc:
        raise Invalid(f"config: {exc}") from None
    fit_dataclass(config, RunConfig, "config", required=False)
    try:
        problems = RunConfig.from_dict(config).problems(sources)
    except (TypeError, ValueError) as exc:
        raise Invalid(f"config: {exc}") from None
    if problems:
        field, why = next(iter(problems.items()))
        raise Invalid(f"config.{field} {why}")


def _check_small_dicts(manifest: dict) -> None:
    for key in ("input", "model"):
        value = manifest.get(key, {})
        if not isinstance(value.get("path" if key == "input" else "name", ""), str):
            raise Invalid(f"{key}.{'path' if key == 'input' else 'name'} must be text")
    if not all(isinstance(v, str) for v in manifest.get("versions", {}).values()):
        raise Invalid("versions must map names to text")
    if not all(isinstance(note, str) for note in manifest.get("notes", [])):
        raise Invalid("notes must be text")


def _check_steps(steps: list, sources: tuple[str, ...], folder: Path) -> None:
    if len(steps) > MAX_STEPS + 1:
        raise Invalid(f"more than {MAX_STEPS + 1} steps")
    previous = -1
    for i, entry in enumerate(steps):
        where = f"steps[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"metrics", "files"}:
            raise Invalid(f"{where} must hold exactly metrics and files")
        fit_dataclass(entry["metrics"], StepMetrics, f"{where}.metrics", required=True)
        step = entry["metrics"]["step"]
        if step <= previous:
            raise Invalid(f"{where}.metrics.step {step} does not follow step {previous}")
        previous = step
        _check_files(entry["files"], {"mixture", *sources}, folder, f"{where}.files")


def _check_files(files: Any, names: set[str], folder: Path, where: str,
                 subset: bool = False) -> None:
    if not isinstance(files, dict):
        raise Invalid(f"{where} must map names to files")
    keys = set(files)
    if not keys <= names or (not subset and keys != names):
        raise Invalid(f"{where} must list {', '.join(sorted(names))}")
    for name, entry in files.items():
        if not isinstance(entry, dict) or not set(entry) <= {"path", "scale"}:
            raise Invalid(f"{where}.{name} must hold path and scale")
        scale = entry.get("scale", 1.0)
        if not _fits(scale, float) or not scale > 0:
            raise Invalid(f"{where}.{name}.scale must be a positive number")
        if not isinstance(entry.get("path"), str):
            raise Invalid(f"{where}.{name}.path must be text")
        member(folder, entry["path"], f"{where}.{name}")


def member(folder: Path, rel: str, what: str = "a file") -> Path:
    """``folder / rel``, or :class:`Invalid` when ``rel`` (or a symlink on the way) leads
    out of ``folder``: absolute paths, ``..`` and links to elsewhere are refused."""
    pure = PurePosixPath(rel)
    if (not rel or "\0" in rel or "\\" in rel or pure.is_absolute() or ".." in pure.parts
            or pure == PurePosixPath(".")):
        raise Invalid(f"{what} points outside the session ({_show(rel)})")
    path = folder / pure
    inside(folder, path, Invalid(f"{what} leads outside the session ({_show(rel)})"))
    return path


# ------------------------------------------------------------------ dataclasses from JSON


def fit_dataclass(data: Any, cls: type, where: str, required: bool) -> None:
    """Raise :class:`Invalid` unless ``data`` is a dict that ``cls(**data)`` would take
    with values of the annotated types. ``required``: fields without defaults must be there;
    else every field may be left out."""
    if not isinstance(data, dict):
        raise Invalid(f"{where} must be an object")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in data.items():
        if key not in fields:
            raise Invalid(f"{where} has an unknown key {_show(key)}")
        if not _fits(value, hints[key]):
            raise Invalid(f"{where}.{key} has the wrong type or value ({_show(value)})")
    for name, f in fields.items():
        has_default = (f.default is not dataclasses.MISSING
                       or f.default_factory is not dataclasses.MISSING)
        if required and not has_default and name not in data:
            raise Invalid(f"{where} is missing {name}")


def _fits(value: Any, hint: Any) -> bool:
    """Whether JSON ``value`` has type ``hint`` (the annotations the engine's dataclasses use)."""
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value))
    if hint is str:
        return isinstance(value, str)
    origin, args = get_origin(hint), get_args(hint)
    if origin is Literal:
        return isinstance(value, str) and value in args
    if origin in (Union, types.UnionType):
        return any(_fits(value, arg) for arg in args)
    if origin is dict:
        return isinstance(value, dict) and all(
            _fits(k, args[0]) and _fits(v, args[1]) for k, v in value.items())
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        try:
            fit_dataclass(value, hint, "", required=True)
        except Invalid:
            return False
        return True
    return False


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
