"""A note bank from someone else: indices and spans out of range are a named error at load."""

from __future__ import annotations

import numpy as np
import pytest

from progdemix_tui.demo.notebank import FIELDS, NoteBank, NoteBankError, mulaw_encode


def _bank(**changes: object) -> dict[str, np.ndarray]:
    """Two good notes (a bass, a kick); ``changes`` replaces whole arrays."""
    tone = np.sin(np.arange(400) / 10.0) * 0.5
    columns = dict(offset=[0, 200], length=[200, 200], role=[1, 0], program=[33, 0],
                   pitch=[40, 36], velocity=[100, 100], font=[0, 0], rate=[22050, 44100])
    arrays = {name: np.array(value, np.int64) for name, value in columns.items()}
    arrays.update(peak=np.array([0.5, 0.5]), audio=mulaw_encode(tone),
                  fonts=np.array(["Mine"]), emphasis=np.array(0.0))
    arrays.update({k: np.asarray(v) for k, v in changes.items()})
    assert set(FIELDS) <= set(arrays)
    return arrays


def test_good_bank_loads_and_plays(tmp_path):
    np.savez(tmp_path / "good.npz", **_bank())
    bank = NoteBank.load(tmp_path / "good.npz")
    assert len(bank.play(bank.instruments["bass"][0], 43)) > 0


@pytest.mark.parametrize("changes", [
    dict(role=[1, 9]), dict(role=[-1, 0]), dict(font=[0, 3]),
    dict(offset=[0, 399]), dict(length=[200, 0]), dict(offset=[-5, 200]),
    dict(pitch=[40]), dict(rate=[0, 44100]), dict(audio=np.zeros((2, 2), np.uint8)),
    dict(offset=np.array([0.0, 200.0])), dict(role=np.array([], np.int64)),
])
def test_malformed_bank_is_a_named_error(tmp_path, changes):
    np.savez(tmp_path / "other.npz", **_bank(**changes))
    with pytest.raises(NoteBankError, match="other.npz is malformed: .*render_note_bank"):
        NoteBank.load(tmp_path / "other.npz")


def test_a_bank_that_unpacks_past_the_bound_is_refused_unread(tmp_path, monkeypatch):
    """A zip bomb: the zip directory's sizes are checked before any member is decompressed."""
    import zipfile

    from progdemix_tui.demo import notebank

    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("audio.npy", b"\0" * (2 * 1024 * 1024))  # 2 MiB of zeros, ~2 kB packed
    monkeypatch.setattr(notebank, "MAX_UNPACKED", 1024 * 1024)
    with pytest.raises(notebank.NoteBankError, match="unpacks to 2 MiB"):
        notebank.NoteBank.load(path)
