"""Render the note banks of the sampled demo songs from General MIDI SoundFonts.

Each bank is one ``.npz`` of short single notes played by FluidSynth (reverb and chorus
off): per GM program a few pitches six or seven semitones apart (the generator pitch-shifts between
them), per drum kit the GM percussion notes at two velocities. Pitched notes are stored at
22.05 kHz, drums at 44.1 kHz, all mono, pre-emphasized, 8-bit mu-law (see
``progdemix_tui.demo.notebank``).

The training bank plays the training programs from TimGM6mb and MuseScore General (Lite);
the held-out bank plays only programs and kits the training bank never has, from a third
SoundFont, FluidR3_GM. Debian packages: ``fluidsynth timgm6mb-soundfont
musescore-general-soundfont-small fluid-soundfont-gm``. Usage::

    python scripts/render_note_bank.py .gpudata/   # train.npz and heldout.npz, ~1 min
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from progdemix_tui.demo.notebank import (  # noqa: E402
    BANK_ROLES,
    DRUM_RATE,
    EMPHASIS,
    PITCHED_RATE,
    mulaw_encode,
    preemphasize,
)

SF_DIR = Path("/usr/share/sounds")
TRAIN_FONTS = (SF_DIR / "sf2" / "TimGM6mb.sf2", SF_DIR / "sf3" / "MuseScore_General_Lite.sf3")
HELDOUT_FONTS = (SF_DIR / "sf2" / "FluidR3_GM.sf2",)

# GM programs (0-based) per role; HELD_OUT ones never enter the training bank.
PROGRAMS = {
    "bass": (32, 33, 34, 36, 37, 39),
    "other": (0, 1, 2, 4, 6, 7, 11, 12, 16, 17, 19, 21, 24, 25, 26, 28, 29, 30, 40, 42, 45,
              46, 48, 49, 50, 56, 57, 60, 62, 65, 68, 73, 80, 81, 88, 89, 92, 95, 104),
    "vocals": (52, 54, 91),
}
HELD_OUT = {
    "bass": (35, 38),  # fretless, synth bass 1
    "other": (3, 5, 13, 18, 27, 44, 61, 66, 71, 90, 105),
    "vocals": (53, 85),  # voice oohs, lead 6 (voice)
}
KITS = (0, 16, 24, 25)  # standard, power, electronic, TR-808
HELD_OUT_KITS = (0, 32, 40)  # FluidR3's standard kit (another font), jazz, brush
DRUM_NOTES = (35, 36, 37, 38, 39, 40, 42, 44, 45, 46, 48, 49, 51, 53, 54, 56, 57, 70)
DRUM_VELOCITIES = (70, 115)
PITCHES = {"bass": range(28, 53, 6), "other": range(45, 81, 7), "vocals": range(48, 79, 6)}
HOLD = {"bass": 0.9, "other": 1.0, "vocals": 1.2}  # seconds the key is held
TAIL = {"bass": 0.3, "other": 0.4, "vocals": 0.3}  # release kept after note-off
DRUM_LENGTH = {49: 1.2, 57: 1.2, 51: 0.8, 53: 0.8, 46: 0.7}  # others 0.5 s
VELOCITY = 100
GAP = 0.5  # silence between notes in the rendered file
SILENCE_DB = -60.0  # trailing samples below this (relative to the peak) are trimmed


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def write_midi(path: Path, events: list[tuple[int, bytes]]) -> None:
    """A format-0 MIDI file; ``events`` are (time in ms, message), 1 tick = 1 ms."""
    track, now = b"", 0
    for t, msg in sorted(events, key=lambda e: e[0]):
        track += _vlq(t - now) + msg
        now = t
    track += _vlq(0) + b"\xff\x2f\x00"
    tempo = b"\x00\xff\x51\x03" + (500_000).to_bytes(3, "big")  # 500 ticks a quarter = 1 ms
    track = tempo + track
    path.write_bytes(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 500)
                     + b"MTrk" + struct.pack(">I", len(track)) + track)


def plan_notes(roles: dict[str, tuple[int, ...]], kits: tuple[int, ...]):
    """(role, program, pitch, velocity, start s, hold s, length s) of every note to play."""
    notes, t = [], 0.5
    for role, programs in roles.items():
        for program in programs:
            for pitch in PITCHES[role]:
                notes.append((role, program, pitch, VELOCITY, t, HOLD[role], HOLD[role] + TAIL[role]))
                t = round(t + HOLD[role] + TAIL[role] + GAP, 1)
    for kit in kits:
        for pitch in DRUM_NOTES:
            for velocity in DRUM_VELOCITIES:
                length = DRUM_LENGTH.get(pitch, 0.5)
                notes.append(("drums", kit, pitch, velocity, t, 0.1, length))
                t = round(t + length + GAP, 1)
    return notes, t + 1.0


def render_font(font: Path, roles, kits, workdir: Path) -> tuple[list, np.ndarray]:
    """Play every planned note with FluidSynth; returns the plan and mono float audio."""
    notes, end = plan_notes(roles, kits)
    events: list[tuple[int, bytes]] = []
    for role, program, pitch, velocity, start, hold, _ in notes:
        on, off = round(start * 1000), round((start + hold) * 1000)
        ch = 9 if role == "drums" else 0
        events.append((on - 100, bytes([0xC0 | ch, program])))
        events.append((on, bytes([0x90 | ch, pitch, velocity])))
        events.append((off, bytes([0x80 | ch, pitch, 0])))
    events.append((round(end * 1000), bytes([0xB0, 123, 0])))  # all notes off
    midi, wav = workdir / f"{font.stem}.mid", workdir / f"{font.stem}.wav"
    write_midi(midi, events)
    subprocess.run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", "44100",
                    "-T", "wav", "-O", "float", "-F", str(wav), str(font), str(midi)],
                   check=True, capture_output=True)
    import soundfile as sf

    audio, rate = sf.read(str(wav), dtype="float32", always_2d=True)
    assert rate == 44100
    return notes, audio.mean(axis=1)


def _resample_half(x: np.ndarray) -> np.ndarray:
    """44.1 kHz → 22.05 kHz, band-limited (FFT)."""
    n = len(x) // 2
    return np.fft.irfft(np.fft.rfft(x)[: n // 2 + 1], n) * (n / len(x))


def build_bank(fonts, roles, kits, workdir: Path) -> dict[str, np.ndarray]:
    """Arrays of a bank: mu-law audio, and per note its metadata (see notebank.NoteBank)."""
    chunks, rows, offset = [], [], 0
    kit_reference: dict[int, np.ndarray] = {}
    for font_id, font in enumerate(fonts):
        notes, audio = render_font(font, roles, kits, workdir)
        kit_audio: dict[int, list[np.ndarray]] = {}
        pending = []
        for role, program, pitch, velocity, start, _, length in notes:
            s = round(start * 44100)
            x = audio[s:s + round(length * 44100)].astype(np.float64)
            if role == "drums":
                kit_audio.setdefault(program, []).append(x)
            pending.append((role, program, pitch, velocity, x))
        # a kit the font lacks is played with its standard kit: keep only distinct kits
        if 0 in kit_audio:
            kit_reference[font_id] = np.concatenate(kit_audio[0])
        duplicate = {k for k, parts in kit_audio.items() if k != 0 and font_id in kit_reference
                     and np.allclose(np.concatenate(parts), kit_reference[font_id], atol=1e-6)}
        for role, program, pitch, velocity, x in pending:
            if role == "drums" and program in duplicate:
                continue
            peak = float(np.max(np.abs(x)))
            if peak < 1e-4:  # the font has no such instrument
                continue
            if role != "drums":
                x = _resample_half(x)
            loud = np.nonzero(np.abs(x) > peak * 10 ** (SILENCE_DB / 20))[0]
            x = x[: loud[-1] + 1]
            x = preemphasize(x * np.minimum(1.0, np.linspace(20.0, 0.0, len(x))))  # 5 % fade-out
            peak = float(np.max(np.abs(x)))
            code = mulaw_encode(x / peak)
            chunks.append(code)
            rows.append((offset, len(code), BANK_ROLES.index(role), program, pitch, velocity,
                         font_id, peak, DRUM_RATE if role == "drums" else PITCHED_RATE))
            offset += len(code)
    table = np.array(rows, dtype=np.float64)
    return {
        "audio": np.concatenate(chunks),
        "offset": table[:, 0].astype(np.int64), "length": table[:, 1].astype(np.int64),
        "role": table[:, 2].astype(np.int8), "program": table[:, 3].astype(np.int16),
        "pitch": table[:, 4].astype(np.int8), "velocity": table[:, 5].astype(np.int8),
        "font": table[:, 6].astype(np.int8), "peak": table[:, 7].astype(np.float32),
        "rate": table[:, 8].astype(np.int32),
        "fonts": np.array([f.name for f in fonts]),
        "emphasis": np.array(EMPHASIS),
    }


def write_bank(path: Path, arrays: dict[str, np.ndarray]) -> None:
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", help="folder for train.npz and heldout.npz")
    args = p.parse_args(argv)
    missing = [str(f) for f in (*TRAIN_FONTS, *HELDOUT_FONTS) if not f.exists()]
    if missing or shutil.which("fluidsynth") is None:
        print(f"error: needs fluidsynth and the SoundFonts {', '.join(missing) or ''}: "
              "apt-get install fluidsynth timgm6mb-soundfont musescore-general-soundfont-small "
              "fluid-soundfont-gm", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, fonts, roles, kits in (("train", TRAIN_FONTS, PROGRAMS, KITS),
                                         ("heldout", HELDOUT_FONTS, HELD_OUT, HELD_OUT_KITS)):
            arrays = build_bank(fonts, roles, kits, Path(tmp))
            write_bank(out / f"{name}.npz", arrays)
            size = (out / f"{name}.npz").stat().st_size
            print(f"{name}: {len(arrays['offset'])} notes, {len(arrays['audio']) / 1e6:.1f} M samples, "
                  f"{size / 1e6:.1f} MB -> {out / f'{name}.npz'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
