"""``progdemix-tui devices``: audio output devices for audition."""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from .common import err_console, handles_errors, out_console


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "devices", help="list audio output devices (for the TUI's --audio-device)",
        description="List audio output devices that PortAudio sees, and the browser "
        "speaker (web / web:PORT).")
    parser.add_argument("--json", action="store_true",
                        help="print the list as JSON: index, name, hostapi, channels, "
                             "samplerate, default")
    parser.set_defaults(handler=handle)


@handles_errors
def handle(args: argparse.Namespace) -> int:
    from progdemix_tui.playback import AudioUnavailable, list_output_devices
    from progdemix_tui.playback.outputs.web import DEFAULT_PORT

    try:
        devices = list_output_devices()
    except AudioUnavailable as exc:  # no PortAudio, no sound card: the browser still plays
        devices, why = [], str(exc).splitlines()[0]
    else:
        why = "no audio output device found"
    if not devices:
        err_console.print(f"{why.rstrip('.')}: play through a browser with --audio-device web "
                          "(README: 'Listening over SSH'), or export A/B clips.",
                          markup=False, soft_wrap=True)
    if args.json:
        rows = [{"index": d.index, "name": d.name, "hostapi": d.hostapi,
                 "channels": d.channels, "samplerate": d.default_samplerate,
                 "default": d.is_default} for d in devices]
        rows.append({"index": "web", "name": f"a browser page (http://127.0.0.1:{DEFAULT_PORT})",
                     "hostapi": "web", "channels": 2, "samplerate": None, "default": False})
        out_console.print_json(json.dumps(rows))
        return 0
    table = Table(title="audio output devices", title_justify="left")
    for col in ("index", "name", "host API", "channels", "rate", "default"):
        table.add_column(col)
    for d in devices:
        table.add_row(str(d.index), d.name, d.hostapi, str(d.channels),
                      f"{d.default_samplerate:.0f}", "*" if d.is_default else "")
    table.add_row("web", f"a browser page (http://127.0.0.1:{DEFAULT_PORT}; web:PORT for another)",
                  "web", "2", "session", "")
    out_console.print(table)
    return 0
