"""The audition player through the real PortAudio + ALSA stack, into a file sink.

Each audio test runs a short script in a fresh process (PortAudio reads ALSA's config once),
then checks the exact samples the "sound card" received. Assertions are on sample positions
reported by the player and found in the file, never on wall-clock time.
"""

from __future__ import annotations

import os

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from support.audio_sink import locate, ramp, run_sink

from progdemix_tui.playback import BlindTest, MemorySource, Player, ResampledSource
from progdemix_tui.playback.mixer import fade_curve

SR = 44100
CLICK = 0.01  # largest step allowed between two output samples (a click is >= 0.1)


def fades(length: int) -> tuple[np.ndarray, np.ndarray]:
    """(fade-out, fade-in) weights of the player's raised-cosine crossfade."""
    c = fade_curve(np.arange(length, dtype=np.float64), length).astype(np.float64)
    return c, 1.0 - c


def test_ab_switch_keeps_position_within_one_block_and_crossfades(tmp_path):
    res, out, _ = run_sink(tmp_path, """
        sr = 44100; N = 2 * sr
        p = Player(sr, blocksize=512, crossfade=0.010)
        p.add("A", ramp(N), sr)
        p.add("B", ramp(N, sign=-1.0), sr)
        p.set_ab("A", "B")
        p.play()
        wait_until(lambda: p.position >= 0.5)
        req = p.position_samples
        p.toggle_ab()
        side = p.state.ab_side
        wait_until(lambda: p.position >= 0.9)
        p.stop()
        ev = {e.kind: e.pos for e in p.events()}
        report(req=req, switch=ev["select"], stop=ev["pause"], side=side,
               after_stop=p.position_samples, status=p.state.status)
    """)
    a, b = ramp(2 * SR), ramp(2 * SR, sign=-1.0)
    y = out[:, 0]
    assert np.array_equal(out[:, 0], out[:, 1])
    sw, stop, L = res["switch"], res["stop"], round(0.010 * SR)
    assert 0 <= sw - res["req"] <= 512, "the switch must land within one block of the request"
    k0 = locate(y, a, near=int(np.flatnonzero(y > 0.2)[0]))
    # before: exactly A; during: the crossfade; after: exactly B, same position throughout
    np.testing.assert_array_equal(y[k0 + L:k0 + sw], a[L:sw])
    out_w, in_w = fades(L)
    np.testing.assert_allclose(y[k0 + sw:k0 + sw + L],
                               a[sw:sw + L] * out_w + b[sw:sw + L] * in_w, atol=1e-6)
    np.testing.assert_array_equal(y[k0 + sw + L:k0 + stop], b[sw + L:stop])
    assert np.abs(np.diff(y)).max() < CLICK
    assert res["side"] == "B" and res["status"] == "stopped" and res["after_stop"] == 0


def test_crossfade_length_is_configurable(tmp_path):
    res, out, _ = run_sink(tmp_path, """
        sr = 44100; N = sr
        p = Player(sr, crossfade=0.025)
        p.add("A", np.full((2, N), 0.5, np.float32), sr)
        p.add("B", np.full((2, N), -0.5, np.float32), sr)
        p.set_ab("A", "B")
        p.play()
        wait_until(lambda: p.position >= 0.3)
        p.toggle_ab()
        wait_until(lambda: p.position >= 0.5)
        p.stop()
        report(ok=True)
    """)
    y = out[:, 0].astype(np.float64)
    L = round(0.025 * SR)
    last_a = np.flatnonzero(y == 0.5)[-1]
    first_b = np.flatnonzero(y == -0.5)[0]
    assert first_b - last_a == L, "A is left and B reached in exactly the crossfade length"
    assert np.abs(np.diff(y)).max() <= np.pi / (2 * L) * 1.01  # the raised cosine's steepest step


def test_loop_repeats_region_exactly(tmp_path):
    res, out, _ = run_sink(tmp_path, """
        sr = 44100
        p = Player(sr, loop_crossfade=False)
        p.add("A", ramp(sr), sr)
        p.set_loop(0.2, 0.3)
        p.play()
        wait_until(lambda: p.state.loop_count >= 3)
        p.stop()
        report(loop=p.state.loop, count=p.state.loop_count, pos=p.position_samples)
    """)
    a = ramp(SR)
    s, e = round(0.2 * SR), round(0.3 * SR)
    y = out[:, 0]
    starts = [k for k in np.flatnonzero(y == a[s]) if np.array_equal(y[k:k + e - s], a[s:e])]
    assert len(starts) >= 2, "at least two whole exact repeats of the region"
    assert np.all(np.diff(starts) == e - s), "repeats follow each other with no gap"
    first = starts[0] - (e - s)  # the first pass (faded in) ends right before the repeats
    L = round(0.010 * SR)
    np.testing.assert_array_equal(y[first + L:starts[0]], a[s + L:e])
    assert res["loop"] == [0.2, 0.3] and res["pos"] == s  # stop rewinds to the loop start
    assert np.abs(np.diff(y)).max() < 0.9 - 0.1 + CLICK  # only the loop seam itself jumps


