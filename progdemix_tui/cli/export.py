"""``progdemix-tui export SESSION…``: a step's stems as audio files, demucs-style."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.markup import escape

from progdemix_tui.engine.export import (
    CLIP_MODES,
    DEFAULT_TEMPLATE,
    EXPORT_FORMATS,
    MP3_BITRATES,
    ExportSpec,
    parse_stems,
    parse_step,
)

from .common import err_console, handles_errors, out_console

EPILOG = """\
examples:
  progdemix-tui export sessions/song --out stems              the last step, all stems, wav16
  progdemix-tui export sessions/* --step best --two-stems vocals --format flac --out karaoke
  progdemix-tui export sessions/song --step 3 --stems drums,bass --format mp3 --mp3-bitrate 192
  progdemix-tui export sessions/* --filename "{track}/{session}-{stem}.{ext}" --out all

--two-stems vocals writes vocals and no_vocals (the sum of the step's other estimates).
--filename variables: {track} {trackext} {stem} {ext} {step} {session}; two outputs with the
same name are refused before anything is written. Exit codes: 0 done, 2 bad input.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="write a session step's stems as WAV/FLAC/MP3 files",
        description="Export a step of one or more sessions as audio files (demucs's options).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sessions", metavar="SESSION", nargs="+", help="session folder(s)")
    add_export_arguments(parser, out_flag="--out")
    parser.set_defaults(handler=handle)


def add_export_arguments(parser: argparse.ArgumentParser, out_flag: str | None) -> None:
    """The export options, shared by ``export`` and ``run --export`` (``out_flag`` None:
    the caller declares the destination itself)."""
    group = parser.add_argument_group("export")
    if out_flag:
        group.add_argument(out_flag, dest="export_out", metavar="DIR", default="separated",
                           help="folder the files go under (default: separated)")
    group.add_argument("--step", default="last", metavar="best|last|N",
                       help="which step: best (by target SI-SDR, needs references), last, or "
                            "a number (default: last)")
    which = group.add_mutually_exclusive_group()
    which.add_argument("--stems", metavar="LIST", help="comma-separated stems (default: all)")
    which.add_argument("--two-stems", metavar="STEM",
                       help="write STEM and no_STEM (the sum of the other estimates)")
    group.add_argument("--format", dest="export_format", choices=EXPORT_FORMATS, default="wav16",
                       help="file format (default: wav16)")
    group.add_argument("--mp3-bitrate", type=int, default=320, metavar="K",
                       help=f"MP3 bitrate in kbit/s, one of {MP3_BITRATES[0]}…"
                            f"{MP3_BITRATES[-1]} (default: 320)")
    group.add_argument("--clip-mode", choices=CLIP_MODES, default="rescale",
                       help="avoid clipping: rescale the file, clamp samples, or none "
                            "(default: rescale)")
    group.add_argument("--filename", default=DEFAULT_TEMPLATE, metavar="TEMPLATE",
                       help=f"file name under the folder (default: {DEFAULT_TEMPLATE})")


def spec_from_args(args: argparse.Namespace) -> ExportSpec:
    """The :class:`ExportSpec` the export options describe, validated."""
    spec = ExportSpec(step=parse_step(args.step),
                      stems=parse_stems(args.stems) if args.stems is not None else None,
                      two_stems=args.two_stems, fmt=args.export_format,
                      mp3_bitrate=args.mp3_bitrate, clip=args.clip_mode,
                      template=args.filename)
    spec.validate()
    return spec


def export_to(folders: list[Path], spec: ExportSpec, out: Path) -> list[Path]:
    """Plan (everything checked), write, and say what was written on stderr."""
    from progdemix_tui.engine.export import plan_export, write_export

    plan = plan_export(folders, spec, out)
    written = write_export(plan, spec)
    for planned in plan:
        err_console.print(f"step {planned.step} {escape(planned.name)} → "
                          f"{escape(str(planned.path))}", soft_wrap=True)
    return written


@handles_errors
def handle(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    written = export_to([Path(s) for s in args.sessions], spec, Path(args.export_out))
    for path in written:
        out_console.print(escape(str(path)), soft_wrap=True, highlight=False)
    return 0
