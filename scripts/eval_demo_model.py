"""Per-stem SI-SDR of the demo model on the held-out demo songs (seeds 1..20).

One-shot separation with ``demucs.apply.apply_model(model, mix[None], segment=10,
overlap=0.25)``; SI-SDR as torchmetrics computes it (zero_mean=False), per channel, averaged
over channels, then over songs. Usage::

    python scripts/eval_demo_model.py [--model demo|PATH.safetensors] [--duration 6]
                                      [--shifts N] [--wiener ITERATIONS]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_common import (  # noqa: E402
    EVAL_DURATION,
    EVAL_SEGMENT,
    HELD_OUT_SEEDS,
    evaluate,
    format_scores,
    held_out_songs,
)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="demo", help="'demo' (package weights) or a .safetensors")
    p.add_argument("--duration", type=float, default=EVAL_DURATION, help="song length, seconds")
    p.add_argument("--segment", type=float, default=EVAL_SEGMENT)
    p.add_argument("--seeds", type=int, nargs="+", default=list(HELD_OUT_SEEDS))
    p.add_argument("--shifts", type=int, default=0, help="apply_model's random-shift passes")
    p.add_argument("--wiener", type=int, default=0, metavar="ITERATIONS",
                   help="post-filter every stem with demucs's Wiener filter (diagnostics)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args(argv)

    from progdemix_tui.engine.models import load_model

    loaded = load_model(args.model)
    start = time.perf_counter()
    scores = evaluate(loaded.module, held_out_songs(args.seeds, args.duration),
                      device=args.device, segment=args.segment, shifts=args.shifts,
                      wiener=args.wiener)
    print(f"model {loaded.name} ({loaded.parameters / 1e6:.2f} M parameters, {loaded.origin})")
    print(f"{len(args.seeds)} held-out songs (seeds {min(args.seeds)}..{max(args.seeds)}), "
          f"{args.duration:g} s each, one-shot, segment {args.segment:g} s, overlap 0.25, "
          f"shifts {args.shifts}, Wiener {args.wiener or 'off'}, "
          f"{args.device}, {time.perf_counter() - start:.1f} s")
    print(format_scores(scores))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
