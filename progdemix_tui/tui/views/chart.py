"""C: the chart of the timeline's steps (a run in progress or an opened session)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..chart_data import step_chart
from ..screens.chart import ChartScreen
from . import View

if TYPE_CHECKING:
    from ..host import Host


def show_chart(host: Host) -> None:
    tl = host.timeline
    if not tl.rows:
        host.notify("no steps to chart yet: run (r) or open a session (o)", severity="warning")
        return
    host.push_screen(ChartScreen(step_chart(tl.rows, tl.target, tl.sources, tl.has_references)))


VIEW = View("chart", {"chart": show_chart})
