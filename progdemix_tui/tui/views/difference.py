"""D and n: the A/B difference map under the timeline (:class:`..widgets.diff_strip.DiffStrip`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..audition import Cue
from ..widgets.diff_strip import DiffStrip
from . import View

if TYPE_CHECKING:
    from ..audition_controller import AuditionController
    from ..host import Host


def _ab_pair(host: Host) -> tuple[Cue, Cue] | None:
    a, b = host.player.a, host.player.b
    if a is None or b is None:
        host.notify("mark A and B first (a, b on two steps): the map shows where they differ",
                    severity="warning")
        return None
    return a, b


def toggle(host: Host) -> None:
    """D: show or hide the A/B difference map."""
    strip = host.pane(DiffStrip)
    if strip.display:
        strip.display = False
        return
    pair = _ab_pair(host)
    if pair is not None:
        strip.display = True
        strip.show_pair(*pair)


def next_difference(host: Host) -> None:
    """n: move the playhead to the next largest A − B difference (the map shows)."""
    pair = _ab_pair(host)
    if pair is None:
        return
    strip = host.pane(DiffStrip)
    strip.display = True

    def jump() -> None:
        seconds = strip.next_largest()
        if seconds is not None:
            host.player.goto(seconds)
            strip.set_position(host.player.position)

    if strip.pair == pair and strip.current is not None:
        jump()
    else:
        strip.show_pair(*pair, on_ready=jump)


def follow(strip: DiffStrip, audition: AuditionController) -> None:
    """New A/B marks redraw the map; the playhead follows the player."""
    a, b = audition.a, audition.b
    if a is not None and b is not None and strip.pair != (a, b):
        strip.show_pair(a, b)
    strip.set_position(audition.position)


VIEW = View("difference", {"difference": toggle, "next_difference": next_difference},
            pane=lambda: DiffStrip(id="diff-strip"), follow=follow)
