"""What the chart view draws, as plain data: series of (step, value) taken from the
manifest's step metrics, without Textual, so tests can hold them against the manifest."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from progdemix_tui.engine import columns as col
from progdemix_tui.engine.progressive import StepMetrics, best_step
from progdemix_tui.engine.session import SessionSummary

Axis = Literal["left", "right"]


@dataclass(frozen=True)
class Series:
    """One curve: ``values[i]`` at ``steps[i]``; steps where the value is undefined are left
    out. ``axis``: left (dB) or right (β and shares, 0–1)."""

    label: str
    steps: list[int]
    values: list[float]
    axis: Axis = "left"
    emphasis: bool = False
    color: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class Chart:
    """A chart: its series, axis labels, and the best step (with references)."""

    title: str
    left_label: str
    right_label: str | None
    series: list[Series]
    best: int | None = None
    best_value: float | None = None
    caption: str = ""


BETA_COLORS = {c.chart: c.rgb for c in map(col.COLUMNS.get, col.BETA_SERIES)
               if c is not None and c.rgb is not None}
PALETTE = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (23, 190, 207))


def _series(rows: Sequence[StepMetrics], label: str, value, axis: Axis = "left",
            emphasis: bool = False) -> Series:
    points = [(m.step, value(m)) for m in rows]
    kept = [(s, float(v)) for s, v in points if v is not None]
    return Series(label, [s for s, _ in kept], [v for _, v in kept], axis, emphasis)


def _beta_series(rows: Sequence[StepMetrics]) -> list[Series]:
    """β_n as planned and, with adaptive β, the mean β used and the share of chunks that
    kept the previous estimate (both absent without adaptive β)."""
    out = [_series(rows, c.chart, c.value, c.axis)
           for c in (col.COLUMNS[k] for k in col.BETA_SERIES)]
    return [s for s in out if s.values]


def step_chart(rows: Sequence[StepMetrics], target: str, sources: Sequence[str],
               has_references: bool) -> Chart:
    """One session's chart: SI-SDR of every stem per step (the target emphasised, the best
    step marked); without references the target's estimate change and the residual. β on the
    right axis."""
    series: list[Series] = []
    best = best_step(list(rows), target) if has_references else None
    best_value = None
    if has_references:
        names = [target, *(s for s in sources if s != target)]
        for name in names:
            s = _series(rows, f"{name} (target)" if name == target else name,
                        lambda m, n=name: col.SI_SDR.value(m, n), emphasis=name == target)
            if s.values:
                series.append(s)
        left = col.axis_label(col.SI_SDR.key)
        title = f"{col.SI_SDR.title} over steps — target {target}"
        if best is not None:
            best_value = next((m.si_sdr or {}).get(target) for m in rows if m.step == best)
    else:
        change, resid = col.CHANGE, col.RESIDUAL
        series.append(_series(rows, f"{target} {change.header}",
                              lambda m: change.value(m, target), emphasis=True))
        series.append(_series(rows, resid.chart, resid.value))
        series = [s for s in series if s.values]
        left = "dB"
        title = (f"{change.title} ({change.meaning}) and {resid.chart} — target {target} "
                 "(no references)")
    betas = _beta_series(rows)
    series += betas
    caption = ""
    if best is not None and best_value is not None:
        delta = next((m.si_sdr_delta for m in rows if m.step == best), None)
        caption = f"best step {best}: {target} {best_value:.2f} dB"
        if delta is not None:
            caption += f" ({delta:+.2f} dB against step 0)"
    used = [s for s in betas if s.label != "β planned"]
    if used:
        parts = [f"{s.label} at step {s.steps[-1]}: {s.values[-1]:.2f}" for s in used]
        caption += ("; " if caption else "") + "; ".join(parts)
    right = None if not betas else "β" if not used else "β, share"
    return Chart(title, left, right, series, best, best_value, caption)


@dataclass(frozen=True)
class Compared:
    """One session of a comparison: its name, target and step metrics."""

    name: str
    target: str
    rows: list[StepMetrics]
    has_references: bool


def run_labels(sessions: Sequence[SessionSummary]) -> list[str]:
    """A legend label per session saying what differs between them: song, mode, schedule
    (β cap), steps, model, whichever are not the same for all (the chart adds the target);
    sessions alike in all of these are told apart by their folder's name."""
    fields = {"song": lambda s: s.song, "mode": lambda s: s.mode,
              "schedule": lambda s: s.schedule_text,
              "steps": lambda s: f"{s.steps_planned - 1} steps",
              "model": lambda s: s.model}
    differ = [get for get in fields.values() if len({get(s) for s in sessions}) > 1]
    labels = [" · ".join(get(s) for get in differ) for s in sessions]
    return [label if label and labels.count(label) == 1
            else (f"{label} · {s.folder.name}" if label else s.folder.name)
            for label, s in zip(labels, sessions, strict=True)]


def compare_chart(sessions: Sequence[Compared]) -> Chart:
    """Several sessions' target curves on one axis: SI-SDR when every session has references,
    else the estimate change (the same quantity for all, never a mix of the two)."""
    refs = all(s.has_references for s in sessions)
    main = col.headline(refs)
    series = []
    for i, s in enumerate(sessions):
        one = _series(s.rows, f"{s.name} ({s.target})",
                      lambda m, t=s.target: main.value(m, t))
        series.append(Series(one.label, one.steps, one.values, "left", True,
                             PALETTE[i % len(PALETTE)]))
    what = "target SI-SDR" if refs else "target estimate change (not every session has " \
        "references)"
    lines = []
    for curve in series:
        if curve.values:
            top = max(range(len(curve.values)), key=lambda k: curve.values[k])
            lines.append(f"{curve.label}: best step {curve.steps[top]} "
                         f"{curve.values[top]:.2f} dB")
    return Chart(f"{len(sessions)} sessions — {what}", col.axis_label(main.key), None, series,
                 caption="\n".join(lines))


def axis_ticks(low: float, high: float, count: int = 5) -> tuple[list[float], list[str]]:
    """``count`` evenly spaced ticks from ``low`` to ``high`` and their labels, with as many
    decimals as the span needs and never a ``-0``."""
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    span = high - low
    decimals = max(0, min(3, 1 - math.floor(math.log10(span / (count - 1)) + 1e-9)))
    ticks = [low + span * k / (count - 1) for k in range(count)]
    labels = []
    for tick in ticks:
        label = f"{tick:.{decimals}f}"
        labels.append(label[1:] if label.startswith("-") and float(label) == 0 else label)
    return ticks, labels


def color_of(series: Series, index: int) -> tuple[int, int, int]:
    """The RGB colour a series is drawn in: its own, its stem's, β's, or the palette's."""
    if series.color is not None:
        return series.color
    stem = series.label.split(" ")[0]
    return col.stem_rgb(stem) or BETA_COLORS.get(series.label) or PALETTE[index % len(PALETTE)]
