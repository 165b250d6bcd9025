"""Arguments and error handling shared by the subcommands."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable

from rich.console import Console

from progdemix_tui.engine.config import (
    ADAPTIVE_SCORES,
    MODES,
    SCHEDULES,
    STEMS,
    AdaptiveConfig,
    RunConfig,
    SeparatorConfig,
)
from progdemix_tui.engine.errors import ProgdemixError, is_allocation_failure, out_of_memory

err_console = Console(stderr=True, highlight=False)
out_console = Console(highlight=False)

TORCHAUDIO_NOTE = (
    "HDEMUCS_HIGH_MUSDB / HDEMUCS_HIGH_MUSDB_PLUS need the [torchaudio] extra; "
    "_PLUS was trained on the MUSDB18-HQ test set too: do not evaluate it there."
)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model and device")
    group.add_argument("--model", default="hdemucs_mmi", metavar="NAME|PATH",
                       help="demucs model name (default hdemucs_mmi), 'demo', a .safetensors "
                            f"or .th file, or a torchaudio bundle. {TORCHAUDIO_NOTE}")
    group.add_argument("--repo", metavar="DIR", help="local demucs repo folder with NAME.yaml "
                       "and SIG.safetensors (or SIG.th) files")
    group.add_argument("--trust-checkpoint", action="store_true",
                       help="allow pickled .th checkpoints (loading them runs code from the file)")
    group.add_argument("--device", default="auto", help="auto|cpu|cuda|cuda:N|mps (default auto: "
                       "CUDA, then MPS, then CPU)")
    group.add_argument("--half", action="store_true", help="half precision (CUDA only)")
    group.add_argument("--segment", type=float, metavar="SEC",
                       help="chunk length in seconds (default 10, capped by the model)")
    group.add_argument("--overlap", type=float, default=0.25, help="chunk overlap (default 0.25)")
    group.add_argument("--shifts", type=int, default=0,
                       help="random-shift averaging passes (default 0; demucs CLI uses 1)")
    group.add_argument("--seed", type=int, default=0, help="seed for shifts (default 0)")


def add_loop_arguments(parser: argparse.ArgumentParser, target_all: bool = False) -> None:
    group = parser.add_argument_group("progressive inference")
    targets = (*STEMS, "all") if target_all else STEMS
    group.add_argument("--target", "--targets", dest="target", default="vocals", choices=targets,
                       help="stem to refine (default vocals)")
    group.add_argument("--steps", type=int, default=10, help="N progressive steps (N+1 results)")
    group.add_argument("--mode", default="add-to-mixture", choices=MODES,
                       help="how y_n is built (default add-to-mixture)")
    group.add_argument("--schedule", default="linear", choices=SCHEDULES,
                       help="β schedule (default linear)")
    group.add_argument("--beta-max", type=float, default=1.0, help="largest β (default 1.0)")
    group.add_argument("--adaptive", type=int, metavar="K", default=0,
                       help="adaptive β with K candidates per step (default off)")
    group.add_argument("--adaptive-score", default="auto", choices=ADAPTIVE_SCORES,
                       help="oracle (SI-SDR vs references), decorrelation (reference-free), "
                            "or auto (oracle when references exist)")
    group.add_argument("--adaptive-chunk", type=float, default=1.0, metavar="SEC",
                       help="adaptive selection chunk length (default 1 s)")
    group.add_argument("--early-stop", type=float, metavar="DB",
                       help="stop when successive target estimates agree above DB SI-SDR")
    group.add_argument("--wiener", action="store_true", help="Wiener post-filter on the target")
    group.add_argument("--loudness-match", action="store_true",
                       help="match y_n's loudness to the original mixture")
    group.add_argument("--no-clip-guard", action="store_true",
                       help="do not rescale y_n when it exceeds ±1")


def config_from_args(args: argparse.Namespace, target: str | None = None) -> RunConfig:
    """Build a validated :class:`RunConfig` from parsed arguments."""
    adaptive = None
    if args.adaptive:
        adaptive = AdaptiveConfig(args.adaptive, args.adaptive_score, args.adaptive_chunk)
    separator = SeparatorConfig(model=args.model, repo=args.repo,
                                trust_checkpoint=args.trust_checkpoint, device=args.device,
                                segment=args.segment, overlap=args.overlap, shifts=args.shifts,
                                half=args.half, seed=args.seed)
    return RunConfig(target=target or args.target, steps=args.steps, mode=args.mode,
                     schedule=args.schedule, beta_max=args.beta_max, adaptive=adaptive,
                     early_stop_db=args.early_stop, wiener=args.wiener,
                     loudness_match=args.loudness_match, clip_guard=not args.no_clip_guard,
                     separator=separator).validate()


def fail(message: str, code: int = 2) -> int:
    from rich.markup import escape  # messages quote file contents: never read them as markup

    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return code


def handles_errors(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn engine errors into one line on stderr and their exit code; Ctrl-C into 130."""

    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except ProgdemixError as exc:
            if exc.exit_code == 130:
                err_console.print(f"[yellow]cancelled:[/] {exc}")
                return 130
            return fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            err_console.print("[yellow]cancelled[/]")
            return 130
        except (MemoryError, RuntimeError) as exc:
            if not is_allocation_failure(exc):
                raise
            error = out_of_memory("this machine")
            return fail(str(error), error.exit_code)
        except BrokenPipeError:
            sys.stderr.close()
            return 1

    return wrapper
