"""``progdemix-tui export SESSION…``: a step's stems as audio files, demucs-style."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.markup import escape

from progdemix_tui.engine.export import (
    CLIP_MODES,
    DEFAULT_TEMPLATE,
    EXPORT_FORMATS,
    LAYOUTS,
    MP3_BITRATES,
    MP3_PRESETS,
    OTHER_METHODS,
    OTHERS_FROM,
    ExportSpec,
    parse_stems,
    parse_step,
)

from .common import err_console, handles_errors, out_console

EPILOG = """\
examples:
  progdemix-tui export sessions/song --out stems              the song's stems, wav16
  progdemix-tui export sessions/* --step best --two-stems vocals --format flac --out karaoke
  progdemix-tui export sessions/song --step 3 --stems drums,bass --format mp3 --mp3-bitrate 192
  progdemix-tui export sessions/* --filename "{track}/{session}-{stem}.{ext}" --out all

At a step n > 0 only the target is a new estimate of the song; the other stems are
separations of y_n, the remix fed to the separator. So an export gives the song's stems: the
target from step n, the others from step 0 (--others own: the step's own, labelled so), and
--two-stems TARGET writes TARGET and no_TARGET = mixture - TARGET (--other-method minus, the
default at n > 0; add sums the other exported stems, the default at step 0). Each file's
metadata (title, comment) and the summary on stderr say which is which. --step auto (the
default) is the best step with references, else the last step with beta < 1 (never the
degenerate beta = 1 step, where y_n is the previous estimate alone).
--filename variables: {track} {trackext} {stem} {ext} {step} {session}; two outputs with the
same name are refused before anything is written. Exit codes: 0 done, 2 bad input.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="write a session step's stems as WAV/FLAC/MP3 files",
        description="Export a step of one or more sessions as audio files (demucs's options).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sessions", metavar="SESSION", nargs="+", help="session folder(s)")
    parser.add_argument("--json", action="store_true",
                        help="print what was written as JSON: session, step, name, path, "
                             "samplerate, what (the file's label)")
    add_export_arguments(parser, out_flag="--out")
    parser.set_defaults(handler=handle)


def add_export_arguments(parser: argparse.ArgumentParser, out_flag: str | None) -> None:
    """The export options, shared by ``export`` and ``run --export`` (``out_flag`` None:
    the caller declares the destination itself)."""
    group = parser.add_argument_group("export")
    if out_flag:
        group.add_argument(out_flag, "-o", dest="export_out", metavar="DIR", default="separated",
                           help="folder the files go under (default: separated)")
    group.add_argument("--step", default="auto", metavar="auto|best|last|N",
                       help="which step: best (by target SI-SDR, needs references), last, a "
                            "number, or auto: best with references, else the last step with "
                            "beta < 1 (default: auto)")
    which = group.add_mutually_exclusive_group()
    which.add_argument("--stems", metavar="LIST", help="comma-separated stems (default: all)")
    which.add_argument("--two-stems", metavar="STEM",
                       help="write STEM and no_STEM (see --other-method)")
    group.add_argument("--other-method", choices=OTHER_METHODS, default=None,
                       help="no_STEM of --two-stems: minus = mixture - STEM, add = the sum of "
                            "the other exported stems, none = STEM alone (default: minus at a "
                            "step > 0, add at step 0)")
    group.add_argument("--others", choices=OTHERS_FROM, default="step0",
                       help="the non-target stems at a step > 0: step0 = the song's (one-shot) "
                            "estimates, own = the step's separations of y_n (default: step0)")
    group.add_argument("--format", dest="export_format", choices=EXPORT_FORMATS, default="wav16",
                       help="file format (default: wav16; ogg, opus and m4a through ffmpeg)")
    group.add_argument("--mp3", dest="export_format", action="store_const", const="mp3",
                       help="demucs's spelling of --format mp3")
    group.add_argument("--flac", dest="export_format", action="store_const", const="flac",
                       help="demucs's spelling of --format flac")
    group.add_argument("--mp3-bitrate", type=int, default=320, metavar="K",
                       help=f"MP3 bitrate in kbit/s, one of {MP3_BITRATES[0]}…"
                            f"{MP3_BITRATES[-1]} (default: 320)")
    group.add_argument("--sample-rate", type=int, default=None, metavar="HZ",
                       help="the files' sample rate (default: the input's own, resampled with "
                            "julius from the model's where they differ)")
    group.add_argument("--mp3-preset", type=int, default=2, choices=MP3_PRESETS,
                       help="LAME encoder preset, 2 (best quality) to 7 (fastest) (default: 2)")
    group.add_argument("--clip-mode", choices=CLIP_MODES, default="rescale",
                       help="avoid clipping: rescale the file, clamp samples, or none "
                            "(default: rescale)")
    group.add_argument("--filename", default=DEFAULT_TEMPLATE, metavar="TEMPLATE",
                       help=f"file name under the folder (default: {DEFAULT_TEMPLATE})")
    group.add_argument("--layout", choices=tuple(LAYOUTS), default=None,
                       help="plain: {track}/{stem}.{ext}; demucs: demucs's "
                            "{model}/{track}/{stem}.{ext}")


def spec_from_args(args: argparse.Namespace) -> ExportSpec:
    """The :class:`ExportSpec` the export options describe, validated."""
    from progdemix_tui.engine.errors import ConfigError

    template = args.filename
    if args.layout is not None:
        if args.filename != DEFAULT_TEMPLATE:
            raise ConfigError("--layout and --filename both name the files; give one of them.")
        template = LAYOUTS[args.layout]
    spec = ExportSpec(step=parse_step(args.step),
                      stems=parse_stems(args.stems) if args.stems is not None else None,
                      two_stems=args.two_stems, other_method=args.other_method,
                      others=args.others, sample_rate=args.sample_rate,
                      fmt=args.export_format,
                      mp3_bitrate=args.mp3_bitrate, mp3_preset=args.mp3_preset,
                      clip=args.clip_mode, template=template)
    spec.validate()
    return spec


def export_to(folders: list[Path], spec: ExportSpec, out: Path,
              report: list[dict] | None = None) -> list[Path]:
    """Plan (everything checked), write, and say what was written on stderr (and append
    each file's description to ``report``)."""
    from progdemix_tui.engine.export import plan_export, write_export

    plan = plan_export(folders, spec, out)
    written = write_export(plan, spec)
    if report is not None:
        report.extend({"session": str(p.session.folder), "step": p.step, "name": p.name,
                       "path": str(p.path), "samplerate": p.samplerate, "what": p.label}
                      for p in plan)
    for planned in plan:
        rate = (f", {planned.samplerate} Hz from the model's {planned.session.samplerate}"
                if planned.samplerate != planned.session.samplerate else "")
        err_console.print(f"step {planned.step} {escape(planned.name)} → "
                          f"{escape(str(planned.path))}  ({escape(planned.label)}{rate})",
                          soft_wrap=True)
    return written


@handles_errors
def handle(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    report: list[dict] = []
    written = export_to([Path(s) for s in args.sessions], spec, Path(args.export_out), report)
    if args.json:
        out_console.print_json(json.dumps(report))
        return 0
    for path in written:
        out_console.print(escape(str(path)), soft_wrap=True, highlight=False)
    return 0
