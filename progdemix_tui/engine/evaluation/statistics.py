"""An evaluation's tables: long-format rows per step × stem and their statistics over
tracks; pure functions of :class:`.one_track.TrackResult`, no files."""

from __future__ import annotations

import torch

from .one_track import TrackResult
from .settings import beta_to_gain

ROW_COLUMNS = ("track", "target", "step", "beta", "stem", "si_sdr", "si_sdr_delta", "sdr",
               "estimate_change", "residual_db", "clip_factor", "seconds", "sdr_whole")
SUMMARY_COLUMNS = ("target", "step", "beta", "stem", "metric", "n", "mean", "median", "std",
                   "min", "max")
ORACLE_COLUMNS = ("track", "target", "beta", "gain_db", "si_sdr", "input_si_sdr")
SUMMARY_METRICS = ("si_sdr", "si_sdr_delta", "sdr", "sdr_whole")


def result_rows(result: TrackResult) -> list[dict]:
    """Long-format rows (:data:`ROW_COLUMNS`): one per step × stem."""
    rows = []
    first = (result.steps[0]["si_sdr"] or {}) if result.steps else {}
    for step in result.steps:
        si = step.get("si_sdr") or {}
        sdr = step.get("sdr") or {}
        whole = step.get("sdr_whole") or {}
        change = step.get("estimate_change") or {}
        for stem in si or first:
            value, base = si.get(stem), first.get(stem)
            rows.append({
                "track": result.track, "target": result.target, "step": step["step"],
                "beta": step["beta"], "stem": stem, "si_sdr": value,
                "si_sdr_delta": None if value is None or base is None else value - base,
                "sdr": sdr.get(stem), "estimate_change": change.get(stem),
                "residual_db": step.get("residual_db"), "clip_factor": step.get("clip_factor"),
                "seconds": step.get("seconds"), "sdr_whole": whole.get(stem),
            })
    return rows


def oracle_rows(result: TrackResult) -> list[dict]:
    """Rows (:data:`ORACLE_COLUMNS`) of ``result``'s oracle-gain sweep."""
    return [{"track": result.track, "target": result.target, **point}
            for point in result.oracle_gain]


def _stats(values: list[float], sample: bool = False) -> dict:
    """n, mean, median, std, min, max; ``sample``: the sample std (n − 1, the study's
    ``torch.std``; None for one value), else the population std."""
    t = torch.tensor(values, dtype=torch.float64)
    std = (float(t.std(correction=1)) if len(values) > 1 else None) if sample else \
        float(t.std(correction=0))
    return {"n": len(values), "mean": float(t.mean()), "median": float(t.quantile(0.5)),
            "std": std, "min": float(t.min()), "max": float(t.max())}


def summarize(rows: list[dict], sample_std: bool = False) -> list[dict]:
    """Statistics (:data:`SUMMARY_COLUMNS`) per target × step × stem × metric, over tracks.

    Undefined values (None) are left out; ``std`` is the population standard deviation (the
    sample one with ``sample_std``, as ``--preset study``) and ``median`` the midpoint of the two middle values for even counts.
    """
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["target"], row["step"], row["stem"]), []).append(row)
    out = []
    targets = list(dict.fromkeys(key[0] for key in groups))
    # Stable sort: stems keep the order of the sources within a step.
    for (target, step, stem), members in sorted(groups.items(),
                                                key=lambda kv: (targets.index(kv[0][0]),
                                                                kv[0][1])):
        betas = [r["beta"] for r in members if r["beta"] is not None]
        beta = sum(betas) / len(betas) if betas else None
        for metric in SUMMARY_METRICS:
            values = [r[metric] for r in members if r.get(metric) is not None]
            if values:
                out.append({"target": target, "step": step, "beta": beta, "stem": stem,
                            "metric": metric, **_stats(values, sample_std)})
    return out


def summarize_oracle(rows: list[dict], sample_std: bool = False) -> list[dict]:
    """Target SI-SDR statistics per target × β of the oracle-gain sweep."""
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        if row["si_sdr"] is not None:
            groups.setdefault((row["target"], row["beta"]), []).append(row["si_sdr"])
    return [{"target": t, "beta": b, "gain_db": beta_to_gain(b), **_stats(v, sample_std)}
            for (t, b), v in sorted(groups.items())]
