"""Sessions at the boundary: nothing half-written on a full disk, no file outside a session,
one line for a tampered manifest, ``interrupted`` for a killed writer, a clean --overwrite."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import soundfile as sf
import torch
from conftest import synth_stems

from progdemix_tui.engine import audio
from progdemix_tui.engine.errors import OutputError

PAGE = 4096


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs: a real disk that fills up (needs root's mount; skipped where not)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def _leave_free(disk: Path, nbytes: int) -> None:
    """Fill ``disk`` so that exactly ``nbytes`` (whole pages) stay free."""
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize
    (disk / "filler").write_bytes(b"\0" * (free - nbytes))
    stat = os.statvfs(disk)
    assert stat.f_bavail * stat.f_frsize == nbytes


def test_flac_cut_short_by_a_full_disk_is_not_left_behind(tmp_path, small_disk):
    """libsndfile closes a FLAC whose last page does not fit without an error; the write
    must notice, raise one OutputError and leave neither the file nor a temporary."""
    stem = torch.from_numpy(synth_stems(1.0)[3])
    size = audio.save(tmp_path / "probe.flac", stem, 44100).stat().st_size
    _leave_free(small_disk, (size - 1) // PAGE * PAGE)  # all but the last partial page
    target = small_disk / "references" / "vocals.flac"
    target.parent.mkdir()
    with pytest.raises(OutputError, match="no space left") as caught:
        audio.save(target, stem, 44100)
    assert "\n" not in str(caught.value)
    assert sorted(p.name for p in target.parent.iterdir()) == []
    # with the room freed, the same write is whole and decodes
    (small_disk / "filler").unlink()
    data, _ = sf.read(audio.save(target, stem, 44100))
    assert data.shape == (44100, 2)
