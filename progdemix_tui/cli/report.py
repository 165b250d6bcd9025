"""``progdemix-tui report DIR``: tables and plots again from saved results, no model needed.

DIR is a session folder (``manifest.json``, from ``run`` or the TUI) or an evaluation folder
(``eval.json``, from ``eval`` or ``eval-merge``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from progdemix_tui.engine.errors import AudioInputError

from .common import err_console, handles_errors, out_console

EPILOG = """\
examples:
  progdemix-tui report sessions/20250101-120000-song-vocals-add-to-mixture
  progdemix-tui report eval-study            re-aggregate tracks/*.json, rewrite tables and plots
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="print tables and redraw plots of a session or evaluation folder",
        description="Print the results of a session or evaluation folder again and regenerate "
                    "its plots from the saved metrics, without running the model.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", metavar="DIR", help="session or evaluation folder")
    parser.add_argument("--no-plots", action="store_true", help="print tables only")
    parser.add_argument("--json", action="store_true",
                        help="print the metrics as JSON instead of tables")
    parser.set_defaults(handler=handle)


@handles_errors
def handle(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    if (folder / "eval.json").is_file():
        return _report_eval(folder, args)
    if (folder / "manifest.json").is_file():
        return _report_session(folder, args)
    if not folder.exists():
        raise AudioInputError(f"{folder} does not exist; give a session or evaluation folder.")
    raise AudioInputError(f"{folder} is neither a session folder (manifest.json) nor an "
                          "evaluation folder (eval.json).")


def _report_session(folder: Path, args: argparse.Namespace) -> int:
    from progdemix_tui.engine import open_session

    from .run import results_table

    session = open_session(folder)
    metrics = [record.metrics for record in session.steps]
    target = session.config.target
    has_refs = any(m.si_sdr for m in metrics)
    if args.json:
        import json

        out_console.print_json(json.dumps([m.to_dict() for m in metrics]))
    else:
        out_console.print(results_table(metrics, target, has_refs))
    err_console.print(f"session {folder}: {session.status}, {len(metrics)} step(s) of "
                      f"{session.config.steps + 1}")
    if not args.no_plots and metrics:
        from progdemix_tui.engine.plots import plot_session

        name = "si_sdr.png" if has_refs else "estimate_change.png"
        path = plot_session(metrics, target, folder / name)
        err_console.print(f"plot written to [bold]{path}[/]")
    return 0


def _report_eval(folder: Path, args: argparse.Namespace) -> int:
    from progdemix_tui.engine import evaluation as ev

    from .eval import print_summary

    opened = ev.EvalFolder.open(folder)
    tables = ev.finalize(opened, plots=not args.no_plots)
    if args.json:
        import json

        out_console.print_json(json.dumps({"steps": tables.summary,
                                           "oracle_gain": tables.oracle_summary}))
    else:
        print_summary(opened, tables)
    err_console.print(f"evaluation {folder}: {opened.meta.get('status', '?')}, "
                      f"{len(opened.results())} track run(s); tables"
                      + ("" if args.no_plots else " and plots") + " rewritten")
    return 0
