"""Train the small demo HDemucs on synthetic songs from ``progdemix_tui.demo``.

Songs are rendered on the fly by CPU worker processes from training seeds
(``--seed-base`` and up, 100000 by default; the held-out evaluation seeds 1..20 are never
used) into a pool kept on the training device: generator songs, and with ``--bank`` a
``--sampled-share`` of songs sequenced from SoundFont notes (``progdemix_tui.demo.sampled``);
a background thread keeps replacing pool entries with new songs. Each batch takes random segments, half of them from one song (a
coherent mix) and half with every stem from a different song ("remix"), then applies a
random gain per stem, random channel swaps and occasional silent stems. Loss: L1 on
waveforms; Adam with warm-up and cosine decay over the time budget; the exponential moving
average (EMA) of the weights is what gets saved.

``--budget`` is the whole run's wall-clock limit in seconds, from start-up to the last file
written: training stops early enough for the final evaluation, timed on the first one.
Written to ``--out``: ``demo_fp32.safetensors`` (EMA, fp32), ``demo.safetensors`` (the same
in half precision, the package's format), ``train_log.txt`` and ``eval.json`` (one-shot
SI-SDR on the held-out generator songs and, given ``--heldout-bank``, on the held-out
sampled songs; before training too when resuming).

Reproduce the shipped model's first run (on one H100, about 8 minutes; its ``--budget``
then counted training time only, today's counts the whole run)::

    python scripts/train_demo_model.py --budget 480 --out $OUT

then, where the whole package is installed, write the half-precision package weights::

    python scripts/train_demo_model.py --export $OUT/demo_fp32.safetensors

and evaluate them with ``python scripts/eval_demo_model.py``. GPU timing makes runs with the
same seeds close but not bit-identical.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import queue
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from demo_common import (  # noqa: E402
    EVAL_DURATION,
    HELD_OUT_SEEDS,
    TRAIN_SEED_BASE,
    VALID_SEEDS,
    WEIGHTS,
    build_model,
    evaluate,
    format_scores,
    score_summary,
    si_sdr,
)

from progdemix_tui.demo import generate_song  # noqa: E402
from progdemix_tui.demo.notebank import NoteBank, NoteBankError  # noqa: E402
from progdemix_tui.demo.sampled import generate_sampled_song  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="out/demo-train", help="folder for checkpoint and log")
    p.add_argument("--budget", type=float, default=450.0,
                   help="wall-clock limit of the whole run (training and evaluation), seconds")
    p.add_argument("--max-steps", type=int, default=1_000_000)
    p.add_argument("--channels", type=int, default=10, help="HDemucs base channels")
    p.add_argument("--batch", type=int, default=48)
    p.add_argument("--segment", type=float, default=4.0, help="training segment, seconds")
    p.add_argument("--song-duration", type=float, default=8.0)
    p.add_argument("--pool", type=int, default=1024, help="songs kept on the device")
    p.add_argument("--pool-start", type=int, default=256, help="songs ready before step 1")
    p.add_argument("--workers", type=int, default=max(1, (mp.cpu_count() or 2) // 2))
    p.add_argument("--refresh", type=int, default=2, help="most new songs swapped in per step")
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--remix", type=float, default=0.5, help="share of cross-song mixes")
    p.add_argument("--seed", type=int, default=0, help="torch seed (init, batches)")
    p.add_argument("--seed-base", type=int, default=TRAIN_SEED_BASE)
    p.add_argument("--log-every", type=float, default=30.0, help="seconds between log lines")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--resume", metavar="CKPT", help="start from a fp32 checkpoint's weights")
    p.add_argument("--export", metavar="CKPT",
                   help="only convert a fp32 checkpoint to the half-precision package weights")
    p.add_argument("--weights", default=str(WEIGHTS), help="where --export writes")
    p.add_argument("--bank", metavar="NPZ", help="training note bank (render_note_bank.py)")
    p.add_argument("--sampled-share", type=float, default=0.6,
                   help="share of training songs sampled from --bank")
    p.add_argument("--heldout-bank", metavar="NPZ",
                   help="held-out note bank: also evaluate on songs sampled from it")
    p.add_argument("--eval-songs", type=int, default=len(HELD_OUT_SEEDS),
                   help="held-out seeds 1..N evaluated per set (at most 20)")
    args = p.parse_args(argv)
    if args.seed_base <= 20:
        p.error("--seed-base must be above the held-out seeds 1..20")
    if not 1 <= args.eval_songs <= len(HELD_OUT_SEEDS):
        p.error(f"--eval-songs must lie in 1..{len(HELD_OUT_SEEDS)}")
    if not 0.0 <= args.sampled_share <= 1.0:
        p.error("--sampled-share must lie in 0..1")
    return args


# --------------------------------------------------------------------------- data


_BANKS: dict[str, NoteBank] = {}


def _worker_init() -> None:
    torch.set_num_threads(1)


def render_song(seed: int, duration: float, bank: str | None = None) -> np.ndarray:
    """Stems of a generator song, or of a song sampled from the note bank at ``bank``."""
    if bank is None:
        return generate_song(seed, duration).stems
    if bank not in _BANKS:
        _BANKS[bank] = NoteBank.load(bank)
    return generate_sampled_song(seed, _BANKS[bank], duration).stems


def _render(job: tuple[int, float, str | None]) -> np.ndarray:
    return render_song(*job).astype(np.float16)


def song_source(seed: int, bank: str | None, share: float) -> str | None:
    """Which training songs are sampled: a fixed draw per seed."""
    sampled = bank is not None and np.random.default_rng([seed, 0x5A]).random() < share
    return bank if sampled else None


class SongFeeder:
    """Renders training songs in worker processes; ``get`` returns one if ready."""

    def __init__(self, workers: int, first_seed: int, duration: float, backlog: int = 64,
                 bank: str | None = None, share: float = 0.0):
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = "1"  # inherited by the workers: one thread each
        self.pool = mp.get_context("spawn").Pool(workers, initializer=_worker_init)
        self.queue: queue.Queue[np.ndarray] = queue.Queue(maxsize=backlog)
        self.next_seed, self.duration, self.workers = first_seed, duration, workers
        self.bank, self.share, self.sampled = bank, share, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        pending = []
        while not self.stop.is_set():
            while len(pending) < 2 * self.workers:
                source = song_source(self.next_seed, self.bank, self.share)
                self.sampled += source is not None
                pending.append(self.pool.apply_async(
                    _render, ((self.next_seed, self.duration, source),)))
                self.next_seed += 1
            song = pending.pop(0).get()
            while not self.stop.is_set():
                try:
                    self.queue.put(song, timeout=0.5)
                    break
                except queue.Full:
                    continue

    def get(self, block: bool = False) -> np.ndarray | None:
        try:
            return self.queue.get(block=block)
        except queue.Empty:
            return None

    def close(self) -> int:
        self.stop.set()
        self.pool.terminate()
        return self.next_seed


def make_batch(pool: torch.Tensor, batch: int, length: int, remix: float,
               gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random segments ``[B, 4, 2, L]`` (augmented) and their mixtures ``[B, 2, L]``."""
    n, sources, _, total = pool.shape
    dev = pool.device

    def rand(*shape):
        return torch.rand(*shape, generator=gen, device=dev)

    coherent = rand(batch) >= remix
    idx = (rand(batch, sources) * n).long()
    idx = torch.where(coherent[:, None], idx[:, :1], idx)
    offset = (rand(batch, sources) * (total - length)).long()
    offset = torch.where(coherent[:, None], offset[:, :1], offset)
    time_idx = offset[..., None] + torch.arange(length, device=dev)
    src = torch.arange(sources, device=dev)[None, :, None]
    stems = pool.permute(0, 1, 3, 2)[idx[..., None], src, time_idx].permute(0, 1, 3, 2).float()
    gain_db = rand(batch, sources) * 15.0 - 12.0  # -12 .. +3 dB per stem
    gain = 10 ** (gain_db / 20) * (rand(batch, sources) >= 0.03)  # 3 % silent stems
    stems = stems * gain[..., None, None]
    swap = rand(batch, sources) < 0.5
    stems = torch.where(swap[..., None, None], stems.flip(2), stems)
    return stems.sum(1), stems


