"""engine/columns.py: the per-step columns declared once; the CLI table, eval's tables and
both charts take their headers, legends and colours from it, so a new metric is one entry."""

from __future__ import annotations

import dataclasses
import io

from rich.console import Console

from progdemix_tui.cli.eval import summary_table
from progdemix_tui.cli.step_table import RESULTS_DROP, results_table
from progdemix_tui.engine import columns as col
from progdemix_tui.engine import plots
from progdemix_tui.engine.progressive import StepMetrics
from progdemix_tui.tui import chart_data

STEMS = ("drums", "bass", "other", "vocals")


def steps(refs: bool, count: int = 3) -> list[StepMetrics]:
    return [StepMetrics(step=n, beta=None if n == 0 else n / count, seconds=1.0 + n,
                        clip_factor=1.0, loudness_gain_db=0.0,
                        residual_db=None if n == 0 else -30.0 + n,
                        estimate_change=None if n == 0 else {"vocals": 20.0 + n},
                        si_sdr={s: 5.0 + n + i for i, s in enumerate(STEMS)} if refs else None,
                        si_sdr_delta=float(n) if refs else None,
                        adaptive_beta_mean=0.5 if n else None)
            for n in range(count)]


def text(table) -> str:
    console = Console(file=io.StringIO(), width=240, record=True)
    console.print(table)
    return console.export_text()


def headers(table) -> list[str]:
    return [str(c.header) for c in table.columns]


def test_the_cli_table_is_the_tables_columns_in_order():
    with_refs = results_table(steps(True), "vocals", True)
    expected = [h for c in col.columns(col.TABLE, True)
                for h in ([*STEMS] if c.per_stem and c.references else [c.header])]
    assert [h.replace("[bold]", "").replace("[/]", "") for h in headers(with_refs)] == expected
    plain = results_table(steps(False), "vocals", False)
    assert headers(plain) == [c.header for c in col.columns(col.TABLE, False)]
    assert RESULTS_DROP == ("clip", "sec")
    for legend in col.legends(col.TABLE, True):
        assert legend in with_refs.caption


def test_a_new_metric_is_one_entry(monkeypatch):
    """Declared once, the new column shows in the CLI table with its header, format and
    legend; nothing else is edited."""
    new = col.StepColumn("loudness_gain_db", "loud", legend="loudness matching gain",
                         digits=1, signed=True)
    monkeypatch.setitem(col.COLUMNS, new.key, new)
    monkeypatch.setattr(col, "TABLE", (*col.TABLE, new.key))
    rows = [dataclasses.replace(m, loudness_gain_db=-1.25 * m.step) for m in steps(False)]
    table = results_table(rows, "vocals", False)
    assert headers(table)[-1] == "loud"
    assert "loud: loudness matching gain" in table.caption
    row = next(line.split() for line in text(table).splitlines() if line.split()[:1] == ["2"])
    assert row[-1] == "-2.5"  # step 2: signed, one decimal


def test_headline_metric_and_its_names_are_shared_by_the_views(tmp_path):
    with_refs, plain = steps(True), steps(False)
    assert plots.session_plot_name(with_refs) == f"{col.SI_SDR.key}.png"
    assert plots.session_plot_name(plain) == f"{col.CHANGE.key}.png"
    chart = chart_data.step_chart(plain, "vocals", STEMS, False)
    assert [s.label for s in chart.series] == ["vocals Δest", "residual", "β planned",
                                               "β used (mean)"]
    assert chart.series[0].values == [col.CHANGE.value(m, "vocals") for m in plain[1:]]
    compare = chart_data.compare_chart([chart_data.Compared("a", "vocals", plain, False)])
    assert compare.left_label == col.axis_label(col.CHANGE.key) == "Δest (dB)"
    eval_summary = [{"target": "vocals", "step": 0, "beta": None, "stem": "vocals",
                     "metric": m, "n": 1, "mean": 1.0, "median": 1.0, "std": 0.0,
                     "min": 1.0, "max": 1.0} for m in ("si_sdr", "sdr")]
    assert summary_table(eval_summary, "vocals", "sdr").title.startswith(col.COLUMNS["sdr"].title)


def test_one_place_for_stem_colours():
    """The PNG plots and the TUI's chart draw each stem and each β series in one colour."""
    for i, stem in enumerate(STEMS):
        assert col.rgb(plots._color(stem, i)) == chart_data.color_of(
            chart_data.Series(stem, [], []), i) == col.stem_rgb(stem)
    chart = chart_data.step_chart(steps(True), "vocals", STEMS, True)
    for i, series in enumerate(chart.series):
        key = {c.chart: c for c in col.COLUMNS.values() if c.chart}.get(series.label)
        if key is not None and key.color:
            assert chart_data.color_of(series, i) == key.rgb