def test_loop_seam_is_crossfaded_by_default(tmp_path):
    """What follows the region's end fades out while its start fades in: no click."""
    res, out, _ = run_sink(tmp_path, """
        sr = 44100
        p = Player(sr)
        p.add("A", ramp(sr), sr)
        p.set_loop(0.2, 0.3)
        p.play()
        wait_until(lambda: p.state.loop_count >= 3)
        p.stop()
        report(count=p.state.loop_count)
    """)
    a = ramp(SR).astype(np.float64)
    s, e = round(0.2 * SR), round(0.3 * SR)
    L = round(0.010 * SR)
    y = out[:, 0].astype(np.float64)
    body = a[s + L:e]  # each pass after its seam fade is the region itself
    starts = [k - L for k in np.flatnonzero(y == body[0]) if k >= L
              and np.array_equal(y[k:k + len(body)], body)]
    repeats = [k for k in starts if k - (e - s) in starts]
    assert len(repeats) >= 1, "the region repeats back to back"
    fade_out, fade_in = fades(L)
    k = repeats[0]
    np.testing.assert_allclose(y[k:k + L], fade_out * a[e:e + L] + fade_in * a[s:s + L],
                               atol=1e-6)
    assert np.abs(np.diff(y)).max() < CLICK  # the 0.08 jump at the seam is gone
    assert res["count"] >= 3


def test_level_matching_gives_equal_loudness(tmp_path):
    res, out, _ = run_sink(tmp_path, """
        sr = 44100; N = 2 * sr; t = np.arange(N) / sr
        p = Player(sr)
        p.add("loud", np.stack([0.5 * np.sin(2 * np.pi * 440 * t)] * 2), sr)
        p.add("soft", np.stack([0.08 * np.sin(2 * np.pi * 1000 * t)] * 2), sr)
        p.set_ab("loud", "soft", level_match=True)
        p.play()
        wait_until(lambda: p.position >= 1.0)
        p.toggle_ab()
        wait_until(lambda: p.state.status != "playing")
        ev = {e.kind: e.pos for e in p.events()}
        report(switch=ev["select"], gains=p.state.gains, loudness=p.state.loudness)
    """)
    assert res["loudness"]["loud"] - res["loudness"]["soft"] > 10  # really different
    assert res["gains"]["soft"] == 1.0 and res["gains"]["loud"] < 0.3  # only attenuates
    y = out.astype(np.float64)
    nz = np.flatnonzero(y[:, 0])
    k0, sw = nz[0] - 1, res["switch"]
    meter = pyloudnorm.Meter(SR)
    first = meter.integrated_loudness(y[k0 + 4410:k0 + sw - 2205])
    second = meter.integrated_loudness(y[k0 + sw + 2205:k0 + 2 * SR - 4410])
    assert abs(first - second) <= 0.5


def test_pause_seek_skip_and_stop(tmp_path):
    res, out, _ = run_sink(tmp_path, """
        sr = 44100; N = 2 * sr
        p = Player(sr)
        p.add("A", ramp(N), sr)
        p.play()
        wait_until(lambda: p.position >= 0.3)
        p.pause()
        wait_until(lambda: not p._mixer.audible)  # the fade-out has played, however slowly
        held = [p.position_samples, p.state.status]
        time.sleep(0.05)
        held.append(p.position_samples)
        p.seek(1.0)
        after_seek = p.position_samples
        p.play()
        wait_until(lambda: p.position >= 1.3)
        p.skip(-0.5)
        wait_until(lambda: p.position >= 1.0)
        p.stop()
        ev = [(e.kind, e.from_pos, e.pos) for e in p.events()]
        report(held=held, after_seek=after_seek, events=ev, after_stop=p.position_samples)
    """)
    a, y, L = ramp(2 * SR), out[:, 0], round(0.010 * SR)
    out_w, in_w = fades(L)
    ev = {kind: (src, dst) for kind, src, dst in res["events"]}
    held0, status, held1 = res["held"]
    assert status == "paused" and held0 == held1, "the position holds while paused"
    assert res["after_seek"] == SR and res["after_stop"] == 0
    paused_at = [dst for kind, _, dst in res["events"] if kind == "pause"][0]
    assert held0 == paused_at + L  # the fade-out plays on, then the playhead stops
    # fade-out at the pause, then silence
    k0 = locate(y, a, near=int(np.flatnonzero(y > 0.15)[0]))
    np.testing.assert_allclose(y[k0 + paused_at:k0 + paused_at + L],
                               a[paused_at:paused_at + L] * out_w, atol=1e-6)
    assert not y[k0 + held0:k0 + held0 + 100].any()
    # resume at the seek target with a fade-in
    gap_end = k0 + held0 + int(np.flatnonzero(y[k0 + held0:])[0]) - 1
    np.testing.assert_allclose(y[gap_end:gap_end + L], a[SR:SR + L] * in_w, atol=1e-6)
    src, dst = ev["seek"]
    assert src - dst == SR // 2 and src >= round(1.3 * SR)
    np.testing.assert_array_equal(y[gap_end + L:gap_end + src - SR], a[SR + L:src])
    # the skip back crossfades old and new positions, then plays on from the new one
    k = gap_end + src - SR
    np.testing.assert_allclose(y[k:k + L], a[src:src + L] * out_w + a[dst:dst + L] * in_w,
                               atol=1e-6)
    np.testing.assert_array_equal(y[k + L:k + 2000], a[dst + L:dst + 2000])
    assert np.abs(np.diff(y)).max() < CLICK


