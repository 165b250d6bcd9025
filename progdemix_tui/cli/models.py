"""``progdemix-tui models``: known models and whether their weights are cached."""

from __future__ import annotations

import argparse

from rich.table import Table

from progdemix_tui.engine.options import TORCHAUDIO_NOTE

from .common import handles_errors, out_console


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models", help="list known models, cached or not, and their sizes",
        description=f"List known models. {TORCHAUDIO_NOTE}")
    parser.set_defaults(handler=handle)


def _size(n: int | None) -> str:
    return "—" if n is None else f"{n / 1e6:.1f} MB"


@handles_errors
def handle(args: argparse.Namespace) -> int:
    from progdemix_tui.engine.models import DEFAULT_MODEL, list_models

    table = Table(title="models", title_justify="left")
    for col in ("name", "cached", "size", "description"):
        table.add_column(col)
    for status in list_models():
        name = f"[bold]{status.name}[/] (default)" if status.name == DEFAULT_MODEL else status.name
        table.add_row(name, "[green]yes[/]" if status.cached else "no", _size(status.size_bytes),
                      status.description)
    out_console.print(table)
    from huggingface_hub import constants

    when = ("HF_HUB_OFFLINE is set: nothing is downloaded" if constants.HF_HUB_OFFLINE
            else "models download on first use")
    out_console.print(f"cache: {constants.HF_HUB_CACHE} ({when}; "
                      "offline: see README 'Offline weights')")
    return 0
