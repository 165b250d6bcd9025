"""Command line: ``progdemix-tui [PATH]`` opens the TUI; subcommands run headless.

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds a
parser whose ``handler`` default is ``handler(args) -> int``. Heavy imports (torch, demucs,
Textual) happen inside handlers so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading

from progdemix_tui import __version__

from . import tui
from .common import Parser, add_verbosity, set_verbosity
from .tui import TUI_OPTIONS

COMMAND_MODULES = ("run", "export", "models", "eval", "report", "demo", "devices")

EXAMPLES = """\
examples:
  progdemix-tui                                   open the TUI in the current folder
  progdemix-tui demo songs/                       write synthetic demo songs (with stems)
  progdemix-tui run songs/demo-001 --model demo --steps 4
  progdemix-tui run song.wav --target vocals --steps 10 --schedule cosine --beta-max 0.6
  progdemix-tui models                            list models and whether they are cached
"""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="progdemix-tui",
        description="Progressive inference music demixing with Hybrid Demucs.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"progdemix-tui {__version__}")
    add_verbosity(parser, top=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"progdemix_tui.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"progdemix_tui.cli.{name}":
                raise
            continue
        module.register(subparsers)
    for command in subparsers.choices.values():  # every command takes -q/-v
        add_verbosity(command)
    return parser


def own_ctrl_c() -> None:
    """Ctrl-C (SIGINT) raises KeyboardInterrupt however the tool was started: a shell's
    background job inherits SIGINT ignored, and Python then installs no handler of its own."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    own_ctrl_c()
    parser = build_parser()
    if argv and argv[0].split("=", 1)[0] in TUI_OPTIONS:
        return _open_tui(parser, argv)
    if argv and not argv[0].startswith("-") and argv[0] not in _commands(parser):
        return _open_tui(parser, argv)
    if not argv:
        return _open_tui(parser, [])
    args = parser.parse_args(argv)
    if args.command is None:
        return _open_tui(parser, [])
    set_verbosity(args.verbosity)
    return args.handler(args)


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    """The subcommand names ``parser`` knows."""
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices or ())
    return set()


def _open_tui(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    try:
        importlib.import_module("progdemix_tui.tui.app")
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("progdemix_tui.tui"):
            raise
        parser.print_help()
        return 0
    return tui.main(argv)
