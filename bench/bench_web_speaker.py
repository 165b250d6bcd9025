"""The web speaker: switch latency and a long continuous playback in headless chromium.

Plays through ``--audio-device web`` into Debian's headless chromium (tests/support/browser.py) over
loopback. Measures (1) A/B switch request -> switch rendered (the same measure as
bench_player.py's PortAudio row) and what the page reports as it plays: its jitter-buffer
level and its measured latency (buffer + half the WebSocket round trip + the AudioContext's
output latency), whose sum with (1) is when a listener hears the switch; (2) ``--minutes`` of
continuous playback: the page's underruns, and drift = frames the page consumed / (wall time
x rate) - 1.

    python bench/bench_web_speaker.py [--switches 60] [--minutes 10] [--buffer-ms 100]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--switches", type=int, default=60)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--buffer-ms", type=int, default=100)
    args = ap.parse_args()
    from support.browser import Browser

    from progdemix_tui.playback import Player

    sr, block = 44100, 512
    t = np.arange(20 * sr) / sr
    p = Player(sr, device="web:0", blocksize=block)
    p.add("A", np.stack([0.3 * np.sin(2 * np.pi * 440 * t)] * 2).astype(np.float32), sr)
    p.add("B", np.stack([0.3 * np.sin(2 * np.pi * 660 * t)] * 2).astype(np.float32), sr)
    p.set_ab("A", "B")
    p.set_loop(0.0, 19.0)
    p.open_output()
    stream = p.web_stream
    assert stream is not None
    p.play()
    browser = Browser(f"{stream.url}&buf={args.buffer_ms}")
    try:
        browser.wait_for("window.pdx && window.pdx.stats && window.pdx.stats.latency_ms !== null", "stats")
        rng = random.Random(0)
        buffers, latencies = [], []
        for _ in range(args.switches):
            time.sleep(rng.uniform(0.1, 0.3))
            p.toggle_ab()
            s = browser.js("window.pdx.stats")
            buffers.append(s["buffer_ms"])
            latencies.append(s["latency_ms"])
        time.sleep(0.2)
        sw = [e.t_render - e.t_request for e in p.events() if e.kind == "select"]
        sw = sw[-args.switches:]
        bms = block / sr * 1000
        med = statistics.median(sw) * 1000
        print(json.dumps({
            "switch_request_to_rendered_ms_median": round(med, 2),
            "switch_request_to_rendered_blocks_median": round(med / bms, 2),
            "switch_request_to_rendered_ms_p95": round(
                sorted(sw)[int(0.95 * (len(sw) - 1))] * 1000, 2),
            "page_buffer_ms_median": round(statistics.median(buffers), 1),
            "page_latency_ms_median": round(statistics.median(latencies), 1),
            "heard_ms_median_estimate": round(med + statistics.median(latencies), 1),
            "n": len(sw)}), flush=True)
        start_c = browser.js("window.pdx.stats.consumed")
        start_u = browser.js("window.pdx.stats.underruns")
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.minutes * 60:
            time.sleep(5)
        s = browser.wait_for("window.pdx.stats", "stats")
        wall = time.monotonic() - t0
        # stats are posted every 64 quanta (~186 ms): the consumed count lags by up to that
        drift = (s["consumed"] - start_c) / (wall * sr) - 1
        print(json.dumps({"minutes": round(wall / 60, 2), "underruns": s["underruns"] - start_u,
                          "consumed_s": round((s["consumed"] - start_c) / sr, 2),
                          "drift": f"{drift:+.2e}",
                          "buffer_ms_end": round(s["buffer_ms"], 1)}), flush=True)
    finally:
        browser.close()
        p.close()


if __name__ == "__main__":
    main()
