"""Songs sampled from SoundFont note banks, the banks themselves, and training on them.

A small real bank is rendered with FluidSynth from TimGM6mb (the training SoundFont) and
FluidR3_GM (the held-out one) through ``scripts/render_note_bank.py``'s own functions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import HANG_TIMEOUT
from safetensors import safe_open

from progdemix_tui.demo import STEMS
from progdemix_tui.demo.notebank import (
    EMPHASIS,
    NoteBank,
    NoteBankError,
    mulaw_decode,
    mulaw_encode,
    preemphasize,
    resample,
)
from progdemix_tui.demo.sampled import SampledSong, generate_sampled_song
from progdemix_tui.demo.synth import midi_hz

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
sys.path.insert(0, str(SCRIPTS))
import render_note_bank as rnb  # noqa: E402

RATE = 44100
FONTS_PRESENT = shutil.which("fluidsynth") is not None and all(
    f.exists() for f in (*rnb.TRAIN_FONTS, *rnb.HELDOUT_FONTS))
FONTS_HINT = ("apt-get install fluidsynth timgm6mb-soundfont musescore-general-soundfont-small "
              "fluid-soundfont-gm (the README's test command installs them)")
# Outside CI a missing SoundFont skips; in CI (CI=true) the README's apt line installs them,
# so their absence is a failure, not a silent skip.
needs_fonts = pytest.mark.skipif(not FONTS_PRESENT and os.environ.get("CI") != "true",
                                 reason=FONTS_HINT)


@pytest.fixture(scope="module")
def banks(tmp_path_factory) -> dict[str, Path]:
    """One program per role and one kit: training from TimGM6mb, held-out from FluidR3."""
    if not FONTS_PRESENT:
        if os.environ.get("CI") == "true":
            pytest.fail(f"SoundFonts or fluidsynth missing: {FONTS_HINT}")
        pytest.skip(f"SoundFonts or fluidsynth missing: {FONTS_HINT}")
    folder = tmp_path_factory.mktemp("banks")
    paths = {}
    for name, font, roles, kits in (
            ("train", rnb.TRAIN_FONTS[0], {"bass": (33,), "other": (0,), "vocals": (52,)}, (0,)),
            ("heldout", rnb.HELDOUT_FONTS[0], {"bass": (35,), "other": (5,), "vocals": (53,)},
             (32,))):
        paths[name] = folder / f"{name}.npz"
        rnb.write_bank(paths[name], rnb.build_bank((font,), roles, kits, folder))
    return paths


def test_held_out_programs_kits_and_fonts_never_train():
    for role, programs in rnb.HELD_OUT.items():
        assert not set(programs) & set(rnb.PROGRAMS[role]), role
    assert not set(rnb.HELD_OUT_KITS) - {0} & set(rnb.KITS)
    assert not {f.name for f in rnb.TRAIN_FONTS} & {f.name for f in rnb.HELDOUT_FONTS}


def test_mulaw_round_trip_and_resampling():
    t = np.arange(RATE) / RATE
    x = 0.8 * np.sin(2 * np.pi * 440 * t) * np.exp(-3 * t)
    err = mulaw_decode(mulaw_encode(x)) - x
    assert np.sqrt(np.mean(err**2)) / np.sqrt(np.mean(x**2)) < 0.02  # about -35 dB
    assert np.allclose(resample(preemphasize(x), 1.0, EMPHASIS), x, atol=1e-6)
    up = resample(x, 2 ** (-3 / 12))  # three semitones up: shorter, higher
    spectrum = np.abs(np.fft.rfft(up * np.hanning(len(up))))
    assert np.argmax(spectrum) * RATE / len(up) == pytest.approx(440 * 2 ** (3 / 12), rel=0.01)


@needs_fonts
def test_bank_plays_notes_at_any_pitch(banks):
    bank = NoteBank.load(banks["train"])
    assert set(bank.instruments) == set(STEMS) and bank.fonts == ("TimGM6mb.sf2",)
    bass = bank.instruments["bass"][0]
    assert bass.name == "TimGM6mb.sf2:program 33"
    stored = bank.play(bass, 40)  # a pitch the bank holds: only upsampled to 44.1 kHz
    shifted = bank.play(bass, 43)

    def f0(x):  # autocorrelation peak between 50 and 400 Hz, over 0.1..0.4 s
        x = x[RATE // 10: 2 * RATE // 5]
        ac = np.correlate(x, x, "full")[len(x) - 1:]
        lo, hi = RATE // 400, RATE // 50
        return RATE / (lo + np.argmax(ac[lo:hi]))

    assert f0(stored) == pytest.approx(midi_hz(40), rel=0.03)  # E2, 82 Hz
    assert f0(shifted) == pytest.approx(midi_hz(43), rel=0.03)
    kick = bank.play(bank.instruments["drums"][0], 36, velocity=120)
    assert 0.05 < np.abs(kick).max() <= 1.0


@needs_fonts
def test_sampled_song_is_deterministic_and_well_formed(banks):
    bank = NoteBank.load(banks["train"])
    songs = [generate_sampled_song(seed, bank, 3.0) for seed in (5, 5, 6)]
    a, b, c = songs
    assert isinstance(a, SampledSong) and np.array_equal(a.stems, b.stems)
    assert a.instruments == b.instruments and not np.allclose(a.stems, c.stems)
    for seed in range(10, 22):
        song = generate_sampled_song(seed, bank, 3.0)
        assert song.stems.shape == (4, 2, 3 * RATE) and song.stems.dtype == np.float32
        assert np.array_equal(song.mixture, song.stems.sum(0))
        assert 0.49 < np.abs(song.mixture).max() < 0.86
        rms = np.sqrt(np.mean(song.stems.astype(np.float64) ** 2, axis=-1))
        assert (rms > 1e-3).all(), (seed, song.instruments, rms)
        assert set(song.instruments) == set(STEMS)
        assert 1 <= len(song.other_layers) <= 3


@needs_fonts
def test_held_out_songs_play_only_held_out_timbres(banks):
    song = generate_sampled_song(1, NoteBank.load(banks["heldout"]), 2.0)
    sampled = [v for v in song.instruments.values() if "FluidR3_GM" in v]
    assert sampled and not any("TimGM6mb" in v for v in song.instruments.values())


def test_missing_or_bad_bank_is_a_named_error(tmp_path):
    with pytest.raises(NoteBankError, match="cannot read note bank"):
        NoteBank.load(tmp_path / "none.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, audio=np.zeros(3, np.uint8))
    with pytest.raises(NoteBankError, match="bad.npz"):
        NoteBank.load(bad)


@pytest.mark.parametrize("script, args", [
    ("train_demo_model.py", ["--bank", "{missing}", "--device", "cpu"]),
    ("eval_demo_model.py", ["--sampled", "--bank", "{missing}"]),
])
def test_scripts_refuse_a_missing_bank_in_one_line(tmp_path, script, args):
    missing = str(tmp_path / "nothing.npz")
    proc = subprocess.run([sys.executable, str(SCRIPTS / script),
                           *[a.format(missing=missing) for a in args], "--out" if
                           script.startswith("train") else "--duration",
                           str(tmp_path / "out") if script.startswith("train") else "1"],
                          capture_output=True, text=True, timeout=HANG_TIMEOUT)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "nothing.npz" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


@pytest.mark.slow
@needs_fonts
def test_training_on_sampled_songs_within_budget(banks, tmp_path):
    out = tmp_path / "run"
    budget = 75.0
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "train_demo_model.py"), "--device", "cpu",
         "--channels", "4", "--batch", "2", "--segment", "1", "--song-duration", "2",
         "--pool", "4", "--pool-start", "2", "--workers", "1", "--log-every", "1e9",
         "--eval-songs", "1", "--seed-base", "990000", "--budget", str(budget),
         # two steps are enough to check what a run on sampled songs writes; without this the
         # run trains until its budget (75 s of the suite) whatever the machine
         "--max-steps", "2",
         "--bank", str(banks["train"]), "--sampled-share", "1",
         "--heldout-bank", str(banks["heldout"]), "--out", str(out)],
        capture_output=True, text=True, timeout=HANG_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == [
        "demo.safetensors", "demo_fp32.safetensors", "eval.json", "train_log.txt"]
    report = json.loads((out / "eval.json").read_text())
    assert report["steps"] >= 1 and report["total_s"] <= budget
    assert set(report["after"]) == {"generator", "sampled_heldout"}
    assert set(report["after"]["sampled_heldout"]) == {*STEMS, "all"}
    assert "sampled from" in proc.stdout and "held-out note bank" in proc.stdout
    with safe_open(str(out / "demo.safetensors"), "pt") as f:
        dtypes = {str(f.get_tensor(k).dtype) for k in f.keys()}  # noqa: SIM118
        assert dtypes == {"torch.float16"} and f.metadata()["klass"] == "demucs.hdemucs.HDemucs"


def test_render_script_without_fluidsynth_says_what_to_install(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPTS / "render_note_bank.py"),
                           str(tmp_path / "banks")], capture_output=True, text=True,
                          env={"PATH": str(tmp_path), "PYTHONPATH": str(SCRIPTS.parent)},
                          timeout=HANG_TIMEOUT)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "apt-get install fluidsynth" in proc.stderr and not (tmp_path / "banks").exists()
