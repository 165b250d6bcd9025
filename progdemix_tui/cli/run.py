"""``progdemix-tui run INPUT``: progressive inference on one file, headless."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from progdemix_tui.engine.options import OPTION
from progdemix_tui.engine.threads import torch_threads, use_threads
from progdemix_tui.formatting import fmt_number

from .common import (
    add_loop_arguments,
    add_model_arguments,
    add_option,
    config_from_args,
    err_console,
    handles_errors,
    out_console,
    print_table,
)

if TYPE_CHECKING:
    from progdemix_tui.engine import Separator

EPILOG = """\
examples:
  progdemix-tui run song.wav --steps 10 --out sessions/song
  progdemix-tui run musdb/test/SomeTrack --target vocals --mode oracle --steps 10
  progdemix-tui run song.flac --start 60 --duration 30 --schedule cosine --beta-max 0.5
  progdemix-tui run song.wav --adaptive 4 --early-stop 30 --wiener

INPUT may be an audio file (WAV/FLAC/OGG/MP3) or a MUSDB-style track folder (mixture +
drums/bass/other/vocals files), whose stems are then used as references for SI-SDR.
Exit codes: 0 done, 2 usage or input error, 130 cancelled (the session keeps finished steps).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="progressive inference on one file (headless)",
        description="Run progressive inference on one file and write a session folder.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", metavar="INPUT", help="audio file or MUSDB-style track folder")
    io = parser.add_argument_group("input and output")
    io.add_argument("--references", metavar="DIR",
                    help="folder with drums/bass/other/vocals reference stems")
    add_option(io, OPTION["start"])
    add_option(io, OPTION["duration"])
    io.add_argument("--out", metavar="DIR",
                    help="session folder to create (default sessions/<time>-<name>-<target>-<mode>)")
    io.add_argument("--overwrite", action="store_true", help="reuse a non-empty --out folder")
    add_option(io, OPTION["stem_format"])
    io.add_argument("--json", action="store_true", help="print the per-step metrics as JSON")
    add_loop_arguments(parser)
    add_model_arguments(parser)
    parser.set_defaults(handler=handle)


@handles_errors
def handle(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    threads = torch_threads(args.threads)
    preflight(config.separator)  # before torch is imported: a missing model fails at once
    from progdemix_tui import engine
    from progdemix_tui.engine.job import check_run
    from progdemix_tui.engine.session import new_session_folder

    source = Path(args.input)
    # the excerpt, the input, references, memory and the output folder: before the model load
    ready = check_run(source, config, args.start, args.duration, args.references)
    out = Path(args.out) if args.out else new_session_folder(
        "sessions", source, config.target, config.mode)
    engine.check_output_folder(out, args.overwrite)

    separator = load_separator(config, threads)
    prepared = engine.load_input(source, separator.samplerate, separator.sources, args.start,
                                 args.duration, args.references)
    for note in prepared.notes:
        err_console.print(f"[dim]note:[/] {escape(note)}", soft_wrap=True)
    err_console.print(
        f"model [bold]{separator.model.name}[/] on {separator.device_name}, "
        f"{prepared.mixture.shape[-1] / prepared.samplerate:.1f} s, target "
        f"[bold]{config.target}[/], {config.steps} steps, {config.mode}, {config.schedule}"
    )
    results = []
    cancel = threading.Event()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=False) as progress:
        steps_task = progress.add_task("steps", total=config.steps + 1)
        chunk_task = progress.add_task("chunks", total=None)

        def on_chunk(step: int, done: int, total: int) -> None:
            progress.update(chunk_task, description=f"step {step} chunks", completed=done,
                            total=total)

        try:
            for result in engine.run_session(separator, prepared, config, out, cancel, on_chunk,
                                             overwrite=args.overwrite,
                                             stem_format=args.stem_format,
                                             checked=ready.checked):
                results.append(result.metrics)
                progress.advance(steps_task)
        except KeyboardInterrupt:
            cancel.set()
            progress.stop()
            err_console.print(f"[yellow]cancelled[/]: session {out} keeps {len(results)} "
                              "completed step(s).")
            return 130
    for note in separator.notes:
        err_console.print(f"[yellow]note:[/] {note}")
    _print_results(results, config, prepared.references is not None, args.json)
    err_console.print(f"session written to [bold]{out}[/]")
    write_chart(results, config.target, out)
    return 0