def test_file_source_resampled_to_the_device_rate(tmp_path):
    import julius
    import torch

    wav = tmp_path / "ramp48k.wav"
    sf.write(wav, np.stack([ramp(48000)] * 2, 1), 48000, subtype="FLOAT")
    res, out, _ = run_sink(tmp_path, f"""
        p = Player(48000, stream_samplerate=44100, chunk_frames=4096)
        p.add("F", {str(wav)!r})
        p.play()
        wait_until(lambda: p.state.status != "playing")
        st = p.state
        report(rate=st.stream_samplerate, duration=st.duration, samples=st.position_samples)
    """)
    assert res["rate"] == SR and res["samples"] == 48000 and res["duration"] == 1.0
    ref = julius.resample_frac(torch.from_numpy(ramp(48000)), 48000, SR).numpy()
    y = out[:, 0]
    k0 = locate(y, ref)
    mid = slice(1000, SR - 1000)  # away from the signal's ends (julius pads differently)
    np.testing.assert_allclose(y[k0:k0 + SR][mid], ref[mid], atol=2e-5)


# ------------------------------------------------------------- without a device


def test_resampled_reads_join_seamlessly():
    import julius
    import torch

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 20000)).astype(np.float32)
    src = ResampledSource(MemorySource(x, 44100), 48000)
    full = julius.resample_frac(torch.from_numpy(x), 44100, 48000).numpy().T
    assert src.frames == len(full)
    parts = np.concatenate([src.read(s, 3001) for s in range(0, src.frames, 3001)])
    parts = parts[: src.frames]
    np.testing.assert_allclose(parts[200:-200], full[200:-200], atol=1e-5)
    assert not src.read(src.frames, 10).any() and not src.read(-20, 10).any()


def test_blind_abx_tally_and_hidden_labels():
    t = BlindTest("ref", "est", "abx", seed=1)
    results = []
    for _ in range(10):
        x = t.source_for("X")
        results.append(t.answer("A" if x == "ref" else "B"))
    assert results == [True] * 10 and t.tally.trials == 10 and t.tally.correct == 10
    assert t.tally.p_value == pytest.approx(1 / 1024)
    t.reveal()
    t.answer("A")
    assert t.tally.trials == 10, "answers after reveal are not counted"

    pref = BlindTest("ref", "est", "ab", seed=2)
    for _ in range(6):
        pref.answer("1" if pref.source_for("1") == "est" else "2")
    assert pref.tally.prefer == {"ref": 0, "est": 6}

    p = Player(SR)
    p.add("ref", np.zeros((2, SR), np.float32), SR)
    p.add("est", np.zeros((2, SR), np.float32), SR)
    p.set_ab("ref", "est")
    p.start_blind("abx", seed=3)
    p.select_slot("X")
    assert p.state.source == "X" and p.state.ab_side is None
    assert p.state.blind.revealed is None
    mapping = p.reveal()
    assert p.state.source == mapping["X"]
    p.close()


def test_export_ab_is_level_matched_and_atomic(tmp_path):
    t = np.arange(3 * SR) / SR
    p = Player(SR)
    p.add("loud", np.stack([0.5 * np.sin(2 * np.pi * 440 * t)] * 2), SR)
    path = tmp_path / "soft.wav"
    sf.write(path, np.stack([0.05 * np.sin(2 * np.pi * 660 * t)] * 2, 1), SR, subtype="FLOAT")
    p.add("soft", path)
    p.set_ab("loud", "soft", level_match=True)
    a, b = p.export_ab(tmp_path / "clips/a.wav", tmp_path / "clips/b.wav", 0.5, 2.0)
    assert sorted(os.listdir(tmp_path / "clips")) == ["a.wav", "b.wav"]  # no temp files left
    meter = pyloudnorm.Meter(SR)
    da, ra = sf.read(a)
    db, rb = sf.read(b)
    assert ra == rb == SR and len(da) == len(db) == 2 * SR
    assert abs(meter.integrated_loudness(da) - meter.integrated_loudness(db)) <= 0.5
    p.close()
