"""Arguments and error handling shared by the subcommands."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console

from progdemix_tui.engine.config import STEMS, RunConfig
from progdemix_tui.engine.errors import ProgdemixError, is_allocation_failure, out_of_memory
from progdemix_tui.engine.options import OPTIONS, Group, Option, run_config

err_console = Console(stderr=True, highlight=False)
out_console = Console(highlight=False)

_TYPES = {"int": int, "float": float, "optional float": float}


def add_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup, option: Option,
               **overrides: Any) -> None:
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
        if option.choices:
            spec["choices"] = option.choices
        if option.metavar:
            spec["metavar"] = option.metavar
    spec.update(overrides)
    parser.add_argument(*option.flags, **spec)


def _add_group(parser: argparse.ArgumentParser, group: Group, title: str,
               **overrides: dict[str, Any]) -> None:
    section = parser.add_argument_group(title)
    for option in OPTIONS:
        if option.group == group:
            add_option(section, option, **overrides.get(option.name, {}))


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    _add_group(parser, "model", "model and device")


def add_loop_arguments(parser: argparse.ArgumentParser, target_all: bool = False) -> None:
    targets = {"target": {"choices": (*STEMS, "all")}} if target_all else {}
    _add_group(parser, "loop", "progressive inference", **targets)


def config_from_args(args: argparse.Namespace, target: str | None = None) -> RunConfig:
    """Build a validated :class:`RunConfig` from parsed arguments."""
    values = {option.name: getattr(args, option.name) for option in OPTIONS
              if option.group in ("loop", "model")}
    if target:
        values["target"] = target
    return run_config(values).validate()


def fail(message: str, code: int = 2) -> int:
    from rich.markup import escape  # messages quote file contents: never read them as markup

    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return code


def handles_errors(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn engine errors into one line on stderr and their exit code; Ctrl-C into 130."""

    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except ProgdemixError as exc:
            if exc.exit_code == 130:
                err_console.print(f"[yellow]cancelled:[/] {exc}")
                return 130
            return fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            err_console.print("[yellow]cancelled[/]")
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
