"""``progdemix-tui eval DATASET`` and ``eval-merge``: the study over a MUSDB18-HQ-style dataset.

The work happens in :mod:`progdemix_tui.engine.evaluation`; this module parses arguments,
shows progress and prints the summary.
"""

from __future__ import annotations

import argparse
import json
import math
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from progdemix_tui.engine.columns import COLUMNS
from progdemix_tui.engine.errors import ConfigError
from progdemix_tui.engine.threads import torch_threads
from progdemix_tui.formatting import fmt_number
from progdemix_tui.text import markup_safe

from .common import (
    WARNING,
    add_loop_arguments,
    add_model_arguments,
    config_from_args,
    err_console,
    handles_errors,
    out_console,
    print_notes,
    print_table,
    require_plots,
)

if TYPE_CHECKING:
    from progdemix_tui.engine.dataset import TrackAudio
    from progdemix_tui.engine.evaluation import TrackResult

EPILOG = """\
examples:
  progdemix-tui eval musdb18hq/ --target vocals --steps 10 --new-mixture
  progdemix-tui eval musdb18hq/ --targets all --steps 10 --sdr --out eval-study
  progdemix-tui eval musdb18hq/ --mode oracle --steps 10 --oracle-gain 0,3,6,12,inf
  progdemix-tui eval musdb18hq/ --shard 0/4 --out eval-shard0   (then: eval-merge eval-shard*)

DATASET is a folder of MUSDB18-HQ-style track folders (mixture + drums/bass/other/vocals,
WAV or FLAC), or a MUSDB18-HQ root (its test/ subset is used). Re-running with the same
parameters into the same --out resumes: finished tracks are skipped.
Exit codes: 0 done, 2 usage/input error or parameter mismatch, 130 cancelled (finished
tracks are kept).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval", help="evaluate progressive inference over a MUSDB18-HQ-style dataset",
        description="Evaluate progressive inference on every track of a dataset: per-step "
                    "SI-SDR (and SDR) tables, summaries and plots; resumable and shardable.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", metavar="DATASET", help="folder of track folders")
    group = parser.add_argument_group("evaluation")
    group.add_argument("--out", metavar="DIR", help="output folder (default eval-<time>); "
                       "an existing one made with the same parameters is resumed")
    group.add_argument("--excerpt", type=float, default=30.0, metavar="SEC",
                       help="excerpt length, starting where no stem is silent (default 30; "
                            "0: whole tracks)")
    group.add_argument("--silence-db", type=float, default=-60.0, metavar="DB",
                       help="a stem quieter than this RMS (dBFS) counts as silent (default -60)")
    group.add_argument("--new-mixture", action="store_true",
                       help="use the exact sum of the stems as the mixture (linear mix)")
    group.add_argument("--sdr", nargs="?", const="bss", choices=("bss", "whole", "both"),
                       help="also compute SDR: bss (the default) is BSSEval v4 as museval, the "
                            "median over 1 s frames (slow, a few seconds per step); whole is the "
                            "study's 'standard SDR', torchmetrics' SDR over the whole excerpt; "
                            "both")
    group.add_argument("--oracle-gain", metavar="G1,G2,…",
                       help="also sweep the target's relative gain with the true stems: dB "
                            "values (0,3,6,12,inf) or β values (beta:0,0.5,0.9)")
    group.add_argument("--shard", metavar="I/N", help="process only tracks I, I+N, I+2N… "
                       "of the sorted tracks (I from 0 to N-1)")
    group.add_argument("--no-plots", action="store_true", help="write tables only")
    group.add_argument("--json", action="store_true",
                       help="print the summary as JSON (summary, oracle_summary, skipped, "
                            "warnings) instead of tables")
    add_loop_arguments(parser, target_all=True)
    add_model_arguments(parser)
    parser.set_defaults(handler=handle)

    merge = subparsers.add_parser(
        "eval-merge", help="merge evaluation folders (shards) into one table and plots",
        description="Merge the outputs of `eval --shard I/N` runs (or any evaluation folders "
                    "made with the same parameters) into one folder, then rebuild the tables "
                    "and plots.")
    merge.add_argument("folders", nargs="+", metavar="DIR", help="evaluation folders")
    merge.add_argument("--out", metavar="DIR", required=True, help="merged output folder")
    merge.add_argument("--no-plots", action="store_true", help="write tables only")
    merge.add_argument("--json", action="store_true",
                       help="print the merged summary as JSON instead of tables")
    merge.set_defaults(handler=handle_merge)


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"I/N"`` → ``(I, N)`` with ``0 <= I < N``; None → ``(0, 1)``."""
    if text is None:
        return 0, 1
    try:
        index, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard must look like I/N (e.g. 0/4), not {text!r}.") from None
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"--shard {text}: need N ≥ 1 and 0 ≤ I < N.")
    return index, count


