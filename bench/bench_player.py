"""Player latency: play() -> first audio callback, and A/B switch request -> switch rendered.

Runs the player through the real PortAudio/ALSA stack into the ALSA file sink, paced at real
time (see tests/support/filesink.py), in a child process, and reports each latency in
ms and in audio blocks, next to PortAudio's output latency (the buffered audio between a
rendered block and the speaker). Results are written to bench/RESULTS.md, "## Player latency".

    python bench/bench_player.py [--blocksize 512] [--switches 60] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
HEADING = "## Player latency"


def child(blocksize: int, switches: int, starts: int) -> None:
    from progdemix_tui.playback import Player

    sr = 44100
    t = np.arange(20 * sr) / sr
    p = Player(sr, blocksize=blocksize)
    p.add("A", np.stack([0.3 * np.sin(2 * np.pi * 440 * t)] * 2), sr)
    p.add("B", np.stack([0.3 * np.sin(2 * np.pi * 660 * t)] * 2), sr)
    p.set_ab("A", "B")
    p.set_loop(0.0, 19.0)
    rng = random.Random(0)
    for _ in range(starts):  # cold: the stream is started by play()
        p.play()
        time.sleep(0.1)
        p.stop()
    for _ in range(starts):  # warm: resume while the stream runs
        p.pause()
        time.sleep(0.05)
        p.play()
        time.sleep(0.05)
    for _ in range(switches):
        time.sleep(rng.uniform(0.02, 0.08))  # request at a random point inside a block
        p.toggle_ab()
    time.sleep(0.1)
    st = p.state
    events = p.events()
    p.close()
    play = [e for e in events if e.kind == "play"]
    print(json.dumps({
        "cold": [e.t_render - e.t_request for e in play[:starts]],
        "warm": [e.t_render - e.t_request for e in play[starts:]],
        "switch": [e.t_render - e.t_request for e in events if e.kind == "select"],
        "latency": st.latency, "rate": st.stream_samplerate, "underruns": st.underruns,
    }))


def summarise(name: str, values: list[float], block_ms: float, latency_ms: float) -> list[str]:
    ms = np.array(values) * 1000
    med, p95, worst = np.median(ms), np.percentile(ms, 95), ms.max()
    return [name, f"{med:.2f}", f"{p95:.2f}", f"{worst:.2f}", f"{med / block_ms:.2f}",
            f"{p95 / block_ms:.2f}", f"{med + latency_ms:.1f}", str(len(ms))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocksize", type=int, default=512)
    ap.add_argument("--switches", type=int, default=60)
    ap.add_argument("--starts", type=int, default=10)
    ap.add_argument("--no-write", action="store_true", help="do not touch bench/RESULTS.md")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.blocksize, args.switches, args.starts)
        return

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # test tooling
    from support.filesink import sink_env, write_asoundrc

    with tempfile.TemporaryDirectory() as tmp:
        write_asoundrc(Path(tmp) / "home", Path(tmp) / "out.raw", speed=1.0)
        proc = subprocess.run(
            [sys.executable, __file__, "--child", "--blocksize", str(args.blocksize),
             "--switches", str(args.switches), "--starts", str(args.starts)],
            env=sink_env(Path(tmp) / "home"), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"benchmark child failed:\n{proc.stdout}\n{proc.stderr}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    block_ms = args.blocksize / res["rate"] * 1000
    latency_ms = res["latency"] * 1000
    header = ["measure", "median ms", "p95 ms", "max ms", "median blocks", "p95 blocks",
              "+ output latency ms", "n"]
    rows = [summarise("play() -> first callback (stream start)", res["cold"], block_ms, latency_ms),
            summarise("play() -> first callback (resume, stream running)", res["warm"], block_ms,
                      latency_ms),
            summarise("A/B switch request -> switch rendered", res["switch"], block_ms,
                      latency_ms)]
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    table += ["| " + " | ".join(r) + " |" for r in rows]
    cmd = "python bench/bench_player.py" + (
        f" --blocksize {args.blocksize}" if args.blocksize != 512 else "")
    machine = (f"{platform.machine()} Linux VM, {_cores()} CPU cores, no sound card: ALSA file "
               f"sink paced at real time (tests/support/filesink.py), Python "
               f"{platform.python_version()}")
    text = "\n".join([
        HEADING, "",
        f"Command: `{cmd}` ({time.strftime('%Y-%m-%d')}). Machine: {machine}.",
        f"Block = {args.blocksize} frames = {block_ms:.1f} ms at {res['rate']} Hz; PortAudio "
        f"output latency (latency='low') = {latency_ms:.1f} ms; underruns: {res['underruns']}.",
        "'blocks' = the ms column divided by the block duration. A request is applied at the "
        "start of the next block the callback renders; the last column adds the output buffer "
        "to estimate when it is heard. Caveat: the sink's pipe (64 KiB, ~186 ms) buffers more "
        "than a real card and accepts the first blocks at once, so the stream-start row "
        "measures PortAudio/ALSA start-up, not a real card's.", "", *table, ""])
    print(text)
    if not args.no_write:
        write_section(ROOT / "bench" / "RESULTS.md", text)


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def write_section(path: Path, text: str) -> None:
    """Replace this benchmark's section in ``path`` (or append it), leaving others alone."""
    old = path.read_text() if path.exists() else "# Benchmark results\n"
    start = old.find(HEADING + "\n")
    if start >= 0:
        end = old.find("\n## ", start + len(HEADING))
        old = old[:start] + (old[end + 1:] if end >= 0 else "")
    path.write_text(old.rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    main()
