"""The main screen's views, one module each, registered in :data:`VIEWS`.

A view has key actions (``view('<action>')`` in :mod:`..keys`) and may have a pane: a widget
under the timeline, hidden until its key shows it, that follows the player (its position,
the selection, the A/B marks) while shown. A new view is one new module here and one entry
in :data:`VIEWS`, plus its keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.widget import Widget

    from ..audition_controller import AuditionController
    from ..host import Host


@dataclass(frozen=True)
class View:
    """``actions``: key action name → what it does to the app; ``pane``: builds the pane
    (None: the view is a screen of its own); ``follow(pane, audition)`` keeps a shown pane
    on what plays."""

    name: str
    actions: Mapping[str, Callable[[Host], None]]
    pane: Callable[[], Widget] | None = None
    follow: Callable[[Any, AuditionController], None] | None = None


def _views() -> tuple[View, ...]:
    from . import chart, difference, spectrogram

    return (chart.VIEW, difference.VIEW, spectrogram.VIEW)


VIEWS: tuple[View, ...] = _views()
"""The views, their panes in this order under the timeline."""

VIEW_ACTIONS: dict[str, Callable[[Host], None]] = {
    name: act for view in VIEWS for name, act in view.actions.items()}
