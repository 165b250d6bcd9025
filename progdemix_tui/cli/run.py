"""``progdemix-tui run INPUT...``: progressive inference on files or folders, headless."""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from progdemix_tui.engine.options import OPTION
from progdemix_tui.engine.threads import torch_threads

from .common import (
    add_loop_arguments,
    add_model_arguments,
    add_option,
    config_from_args,
    err_console,
    error_console,
    handles_errors,
    out_console,
    print_notes,
    print_table,
)
from .export import add_export_arguments, export_to, spec_from_args
from .step_table import RESULTS_DROP, results_table

if TYPE_CHECKING:
    from progdemix_tui.engine.export import ExportSpec
    from progdemix_tui.engine.prepare import CheckedRequest, PreparedRun

EPILOG = """\
examples:
  progdemix-tui run song.wav --steps 10 --out sessions/song
  progdemix-tui run musdb/test/SomeTrack --target vocals --mode oracle --steps 10
  progdemix-tui run song.flac --start 60 --duration 30 --schedule cosine --beta-max 0.5
  progdemix-tui run song.wav --adaptive 4 --early-stop 30 --wiener
  progdemix-tui run song.wav --export stems --two-stems vocals --format flac
  progdemix-tui run album/ other.flac --steps 4 --out sessions/album

INPUT may be an audio file (WAV/FLAC/OGG/MP3; M4A/AAC, Opus… with ffmpeg installed) or a
MUSDB-style track folder (mixture +
drums/bass/other/vocals files), whose stems are then used as references for SI-SDR.
Several INPUTs (or a folder of songs or of track folders) make a batch: one session per
input under --out (default sessions/), the model loaded once; a bad input is reported and
skipped. Exit codes: 0 done, 2 usage or input error (in a batch: any input failed, with a
summary), 130 cancelled (sessions keep their finished steps).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="progressive inference on files, track folders or folders of songs "
                    "(headless)",
        description="Run progressive inference on each input and write one session folder "
                    "per input.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", metavar="INPUT", nargs="*",
                        help="audio file, MUSDB-style track folder, or folder of songs; several "
                             "make a batch (one session each, the model loaded once)")
    io = parser.add_argument_group("input and output")
    io.add_argument("--references", metavar="DIR",
                    help="folder with drums/bass/other/vocals reference stems")
    add_option(io, OPTION["start"])
    add_option(io, OPTION["duration"])
    io.add_argument("--out", "-o", metavar="DIR",
                    help="session folder to create (default sessions/<time>-<name>-<target>-"
                         "<mode>); with several inputs, the folder their sessions go under")
    io.add_argument("--overwrite", action="store_true", help="reuse a non-empty --out folder")
    io.add_argument("--resume", metavar="SESSION",
                    help="continue a cancelled or interrupted session after its last complete "
                         "step, with its parameters (no INPUT; refused if the input or model "
                         "changed)")
    io.add_argument("--recursive", action="store_true",
                    help="a folder INPUT: songs and track folders at every depth (a batch)")
    io.add_argument("--skip-existing", action="store_true",
                    help="a batch: keep (and report) an input's finished session under --out "
                         "with the same parameters instead of running it again")
    add_option(io, OPTION["stem_format"])
    io.add_argument("--json", action="store_true", help="print the per-step metrics as JSON")
    io.add_argument("--progress", choices=("bar", "json"), default="bar",
                    help="progress on stderr: bars, or JSON lines for batch runners "
                         "(default: bar)")
    io.add_argument("--export", metavar="DIR",
                    help="after the run, export a step's stems under DIR (options below)")
    add_export_arguments(parser, out_flag=None)
    add_loop_arguments(parser)
    add_model_arguments(parser, demucs=True)
    parser.set_defaults(handler=handle, usage_error=parser.error)


@handles_errors
def handle(args: argparse.Namespace) -> int:
    if args.resume:
        if args.input:  # argparse's usage line and exit 2
            args.usage_error("--resume continues a session with its own input; give no INPUT "
                             "with it.")
        return run_resume(args)
    if not args.input:
        args.usage_error("give an INPUT (audio file, track folder or folder of songs), or "
                         "--resume SESSION.")
    config = config_from_args(args, model_stems=True)  # --half is read as --precision fp16
    export = spec_from_args(args) if args.export else None  # a bad export option: before all
    threads = torch_threads(args.threads)
    preflight(config.separator)  # before torch is imported: a missing model fails at once
    from progdemix_tui.engine.batch import expand_inputs

    sources = expand_inputs(args.input, recursive=args.recursive)
    if len(sources) > 1 or args.skip_existing:
        return run_batch(args, sources, config, export, threads)
    from progdemix_tui.engine import prepare

    # the excerpt, the input, references, memory and the output folder: before the model load
    out = Path(args.out) if args.out else None
    checked = prepare.check(prepare.RunRequest(
        sources[0], config, args.start, args.duration,
        Path(args.references) if args.references else None, out, args.overwrite))
    print_notes(checked.notes)
    check_export_step(export, sources[0], checked.input.references,
                      checked.input.audio.samplerate)
    if out is not None:
        return run_single(args, checked, export, threads, out)
    out = new_session(Path("sessions"), sources[0], config)
    try:
        return run_single(args, checked, export, threads, out)
    finally:
        discard_if_empty(out)


def run_resume(args: argparse.Namespace) -> int:
    """``--resume SESSION``: continue it after its last complete step (:mod:`.engine.resume`)."""
    from progdemix_tui.engine import prepare
    from progdemix_tui.engine.job import resume_session
    from progdemix_tui.engine.procedure import result_count
    from progdemix_tui.engine.resume import plan_resume

    from .loading import SpinnerCache

    plan = plan_resume(args.resume)
    config = plan.config
    ready = prepare.load_resume(plan, SpinnerCache(torch_threads(args.threads)),
                                references=args.references)  # refused before any output
    separator, prepared = ready.separator, ready.input
    results = [r.metrics for r in plan.session.steps]
    err_console.print(f"resuming [bold]{escape(str(plan.session.folder))}[/] after step "
                      f"{plan.last_step}", soft_wrap=True)
    cancel = threading.Event()
    with step_progress(args.progress) as progress:
        steps_task = progress.add_task("steps", total=result_count(config),
                                       completed=len(results))
        try:
            for result in resume_session(separator, prepared, plan, cancel):
                results.append(result.metrics)
                progress.advance(steps_task)
        except KeyboardInterrupt:
            cancel.set()
            progress.stop()
            err_console.print(f"[yellow]cancelled[/]: session {plan.session.folder} keeps "
                              f"{len(results)} completed step(s).")
            return 130
    if args.json:
        out_console.print_json(json.dumps([m.to_dict() for m in results]))
    else:
        print_results(results, config, prepared.references is not None)
    err_console.print(f"session written to [bold]{plan.session.folder}[/]")
    write_chart(results, config.target, plan.session.folder)
    return 0


def new_session(parent: Path, source: Path, config) -> Path:
    """A new default session folder under ``parent`` (:func:`.session.new_session_folder`);
    OutputError in one line when it cannot be created."""
    from progdemix_tui.engine.errors import OutputError
    from progdemix_tui.engine.session import new_session_folder

    try:
        return new_session_folder(parent, source, config.target, config.mode)
    except OSError as exc:
        raise OutputError(f"cannot create a session folder in {parent} "
                          f"({exc.strerror or type(exc).__name__}); choose another --out.") from None


def discard_if_empty(folder: Path) -> None:
    """Remove a default session folder nothing was written to (a run that failed first)."""
    import contextlib

    with contextlib.suppress(OSError):
        folder.rmdir()  # only ever removes an empty folder


def run_single(args: argparse.Namespace, checked: CheckedRequest, export: ExportSpec | None,
               threads: int, out: Path) -> int:
    """Load the model (:func:`.engine.prepare.load`) and run ``checked`` into the session
    folder ``out``."""
    from progdemix_tui.engine import prepare

    from .loading import SpinnerCache

    run = prepare.load(checked, SpinnerCache(threads))
    results: list = []
    with step_progress(args.progress) as progress:
        try:
            run_one(run, out, args, progress, results)
        except KeyboardInterrupt:
            progress.stop()
            err_console.print(f"[yellow]cancelled[/]: session {out} keeps {len(results)} "
                              "completed step(s).")
            return 130
    for note in run.separator.notes:
        err_console.print(f"[yellow]note:[/] {note}")
    if args.json:
        out_console.print_json(json.dumps([m.to_dict() for m in results]))
    else:
        print_results(results, run.config, run.input.references)
    err_console.print(f"session written to [bold]{out}[/]")
    write_chart(results, run.config.target, out)
    if export is not None:
        export_to([out], export, Path(args.export))
    return 0


def step_progress(kind: str = "bar", transient: bool = False) -> Progress:
    """The progress display: files (in a batch), steps, and the current step's chunks
    (``transient``: erased when it stops); with ``kind`` json, the same as JSON lines
    (:class:`.progress_json.JsonProgress`)."""
    if kind == "json":
        from .progress_json import JsonProgress

        return JsonProgress()  # type: ignore[return-value]  # the part of Progress run uses
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    return Progress(*columns, console=err_console, transient=transient)


def run_one(run: PreparedRun, out: Path, args: argparse.Namespace, progress: Progress,
            results: list) -> None:
    """Run the prepared ``run`` into session ``out``, appending each step's metrics to
    ``results``.

    Ctrl-C (KeyboardInterrupt) cancels the run (the session keeps its finished steps) and
    propagates; engine errors propagate as they are.
    """
    from progdemix_tui import engine
    from progdemix_tui.engine.procedure import result_count

    separator, config = run.separator, run.config
    prepared = run.load_input()
    print_notes(prepared.notes)
    err_console.print(
        f"model [bold]{separator.model.name}[/] on {separator.device_name}, "
        f"{prepared.mixture.shape[-1] / prepared.samplerate:.1f} s, target "
        f"[bold]{config.target}[/], {config.steps} steps, {config.mode}, {config.schedule}"
        + (f", preset {config.preset}" if config.preset != "none" else "")
    )
    cancel = threading.Event()
    steps_task = progress.add_task("steps", total=result_count(config))
    chunk_task = progress.add_task("chunks", total=None)

    def on_chunk(step: int, done: int, total: int) -> None:
        progress.update(chunk_task, description=f"step {step} chunks", completed=done,
                        total=total)

    try:
        for result in engine.run_session(separator, prepared, config, out, cancel, on_chunk,
                                         overwrite=args.overwrite,
                                         stem_format=args.stem_format,
                                         checked=run.checked):
            results.append(result.metrics)
            progress.advance(steps_task)
    except KeyboardInterrupt:
        cancel.set()
        raise
    finally:
        progress.remove_task(chunk_task)
        if len(progress.task_ids) > 2:  # a batch: the next file gets its own steps line
            progress.remove_task(steps_task)


def run_batch(args: argparse.Namespace, sources: list[Path], config, export,
              threads: int) -> int:
    """One session per input under ``--out`` (default ``sessions``), the model loaded once.

    A failing input is reported and skipped; ``--skip-existing`` keeps an input's finished
    session with the same parameters. A summary table ends the batch (done / skipped / failed
    with the reason); exit 0 when none failed, 1 otherwise, 130 on Ctrl-C (finished sessions
    kept, the current one cancelled).
    """
    from progdemix_tui.engine import prepare
    from progdemix_tui.engine.batch import finished_session
    from progdemix_tui.engine.errors import ConfigError, ProgdemixError, one_line

    from .loading import SpinnerCache

    if args.references:
        raise ConfigError("--references names one track's stems; give one INPUT with it, or "
                          "MUSDB-style track folders, which carry their own.")
    if args.overwrite:
        raise ConfigError("--overwrite applies to one session; a batch always writes new "
                          "session folders under --out.")
    parent = Path(args.out) if args.out else Path("sessions")
    separators = SpinnerCache(threads)  # loaded once here, reused by each input's run
    separator = separators.get(config.separator)
    prepare.check_target(config, separator.sources)
    outcome: dict[Path, str] = {}
    written: list[Path] = []
    reports: list[dict] = []
    shared = step_progress("json") if args.progress == "json" else None
    files_task = shared.add_task("files", total=len(sources)) if shared is not None \
        else TaskID(0)
    for index, source in enumerate(sources):
        if args.skip_existing:
            kept = finished_session(parent, source, config.to_dict(), args.start or 0.0,
                                    separator.model.name)
            if kept is not None:
                outcome[source] = f"skipped: {kept} is finished with these parameters"
                if shared is not None:
                    shared.advance(files_task)
                continue
        out = new_session(parent, source, config)
        results: list = []
        failure: BaseException | None = None
        # bars: one display per input, gone before anything else is printed (a live display
        # redrawn around another console's table garbles a real terminal); JSON: one stream
        progress = shared if shared is not None else step_progress(transient=True)
        with progress:
            if shared is None:
                progress.add_task("files", total=len(sources), completed=index)
            progress.console.print(f"[bold]{escape(str(source))}[/] → {escape(str(out))}",
                                   soft_wrap=True)
            try:
                checked = prepare.check(prepare.RunRequest(source, config, args.start,
                                                           args.duration))
                print_notes(checked.notes, progress.console)
                check_export_step(export, source, checked.input.references,
                                  checked.input.audio.samplerate)
                run = prepare.load(checked, separators)  # the model loaded above
                run_one(run, out, args, progress, results)
            except KeyboardInterrupt:
                failure = KeyboardInterrupt()
            except (ProgdemixError, OSError) as exc:
                failure = exc
        if isinstance(failure, KeyboardInterrupt):
            outcome[source] = f"cancelled (session {out} keeps {len(results)} step(s))"
            _summary(outcome, sources)
            return 130
        if failure is not None:
            discard_if_empty(out)
            error_console.print(f"[bold red]error:[/] {escape(one_line(str(failure)))} "
                                "(skipped)", soft_wrap=True)
            outcome[source] = f"failed: {failure}"
        else:
            outcome[source] = f"done: {out}"
            written.append(out)
            reports.append({"input": str(source), "session": str(out),
                            "steps": [m.to_dict() for m in results]})
            if not args.json:  # the table, then where its chart went
                print_results(results, config, run.input.references)
            write_chart(results, config.target, out)
        if shared is not None:
            shared.advance(files_task)
    if args.json:
        out_console.print_json(json.dumps(reports))
    if export is not None and written:
        export_to(written, export, Path(args.export))
    return _summary(outcome, sources)


def check_export_step(export: ExportSpec | None, source: Path, has_references: bool,
                      input_rate: int | None = None) -> None:
    """``--export --step best`` ranks steps by the references: an input without them is
    refused before its run; so is an MP3 export at a rate MP3 cannot hold (the input's own,
    by default) (:class:`ConfigError`)."""
    from progdemix_tui.engine.errors import ConfigError
    from progdemix_tui.engine.export import MP3_SAMPLERATES

    if export is None:
        return
    if export.step == "best" and not has_references:
        raise ConfigError(f"--step best needs references to rank the steps, and {source} has "
                          "none; export --step last or a step number.")
    rate = export.sample_rate or input_rate
    if export.fmt == "mp3" and rate and rate not in MP3_SAMPLERATES:
        raise ConfigError(f"{source} is at {rate} Hz, which MP3 cannot hold; give "
                          "--sample-rate 44100 or 48000, or another --format.")



def _summary(outcome: dict[Path, str], sources: list[Path]) -> int:
    """Print the per-input summary table (stderr): done / skipped / failed with the reason
    (each line bounded, :func:`~progdemix_tui.engine.errors.one_line`); 0 when none failed
    (or was left unstarted), else 1."""
    from progdemix_tui.engine.errors import one_line

    failed = [s for s in sources
              if not outcome.get(s, "").startswith(("done", "skipped"))]
    console = error_console if failed else err_console  # -q keeps it only when one failed
    console.print("[bold]batch[/]  result   input — detail")
    for source in sources:  # one line each, whole paths (soft-wrapped, never cut)
        result, _, detail = outcome.get(source, "not started").partition(": ")
        console.print(f"       {result:<8} {escape(one_line(f'{source} — {detail}'))}",
                      soft_wrap=True)
    if not failed:
        skipped = sum(outcome.get(s, "").startswith("skipped") for s in sources)
        err_console.print(f"{len(sources) - skipped} sessions written, {skipped} kept")
        return 0
    error_console.print(f"[bold red]error:[/] {len(failed)} of {len(sources)} inputs did not "
                        "finish (listed above).")
    return 1



def write_chart(metrics: list, target: str, folder: Path) -> Path | None:
    """The step chart as a PNG in the session (as ``report`` draws it); says where. Without
    matplotlib (the ``[plots]`` extra) a note says what to install instead."""
    from progdemix_tui.engine.extras import ExtraMissing
    from progdemix_tui.engine.plots import plot_session, session_plot_name

    if not metrics:
        return None
    try:
        path = plot_session(metrics, target, folder / session_plot_name(metrics))
    except ExtraMissing as exc:  # the session is complete; the chart is an extra
        err_console.print(f"[yellow]note:[/] chart not written: {escape(str(exc))}",
                          soft_wrap=True)
        return None
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

    check(spec.model, spec.repo, spec.trust_checkpoint, spec.model_config)


def print_results(metrics: list, config, has_refs: bool) -> None:
    """The per-step table (:func:`.step_table.results_table`), its title naming a preset
    other than none."""
    print_table(results_table(metrics, config.target, has_refs, config.preset), RESULTS_DROP)