# --------------------------------------------------------------------------- training


def save_checkpoint(model: torch.nn.Module, path: Path, half: bool = False) -> None:
    """fp32 (or fp16) weights in demucs's safetensors format (class/args/kwargs metadata)."""
    from safetensors.torch import save_file

    args, kwargs = model._init_args_kwargs
    dtype = torch.float16 if half else torch.float32
    state = {k: v.detach().to("cpu", dtype if v.is_floating_point() else None).contiguous()
             for k, v in model.state_dict().items()}
    meta = {"klass": "demucs.hdemucs.HDemucs", "args": json.dumps(list(args)),
            "kwargs": json.dumps(kwargs)}
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp), metadata=meta)
    tmp.chmod(0o644)  # readable by everyone, like the package file it may become
    tmp.replace(path)


def export(checkpoint: str, weights: str) -> None:
    """Convert a fp32 checkpoint into the package's half-precision demo weights."""
    from demucs.hf import load_safetensors_model

    from progdemix_tui.engine.models import save_safetensors

    model = load_safetensors_model(checkpoint)
    path = save_safetensors(model, weights, half=True)
    path.chmod(0o644)  # package data: readable by everyone
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters)")


class Held:
    """Held-out evaluation sets, rendered by the song workers while training starts."""

    def __init__(self, feeder: SongFeeder, heldout_bank: str | None, songs: int):
        seeds = HELD_OUT_SEEDS[:songs]
        self.last = seeds[-1]
        jobs = {"generator": [(s, EVAL_DURATION, None) for s in seeds]}
        if heldout_bank:
            jobs["sampled_heldout"] = [(s, EVAL_DURATION, heldout_bank) for s in seeds]
        self.pending = {name: feeder.pool.map_async(render_song_job, js) for name, js in jobs.items()}
        self.sets: dict[str, np.ndarray] = {}

    def get(self) -> dict[str, np.ndarray]:
        for name, result in self.pending.items():
            if name not in self.sets:
                self.sets[name] = np.stack(result.get())
        return self.sets

    def describe(self, name: str) -> str:
        what = {"generator": "generator songs",
                "sampled_heldout": "songs sampled from the held-out note bank"}[name]
        return f"held-out seeds 1..{self.last} ({what}), 6 s each, one-shot apply_model SI-SDR"


