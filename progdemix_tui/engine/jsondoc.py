"""Parsing JSON documents that someone else may have written.

Session manifests and evaluation documents may come from another version, a half-finished
edit or an attacker. :func:`parse_bounded` is how both are parsed: a bounded number of bytes,
bounded nesting (counted without recursion), and finite numbers only — ``NaN``,
``Infinity`` and numbers that overflow to infinity (``1e400``) are refused.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, NoReturn

from .regular import NotRegular, read_regular

MAX_DEPTH = 32  # the writers nest at most 5 deep


class DocumentError(ValueError):
    """Why a document could not be parsed: one line, without the file's name."""


def parse_bounded(path: Path, max_bytes: int, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value in ``path``; :class:`DocumentError` when it is unreadable, larger than
    ``max_bytes``, not JSON, deeper than ``max_depth`` or holds a non-finite number."""
    try:  # callers check where links lead; a FIFO or a device is refused, not read
        raw = read_regular(path, max_bytes, follow=True)
    except OSError as exc:
        raise DocumentError(f"unreadable: {exc.strerror or exc}") from None
    except NotRegular as exc:
        raise DocumentError(f"{exc}" if "larger" not in str(exc)
                            else f"larger than {max_bytes >> 20} MB") from None
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant,
                          parse_float=_finite)
    except RecursionError:
        raise DocumentError("nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, a refused number
        raise DocumentError(f"not valid JSON: {str(exc).splitlines()[0][:120]}") from None
    if depth(data, max_depth) > max_depth:
        raise DocumentError(f"nested deeper than {max_depth} levels")
    return data


def depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of a parsed JSON value (stops counting past ``limit``)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > limit:
            break
        children = (item.values() if isinstance(item, dict)
                    else item if isinstance(item, list) else ())
        stack.extend((child, level + 1) for child in children)
    return deepest


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a number")
    return value
