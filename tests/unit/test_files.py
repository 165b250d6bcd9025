"""engine/files.py: one atomic writer for every file (the player's clips too) and one
containment check, with the readers' own one-line errors."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from progdemix_tui.engine import files
from progdemix_tui.engine.errors import ModelUnavailable, OutputError, SessionError
from progdemix_tui.engine.evaluation import documents
from progdemix_tui.engine.manifest import Invalid, member
from progdemix_tui.engine.model_files import contained
from progdemix_tui.playback import Player

SR = 8000


class Refused(Exception):
    pass


def test_inside_resolves_what_stays_in_and_raises_what_leads_out(tmp_path):
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a" / "f").write_text("x")
    (tmp_path / "secret").write_text("s")
    (root / "out").symlink_to(tmp_path / "secret")
    (root / "loop").symlink_to(root / "loop")
    assert files.inside(root, root / "a" / "f", Refused()) == (root / "a" / "f").resolve()
    assert files.inside(root, root, Refused()) == root.resolve()
    for path in (root / "out", root / ".." / "secret", tmp_path / "secret", root / "loop"):
        with pytest.raises(Refused):
            files.inside(root, path, Refused())


def test_every_reader_uses_the_one_check_with_its_own_error(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "out").symlink_to(tmp_path)
    with pytest.raises(SessionError, match="leads outside the evaluation folder"):
        documents.read_json(root, root / "out" / "x.json", "advice")
    with pytest.raises(ModelUnavailable, match="model file .* leads outside"):
        contained(root, root / "out", "model file")
    with pytest.raises(Invalid, match="stem leads outside the session"):
        member(root, "out/x.wav", "stem")
    with pytest.raises(Invalid, match="points outside the session"):
        member(root, "../x.wav", "stem")
    assert member(root, "a/b.wav") == root / "a" / "b.wav"


def _player_with_clip() -> Player:
    p = Player(SR)
    p.add("tone", np.full((2, SR), 0.25, np.float32), SR)
    return p


def test_exported_clips_follow_the_umask_and_leave_no_temp_file(tmp_path):
    """The player's clips went through a plainer writer that left them 0600 (mkstemp's mode)."""
    p = _player_with_clip()
    old = os.umask(0o022)
    try:
        path = p.export_clip("tone", tmp_path / "clips" / "a.wav", 0.0, 0.5)
    finally:
        os.umask(old)
        p.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(tmp_path / "clips") == ["a.wav"]


def test_a_clip_that_cannot_be_written_is_one_output_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    p = _player_with_clip()
    try:
        with pytest.raises(OutputError, match=r"^cannot write in .*; choose another folder\.$"):
            p.export_clip("tone", tmp_path / "file" / "a.wav", 0.0, 0.5)
    finally:
        p.close()


def test_text_written_atomically_replaces_the_old_file_whole(tmp_path):
    path = tmp_path / "m.json"
    files.write_text_atomic(path, "old")
    files.write_text_atomic(path, "new")
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["m.json"]
