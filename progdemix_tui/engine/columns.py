"""The per-step columns, declared once: what each number of a step is called, how it is
written, whether it needs references and which colour draws it.

The CLI's per-step table, the TUI's timeline, ``eval``'s tables and both step charts (the PNG
and the TUI's) read their headers, formats, legends and colours from :data:`COLUMNS`; the
views' column orders (:data:`TABLE`, :data:`TIMELINE`) are listed here too. A new per-step
metric is one :class:`StepColumn` entry (and its key in the orders that show it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from progdemix_tui.formatting import fmt_number

RGB = tuple[int, int, int]
Axis = Literal["left", "right"]

STEM_COLORS: dict[str, str] = {"drums": "#1f77b4", "bass": "#2ca02c", "other": "#ff7f0e",
                               "vocals": "#d62728"}
"""Each of the four stems' colour, wherever a stem is drawn."""


def rgb(color: str) -> RGB:
    """``#rrggbb`` as an ``(r, g, b)`` triple."""
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


def stem_rgb(stem: str) -> RGB | None:
    """The RGB colour of ``stem``; None for a stem without its own colour."""
    color = STEM_COLORS.get(stem)
    return None if color is None else rgb(color)


@dataclass(frozen=True)
class StepColumn:
    """One per-step number.

    ``key``: its field in :class:`~.progressive.StepMetrics` and in ``eval``'s rows;
    ``header``: its table heading (per-stem columns are headed by the stem's name);
    ``title``: its long name (eval's table titles, chart axes); ``legend``: what a table's
    caption says about the header; ``per_stem``: the value is ``{stem: value}``;
    ``references``: defined only with references; ``meaning``: what the number is, for chart
    axes and titles; ``chart``/``color``/``axis``: its label, ``#rrggbb`` colour and axis as
    a step-chart series (stems keep :data:`STEM_COLORS`).
    """

    key: str
    header: str
    title: str = ""
    legend: str = ""
    digits: int = 2
    signed: bool = False
    per_stem: bool = False
    references: bool = False
    meaning: str = ""
    chart: str = ""
    color: str | None = None
    axis: Axis = "left"

    def value(self, step: Any, stem: str | None = None) -> float | None:
        """This column's value in ``step`` (StepMetrics or a step's dict), of ``stem`` when
        per stem; None where undefined."""
        found = (step.get(self.key) if isinstance(step, Mapping)
                 else getattr(step, self.key, None))
        if self.per_stem:
            return (found or {}).get(stem)
        return found

    def text(self, value: float | None, digits: int | None = None) -> str:
        """``value`` as the tables write it (``n/a`` when undefined)."""
        return fmt_number(value, signed=self.signed,
                          digits=self.digits if digits is None else digits)

    @property
    def rgb(self) -> RGB | None:
        """:attr:`color` as ``(r, g, b)``; None without one."""
        return None if self.color is None else rgb(self.color)


COLUMNS: dict[str, StepColumn] = {c.key: c for c in (
    StepColumn("step", "step"),
    StepColumn("beta", "β", digits=3, chart="β planned", color="#969696", axis="right"),
    StepColumn("seconds", "sec"),
    StepColumn("clip_factor", "clip", digits=3),
    StepColumn("residual_db", "resid", legend="mixture-consistency residual",
               chart="residual"),
    StepColumn("estimate_change", "Δest", title="estimate change",
               legend="SI-SDR of the target against the previous step", per_stem=True,
               meaning="SI-SDR of x̂ₙ vs x̂ₙ₋₁"),
    StepColumn("si_sdr", "SI-SDR", title="SI-SDR", per_stem=True, references=True),
    StepColumn("si_sdr_delta", "Δ0", legend="target SI-SDR change since step 0", signed=True,
               references=True),
    StepColumn("sdr", "SDR", title="BSSEval v4 SDR", per_stem=True, references=True),
    StepColumn("sdr_whole", "SDR whole", title="whole-excerpt SDR (the study's standard SDR)",
               per_stem=True, references=True),
    StepColumn("adaptive_beta_mean", "β used", chart="β used (mean)", color="#9467bd",
               axis="right"),
    StepColumn("adaptive_kept_previous", "kept", chart="kept previous", color="#17becf",
               axis="right"),
)}
"""Every per-step column by key."""

SI_SDR = COLUMNS["si_sdr"]
DELTA = COLUMNS["si_sdr_delta"]
CHANGE = COLUMNS["estimate_change"]
RESIDUAL = COLUMNS["residual_db"]
BETA = COLUMNS["beta"]

TABLE = ("step", "beta", "seconds", "clip_factor", "residual_db", "estimate_change", "si_sdr",
         "si_sdr_delta")
"""The CLI's per-step table (``run``, ``report``), left to right."""

TABLE_DROP = ("clip_factor", "seconds")
"""Columns of the CLI's table that leave first where the terminal is narrow."""

TIMELINE = ("step", "beta", "si_sdr", "si_sdr_delta", "estimate_change", "residual_db",
            "clip_factor", "seconds")
"""The TUI's timeline, left to right (the target's SI-SDR, Δ0, then the other stems')."""

BETA_SERIES = ("beta", "adaptive_beta_mean", "adaptive_kept_previous")
"""The step chart's right-axis series: β planned, β used and the share kept."""

PER_STEM = tuple(k for k, c in COLUMNS.items() if c.per_stem)
"""The columns stored per stem in a step."""


def headline(has_references: bool) -> StepColumn:
    """The column that tells how a run goes: the target's SI-SDR with references, else its
    estimate change (the timeline's sparkline, the charts' main curve)."""
    return SI_SDR if has_references else CHANGE


def axis_label(key: str) -> str:
    """A chart axis in dB for column ``key``: ``SI-SDR (dB)``."""
    return f"{COLUMNS[key].header} (dB)"


def columns(keys: tuple[str, ...], has_references: bool) -> list[StepColumn]:
    """The columns of ``keys`` that exist with or without references."""
    return [COLUMNS[k] for k in keys if has_references or not COLUMNS[k].references]


def legends(keys: tuple[str, ...], has_references: bool) -> list[str]:
    """``header: legend`` of the columns of ``keys`` that have a legend, in order."""
    return [f"{c.header}: {c.legend}" for c in columns(keys, has_references) if c.legend]
