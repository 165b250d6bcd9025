"""Per-stem SI-SDR of the demo model on the held-out demo songs (seeds 1..20).

With ``--sampled``, the songs are sampled from the held-out note bank instead
(``.gpudata/heldout.npz`` unless ``--bank``; ``scripts/render_note_bank.py`` writes it): GM
programs, drum kits and a SoundFont that the training bank never has.

One-shot separation with ``demucs.apply.apply_model(model, mix[None], segment=10,
overlap=0.25)``; SI-SDR as torchmetrics computes it (zero_mean=False), per channel, averaged
over channels, then over songs. Usage::

    python scripts/eval_demo_model.py [--model demo|PATH.safetensors] [--duration 6]
                                      [--shifts N] [--wiener ITERATIONS] [--by-layer]
                                      [--sampled [--bank NPZ]] [--json PATH] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_common import (  # noqa: E402
    EVAL_DURATION,
    EVAL_SEGMENT,
    HELD_OUT_BANK,
    HELD_OUT_SEEDS,
    evaluate,
    format_scores,
    score_summary,
)

from progdemix_tui.demo import STEMS, generate_song  # noqa: E402
from progdemix_tui.demo.notebank import NoteBank, NoteBankError  # noqa: E402
from progdemix_tui.demo.sampled import generate_sampled_song  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="demo", help="'demo' (package weights) or a .safetensors")
    p.add_argument("--duration", type=float, default=EVAL_DURATION, help="song length, seconds")
    p.add_argument("--segment", type=float, default=EVAL_SEGMENT)
    p.add_argument("--seeds", type=int, nargs="+", default=list(HELD_OUT_SEEDS))
    p.add_argument("--shifts", type=int, default=0, help="apply_model's random-shift passes")
    p.add_argument("--wiener", type=int, default=0, metavar="ITERATIONS",
                   help="post-filter every stem with demucs's Wiener filter (diagnostics)")
    p.add_argument("--by-layer", action="store_true",
                   help="also break other/vocals down by what the other stem plays")
    p.add_argument("--sampled", action="store_true",
                   help="score songs sampled from the held-out note bank")
    p.add_argument("--bank", default=str(HELD_OUT_BANK), help="note bank for --sampled")
    p.add_argument("--json", metavar="PATH", help="also write the summary as JSON")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: the tool's policy, OMP_NUM_THREADS or "
                        "the CPUs minus one)")
    args = p.parse_args(argv)

    from progdemix_tui.engine.errors import ConfigError
    from progdemix_tui.engine.models import load_model
    from progdemix_tui.engine.threads import torch_threads, use_threads

    try:  # the CLI's thread policy: torch's default (every core) spins on a busy machine
        threads = torch_threads(args.threads)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    use_threads(threads)

    bank = None
    if args.sampled:
        try:
            bank = NoteBank.load(args.bank)
        except NoteBankError as exc:
            print(f"error: {exc} (scripts/render_note_bank.py writes it)", file=sys.stderr)
            return 2
    loaded = load_model(args.model)
    start = time.perf_counter()
    songs = [generate_song(seed, args.duration) if bank is None
             else generate_sampled_song(seed, bank, args.duration) for seed in args.seeds]
    scores = evaluate(loaded.module, np.stack([song.stems for song in songs]),
                      device=args.device, segment=args.segment, shifts=args.shifts,
                      wiener=args.wiener)
    print(f"model {loaded.name} ({loaded.parameters / 1e6:.2f} M parameters, {loaded.origin})")
    kind = f"songs sampled from {args.bank}" if bank else "generator songs"
    print(f"{len(args.seeds)} held-out {kind} (seeds {min(args.seeds)}..{max(args.seeds)}), "
          f"{args.duration:g} s each, one-shot, segment {args.segment:g} s, overlap 0.25, "
          f"shifts {args.shifts}, Wiener {args.wiener or 'off'}, "
          f"{args.device}, {threads} thread{'s' if threads != 1 else ''}, "
          f"{time.perf_counter() - start:.1f} s")
    print(format_scores(scores))
    if args.by_layer:
        print(format_by_layer(scores, [song.other_layers for song in songs]))
        if bank is not None:
            print(format_by_source(scores, [song.instruments for song in songs]))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "model": args.model, "songs": kind, "seeds": args.seeds, "duration": args.duration,
            "scores": score_summary(scores)}, indent=2) + "\n")
    return 0


def format_by_source(scores: np.ndarray, instruments: list[dict[str, str]]) -> str:
    """Mean SI-SDR per stem over the sampled songs whose stem is a SoundFont instrument and
    over those where it is the generator's own (synthesized drums/bass, formant voice, which
    a sampled choir sometimes backs)."""
    lines = [f"{'stem':<8} {'SoundFont':>15} {'generator':>15}"]
    for name in ("drums", "bass", "vocals"):
        col = STEMS.index(name)
        own = np.array([song[name].startswith(("synth", "formant voice")) for song in instruments])
        cells = [f"{scores[mask, col].mean():6.2f} dB ({mask.sum():2d})" if mask.any() else
                 f"{'-':>15}" for mask in (~own, own)]
        lines.append(f"{name:<8} {cells[0]:>15} {cells[1]:>15}")
    return "\n".join(lines)


def format_by_layer(scores: np.ndarray, layers: list[tuple[str, ...]]) -> str:
    """Mean other/vocals SI-SDR of the songs whose other stem has each layer."""
    lines = [f"{'other has':<10} {'songs':>5} {'other dB':>9} {'vocals dB':>10}"]
    for name in sorted({name for song in layers for name in song}):
        rows = scores[[name in song for song in layers]]
        lines.append(f"{name:<10} {len(rows):5d} {rows[:, 2].mean():9.2f} {rows[:, 3].mean():10.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
