"""The chart view: a session's per-step metrics (or several sessions' target curves) drawn
with plotext, axes and labels included; Esc closes."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static
from textual_plotext import PlotextPlot

from ..chart_data import Chart, axis_ticks, color_of

BEST_MARKER = "★"
BEST_COLOR = (255, 215, 0)


def legend(chart: Chart) -> Text:
    """One line naming each curve in its colour (and the best step's star)."""
    text = Text()
    for i, series in enumerate(chart.series):
        if series.values:
            text.append("━━ " if series.emphasis else "── ",
                        style="rgb({},{},{})".format(*color_of(series, i)))
            text.append(f"{series.label}   ")
    if chart.best is not None and chart.best_value is not None:
        text.append(f"{BEST_MARKER} ", style="rgb({},{},{})".format(*BEST_COLOR))
        text.append(f"best step {chart.best}")
    return text


class ChartPlot(PlotextPlot):
    """A :class:`~.chart_data.Chart` drawn by plotext (left axis dB, right axis β)."""

    def __init__(self, chart: Chart, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.chart = chart

    def on_mount(self) -> None:
        super().on_mount()
        self.draw()

    def draw(self) -> None:
        chart, plt = self.chart, self.plt
        plt.clear_data()
        plt.clear_figure()
        steps = sorted({s for series in chart.series for s in series.steps})
        for i, series in enumerate(chart.series):
            if not series.values:
                continue
            marker = "hd" if series.emphasis else "braille"
            if len(series.values) == 1:  # the legend is a line of its own, not over the curves
                plt.scatter(series.steps, series.values, color=color_of(series, i),
                            marker=marker, yside=series.axis)
            else:
                plt.plot(series.steps, series.values, color=color_of(series, i),
                         marker=marker, yside=series.axis)
        if chart.best is not None and chart.best_value is not None:
            plt.scatter([chart.best], [chart.best_value], marker=BEST_MARKER,
                        color=BEST_COLOR)
        for side in ("left", "right"):
            values = [v for series in chart.series if series.axis == side
                      for v in series.values]
            if side == "left" and chart.best_value is not None:
                values.append(chart.best_value)
            if values:  # ticks of our own: plotext writes a -0.0
                low, high = min(values), max(values)
                if side == "right":  # β and shares: 0 to 1
                    low, high = min(low, 0.0), max(high, 1.0)
                    plt.ylim(low, high, yside=side)  # type: ignore[arg-type]  # stub errs
                ticks, labels = axis_ticks(low, high)
                plt.yticks(ticks, labels, yside=side)  # type: ignore[arg-type]  # stub errs
        if steps:  # whole steps only; at most about 12 labels
            stride = -(-len(steps) // 12)
            plt.xticks([float(s) for s in steps[::stride]], [str(s) for s in steps[::stride]])
        plt.xlabel("step")
        plt.ylabel(chart.left_label)
        if chart.right_label is not None:
            plt.ylabel(chart.right_label, "right")  # (label, yside); the bundled stub errs
        self.refresh()


class ChartScreen(ModalScreen[None]):
    """Full-screen chart with a title and a caption of the numbers that matter."""

    BINDINGS = [Binding("escape,q,C", "dismiss", "Close")]

    def __init__(self, chart: Chart) -> None:
        super().__init__()
        self.chart = chart

    def compose(self) -> ComposeResult:
        with Vertical(id="chart-box"):
            yield Static(self.chart.title, id="chart-title", markup=False)
            yield Static(legend(self.chart), id="chart-legend")
            yield ChartPlot(self.chart, id="chart-plot")
            yield Static(self.chart.caption or "", id="chart-caption", markup=False)
        yield Footer()
