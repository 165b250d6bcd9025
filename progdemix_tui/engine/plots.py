"""PNG plots of evaluations and sessions, in the study's style.

matplotlib is imported lazily and used through its object API with the Agg canvas (no
pyplot, no global backend switch), so plotting works headless and never touches a GUI.
Every file is written atomically.
"""

from __future__ import annotations

from pathlib import Path

from . import columns as col
from .extras import require
from .files import atomic_path


def _figure(width: float = 7.0, height: float = 4.2):
    require("plots", "a PNG chart")  # ExtraMissing in one line without matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return path


def _integer_steps(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _color(stem: str, index: int) -> str:
    return col.STEM_COLORS.get(stem, f"C{index}")


def _metric_label(metric: str) -> str:
    return col.axis_label(metric) if metric in col.COLUMNS else metric


def plot_steps(summary: list[dict], target: str, path: Path, metric: str = "si_sdr") -> Path:
    """Mean ``metric`` per stem over steps with a min–max band (one target's runs)."""
    fig = _figure()
    ax = fig.add_subplot()
    stems = list(dict.fromkeys(r["stem"] for r in summary if r["target"] == target))
    for i, stem in enumerate(stems):
        rows = sorted((r for r in summary if r["target"] == target and r["stem"] == stem
                       and r["metric"] == metric), key=lambda r: r["step"])
        if not rows:
            continue
        steps = [r["step"] for r in rows]
        color = _color(stem, i)
        ax.plot(steps, [r["mean"] for r in rows], marker="o", ms=3, color=color,
                lw=2.4 if stem == target else 1.3, label=f"{stem} (target)" if stem == target
                else stem)
        ax.fill_between(steps, [r["min"] for r in rows], [r["max"] for r in rows], color=color,
                        alpha=0.15, lw=0)
    n = max((r["n"] for r in summary if r["target"] == target), default=0)
    ax.set_title(f"{_metric_label(metric)} over steps — target {target} "
                 f"(mean, min–max band; {n} tracks)", fontsize=10)
    ax.set_xlabel("step")
    _integer_steps(ax)
    ax.set_ylabel(_metric_label(metric))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _save(fig, path)


def plot_delta(rows: list[dict], target: str, path: Path) -> Path:
    """The target's SI-SDR change against step 0, one thin line per track plus the mean."""
    fig = _figure()
    ax = fig.add_subplot()
    mine = [r for r in rows if r["target"] == target and r["stem"] == target
            and r["si_sdr_delta"] is not None]
    tracks = sorted({r["track"] for r in mine})
    by_step: dict[int, list[float]] = {}
    for track in tracks:
        points = sorted((r["step"], r["si_sdr_delta"]) for r in mine if r["track"] == track)
        ax.plot([p[0] for p in points], [p[1] for p in points], color="0.55", lw=0.8,
                alpha=0.7)
        for step, value in points:
            by_step.setdefault(step, []).append(value)
    if by_step:
        steps = sorted(by_step)
        ax.plot(steps, [sum(by_step[s]) / len(by_step[s]) for s in steps],
                color=_color(target, 0), lw=2.4, marker="o", ms=3, label="mean")
        ax.legend(fontsize=8)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_title(f"Δ SI-SDR of {target} against step 0, per track ({len(tracks)} tracks)",
                 fontsize=10)
    ax.set_xlabel("step")
    _integer_steps(ax)
    ax.set_ylabel("Δ SI-SDR (dB)")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_oracle_gain(rows: list[dict], target: str, path: Path) -> Path:
    """Target SI-SDR against its relative gain in the oracle mixture (the study's lemma)."""
    fig = _figure()
    ax = fig.add_subplot()
    mine = [r for r in rows if r["target"] == target and r["si_sdr"] is not None]
    finite = [r["gain_db"] for r in mine if r["gain_db"] is not None]
    solo = (max(finite) + 6.0) if finite else 0.0  # where "target alone" (β = 1) is drawn

    def x(row: dict) -> float:
        return solo if row["gain_db"] is None else row["gain_db"]

    by_gain: dict[float, list[float]] = {}
    for track in sorted({r["track"] for r in mine}):
        points = sorted((x(r), r["si_sdr"]) for r in mine if r["track"] == track)
        ax.plot([p[0] for p in points], [p[1] for p in points], color="0.6", lw=0.8, alpha=0.7)
        for gx, value in points:
            by_gain.setdefault(gx, []).append(value)
    gains = sorted(by_gain)
    ax.plot(gains, [sum(by_gain[g]) / len(by_gain[g]) for g in gains], marker="o",
            color=_color(target, 0), lw=2.4, label="mean")
    if any(r["gain_db"] is None for r in mine):
        ax.set_xticks(gains, [("alone" if g == solo else f"{g:g}") for g in gains])
    ax.set_title(f"oracle predictor: {target} SI-SDR vs its relative gain in the mixture",
                 fontsize=10)
    ax.set_xlabel(f"{target} gain over the accompaniment (dB)")
    ax.set_ylabel(col.axis_label(col.SI_SDR.key))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def eval_plots(folder: Path, rows: list[dict], summary: list[dict],
               oracle: list[dict]) -> list[Path]:
    """All plots of an evaluation folder; returns the files written.

    ``steps_<target>.png`` (SI-SDR), ``steps_<target>_sdr.png`` (with SDR),
    ``delta_<target>.png`` and ``oracle_gain_<target>.png`` (with an oracle-gain sweep).
    """
    folder = Path(folder)
    written = []
    targets = list(dict.fromkeys(r["target"] for r in rows))
    for target in targets:
        written.append(plot_steps(summary, target, folder / f"steps_{target}.png"))
        if any(r["metric"] == "sdr" and r["target"] == target for r in summary):
            written.append(plot_steps(summary, target, folder / f"steps_{target}_sdr.png",
                                      "sdr"))
        written.append(plot_delta(rows, target, folder / f"delta_{target}.png"))
    for target in dict.fromkeys(r["target"] for r in oracle):
        if any(r["target"] == target and r["si_sdr"] is not None for r in oracle):
            written.append(plot_oracle_gain(oracle, target, folder / f"oracle_gain_{target}.png"))
    return written


SESSION_PLOTS = tuple(f"{col.headline(refs).key}.png" for refs in (True, False))
"""The chart files ``report`` may draw into a session: the headline column's name."""


def session_plot_name(metrics: list) -> str:
    """A session's chart file: ``si_sdr.png`` with references, else ``estimate_change.png``."""
    return f"{col.headline(any(m.si_sdr for m in metrics)).key}.png"


def plot_session(metrics: list, target: str, path: Path) -> Path:
    """One session's target SI-SDR over steps (all stems thin), or, without references,
    the estimate change (SI-SDR of x̂_n against x̂_{n-1}). ``metrics`` are StepMetrics."""
    fig = _figure()
    ax = fig.add_subplot()
    has_refs = any(m.si_sdr for m in metrics)
    main = col.headline(has_refs)
    if has_refs:
        stems = list(next(m.si_sdr for m in metrics if m.si_sdr))
        for i, stem in enumerate(stems):
            points = [(m.step, main.value(m, stem)) for m in metrics if m.si_sdr]
            points = [p for p in points if p[1] is not None]
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", ms=3,
                    color=_color(stem, i), lw=2.4 if stem == target else 1.0,
                    alpha=1.0 if stem == target else 0.6,
                    label=f"{stem} (target)" if stem == target else stem)
        ax.set_ylabel(col.axis_label(main.key))
        ax.set_title(f"{main.title} over steps — target {target}", fontsize=10)
    else:
        points = [(m.step, main.value(m, target)) for m in metrics
                  if main.value(m, target) is not None]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", ms=3,
                color=_color(target, 0), lw=2.0, label=target)
        ax.set_ylabel(f"{main.title}: {main.meaning} (dB)")
        ax.set_title(f"{main.title} over steps — target {target} (no references)",
                     fontsize=10)
    ax.set_xlabel("step")
    _integer_steps(ax)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)
