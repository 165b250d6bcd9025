"""Arguments and error handling shared by the subcommands."""

from __future__ import annotations

import argparse
import copy
import functools
import logging
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

from rich.console import Console, RenderableType
from rich.table import Column, Table
from rich.text import Text

from progdemix_tui.engine.config import STEMS, RunConfig, not_finite
from progdemix_tui.engine.errors import (
    ConfigError,
    ProgdemixError,
    is_allocation_failure,
    one_line,
    out_of_memory,
)
from progdemix_tui.engine.options import OPTIONS, Group, Option, run_config
from progdemix_tui.engine.text import visible_lines
from progdemix_tui.text import markup_safe


class InertConsole(Console):
    """A Console whose printed strings (notes, table cells, lines quoting file names) reach
    the terminal with their control characters visible: a name from a folder someone sent
    cannot set the title or clipboard (``ESC ] 0``, ``ESC ] 52``) or clear the screen."""

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(visible_lines(text), **kwargs)


err_console = InertConsole(stderr=True, highlight=False)
"""Progress, notes and warnings on stderr: silent with ``-q``."""
error_console = InertConsole(stderr=True, highlight=False)
"""Errors and cancellations on stderr: shown even with ``-q``."""
out_console = InertConsole(highlight=False)

VERBOSITY = (("-q", "--quiet", -1, "errors only: no progress, notes or warnings on stderr"),
             ("-v", "--verbose", 1, "also library warnings and log notes"))


