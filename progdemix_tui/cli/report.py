"""``progdemix-tui report DIR``: tables and plots again from saved results, no model needed.

DIR is a session folder (``manifest.json``, from ``run`` or the TUI), an evaluation folder
(``eval.json``, from ``eval`` or ``eval-merge``), or a folder of sessions (``sessions/``),
which gets one line per session: how far it got, its parameters and its best step.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from progdemix_tui.engine.errors import AudioInputError
from progdemix_tui.text import markup_safe, plain, visible

from .common import err_console, handles_errors, out_console, print_table, require_plots

EPILOG = """\
examples:
  progdemix-tui report sessions/20250101-120000-song-vocals-add-to-mixture
  progdemix-tui report eval-study            re-aggregate tracks/*.json, rewrite tables and plots
  progdemix-tui report sessions              one line per session: parameters, best step
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="print tables and redraw plots of a session or evaluation folder, "
                       "or list a folder of sessions",
        description="Print the results of a session or evaluation folder again and regenerate "
                    "its plots from the saved metrics, without running the model; or list "
                    "the sessions in a folder with their best steps.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", metavar="DIR",
                        help="session or evaluation folder, or a folder of sessions")
    parser.add_argument("--no-plots", action="store_true", help="print tables only")
    parser.add_argument("--json", action="store_true",
                        help="print the metrics as JSON instead of tables")
    parser.set_defaults(handler=handle)


@handles_errors
def handle(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    if (folder / "eval.json").is_file():
        require_plots(args.no_plots)
        return _report_eval(folder, args)
    if (folder / "manifest.json").is_file():
        require_plots(args.no_plots)
        return _report_session(folder, args)
    if not folder.exists():
        raise AudioInputError(f"{folder} does not exist; give a session or evaluation folder.")
    from progdemix_tui.engine.session import scan_sessions

    scan = scan_sessions(folder)
    for note in scan.skipped:  # one bad folder does not hide the others
        err_console.print(visible(note), markup=False, soft_wrap=True)
    if scan.sessions:
        return _report_listing(folder, scan.sessions, args)
    raise AudioInputError(f"{folder} is neither a session folder (manifest.json), an "
                          "evaluation folder (eval.json), nor a folder of sessions.")


SESSION_WIDTH = 24
"""The session column's narrowest width in the sessions list (longer names wrap)."""
LISTING_DROP = ("β max", "schedule", "model", "mode", "status")
"""Columns of the sessions list that leave, in this order, until the names get their width."""


def _report_listing(folder: Path, sessions: list, args: argparse.Namespace) -> int:
    """One row per session under ``folder``, newest first."""
    if args.json:
        import dataclasses
        import json

        rows = [{**dataclasses.asdict(s), "folder": str(s.folder)} for s in sessions]
        out_console.print_json(json.dumps(rows))
        return 0
    from rich import box
    from rich.table import Table

    from progdemix_tui.formatting import fmt_number

    def short(s) -> str:  # the default name ends in -TARGET-MODE, shown in their own columns
        suffix = f"-{s.target}-{s.mode}"
        name = s.folder.name
        return name[:-len(suffix)] if name.endswith(suffix) else name

    columns = {
        "session": [short(s) for s in sessions],
        "status": [s.status for s in sessions],
        "steps": [f"{s.steps_done}/{s.steps_planned}" for s in sessions],
        "target": [s.target for s in sessions],
        "mode": [s.mode for s in sessions],
        "schedule": [s.schedule for s in sessions],
        "β max": ["?" if s.beta_max is None else f"{s.beta_max:g}" for s in sessions],
        "model": [s.model for s in sessions],
        "best": ["n/a" if s.best_step is None else str(s.best_step) for s in sessions],
        "Δ0 dB": [fmt_number(s.best_delta_db, signed=True) for s in sessions],
    }
    # parameters every session shares go into the title, so the table fits 80 columns
    shared = [name for name in ("target", "mode", "schedule", "β max", "model")
              if len(sessions) > 1 and len(set(columns[name])) == 1]
    title = f"sessions in {markup_safe(folder)} (newest first)"
    if shared:
        title += "; all: " + ", ".join(markup_safe(
            f"{name} {columns[name][0]}" if name in ("β max", "model") else columns[name][0])
            for name in shared)
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    shown = [name for name in columns if name not in shared]
    for name in shown:
        table.add_column(name, justify="right" if name in ("steps", "β max", "best", "Δ0 dB")
                         else "left", no_wrap=name != "session", overflow="fold",
                         min_width=SESSION_WIDTH if name == "session" else None)
    for row in zip(*(columns[name] for name in shown), strict=True):
        table.add_row(*map(plain, row))  # names and model from files: never markup
    print_table(table, LISTING_DROP)
    err_console.print(f"{len(sessions)} session(s); best: highest target SI-SDR (needs "
                      "references), Δ0: its change since step 0. Details: "
                      "progdemix-tui report SESSION")
    return 0


def _report_session(folder: Path, args: argparse.Namespace) -> int:
    from progdemix_tui.engine import open_session
    from progdemix_tui.engine.procedure import result_count

    from .step_table import RESULTS_DROP, results_table

    session = open_session(folder)
    metrics = [record.metrics for record in session.steps]
    target = session.config.target
    has_refs = any(m.si_sdr for m in metrics)
    if args.json:
        import json

        out_console.print_json(json.dumps([m.to_dict() for m in metrics]))
    else:
        print_table(results_table(metrics, target, has_refs, session.config.preset),
                    RESULTS_DROP)
    err_console.print(f"session {visible(folder)}: {session.status}, {len(metrics)} step(s) "
                      f"of {result_count(session.config)}", markup=False)
    if not args.no_plots and metrics:
        from progdemix_tui.engine.plots import plot_session, session_plot_name

        path = plot_session(metrics, target, folder / session_plot_name(metrics))
        err_console.print(f"plot written to [bold]{markup_safe(path)}[/]")
    return 0


def _report_eval(folder: Path, args: argparse.Namespace) -> int:
    """Print an evaluation's tables, then rewrite its files where the folder allows."""
    from progdemix_tui.engine import evaluation as ev
    from progdemix_tui.engine.errors import OutputError

    from .eval import print_summary

    opened = ev.EvalFolder.open(folder)
    tables = ev.build_tables(opened)
    if args.json:
        import json

        out_console.print_json(json.dumps({"steps": tables.summary,
                                           "oracle_gain": tables.oracle_summary}))
    else:
        print_summary(opened, tables)
    what = "tables" + ("" if args.no_plots else " and plots")
    try:
        ev.write_tables(opened, tables, plots=not args.no_plots)
        done = f"{what} rewritten"
    except OutputError as exc:  # a read-only folder still reports
        done = f"{what} not rewritten: {exc}"
    err_console.print(visible(f"evaluation {folder}: {opened.meta['status']}, {tables.runs} "
                              f"track run(s); {done}"), markup=False, soft_wrap=True)
    return 0
