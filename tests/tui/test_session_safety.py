"""Sessions at the boundary: nothing half-written on a full disk, no file outside a session,
one line for a tampered manifest, ``interrupted`` for a killed writer, a clean --overwrite."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch
from conftest import synth_stems
from support.tui_helpers import make_app, sync, write_fake_session

from progdemix_tui.cli import main
from progdemix_tui.engine import audio
from progdemix_tui.engine.config import RunConfig
from progdemix_tui.engine.errors import OutputError, SessionError
from progdemix_tui.engine.export import ExportSpec, export_sessions
from progdemix_tui.engine.progressive import IterationResult, StepMetrics
from progdemix_tui.engine.session import (
    SessionWriter,
    list_sessions,
    open_session,
    scan_sessions,
)

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
        export_sessions([session], ExportSpec(step=1, stems=("vocals",)), tmp_path / "export")
    assert not (tmp_path / "export").exists()
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
        with pytest.raises(SessionError, match="seconds|NaN|too large"):
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


# ------------------------------------------------------------------ killed writers, --overwrite

SOURCES = ("drums", "bass", "other", "vocals")

WRITER = """
import signal, sys
import torch
from progdemix_tui.engine.config import RunConfig
from progdemix_tui.engine.progressive import IterationResult, StepMetrics
from progdemix_tui.engine.session import SessionWriter

for sig in (signal.SIGHUP, signal.SIGTERM):  # as in a terminal, whatever pytest inherited
    signal.signal(sig, signal.SIG_DFL)
sources = ("drums", "bass", "other", "vocals")
writer = SessionWriter(sys.argv[1], RunConfig(steps=3), input_info={"path": "song.wav"},
                       model_info={"name": "tiny"}, device="cpu", samplerate=44100,
                       sources=sources)
with writer:
    stems = torch.rand(4, 2, 4410) - 0.5
    metrics = StepMetrics(step=0, beta=None, seconds=0.1, clip_factor=1.0,
                          loudness_gain_db=0.0, residual_db=None, estimate_change=None,
                          si_sdr=None, si_sdr_delta=None)
    writer.write_step(IterationResult(metrics, stems.sum(0), stems, sources, "vocals",
                                      44100, 3))
    print("step 0 written", flush=True)
    sys.stdin.readline()  # the run goes on until the test kills it
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP],
                         ids=["SIGKILL", "SIGTERM", "SIGHUP"])
def test_a_killed_writer_reads_as_interrupted(tmp_path, sig):
    out = tmp_path / "s"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "step 0 written\n"  # waits for the event itself
        assert open_session(out).status == "running"  # alive: its lock is held
        assert scan_sessions(tmp_path).sessions[0].status == "running"
    finally:
        proc.send_signal(sig)
        proc.wait()
        proc.stdout.close()
        proc.stdin.close()
    assert proc.returncode == -sig
    session = open_session(out)
    assert session.manifest["status"] == "running"  # what the dead writer left
    assert session.status == "interrupted"
    assert [r.step for r in session.steps] == [0]
    assert session.load(0, "vocals").shape == (2, 4410)
    assert scan_sessions(tmp_path).sessions[0].status == "interrupted"


def _session(folder: Path, steps: int, *, references: bool, overwrite: bool = False) -> None:
    """Write a session with the real writer: ``steps`` steps, with or without references."""
    stems = torch.rand(4, 2, 4410) - 0.5
    with SessionWriter(folder, RunConfig(steps=steps - 1), input_info={"path": "song.wav"},
                       model_info={"name": "tiny"}, device="cpu", samplerate=44100,
                       sources=SOURCES, overwrite=overwrite) as writer:
        if references:
            writer.write_references(stems)
        for k in range(steps):
            metrics = StepMetrics(step=k, beta=None, seconds=0.1, clip_factor=1.0,
                                  loudness_gain_db=0.0, residual_db=None, estimate_change=None,
                                  si_sdr=None, si_sdr_delta=None)
            writer.write_step(IterationResult(metrics, stems.sum(0), stems, SOURCES, "vocals",
                                              44100, steps - 1))


def test_overwrite_removes_the_earlier_run_and_keeps_the_users_files(tmp_path):
    out = tmp_path / "s"
    _session(out, 4, references=True)
    (out / "notes.txt").write_text("mine")
    (out / "mine").mkdir()
    (out / "mine" / "take.wav").write_bytes(b"mine")
    (out / "steps" / "README.txt").write_text("mine too")
    (out / "si_sdr.png").write_bytes(b"a plot of the earlier run")
    (out / ".vocals.flac.x1.part").write_bytes(b"a temporary left by a crash")
    _session(out, 2, references=False, overwrite=True)
    assert sorted(p.name for p in (out / "steps").iterdir()) == ["000", "001", "README.txt"]
    assert not (out / "references").exists() and not (out / "si_sdr.png").exists()
    assert not list(out.rglob("*.part"))
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "mine" / "take.wav").read_bytes() == b"mine"
    assert (out / "steps" / "README.txt").read_text() == "mine too"
    session = open_session(out)
    assert session.status == "complete" and [r.step for r in session.steps] == [0, 1]


def test_overwrite_does_not_follow_a_steps_link_out(tmp_path):
    out = tmp_path / "s"
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "000").mkdir(parents=True)
    (elsewhere / "000" / "mixture.flac").write_bytes(b"not the session's")
    out.mkdir()
    (out / "steps").symlink_to(elsewhere)
    _session(out, 1, references=False, overwrite=True)
    assert (elsewhere / "000" / "mixture.flac").read_bytes() == b"not the session's"
    assert sorted(p.name for p in elsewhere.rglob("*")) == ["000", "mixture.flac"]
    assert not (out / "steps").is_symlink()
    assert open_session(out).load(0, "mixture").shape == (2, 4410)


def test_a_second_writer_cannot_take_a_live_session(tmp_path):
    out = tmp_path / "s"
    first = SessionWriter(out, RunConfig(steps=1), input_info={}, model_info={}, device="cpu",
                          samplerate=44100, sources=SOURCES)
    with first:
        with pytest.raises(OutputError, match="being written by another run"):
            _session(out, 1, references=False, overwrite=True)
        assert open_session(out).status == "running"
    assert open_session(out).status == "complete"


@sync
async def test_the_tui_refuses_a_tampered_session_in_one_line(work, pristine, tiny_model_path):
    bad = Path(shutil.copytree(pristine, work / "sessions" / "bad"))
    _tamper(bad, TAMPERED["missing config"])
    markup = Path(shutil.copytree(pristine, work / "sessions" / "markup"))
    _tamper(markup, TAMPERED["markup in a key"])
    app = make_app(".", tiny_model_path)
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.open_session_folder(bad) is False  # a note, not a crash
        await pilot.pause()
        assert app.open_session_folder(markup) is False  # file content is not markup
        await pilot.pause()
        notes = [n.message for n in app._notifications]  # noqa: SLF001 - what the toasts say
        assert len(notes) == 2 and all("not a valid session" in n for n in notes)
        assert app.is_running
