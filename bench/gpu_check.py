"""On a GPU: `python bench/gpu_check.py --out DIR` (≤ 6 min; `--device cpu --quick` checks the script on a CPU).

Every check of the CUDA path, from a fresh machine with the package's wheels installed (no
PortAudio, ffmpeg or tmux needed), each printed PASS/FAIL/SKIP with a reason as it finishes;
one failing check does not stop the others:

- ``imports``: the CLI and the TUI import without PortAudio (sounddevice is lazy);
- ``cli_<device>_<precision>``: ``progdemix-tui run`` through the CLI (a subprocess) on a demo
  song with its stems, in fp32, bf16, fp16 and auto, and with ``--batch-chunks 1``, each
  step's SI-SDR (every stem at step 0, the target after) equal to the CPU fp32 run's within
  the precision's tolerance (:data:`TOLERANCE_DB`); ``cli_<device>_study``: the same for
  ``--preset study``;
- ``step0_cache``: a second run is a step-0 cache hit (same step 0, much faster);
- ``tui_worker``: the TUI's run worker on the device (Textual's headless Pilot);
- ``quality``: the demo model's per-stem SI-SDR on a demo song in each precision, one chunk
  and batched chunks per forward, against fp32 one at a time (goal: within 0.1 dB);
- ``speed_<arch>``: a real-size HDemucs and HTDemucs (random weights) on a 3-minute stereo
  input: demucs's own ``apply_model`` fp32 (the anchor) against one progressive step of the
  tool per precision, with and without batched chunks, and the step-0 cache hit; ratios to
  the anchor (goal on a GPU: the best ≤ 0.3);
- ``oom_retry_batch`` / ``oom_retry_segment``: under a memory cap
  (``torch.cuda.set_per_process_memory_fraction``) the separator halves its batch of
  chunks, then its segment, and still separates (CUDA only).

Writes ``summary.json`` and ``summary.txt`` under ``--out`` after every check (a timeout
keeps what finished) and exits 1 if any check failed.

    python bench/gpu_check.py --out DIR [--device cuda] [--quick] [--seconds 180]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this tree's package, also in the CLI subprocesses

import torch  # noqa: E402

STEMS = ("drums", "bass", "other", "vocals")
PRECISIONS = ("fp32", "bf16", "fp16", "auto")
TOLERANCE_DB = {"fp32": 0.1, "bf16": 0.25, "fp16": 0.1}
"""How far a step's SI-SDR may be from the CPU fp32 run's, per precision (dB). fp32 on CUDA
differs by TF32 convolutions and another summation order; bf16 keeps 8 bits of mantissa
(measured on this CPU: see bench/RESULTS.md)."""
BATCH_TOLERANCE_DB = {"cpu": 0.001, "cuda": 0.01}
"""Batched chunks against one chunk per forward, same device and precision (dB). CUDA's
fp32 convolutions use TF32 by default (torch's ``cudnn.allow_tf32``) with algorithms chosen
by shape, so a batch may round differently there."""
BUDGET_SECONDS = 330.0
"""Checks that would start later than this are skipped (the whole run: ≤ 6 minutes)."""
QUALITY_GOAL_DB = 0.1
SPEED_GOAL = 0.3
SUBPROCESS_TIMEOUT = 240


@dataclass
class Check:
    name: str
    status: str  # PASS, FAIL or SKIP
    reason: str
    seconds: float
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Sizes:
    """How big each part is: ``quick`` for a CPU, the full run for a GPU."""

    song_seconds: float
    steps: int
    speed_seconds: float
    rounds: int
    real_size: bool
    quality_seconds: float


class Runner:
    """Runs checks one after another, prints each and rewrites the summary after each."""

    def __init__(self, out: Path, meta: dict[str, Any],
                 budget: float = float("inf")) -> None:
        self.out = out
        self.meta = meta
        self.checks: list[Check] = []
        self.budget = budget
        self.started = time.perf_counter()

    def run(self, name: str, body: Callable[[], tuple[str, str, dict[str, Any]]]) -> Check:
        start = time.perf_counter()
        try:
            if start - self.started > self.budget:
                status, reason, data = "SKIP", (f"the time budget ({self.budget:.0f} s) is "
                                                "spent"), {}
            else:
                status, reason, data = body()
        except Exception as exc:  # noqa: BLE001 - a check's failure must not stop the rest
            lines = traceback.format_exception(exc)
            status, reason, data = "FAIL", f"{type(exc).__name__}: {exc}".splitlines()[0][:300], \
                {"traceback": "".join(lines)[-4000:]}
        check = Check(name, status, reason, round(time.perf_counter() - start, 2), data)
        self.checks.append(check)
        print(f"[{check.status}] {name} ({check.seconds:.1f} s): {reason}", flush=True)
        self.write()
        return check

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "FAIL"]

    def write(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        doc = {"meta": self.meta, "checks": [asdict(c) for c in self.checks],
               "failed": [c.name for c in self.failed]}
        (self.out / "summary.json").write_text(json.dumps(doc, indent=2, default=str))
        lines = [f"{k}: {v}" for k, v in self.meta.items()]
        lines += [f"[{c.status}] {c.name} ({c.seconds:.1f} s): {c.reason}" for c in self.checks]
        for c in self.checks:
            table = c.data.get("table")
            if table:
                lines += ["", f"{c.name}:", *table]
        (self.out / "summary.txt").write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- helpers


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cpu_flags() -> list[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = line.partition(":")[2].split()
                return sorted(f for f in flags if "bf16" in f or f.startswith("amx")
                              or f in ("avx2", "avx512f"))
    except OSError:
        pass
    return []


def env_for(work: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.setdefault("HF_HUB_OFFLINE", "1")
    env["PROGDEMIX_CACHE_DIR"] = str(work / "cache")
    env["PROGDEMIX_TUI_CONFIG_DIR"] = str(work / "config")
    return env


def cli_run(work: Path, name: str, track: Path, args: list[str],
            env: dict[str, str]) -> tuple[int, list[dict], dict, str]:
    """``python -m progdemix_tui run`` → (exit code, per-step metrics, manifest, stderr)."""
    folder = work / "sessions" / name
    cmd = [sys.executable, "-m", "progdemix_tui", "run", str(track), "--model", "demo",
           "--out", str(folder), "--overwrite", "--json", "-q", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          timeout=SUBPROCESS_TIMEOUT, check=False)
    metrics = json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else []
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    return proc.returncode, metrics, manifest, proc.stderr.strip()


def compared(metrics: list[dict], reference: list[dict], target: str = "vocals") -> float:
    """The largest SI-SDR difference (dB): every stem at step 0, the target after (the
    other stems at step n > 0 separate y_n, not the song)."""
    if len(metrics) != len(reference):
        raise AssertionError(f"{len(metrics)} steps against the reference's {len(reference)}")
    worst = 0.0
    for ours, theirs in zip(metrics, reference, strict=True):
        stems = STEMS if ours["step"] == 0 else (target,)
        for stem in stems:
            worst = max(worst, abs(ours["si_sdr"][stem] - theirs["si_sdr"][stem]))
    return worst


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Per-stem SI-SDR (dB) of ``[S, C, T]`` tensors, per channel then averaged (zero_mean
    False, as the tool's metric)."""
    est, ref = estimate.double(), reference.double()
    alpha = (est * ref).sum(-1, keepdim=True) / (ref * ref).sum(-1, keepdim=True).clamp_min(1e-12)
    target = alpha * ref
    noise = est - target
    ratio = (target * target).sum(-1) / (noise * noise).sum(-1).clamp_min(1e-12)
    return (10 * torch.log10(ratio.clamp_min(1e-12))).mean(-1)


def timed(device: torch.device, fn: Callable[[], Any], rounds: int) -> float:
    """Median seconds of ``rounds`` calls of ``fn`` after one warm-up call."""
    fn()
    times = []
    for _ in range(rounds):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --------------------------------------------------------------------------- checks


def check_imports(env: dict[str, str]) -> tuple[str, str, dict]:
    code = ("import sys; sys.modules['sounddevice'] = None\n"
            "import progdemix_tui.cli, progdemix_tui.engine.job, progdemix_tui.tui.app\n"
            "print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=SUBPROCESS_TIMEOUT, check=False)
    if proc.returncode != 0 or "ok" not in proc.stdout:
        return "FAIL", f"import failed without sounddevice: {proc.stderr.strip()[-300:]}", {}
    return "PASS", "the CLI, engine and TUI import without sounddevice/PortAudio", {}


def cli_checks(runner: Runner, work: Path, track: Path, device: str, sizes: Sizes,
               env: dict[str, str]) -> None:
    """Every precision, --batch-chunks 1 and the study preset against CPU fp32."""
    common = ["--steps", str(sizes.steps), "--no-cache"]
    refs: dict[str, list[dict]] = {}

    def reference(name: str, extra: list[str]) -> tuple[str, str, dict]:
        code, metrics, _manifest, err = cli_run(work, f"cpu-{name}", track,
                                                [*common, "--device", "cpu", *extra], env)
        if code != 0:
            return "FAIL", f"exit {code}: {err[-300:]}", {}
        refs[name] = metrics
        return "PASS", f"{len(metrics)} steps, step 0 SI-SDR " + ", ".join(
            f"{s} {metrics[0]['si_sdr'][s]:.2f}" for s in STEMS), {"metrics": metrics}

    runner.run("cli_cpu_fp32_reference", lambda: reference("fp32", ["--precision", "fp32"]))
    runner.run("cli_cpu_study_reference", lambda: reference("study", ["--preset", "study"]))

    def one(label: str, extra: list[str], against: str) -> tuple[str, str, dict]:
        code, metrics, manifest, err = cli_run(work, f"{device}-{label}", track,
                                               [*common, "--device", device, *extra], env)
        if label == "fp16" and device == "cpu":
            if code == 2 and len(err.splitlines()) == 1 and "CUDA" in err:
                return "PASS", f"refused on the CPU as it should be: {err}", {}
            return "FAIL", f"fp16 on the CPU: exit {code}, {err[-300:]}", {}
        if code != 0:
            return "FAIL", f"exit {code}: {err[-300:]}", {}
        if against not in refs:
            return "FAIL", "no CPU reference to compare with", {}
        model = manifest.get("model", {})
        precision = model.get("precision", "?")
        ran_on = str(manifest.get("device", "?"))
        tolerance = TOLERANCE_DB.get(precision, 0.1)
        worst = compared(metrics, refs[against])
        data = {"precision": precision, "device": ran_on, "max_delta_db": worst,
                "batch_chunks": model.get("batch_chunks"), "metrics": metrics,
                "step_seconds": [m["seconds"] for m in metrics]}
        where = device.split(":")[0]
        if not ran_on.startswith(where):
            return "FAIL", f"ran on {ran_on}, not {device}", data
        status = "PASS" if worst <= tolerance else "FAIL"
        return status, (f"{precision} on {ran_on}, batch_chunks {model.get('batch_chunks')}: "
                        f"max SI-SDR difference to CPU fp32 {worst:.4f} dB "
                        f"(tolerance {tolerance:g})"), data

    for precision in PRECISIONS:
        runner.run(f"cli_{device}_{precision}",
                   lambda p=precision: one(p, ["--precision", p], "fp32"))
    runner.run(f"cli_{device}_batch_chunks",
               lambda: cli_batch(work, track, device, [*common, "--device", device], env))
    runner.run(f"cli_{device}_study", lambda: one("study", ["--preset", "study"], "study"))


def cli_batch(work: Path, track: Path, device: str, common: list[str],
              env: dict[str, str]) -> tuple[str, str, dict]:
    """``--batch-chunks 1`` against 4, 1 s segments (several chunks even in --quick)."""
    runs = {}
    for batch in (1, 4):
        code, metrics, manifest, err = cli_run(
            work, f"{device}-batch{batch}", track,
            [*common, "--precision", "fp32", "--segment", "1", "--batch-chunks", str(batch)],
            env)
        if code != 0:
            return "FAIL", f"--batch-chunks {batch}: exit {code}: {err[-300:]}", {}
        if manifest.get("model", {}).get("batch_chunks") != batch:
            return "FAIL", f"the manifest records {manifest.get('model')}", {}
        runs[batch] = metrics
    worst = compared(runs[4], runs[1])
    tolerance = BATCH_TOLERANCE_DB["cuda" if device.startswith("cuda") else "cpu"]
    ok = worst <= tolerance
    return ("PASS" if ok else "FAIL"), (
        f"fp32, 1 s segments: --batch-chunks 4 against 1: max SI-SDR difference {worst:.6f} "
        f"dB (tolerance {tolerance:g}); step seconds "
        f"{[round(m['seconds'], 3) for m in runs[1]]} → "
        f"{[round(m['seconds'], 3) for m in runs[4]]}"), {"metrics": runs}


def check_cache(work: Path, track: Path, device: str, sizes: Sizes,
                env: dict[str, str]) -> tuple[str, str, dict]:
    args = ["--steps", "1", "--device", device, "--precision", "fp32"]
    env = dict(env, PROGDEMIX_CACHE_DIR=str(work / "cache-check"))
    runs = []
    for name in ("cache-miss", "cache-hit"):
        code, metrics, _manifest, err = cli_run(work, name, track, args, env)
        if code != 0:
            return "FAIL", f"{name}: exit {code}: {err[-300:]}", {}
        runs.append(metrics)
    miss, hit = runs[0][0], runs[1][0]
    same = all(miss["si_sdr"][s] == hit["si_sdr"][s] for s in STEMS)
    data = {"miss_seconds": miss["seconds"], "hit_seconds": hit["seconds"], "same": same}
    ok = same and hit["seconds"] < 0.5 * miss["seconds"]
    return ("PASS" if ok else "FAIL"), (
        f"step 0 {miss['seconds']:.3f} s cold, {hit['seconds']:.3f} s from the cache, "
        f"SI-SDR {'identical' if same else 'DIFFERENT'}"), data


def check_tui(work: Path, track: Path, device: str, sizes: Sizes) -> tuple[str, str, dict]:
    os.environ["PROGDEMIX_TUI_CONFIG_DIR"] = str(work / "tui-config")
    from progdemix_tui.engine import open_session
    from progdemix_tui.tui.app import ProgdemixApp
    from progdemix_tui.tui.audition import NullBackend
    from progdemix_tui.tui.settings import Settings

    sessions = work / "tui-sessions"
    settings = Settings.load()
    settings.params.update({"model": "demo", "model_path": "", "device": device,
                            "steps": str(sizes.steps), "duration": str(sizes.song_seconds),
                            "out": str(sessions), "precision": "auto"})
    app = ProgdemixApp(track, settings=settings, torch_threads=None, save_settings=False,
                       backend=NullBackend("no audio device"))

    def finished() -> bool:
        found = [p for p in sessions.glob("*/manifest.json")]
        if not found or app.run_view.running:
            return False
        return json.loads(found[0].read_text()).get("status") in ("complete", "failed",
                                                                   "cancelled")

    async def drive() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause(0.2)
            await pilot.press("r")
            deadline = time.monotonic() + SUBPROCESS_TIMEOUT
            while not finished():
                if time.monotonic() > deadline:
                    raise TimeoutError("the TUI's run did not finish")
                await pilot.pause(0.1)

    asyncio.run(drive())
    folder = next(sessions.glob("*/manifest.json")).parent
    session = open_session(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    ran_on = str(manifest.get("device"))
    data = {"status": session.status, "device": ran_on, "steps": len(session.steps),
            "precision": manifest.get("model", {}).get("precision")}
    ok = (session.status == "complete" and len(session.steps) == sizes.steps + 1
          and ran_on.startswith(device.split(":")[0]))
    return ("PASS" if ok else "FAIL"), (
        f"session {session.status} with {len(session.steps)} steps on {ran_on} "
        f"({data['precision']})"), data


def make_separator(module: torch.nn.Module, device: str, precision: str, batch: int,
                   segment: float | None = None, cache: Path | None = None) -> Any:
    from progdemix_tui.engine import SeparatorConfig
    from progdemix_tui.engine.models import _wrap
    from progdemix_tui.engine.separator import Separator
    from progdemix_tui.engine.step0_cache import Step0Cache

    config = SeparatorConfig(device=device, precision=precision,  # type: ignore[arg-type]
                             batch_chunks=batch, cache=False, segment=segment)
    sep = Separator.from_config(config, model=_wrap("check", module, "gpu_check"))
    if cache is not None:
        sep.step0_cache = Step0Cache(cache)
    return sep


def precisions_on(device: str) -> list[str]:
    return ["fp32", "bf16", "fp16"] if device.startswith("cuda") else ["fp32", "bf16"]


def batches_on(device: str) -> tuple[int, int]:
    """One chunk per forward, and batched: the device's own choice (0) on CUDA, 4 on a CPU
    (whose own choice is 1)."""
    return (1, 0) if device.startswith("cuda") else (1, 4)


def check_quality(device: str, sizes: Sizes) -> tuple[str, str, dict]:
    """The demo model on a demo song: per-stem SI-SDR in each precision and batch."""
    from progdemix_tui.demo.songs import generate_song
    from progdemix_tui.engine.models import load_model

    song = generate_song(7, sizes.quality_seconds)
    stems = torch.from_numpy(song.stems)
    mix = stems.sum(0)
    module = load_model("demo").module
    rows, table, worst = {}, [], 0.0
    base = None
    for precision in precisions_on(device):
        for batch in batches_on(device):
            sep = make_separator(module, device, precision, batch, segment=1.0 if
                                 sizes.quality_seconds < 10 else None)
            out = sep.separate(mix).cpu()
            scores = si_sdr(out, stems)
            if base is None:
                base = scores
            delta = (scores - base).abs().max().item()
            key = f"{precision} batch {sep.batch_chunks}"
            rows[key] = {"si_sdr": dict(zip(STEMS, scores.tolist(), strict=True)),
                         "max_delta_db": delta}
            if not (precision == "fp32" and batch == 1):
                worst = max(worst, delta)
            table.append(f"  {key:16s} " + " ".join(f"{s} {v:6.2f}" for s, v in
                                                   zip(STEMS, scores.tolist(), strict=True))
                         + f"   max delta {delta:.4f} dB")
    ok = worst <= QUALITY_GOAL_DB
    return ("PASS" if ok else "FAIL"), (
        f"largest per-stem SI-SDR change against fp32 one chunk at a time: {worst:.4f} dB "
        f"(goal {QUALITY_GOAL_DB})"), {"rows": rows, "table": table}


def build_arch(arch: str, real_size: bool) -> torch.nn.Module:
    from demucs.hdemucs import HDemucs
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(0)
    if arch == "hdemucs":
        return HDemucs(sources=list(STEMS), channels=48 if real_size else 4).eval()
    if real_size:
        return HTDemucs(sources=list(STEMS)).eval()
    return HTDemucs(sources=list(STEMS), channels=8, depth=4, t_layers=1, bottom_channels=0,
                    segment=1).eval()


def check_speed(arch: str, device: str, sizes: Sizes, work: Path) -> tuple[str, str, dict]:
    """The anchor against one progressive step per precision and batch, and a cache hit."""
    from demucs.apply import apply_model

    from progdemix_tui.engine import RunConfig
    from progdemix_tui.engine.progressive import iterate

    dev = torch.device(device)
    module = build_arch(arch, sizes.real_size)
    generator = torch.Generator().manual_seed(1)
    frames = int(sizes.speed_seconds * 44100)
    mixture = 0.1 * torch.randn(2, frames, generator=generator)
    refs = 0.05 * torch.randn(len(STEMS), 2, frames, generator=generator)
    segment = min(10.0 if sizes.real_size else 1.0, float(getattr(module, "segment", 10.0)))
    mix_dev = mixture.to(dev)
    module.to(dev)

    def anchor() -> torch.Tensor:
        ref = mix_dev.mean(0)
        mean, std = ref.mean(), ref.std()
        with torch.no_grad():
            out = apply_model(module, ((mix_dev - mean) / std)[None], shifts=0, split=True,
                              overlap=0.25, segment=segment, device=dev)[0]
        return out * std + mean / len(STEMS)

    base = timed(dev, anchor, sizes.rounds)
    rows: dict[str, dict[str, float]] = {"apply_model fp32 (anchor)": {"seconds": base,
                                                                       "ratio": 1.0}}
    best = float("inf")
    for precision in precisions_on(device):
        for batch in batches_on(device):
            sep = make_separator(module, device, precision, batch, segment=segment)
            config = RunConfig(steps=sizes.rounds)
            loop = iterate(sep, mixture, config, refs)
            next(loop)  # step 0: the same separation, the warm-up
            times = []
            for _ in range(sizes.rounds):
                sync(dev)
                start = time.perf_counter()
                next(loop)
                sync(dev)
                times.append(time.perf_counter() - start)

            seconds = statistics.median(times)
            key = f"step {precision} batch {sep.batch_chunks}"
            rows[key] = {"seconds": seconds, "ratio": seconds / base}
            best = min(best, seconds / base)
            del sep, loop
            if dev.type == "cuda":
                torch.cuda.empty_cache()
    cached = make_separator(module, device, "fp32", 0, segment=segment, cache=work / f"c-{arch}")
    cached.separate_step0(mixture)  # a miss: stores it
    hit = timed(dev, lambda: cached.separate_step0(mixture), sizes.rounds)
    rows["step-0 cache hit"] = {"seconds": hit, "ratio": hit / base}
    module.cpu()
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    table = [f"  {key:28s} {row['seconds'] * 1000:9.1f} ms  {row['ratio']:6.3f}x"
             for key, row in rows.items()]
    what = (f"{arch} {'real-size' if sizes.real_size else 'tiny'}, {sizes.speed_seconds:g} s "
            f"stereo, anchor {base * 1000:.0f} ms, best step {best:.3f}x the anchor")
    data = {"rows": rows, "table": table, "best_ratio": best}
    if dev.type != "cuda":
        return "PASS", what + " (figures only off CUDA)", data
    return ("PASS" if best <= SPEED_GOAL else "FAIL"), what + f" (goal ≤ {SPEED_GOAL})", data


def check_oom(device: str, batch: int, segment: float, seconds: float) -> tuple[str, str, dict]:
    """Separate under a memory cap: the batch halves, then the segment; the output is
    checked against the same separation without the cap.

    The cap is calibrated: the memory in use plus 2.5× what one 10 s chunk at a time
    adds on this input, so ``batch`` chunks of 10 s, or one ``segment``-long chunk, do not
    fit and two 10 s chunks do."""
    if not device.startswith("cuda"):
        return "SKIP", "CUDA only (a memory cap needs torch.cuda)", {}
    dev = torch.device(device)
    module = build_arch("hdemucs", True)
    mix = 0.1 * torch.randn(1, 2, int(seconds * 44100), generator=torch.Generator().manual_seed(2))
    torch.cuda.empty_cache()
    probe = make_separator(module, device, "fp32", 1, segment=10.0)
    sync(dev)
    base = torch.cuda.memory_allocated(dev)
    torch.cuda.reset_peak_memory_stats(dev)
    probe.separate(mix)
    sync(dev)
    peak = torch.cuda.max_memory_allocated(dev)
    del probe
    torch.cuda.empty_cache()
    cap = int(base + 2.5 * (peak - base))
    total = torch.cuda.get_device_properties(dev).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, cap / total), dev)
    try:
        sep = make_separator(module, device, "fp32", batch, segment=segment)
        out = sep.separate(mix)
        notes = list(sep.notes)
        ran = (sep.batch_chunks, sep.segment)
        del sep
    finally:
        torch.cuda.empty_cache()
        torch.cuda.set_per_process_memory_fraction(1.0, dev)
    free_sep = make_separator(module, device, "fp32", ran[0], segment=ran[1])
    again = free_sep.separate(mix)
    difference = (out - again).abs().max().item()
    data = {"notes": notes, "batch_chunks": ran[0], "segment": ran[1], "cap_bytes": cap,
            "base_bytes": base, "peak_one_chunk_bytes": peak,
            "max_abs_difference": difference}
    retried = any("out of memory" in note for note in notes)
    ok = retried and difference < 1e-3 and bool(torch.isfinite(out).all())
    del out, again, free_sep
    module.cpu()
    torch.cuda.empty_cache()
    return ("PASS" if ok else "FAIL"), (
        f"cap {cap / 2**30:.2f} GiB: batch {batch} → {ran[0]}, segment {segment:g} → "
        f"{ran[1]:.2f} s, notes {notes}, max |difference| to uncapped {difference:.2e}"), data


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where the summary goes")
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--quick", action="store_true",
                        help="tiny models and seconds of audio (checks the script on a CPU)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="the speed input's length (default 180, --quick 2)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="timed rounds after a warm-up (default 3, --quick 1)")
    parser.add_argument("--budget", type=float, default=BUDGET_SECONDS,
                        help="skip checks that would start after this many seconds "
                             "(default %(default)g)")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("gpu_check: CUDA is not available here; use --device cpu --quick.",
              file=sys.stderr)
        return 2
    sizes = (Sizes(2.0, 1, 2.0, 1, False, 2.0) if args.quick
             else Sizes(15.0, 2, 180.0, 3, True, 30.0))
    if args.seconds is not None:
        sizes.speed_seconds = args.seconds
    if args.rounds is not None:
        sizes.rounds = args.rounds
    device = args.device
    from progdemix_tui.engine.threads import torch_threads, use_threads

    threads = torch_threads()  # the thread policy, as a run: on a busy CPU torch's default
    use_threads(threads)  # (every core) made the tiny models' timings swing 1-100x
    meta: dict[str, Any] = {
        "device": device, "quick": args.quick, "python": platform.python_version(),
        "torch": torch.__version__, "torch_threads": threads,
        "cpu_flags": " ".join(cpu_flags()) or "?",
        "gpu": torch.cuda.get_device_name(torch.device(device)) if device.startswith("cuda")
        else "-", "sizes": asdict(sizes),
    }
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        meta.update({"cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
                     "gpu_memory_gib": round(props.total_memory / 2**30, 1),
                     "tf32_convolutions": torch.backends.cudnn.allow_tf32,
                     "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
                     "bf16_supported": torch.cuda.is_bf16_supported()})
    print("gpu_check: " + ", ".join(f"{k} {v}" for k, v in meta.items()), flush=True)
    runner = Runner(args.out, meta, args.budget)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        work = Path(tmp)
        env = env_for(work)
        os.environ["PROGDEMIX_CACHE_DIR"] = str(work / "cache")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from progdemix_tui.demo.songs import generate_song, write_song

        track = work / "track"
        write_song(generate_song(3, sizes.song_seconds), track)
        runner.run("imports", lambda: check_imports(env))
        cli_checks(runner, work, track, device, sizes, env)
        runner.run("step0_cache", lambda: check_cache(work, track, device, sizes, env))
        runner.run("tui_worker", lambda: check_tui(work, track, device, sizes))
        runner.run("quality", lambda: check_quality(device, sizes))
        for arch in ("hdemucs", "htdemucs"):
            runner.run(f"speed_{arch}", lambda a=arch: check_speed(a, device, sizes, work))
        runner.run("oom_retry_batch", lambda: check_oom(device, 8, 10.0, 80.0))
        runner.run("oom_retry_segment", lambda: check_oom(device, 1, 120.0, 120.0))
    runner.meta["seconds"] = round(time.perf_counter() - started, 1)
    runner.write()
    failed = runner.failed
    print(f"gpu_check: {len(runner.checks)} checks, {len(failed)} failed"
          + (f" ({', '.join(c.name for c in failed)})" if failed else "")
          + f", {runner.meta['seconds']:.0f} s; summary in {args.out}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
