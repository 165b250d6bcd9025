"""The per-step table of ``run`` and ``report``, its columns from :mod:`~progdemix_tui.engine.columns`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table

from progdemix_tui.engine import columns as col

if TYPE_CHECKING:  # progressive imports torch: not at the CLI's start
    from progdemix_tui.engine.progressive import StepMetrics

RESULTS_DROP = tuple(col.COLUMNS[k].header for k in col.TABLE_DROP)
"""Columns of :func:`results_table` that leave first where the terminal is narrow."""


def results_table(metrics: list[StepMetrics], target: str, has_refs: bool,
                  preset: str = "none") -> Table:
    """Per-step table (:data:`~progdemix_tui.engine.columns.TABLE`): β, time, clip factor,
    residual, estimate change, SI-SDR per stem, Δ0; its title naming a preset other than none."""
    title = f"progressive inference — target {target} (dB)"
    if preset != "none":
        title = f"{title} — preset {preset}"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  padding=(0, 0, 0, 1))
    stems: list[str] = list(metrics[0].si_sdr or {}) if has_refs and metrics else []
    shown = col.columns(col.TABLE, bool(stems))
    for c in shown:
        if c.per_stem and c.references:
            for stem in stems:
                table.add_column(f"[bold]{stem}[/]" if stem == target else stem,
                                 justify="right", no_wrap=True)
        else:
            table.add_column(c.header, justify="right", no_wrap=True)
    from progdemix_tui.engine.progressive import best_step

    best = best_step(metrics, target)
    for m in metrics:
        row: list[str] = []
        for c in shown:
            if c.key == "step":
                row.append(f"{m.step}{' *' if m.step == best else ''}")
            elif c.key == "beta" and m.beta is None:
                row.append("—")
            elif c.per_stem and c.references:
                row += [c.text(c.value(m, s)) for s in stems]
            else:
                row.append(c.text(c.value(m, target)))
        table.add_row(*row)
    table.caption = "; ".join(col.legends(col.TABLE, False))
    if best is not None:
        extra = [legend for legend in col.legends(col.TABLE, True)
                 if legend not in col.legends(col.TABLE, False)]
        table.caption += "; " + "; ".join([*extra, "* best step"])
    return table
