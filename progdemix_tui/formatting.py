"""Numbers as the tables show them, shared by the CLI and the TUI (no dependencies)."""

from __future__ import annotations


def fmt_number(value: float | None, signed: bool = False, digits: int = 2) -> str:
    """``value`` to ``digits`` decimals (with a sign when ``signed``); ``n/a`` for None, the
    engine's mark of an undefined metric."""
    if value is None:
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