def render_song_job(job: tuple[int, float, str | None]) -> np.ndarray:
    return render_song(*job)


def validation_sets(bank: str | None, dev: torch.device) -> dict[str, torch.Tensor]:
    """The monitoring songs (generator, and sampled from ``bank``), 6 s each, on ``dev``."""
    sets = {"generator": np.stack([generate_song(s, 6.0).stems for s in VALID_SEEDS])}
    if bank:
        sets["sampled"] = np.stack([render_song(s, 6.0, bank) for s in VALID_SEEDS])
    return {name: torch.from_numpy(v).to(dev) for name, v in sets.items()}


def evaluate_all(model: torch.nn.Module, sets: dict[str, np.ndarray], device: str):
    """SI-SDR summaries per evaluation set, and the seconds it took."""
    start = time.time()
    scores = {name: evaluate(model, stems, device=device) for name, stems in sets.items()}
    return scores, time.time() - start


def train(args: argparse.Namespace) -> None:
    t_start = time.time()
    deadline = t_start + args.budget
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log_file = open(out / "train_log.txt", "a", buffering=1)  # noqa: SIM115

    def log(msg: str) -> None:
        print(msg, flush=True)
        log_file.write(msg + "\n")

    # songs waiting beyond what the pool can take in are rendered for nothing
    feeder = SongFeeder(args.workers, args.seed_base, args.song_duration,
                        backlog=min(64, args.pool), bank=args.bank, share=args.sampled_share)
    held = Held(feeder, args.heldout_bank, args.eval_songs)
    torch.manual_seed(args.seed)
    dev = torch.device(args.device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    model = build_model(channels=args.channels).to(dev)
    if args.resume:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(args.resume))  # fp16 package weights are cast to fp32
    ema = build_model(channels=args.channels).to(dev)
    ema.load_state_dict(model.state_dict())
    params = sum(p.numel() for p in model.parameters())
    log(f"args {json.dumps(vars(args))}")
    log(f"device {dev} {torch.cuda.get_device_name(dev) if dev.type == 'cuda' else ''} "
        f"torch {torch.__version__}; model {params / 1e6:.2f} M parameters")
    report: dict = {"args": vars(args), "device": str(dev), "budget_s": args.budget}

    # Evaluate the starting weights when resuming (else time the evaluation on two songs):
    # the final evaluation's cost decides when training must stop.
    sets = held.get()
    songs = sum(len(v) for v in sets.values())
    if args.resume:
        scores, eval_s = evaluate_all(ema, sets, str(dev))
        for name, sc in scores.items():
            log(f"before training, {held.describe(name)}:\n" + format_scores(sc))
        report["before"] = {name: score_summary(sc) for name, sc in scores.items()}
        report["before"]["weights"] = args.resume
    else:
        probe = {name: v[:2] for name, v in sets.items()}
        evaluate_all(ema, probe, str(dev))  # warm-up
        _, probe_s = evaluate_all(ema, probe, str(dev))
        eval_s = probe_s * songs / (2 * len(probe))
    reserve = 1.5 * eval_s + 10.0  # final evaluation, checkpoint and export
    train_end = deadline - reserve
    log(f"{songs} held-out songs evaluated in {eval_s:.1f} s; training stops "
        f"{reserve:.0f} s before the {args.budget:g} s budget")

    samples = int(args.song_duration * 44100)
    pool = torch.empty(args.pool, 4, 2, samples, dtype=torch.float16, device=dev)
    filled = 0
    fill_until = time.time() + 0.15 * max(0.0, train_end - time.time())
    while filled < min(args.pool_start, args.pool) and (filled < 2 or time.time() < fill_until):
        pool[filled] = torch.from_numpy(feeder.get(block=True))
        filled += 1
    log(f"{filled} songs ready after {time.time() - t_start:.1f} s (pool fills up to {args.pool})")
    valid: dict[str, torch.Tensor] = {}  # rendered at the first log line (none, if no log)

    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator(device=dev).manual_seed(args.seed)
    length = int(args.segment * 44100)
    t0 = time.time()
    span = max(1e-3, train_end - t0)
    last_log, step, slot, swapped, losses = t0, 0, 0, 0, []
    step_start, step_s = t0, 0.0
    while step < args.max_steps:
        now = time.time()
        step_s, step_start = (now - step_start if step else 0.0), now
        frac = (now - t0) / span
        if frac >= 1.0 or now + step_s >= train_end:  # the next step would end too late
            break
        lr = args.lr * min(1.0, (step + 1) / args.warmup) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for group in opt.param_groups:
            group["lr"] = lr
        for _ in range(args.refresh):
            song = feeder.get()
            if song is None:
                break
            if filled < args.pool:  # grow the pool first, then replace the oldest songs
                pool[filled] = torch.from_numpy(song).to(dev)
                filled += 1
            else:
                pool[slot] = torch.from_numpy(song).to(dev)
                slot = (slot + 1) % args.pool
            swapped += 1
        mix, stems = make_batch(pool[:filled], args.batch, length, args.remix, gen)
        est = model(mix)
        loss = torch.nn.functional.l1_loss(est, stems)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        with torch.no_grad():
            decay = min(args.ema, (1 + step) / (10 + step))
            torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1 - decay)
            for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
                b_ema.copy_(b)
        losses.append(loss.detach())
        step += 1
        if time.time() - last_log >= args.log_every:
            last_log = time.time()
            parts = []
            if not valid:
                valid = validation_sets(args.bank, dev)
            with torch.no_grad():
                ema.eval()
                for name, v in valid.items():
                    sc = si_sdr(ema(v.sum(1)), v).mean(-1).mean(0).cpu().numpy()
                    parts.append(f"{name} {' '.join(f'{x:5.2f}' for x in sc)}")
            mean_loss = torch.stack(losses).mean().item()
            losses.clear()
            log(f"t {last_log - t0:6.0f} s  step {step:6d}  lr {lr:.2e}  loss {mean_loss:.4f}  "
                f"valid SI-SDR d/b/o/v {'  '.join(parts)}  songs seen {filled + swapped}")
            save_checkpoint(ema, out / "demo_fp32.safetensors")
    sampled, last_seed = feeder.sampled, feeder.close()
    train_s = time.time() - t0
    log(f"trained {step} steps in {train_s:.0f} s ({step / max(train_s, 1e-9):.2f} steps/s); "
        f"training seeds {args.seed_base}..{last_seed - 1} ({sampled} of them sampled from "
        f"{args.bank or 'no bank'}; held-out 1..20 unused)")
    report.update(steps=step, train_s=round(train_s, 1), seeds=[args.seed_base, last_seed - 1])
    save_checkpoint(ema, out / "demo_fp32.safetensors")
    save_checkpoint(ema, out / "demo.safetensors", half=True)
    ema.half().float()  # score what the fp16 package file holds
    scores, eval_s = evaluate_all(ema, sets, str(dev))
    for name, sc in scores.items():
        log(f"{held.describe(name)} (EMA, fp16-rounded):\n" + format_scores(sc))
    report["after"] = {name: score_summary(sc) for name, sc in scores.items()}
    report["total_s"] = round(time.time() - t_start, 1)
    tmp = out / "eval.json.tmp"
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    tmp.replace(out / "eval.json")
    log(f"final evaluation {eval_s:.1f} s; total {time.time() - t_start:.0f} s "
        f"of the {args.budget:g} s budget")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.export:
        export(args.export, args.weights)
        return 0
    for flag in ("bank", "heldout_bank", "resume"):
        path = getattr(args, flag)
        if path is not None and not Path(path).is_file():
            hint = "a checkpoint" if flag == "resume" else "scripts/render_note_bank.py writes it"
            print(f"error: --{flag.replace('_', '-')} {path}: no such file ({hint})",
                  file=sys.stderr)
            return 2
    for flag in ("bank", "heldout_bank"):
        try:
            if getattr(args, flag):
                NoteBank.load(getattr(args, flag))
        except NoteBankError as exc:
            print(f"error: --{flag.replace('_', '-')}: {exc}", file=sys.stderr)
            return 2
    train(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
