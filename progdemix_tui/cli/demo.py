"""``progdemix-tui demo DIR``: write synthetic four-stem demo songs (MUSDB-style folders)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .common import fail, handles_errors, out_console


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="write synthetic demo songs with exact stems (no download needed)",
        description="Write COUNT synthetic songs as DIR/demo-001/{mixture,drums,bass,other,"
                    "vocals}.wav (float WAV, 44.1 kHz stereo); the same seed gives the same "
                    "songs. Separate them with --model demo.")
    parser.add_argument("dir", nargs="?", default="demo-songs", metavar="DIR",
                        help="output folder (default demo-songs)")
    parser.add_argument("--count", type=int, default=3, help="number of songs (default 3)")
    parser.add_argument("--duration", type=float, default=12.0, metavar="SEC",
                        help="length of each song in seconds (default 12)")
    parser.add_argument("--seed", type=int, default=1000,
                        help="seed of the first song; song i uses SEED+i (default 1000)")
    parser.set_defaults(handler=handle)


@handles_errors
def handle(args: argparse.Namespace) -> int:
    if args.count < 1:
        return fail("--count must be at least 1.")
    if not 0 < args.duration <= 600:
        return fail("--duration must be in (0, 600] seconds.")
    from progdemix_tui.demo import generate_song, write_song

    root = Path(args.dir).expanduser()
    for i in range(args.count):
        folder = root / f"demo-{i + 1:03d}"
        start = time.perf_counter()
        song = generate_song(args.seed + i, args.duration)
        try:
            write_song(song, folder)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            return fail(f"cannot write demo songs to {folder} ({reason}); choose a writable DIR.")
        out_console.print(
            f"wrote {folder}/  [dim]seed {song.seed}, {song.duration:.1f} s long, {song.tempo:g} BPM, "
            f"{song.key}; made in {time.perf_counter() - start:.2f} s[/]", soft_wrap=True)
    out_console.print(f"separate one: progdemix-tui run {root / 'demo-001'} --model demo")
    return 0
