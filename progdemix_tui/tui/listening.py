"""The listening keys (:mod:`.keys`' ``player(...)`` actions): one function each, by name.

Each takes the host (the app: its ``audition``, ``notify`` and ``push_screen``) and the key's
arguments; :data:`PLAYER_KEYS` is the one table the app looks them up in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .screens.goto import GotoScreen

if TYPE_CHECKING:
    from .host import Host

PlayerKey = Callable[..., Any]


def goto(host: Host) -> None:
    """g: type a position to seek to (1:23, 83.5, 50%…)."""
    au = host.player
    if (problem := au.goto_problem()) is not None:
        au.say(problem)
        return
    assert au.duration is not None

    def chosen(seconds: float | None) -> None:
        if seconds is not None and (note := au.goto(seconds)) is not None:
            host.notify(note, severity="warning", timeout=5)

    host.push_screen(GotoScreen(au.duration, au.position, au.loop), chosen)


def blind(host: Host, mode: str = "ab") -> None:
    """m: blind A/B (M: ABX); while a test runs, either reveals and ends it."""
    host.notify(host.player.start_blind(mode), timeout=5)


PLAYER_KEYS: dict[str, PlayerKey] = {
    "mark": lambda host, which: host.player.mark(which),
    "toggle_ab": lambda host: host.player.toggle_ab(),
    "play_pause": lambda host: host.player.toggle_play(),
    "seek": lambda host, seconds: host.player.seek(float(seconds)),
    "goto": goto,
    "stop": lambda host: host.player.stop(),
    "volume": lambda host, delta: host.player.change_volume(float(delta)),
    "loop": lambda host: host.player.toggle_loop(),
    "blind": blind,
    "blind_answer": lambda host, key: host.player.answer(str(key)),
}
