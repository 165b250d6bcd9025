"""Sessions at the boundary: nothing half-written on a full disk, no file outside a session,
one line for a tampered manifest, ``interrupted`` for a killed writer, a clean --overwrite."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import soundfile as sf
import torch
from conftest import synth_stems
from tui_helpers import write_fake_session

from progdemix_tui.cli import main
from progdemix_tui.engine import audio
from progdemix_tui.engine.errors import OutputError, SessionError
from progdemix_tui.engine.session import export_step, list_sessions, open_session, scan_sessions

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


# ------------------------------------------------------------------ paths and manifests


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A real session (references, two steps) written by the real writer, kept untouched."""
    return write_fake_session(tmp_path_factory.mktemp("pristine") / "s", steps=2)


@pytest.fixture
def session_copy(tmp_path, pristine) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "sessions" / "s", symlinks=True))


def _tamper(folder: Path, change) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    text = change(manifest)  # a change returns the text itself where json cannot write it
    path.write_text(text if isinstance(text, str) else json.dumps(manifest))


def _outside_audio(tmp_path: Path) -> Path:
    """A readable audio file outside the session, so that reading it would succeed."""
    return audio.save(tmp_path / "elsewhere" / "secret.flac", torch.zeros(2, 4410), 44100)


ESCAPES = {
    "absolute step path": lambda m, out: m["steps"][1]["files"]["vocals"].update(
        path=str(out)),
    "dot-dot step path": lambda m, out: m["steps"][0]["files"]["mixture"].update(
        path="../../elsewhere/secret.flac"),
    "absolute reference path": lambda m, out: m["references"]["bass"].update(path="/etc/passwd"),
    "dot-dot inside steps": lambda m, out: m["steps"][0]["files"]["drums"].update(
        path="steps/../../../elsewhere/secret.flac"),
}


@pytest.mark.parametrize("case", list(ESCAPES))
def test_a_path_leading_out_refuses_the_session(tmp_path, session_copy, case):
    outside = _outside_audio(tmp_path)
    _tamper(session_copy, lambda m: ESCAPES[case](m, outside))
    with pytest.raises(SessionError, match="outside the session") as caught:
        open_session(session_copy)
    assert "\n" not in str(caught.value)


def test_a_symlink_leading_out_is_refused_at_open_and_at_read(tmp_path, session_copy):
    outside = _outside_audio(tmp_path)
    session = open_session(session_copy)  # still clean: opens
    vocals = session_copy / "steps" / "001" / "vocals.flac"
    vocals.unlink()
    vocals.symlink_to(outside)  # swapped after opening: the read itself must refuse
    with pytest.raises(SessionError, match="outside the session"):
        session.load(1, "vocals")
    with pytest.raises(SessionError, match="outside the session"):
        export_step(session, 1, tmp_path / "export", stems=["vocals"])
    assert not (tmp_path / "export" / "step001_vocals.wav").exists()
    with pytest.raises(SessionError, match="outside the session"):
        open_session(session_copy)
    steps = session_copy / "steps"  # a whole folder linked out
    shutil.move(steps, tmp_path / "moved-steps")
    steps.symlink_to(tmp_path / "moved-steps")
    with pytest.raises(SessionError, match="outside the session"):
        open_session(session_copy)


def test_links_that_stay_inside_are_fine(tmp_path, session_copy):
    (tmp_path / "link").symlink_to(session_copy)  # the session folder itself is a link
    vocals = session_copy / "steps" / "001" / "vocals.flac"
    vocals.rename(session_copy / "steps" / "001" / "v.flac")
    vocals.symlink_to("v.flac")
    assert open_session(tmp_path / "link").load(1, "vocals").shape[0] == 2


def _nest(m: dict, depth: int) -> str:
    """The manifest with ``notes`` nested ``depth`` lists deep (the last key wins)."""
    return json.dumps(m)[:-1] + ', "notes": ' + "[" * depth + "]" * depth + "}"


TAMPERED = {
    "unknown metrics key": lambda m: m["steps"][0]["metrics"].update(gain=1.0),
    "missing config": lambda m: m.pop("config"),
    "unknown config key": lambda m: m["config"].update(colour="red"),
    "config steps as text": lambda m: m["config"].update(steps="many"),
    "metrics beta as text": lambda m: m["steps"][1]["metrics"].update(beta="half"),
    "metrics missing step": lambda m: m["steps"][0]["metrics"].pop("step"),
    "si_sdr as a list": lambda m: m["steps"][0]["metrics"].update(si_sdr=[1, 2]),
    "samplerate as text": lambda m: m.update(samplerate="44100"),
    "files as a list": lambda m: m["steps"][0].update(files=[]),
    "missing stem file": lambda m: m["steps"][0]["files"].pop("vocals"),
    "steps as an object": lambda m: m.update(steps={}),
    "source named like a path": lambda m: m.update(sources=["../../x", "bass", "other",
                                                            "vocals"]),
    "deep nesting": lambda m: _nest(m, 100_000),
    "moderate nesting": lambda m: _nest(m, 200),
    "markup in a key": lambda m: m.update({"[/bold]": 1}),
    "unknown status": lambda m: m.update(status="exploded"),
    "target not a source": lambda m: m["config"].update(target="kazoo"),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_tampered_manifest_is_one_line(session_copy, capsys, case):
    _tamper(session_copy, TAMPERED[case])
    with pytest.raises(SessionError) as caught:
        open_session(session_copy)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400
    assert main(["report", str(session_copy), "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a valid session" in err and "Traceback" not in err


def test_nan_and_huge_numbers_are_refused(session_copy):
    path = session_copy / "manifest.json"
    text = path.read_text()
    for bad in ("NaN", "1e999"):
        path.write_text(text.replace('"seconds": 1.5', f'"seconds": {bad}'))
        with pytest.raises(SessionError, match="seconds|NaN"):
            open_session(session_copy)


def test_an_oversized_manifest_is_refused_without_parsing(session_copy):
    from progdemix_tui.engine import manifest

    with open(session_copy / "manifest.json", "ab") as file:
        file.truncate(manifest.MAX_BYTES + 1)
    with pytest.raises(SessionError, match="larger than"):
        open_session(session_copy)


def test_listing_skips_bad_folders_with_a_note(tmp_path, pristine, capsys):
    root = tmp_path / "sessions"
    shutil.copytree(pristine, root / "good")
    for i, change in enumerate(TAMPERED.values()):
        _tamper(Path(shutil.copytree(pristine, root / f"bad{i:02d}")), change)
    (root / "escaping").mkdir()
    (root / "escaping" / "manifest.json").symlink_to(pristine / "manifest.json")
    scan = scan_sessions(root)
    assert [s.folder.name for s in scan.sessions] == ["good"]
    assert len(scan.skipped) == len(TAMPERED) + 1
    assert all(line.startswith("skipped ") and "\n" not in line for line in scan.skipped)
    assert [s.folder.name for s in list_sessions(root)] == ["good"]
    assert main(["report", str(root), "--json"]) == 0
    captured = capsys.readouterr()
    assert [Path(row["folder"]).name for row in json.loads(captured.out)] == ["good"]
    assert "Traceback" not in captured.err
    assert captured.err.count("skipped ") == len(TAMPERED) + 1