def add_verbosity(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """``-q/--quiet`` and ``-v/--verbose`` into ``args.verbosity`` (-1, 0, 1); set on a
    subcommand (``top`` False) they override the top-level parser's, else leave it alone."""
    group = parser.add_argument_group("output").add_mutually_exclusive_group()
    for short, long, level, text in VERBOSITY:
        group.add_argument(short, long, dest="verbosity", action="store_const", const=level,
                           default=0 if top else argparse.SUPPRESS, help=text)


def set_verbosity(level: int) -> None:
    """Apply ``-q`` (level < 0) or ``-v`` (level > 0) to stderr, warnings and logging."""
    err_console.quiet = level < 0
    if level < 0:
        warnings.simplefilter("ignore")
    elif level > 0:
        warnings.simplefilter("default")  # DeprecationWarning and the like, once per place
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")


class Parser(argparse.ArgumentParser):
    """argparse's parser whose usage errors are one line (no usage block), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, one_line(f"{self.prog}: error: {message}; see {self.prog} --help.") + "\n")


_TYPES = {"int": int, "float": float, "optional float": float}
_FLOATS = ("float", "optional float")


def add_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup, option: Option,
               demucs: bool = False, **overrides: Any) -> None:
    """Add ``option``'s flag as its row declares it (``overrides``: argparse keywords).

    The parsed value lands in ``args.<option.name>``; a flag whose default is True is turned
    off by its option (``--no-clip-guard``).
    """
    spec: dict[str, Any] = {"dest": option.name, "help": option.help_text}
    if option.kind == "flag":
        spec["action"] = "store_false" if option.default else "store_true"
    else:
        spec["default"] = option.default
        if option.kind in _TYPES:
            spec["type"] = _TYPES[option.kind]
        if option.choices and not option.open_choices:
            spec["choices"] = option.choices
        if option.metavar:
            spec["metavar"] = option.metavar
    if option.aliases:
        spec["type"] = _AliasedChoice(option)
        spec.setdefault("metavar", "{" + ",".join(option.choices) + "}")
    spec.update(overrides)
    parser.add_argument(*option.flags, *(option.demucs_flags if demucs else ()), **spec)


ALIAS_NOTES: list[str] = []
"""Notes about old option values used on the command line (printed by :func:`config_from_args`)."""


class _AliasedChoice:
    """argparse ``type`` for a choice with old names: maps an old name to its new one and
    records the note; argparse's own ``choices`` check then runs on the new name."""

    def __init__(self, option: Option) -> None:
        self.option = option
        self.__name__ = option.name  # how argparse names the type in its messages

    def __call__(self, text: str) -> str:
        new = self.option.canonical(text)
        if new != text:
            ALIAS_NOTES.append(self.option.alias_note(text))
        return str(new)


def _add_group(parser: argparse.ArgumentParser, group: Group, title: str, demucs: bool = False,
               overrides: dict[str, dict[str, Any]] | None = None) -> None:
    section = parser.add_argument_group(title)
    for option in OPTIONS:
        if option.group == group:
            add_option(section, option, demucs, **(overrides or {}).get(option.name, {}))


def add_model_arguments(parser: argparse.ArgumentParser, demucs: bool = False) -> None:
    """The model's options; ``demucs``: also as demucs spells them (``-n/--name``, ``-d``)."""
    _add_group(parser, "model", "model and device", demucs)


def add_loop_arguments(parser: argparse.ArgumentParser, target_all: bool = False) -> None:
    """The loop's options; ``--target`` takes any stem name, checked against the model's stems
    once it is loaded (htdemucs_6s has guitar and piano), with ``target_all`` (``eval``) also
    ``all``: every stem of the model."""
    targets = ({"target": {"help": "stem to refine, one of the model's, or all: each of the "
                                   "model's stems (default vocals)"}} if target_all else {})
    _add_group(parser, "loop", "progressive inference", overrides=targets)


def config_from_args(args: argparse.Namespace, target: str | None = None,
                     model_stems: bool = False) -> RunConfig:
    """Build a validated :class:`RunConfig` from parsed arguments (``model_stems``: the
    target is checked against the model's stems later, once it is loaded)."""
    values = {option.name: getattr(args, option.name) for option in OPTIONS
              if option.group in ("loop", "model")}
    for option in OPTIONS:  # finite even where unused (--adaptive-chunk without --adaptive)
        value = values.get(option.name)
        why = not_finite(value) if option.kind in _FLOATS and value is not None else None
        if why:
            raise ConfigError(f"{option.flags[0]} {why}.")
    if target:
        values["target"] = target
    for note in dict.fromkeys(ALIAS_NOTES):
        err_console.print(f"[dim]note:[/] {note}", soft_wrap=True)
    ALIAS_NOTES.clear()
    config = run_config(values)
    return config.validate(None if model_stems else STEMS)


WARNING = "[bold yellow]warning:[/]"
"""The label of a warning line (:func:`print_notes`)."""


def print_notes(notes: Iterable[str], console: Console | None = None, *,
                label: str = "[dim]note:[/]") -> None:
    """Notes (or, with ``label``, warnings) about the input, the excerpt or the model, one
    line each: their strings may quote file names, so controls and markup are inert."""
    for note in notes:
        (console or err_console).print(f"{label} {markup_safe(note)}", soft_wrap=True)


def require_plots(no_plots: bool) -> None:
    """Before any work of a command that draws plots unless ``--no-plots``:
    :class:`~progdemix_tui.engine.extras.ExtraMissing` in one line without matplotlib."""
    if not no_plots:
        from progdemix_tui.engine.extras import require

        require("plots", "drawing plots", "add --no-plots")


def fail(message: str, code: int = 2) -> int:
    """Print ``message`` as the one error line: bounded (:func:`.errors.one_line`), controls
    visible and markup inert (:func:`progdemix_tui.text.markup_safe`)."""
    error_console.print(f"[bold red]error:[/] {markup_safe(one_line(message))}", soft_wrap=True)
    return code


def handles_errors(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn engine errors into one line on stderr and their exit code; Ctrl-C into 130."""

    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except ProgdemixError as exc:
            if exc.exit_code == 130:
                error_console.print(f"[yellow]cancelled:[/] {markup_safe(one_line(str(exc)))}")
                return 130
            return fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            error_console.print("[yellow]cancelled[/]")
            return 130
        except (MemoryError, RuntimeError) as exc:
            if not is_allocation_failure(exc):
                raise
            error = out_of_memory("this machine")
            return fail(str(error), error.exit_code)
        except BrokenPipeError:
            sys.stderr.close()
            return 1

    return wrapper


# --------------------------------------------------------------------------- tables


def print_table(table: Table, drop: Sequence[str] = ()) -> None:
    """Print ``table`` on stdout within the terminal's width, no cell cut (:func:`fit_table`)."""
    for part in fit_table(table, out_console.width, drop):
        out_console.print(part)


def fit_table(table: Table, width: int,
              drop: Sequence[str] = ()) -> list[RenderableType]:
    """``table`` within ``width`` columns, no no-wrap cell cut: one table or several.

    The columns headed as in ``drop`` leave first, in that order and only while needed (the
    caption names them); columns that still do not fit are stacked into further tables, each
    repeating the first column. Wrapping columns count at their ``min_width``.
    """
    dropped: list[str] = []
    for name in drop:
        if needed_width(table) <= width:
            break
        kept = [c for c in table.columns if _plain(c.header) != name]
        if len(kept) < len(table.columns):
            table = _with_columns(table, kept)
            dropped.append(name)
    if dropped:
        note = f"not shown at {width} columns: {', '.join(dropped)}"
        table.caption = f"{table.caption}; {note}" if table.caption else note
    if needed_width(table) <= width or len(table.columns) < 3:
        return [table]
    key, *rest = table.columns
    parts: list[list[Column]] = [[]]
    for column in rest:
        if parts[-1] and needed_width(_with_columns(table, [key, *parts[-1], column])) > width:
            parts.append([])
        parts[-1].append(column)
    tables = [_with_columns(table, [key, *part]) for part in parts]
    for i, part in enumerate(tables):
        part.title = table.title if i == 0 else None
        part.caption = None
    # the caption as wide as the terminal, not as the narrowest part
    caption = [Text(str(table.caption), style="table.caption", justify="center")]
    return [*tables, *(caption if table.caption else [])]


def needed_width(table: Table) -> int:
    """Terminal columns ``table`` needs so that no no-wrap cell is cut."""
    total = table._extra_width  # noqa: SLF001 (borders: Rich's own count)
    for index, column in enumerate(table.columns):
        if column.no_wrap:
            width = max(_cell_width(cell) for cell in (column.header, *column.cells))
        else:
            width = max(column.min_width or 1, _cell_width(column.header))
        total += width + table._get_padding_width(index)  # noqa: SLF001
    return total


def _with_columns(table: Table, columns: list[Column]) -> Table:
    """A copy of ``table`` holding only ``columns`` (rows, title and style kept)."""
    new = copy.copy(table)
    new.columns = []
    for index, column in enumerate(columns):
        column = copy.copy(column)
        column._index = index  # noqa: SLF001 (Rich pads the first and last column by index)
        new.columns.append(column)
    return new


def _plain(cell: RenderableType) -> str:
    return Text.from_markup(cell).plain if isinstance(cell, str) else str(cell)


def _cell_width(cell: RenderableType) -> int:
    return Text.from_markup(cell).cell_len if isinstance(cell, str) else len(_plain(cell))