@handles_errors
def handle(args: argparse.Namespace) -> int:
    from progdemix_tui import engine
    from progdemix_tui.engine import evaluation as ev
    from progdemix_tui.engine import prepare

    from .loading import SpinnerCache

    # --half is read as --precision fp16; the target is checked against the model's stems
    config = config_from_args(args, target="vocals" if args.target == "all" else None,
                              model_stems=True)
    threads = torch_threads(args.threads)
    require_plots(args.no_plots)
    separators = SpinnerCache(threads)
    targets = (prepare.model_targets(config, separators) if args.target == "all"
               else (args.target,))
    config = config.with_target(targets[0])
    checked = prepare.check_eval(prepare.EvalRequest(
        Path(args.dataset), config, tuple(targets), args.excerpt, args.silence_db,
        args.new_mixture, args.sdr, args.oracle_gain, parse_shard(args.shard), args.shard,
        Path(args.out) if args.out else None, threads))
    print_notes(checked.warnings, label=WARNING)
    run = prepare.load_eval(checked, separators)
    print_notes(run.notes)
    separator, work, shard = run.separator, run.work, checked.request.shard
    err_console.print(
        f"model [bold]{separator.model.name}[/] on {separator.device_name}; "
        f"{len(work.tracks)} track(s)"
        + (f" in shard {shard[0]}/{shard[1]}" if shard[1] > 1 else "")
        + f", targets {', '.join(targets)}, {config.steps} steps, {config.mode}"
        + (f"; resuming: {work.done} done" if work.done else "")
    )
    cancel = threading.Event()
    cancelled = False
    events = _ProgressEvents(work.runs_left, "tracks" if len(targets) == 1 else "track×target")
    with events.progress:
        try:
            ev.evaluate(separator, work, checked.settings, run.folder, events, cancel)
        except KeyboardInterrupt:
            cancel.set()
            cancelled = True
        except engine.Cancelled:
            cancelled = True
    tables = ev.finalize(run.folder, plots=not args.no_plots)
    print_summary(run.folder, tables, args.json)
    if cancelled:
        err_console.print(f"[yellow]cancelled[/]: {checked.out} keeps "
                          f"{len(run.folder.results())} finished track run(s); re-run the same "
                          "command to resume.")
        return 130
    err_console.print(f"results written to [bold]{checked.out}[/]")
    return 0


class _ProgressEvents:
    """Rich progress over (track, target) runs and the steps of the current one (an
    :class:`~progdemix_tui.engine.evaluation.EvalEvents`)."""

    def __init__(self, runs: int, label: str):
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=err_console, transient=False)
        self.runs = self.progress.add_task(label, total=runs)
        self.steps = self.progress.add_task("steps", total=None)

    def track_loaded(self, track: TrackAudio) -> None:
        for note in track.notes:
            self.progress.console.print(f"[dim]note:[/] {escape(track.name)}: {escape(note)}")

    def track_started(self, name: str, target: str, steps: int) -> None:
        self.progress.reset(self.steps, total=steps,
                            description=markup_safe(f"{name[:30]} · {target}"))

    def chunk(self, step: int, done: int, total: int) -> None:
        return None

    def step_done(self, step: int) -> None:
        self.progress.advance(self.steps)

    def track_done(self, result: TrackResult) -> None:
        self.progress.advance(self.runs)

    def track_skipped(self, name: str, reason: str, runs: int) -> None:
        self.progress.console.print(f"[yellow]skipped[/] {escape(name)}: {escape(reason)}",
                                    soft_wrap=True)
        self.progress.advance(self.runs, runs)


METRIC_TITLES = {k: c.title for k, c in COLUMNS.items() if c.references and c.per_stem}