def write_chart(metrics: list, target: str, folder: Path) -> Path | None:
    """The step chart as a PNG in the session (as ``report`` draws it); says where."""
    from progdemix_tui.engine.plots import plot_session, session_plot_name

    if not metrics:
        return None
    try:
        path = plot_session(metrics, target, folder / session_plot_name(metrics))
    except OSError as exc:  # the session is complete; only its picture is missing
        err_console.print(f"[yellow]note:[/] chart not written ({escape(str(exc))}); "
                          f"`progdemix-tui report {escape(str(folder))}` draws it later",
                          soft_wrap=True)
        return None
    err_console.print(f"chart written to [bold]{escape(str(path))}[/]", soft_wrap=True)
    return path


def preflight(spec) -> None:
    """Before torch loads: a hub model neither cached nor reachable fails at once."""
    from progdemix_tui.engine.hub import preflight as check

    check(spec.model, spec.repo, spec.trust_checkpoint)


def load_separator(config, threads: int) -> Separator:
    """Set torch's ``threads`` (:func:`~progdemix_tui.engine.threads.use_threads`), then load
    the model under a spinner; a note (and the downloader's own progress bar, the spinner
    stopped) only when the engine says a download starts or where a model comes from."""
    from progdemix_tui import engine

    use_threads(threads)
    spec = config.separator
    with err_console.status(f"loading model {spec.model}…") as status:
        def notify(text: str) -> None:
            status.stop()
            err_console.print(text)

        return engine.Separator.from_config(spec, notify=notify)


def _print_results(metrics: list, config, has_refs: bool, as_json: bool) -> None:
    if as_json:
        import json

        out_console.print_json(json.dumps([m.to_dict() for m in metrics]))
        return
    print_table(results_table(metrics, config.target, has_refs), RESULTS_DROP)


RESULTS_DROP = ("clip", "sec")
"""Columns of :func:`results_table` that leave first where the terminal is narrow."""


def results_table(metrics: list, target: str, has_refs: bool) -> Table:
    """Per-step table: β, time, clip factor, residual, estimate change, SI-SDR per stem."""
    table = Table(title=f"progressive inference — target {target} (dB)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0, 0, 1))
    for name in ("step", "β", "sec", "clip", "resid", "Δest"):
        table.add_column(name, justify="right", no_wrap=True)
    stems: list[str] = []
    if has_refs and metrics and metrics[0].si_sdr:
        stems = list(metrics[0].si_sdr)
        for stem in stems:
            label = f"[bold]{stem}[/]" if stem == target else stem
            table.add_column(label, justify="right", no_wrap=True)
        table.add_column("Δ0", justify="right", no_wrap=True)
    from progdemix_tui.engine.progressive import best_step

    best = best_step(metrics, target)
    for m in metrics:
        change = m.estimate_change.get(target) if m.estimate_change else None
        row = [f"{m.step}{' *' if m.step == best else ''}",
               "—" if m.beta is None else f"{m.beta:.3f}", f"{m.seconds:.2f}",
               f"{m.clip_factor:.3f}", fmt_number(m.residual_db), fmt_number(change)]
        if stems:
            row += [fmt_number(m.si_sdr.get(s)) for s in stems]
            row.append(fmt_number(m.si_sdr_delta, signed=True))
        table.add_row(*row)
    table.caption = ("resid: mixture-consistency residual; Δest: SI-SDR of the target against "
                     "the previous step")
    if best is not None:
        table.caption += "; Δ0: target SI-SDR change since step 0; * best step"
    return table
