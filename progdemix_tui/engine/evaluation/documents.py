"""Reading an evaluation folder's documents without trusting them.

``eval.json`` and ``tracks/*.json`` are checked once, here, where they are read: every file
(and ``tracks/``) must resolve inside the folder (a symlink leading out is refused), the
JSON must parse within :data:`MAX_BYTES` and :data:`MAX_DEPTH` levels of nesting with finite
numbers only, and the keys the program uses must be there with the right types. Anything
else is one :class:`SessionError` line naming the file, never a TypeError or KeyError later.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, NoReturn

from ..errors import SessionError
from ..files import inside
from ..jsondoc import MAX_DEPTH, DocumentError, parse_bounded

MAX_BYTES = 64 << 20
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # a target or stem: used in file names


def leads_out(folder: Path, path: Path) -> SessionError:
    """The error of ``path`` leading outside the evaluation ``folder`` (for
    :func:`~progdemix_tui.engine.files.inside`)."""
    return SessionError(f"{path} leads outside the evaluation folder {folder}; refusing to "
                        "read it.")


META_ADVICE = "repair it or evaluate into a new --out folder."
TRACK_ADVICE = "delete it to redo that track."


def read_json(folder: Path, path: Path, advice: str) -> Any:
    """Parse ``path`` (inside ``folder``), bounded in size and depth, finite numbers only;
    ``advice`` ends the error message."""
    inside(folder, path, leads_out(folder, path))
    try:
        return parse_bounded(path, MAX_BYTES, MAX_DEPTH)
    except DocumentError as exc:
        raise SessionError(f"{path} is {exc}; {advice}") from None


# --------------------------------------------------------------------------- types


class Checker:
    """Type checks for one document: each failure names the file and the key path."""

    def __init__(self, path: Path, advice: str):
        self.path = path
        self.advice = advice

    def fail(self, where: str, want: str) -> NoReturn:
        raise SessionError(f"{self.path} is malformed ({where}: expected {want}); "
                           f"{self.advice}")

    def obj(self, value: Any, where: str) -> dict:
        if not isinstance(value, dict):
            self.fail(where, "an object")
        return value

    def array(self, value: Any, where: str) -> list:
        if not isinstance(value, list):
            self.fail(where, "a list")
        return value

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str):
            self.fail(where, "a string")
        return value

    def name(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not NAME.fullmatch(value):
            self.fail(where, "a stem name (letters, digits, _ or -)")
        return value

    def integer(self, value: Any, where: str, low: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            self.fail(where, f"an integer ≥ {low}")
        return value

    def number(self, value: Any, where: str, optional: bool = False) -> float | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            self.fail(where, "a finite number" + (" or null" if optional else ""))
        return value

    def strings(self, value: Any, where: str) -> list[str]:
        return [self.text(item, f"{where}[{i}]") for i, item in
                enumerate(self.array(value, where))]

    def per_stem(self, value: Any, where: str) -> dict | None:
        """None, or ``{stem: number or null}``."""
        if value is None:
            return None
        for stem, number in self.obj(value, where).items():
            self.name(stem, f"{where} key")
            self.number(number, f"{where}.{stem}", optional=True)
        return value


# --------------------------------------------------------------------------- eval.json

META_LISTS = ("warnings", "merged_from")


def check_meta(data: Any, path: Path, fmt: str, version: int) -> dict:
    """``eval.json``: the keys evaluation, resume, merge and report read, with their types."""
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise SessionError(f"{path} is not a progdemix-tui evaluation file.")
    check = Checker(path, META_ADVICE)
    if check.integer(data.get("version"), "version", 1) > version:
        raise SessionError(f"{path} was written by a newer progdemix-tui (format version "
                           f"{data['version']}); update progdemix-tui to read it.")
    check.text(data.get("status"), "status")
    parameters = check.obj(data.get("parameters"), "parameters")
    targets = check.array(parameters.get("targets"), "parameters.targets")
    if not targets:
        check.fail("parameters.targets", "at least one target")
    for i, target in enumerate(targets):
        check.name(target, f"parameters.targets[{i}]")
    if "runs" in data:
        check.integer(data["runs"], "runs", 1)
    for i, entry in enumerate(check.array(data.get("skipped", []), "skipped")):
        check.text(check.obj(entry, f"skipped[{i}]").get("track"), f"skipped[{i}].track")
        check.text(entry.get("reason"), f"skipped[{i}].reason")
    for track, notes in check.obj(data.get("track_notes", {}), "track_notes").items():
        check.strings(notes, f"track_notes.{track}")
    for key in META_LISTS:
        check.strings(data.get(key, []), key)
    return data


# --------------------------------------------------------------------------- track files

STEP_NUMBERS = ("beta", "residual_db", "clip_factor", "seconds")
STEP_PER_STEM = ("si_sdr", "sdr", "estimate_change", "sdr_whole")
ORACLE_NUMBERS = ("gain_db", "si_sdr", "input_si_sdr")


def check_track(data: Any, path: Path, targets: list[str]) -> dict:
    """``tracks/*.json``: one finished (track, target) of this evaluation's ``targets``.

    Returns the document's known keys (unknown ones are dropped), ready for
    ``TrackResult(**…)``.
    """
    check = Checker(path, TRACK_ADVICE)
    data = check.obj(data, "the document")
    out: dict[str, Any] = {"track": check.text(data.get("track"), "track"),
           "target": check.name(data.get("target"), "target")}
    if out["target"] not in targets:
        check.fail("target", f"one of this evaluation's targets ({', '.join(targets)})")
    for key in ("start", "duration"):
        out[key] = check.number(data.get(key), key)
    out["seconds"] = check.number(data.get("seconds", 0.0), "seconds")
    out["samplerate"] = check.integer(data.get("samplerate"), "samplerate", 1)
    out["steps"] = [_check_step(check, step, f"steps[{i}]")
                    for i, step in enumerate(check.array(data.get("steps"), "steps"))]
    out["oracle_gain"] = [_check_oracle(check, point, f"oracle_gain[{i}]") for i, point
                          in enumerate(check.array(data.get("oracle_gain", []), "oracle_gain"))]
    out["notes"] = check.strings(data.get("notes", []), "notes")
    return out


def _check_step(check: Checker, step: Any, where: str) -> dict:
    step = dict(check.obj(step, where))
    check.integer(step.get("step"), f"{where}.step")
    if "beta" not in step:
        check.fail(f"{where}.beta", "a number or null")
    for key in STEP_NUMBERS:
        step[key] = check.number(step.get(key), f"{where}.{key}", optional=True)
    for key in STEP_PER_STEM:
        step[key] = check.per_stem(step.get(key), f"{where}.{key}")
    return step


def _check_oracle(check: Checker, point: Any, where: str) -> dict:
    beta = check.number(check.obj(point, where).get("beta"), f"{where}.beta")
    if beta is None or not 0.0 <= beta <= 1.0:
        check.fail(f"{where}.beta", "a number in [0, 1]")
    return {"beta": beta, **{key: check.number(point.get(key), f"{where}.{key}", optional=True)
                             for key in ORACLE_NUMBERS}}