def summary_table(summary: list[dict], target: str, metric: str = "si_sdr") -> Table:
    """Per-step table for one target: the target's mean, median, std, min and max over
    tracks, its mean change since step 0, then the other stems' means."""
    rows = [r for r in summary if r["target"] == target]
    stems = [s for s in dict.fromkeys(r["stem"] for r in rows) if s != target]
    count = max((r["n"] for r in rows if r["metric"] == metric), default=0)
    label = METRIC_TITLES.get(metric, metric.upper())
    table = Table(title=f"{label} (dB) of target [bold]{target}[/] over {count} track(s); "
                        "other stems: mean", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False, padding=(0, 0, 0, 0))
    d0 = COLUMNS["si_sdr_delta"]
    for name in (COLUMNS["step"].header, COLUMNS["beta"].header, "mean", "median", "std", "min",
                 "max", d0.header if metric == "si_sdr" else "", *stems):
        table.add_column(name, justify="right", no_wrap=True)
    index = {(r["step"], r["stem"], r["metric"]): r for r in rows}
    for step in sorted({r["step"] for r in rows}):
        main = index.get((step, target, metric))
        delta = index.get((step, target, "si_sdr_delta"))
        beta = next((r["beta"] for r in rows if r["step"] == step), None)
        table.add_row(
            str(step), "—" if beta is None else f"{beta:.2f}",
            *[fmt_number(main[k]) if main else "n/a"
              for k in ("mean", "median", "std", "min", "max")],
            d0.text(delta["mean"]) if delta and metric == "si_sdr" else "",
            *[fmt_number(index[(step, s, metric)]["mean"]) if (step, s, metric) in index else "n/a"
              for s in stems],
        )
    if metric == "si_sdr":
        table.caption = f"{d0.header}: mean change of the target since step 0"
    return table


def oracle_table(oracle_summary: list[dict], target: str) -> Table:
    table = Table(title=f"oracle gain sweep — {target} SI-SDR (dB)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0, 0, 1))
    for name in ("gain dB", "β", "n", "mean", "median", "min", "max"):
        table.add_column(name, justify="right", no_wrap=True)
    for r in oracle_summary:
        if r["target"] == target:
            table.add_row("alone" if r["gain_db"] is None else f"{r['gain_db']:.1f}",
                          f"{r['beta']:.3f}", str(r["n"]),
                          *[fmt_number(r[k]) for k in ("mean", "median", "min", "max")])
    return table


def with_preset(table: Table, folder) -> Table:
    """``table`` titled with the evaluation's preset (``--preset study``), if any."""
    parameters = getattr(folder, "parameters", None) or {}
    preset = parameters.get("run", {}).get("preset", "none")
    if preset != "none":
        from progdemix_tui.engine.procedure import procedure_for

        table.title = f"{table.title} — preset {preset}"
        note = procedure_for(preset).std_note
        table.caption = f"{table.caption}; {note}" if table.caption else note
    return table


def finite(value: Any) -> Any:
    """``value`` with every non-finite float as None (JSON has no NaN or infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def print_summary(folder, tables, as_json: bool = False) -> None:
    """The summary tables on stdout (or one JSON document), skipped tracks and warnings."""
    if as_json:
        document = {"summary": tables.summary, "oracle_summary": tables.oracle_summary,
                    "skipped": folder.meta.get("skipped", []),
                    "warnings": folder.meta.get("warnings", [])}
        out_console.print_json(json.dumps(finite(document), default=str))
        return
    targets = list(dict.fromkeys(r["target"] for r in tables.rows))
    for target in targets:
        print_table(with_preset(summary_table(tables.summary, target), folder))
        for metric in ("sdr", "sdr_whole"):
            if any(r["metric"] == metric and r["target"] == target for r in tables.summary):
                print_table(with_preset(summary_table(tables.summary, target, metric), folder))
        if any(r["target"] == target for r in tables.oracle_summary):
            print_table(oracle_table(tables.oracle_summary, target))
    if not targets:
        err_console.print("[yellow]no finished tracks yet[/]")
    skipped = folder.meta.get("skipped", [])
    if skipped:
        err_console.print(f"[yellow]{len(skipped)} track(s) skipped:[/]")
        for entry in skipped:
            err_console.print(f"  {entry['track']}: {entry['reason']}", markup=False,
                              soft_wrap=True)
    print_notes(folder.meta.get("warnings", []), label=WARNING)


@handles_errors
def handle_merge(args: argparse.Namespace) -> int:
    from progdemix_tui.engine import evaluation as ev

    require_plots(args.no_plots)
    report = ev.merge(args.folders, args.out, plots=not args.no_plots)
    print_summary(report.folder, report.tables, args.json)
    if report.duplicates:
        err_console.print(f"[yellow]note:[/] {len(report.duplicates)} track run(s) appeared in "
                          "several folders; the first copy was kept.")
    err_console.print(f"merged {len(args.folders)} folder(s), "
                      f"{len(report.folder.results())} track run(s) into [bold]{args.out}[/]")
    return 0
