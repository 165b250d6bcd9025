"""Issue 22, gaps the first pass left (found in the audit of items 1-17).

Item 2: every string from a file that reaches the terminal has its control characters made
visible. The first pass covered ``report``'s session listing and error lines; a batch's
input names, an evaluation's track names, notes, skips and warnings (its progress, its
summary, ``report`` of its folder) still reached the terminal raw. The hostile names are
real file and folder names here, run through the real CLI and the tiny real model.
"""

from __future__ import annotations

import json
import os
import shutil

from conftest import write_track

from progdemix_tui.cli import main

TITLE = "\x1b]0;owned\x07"  # sets the window title
CLEAR = "\x1b[2J"  # clears the screen
OSC52 = "\x1b]52;c;aGVsbG8=\x07"  # sets the clipboard
RAW = ("\x1b", "\x07", "\x9b")


def _inert(text: str) -> None:
    assert not any(ch in text for ch in RAW), repr(text)


def _fast(model) -> list[str]:
    return ["--model", str(model), "--segment", "1", "--device", "cpu", "--steps", "1"]


def test_a_batch_shows_input_names_with_escapes_inert(tmp_path, tiny_model_path, capsys):
    songs = tmp_path / "songs"
    songs.mkdir()
    mixture = write_track(tmp_path / "track", seconds=1.0) / "mixture.wav"
    shutil.copy(mixture, songs / f"b{TITLE}{CLEAR}.wav")
    shutil.copy(mixture, songs / "good.wav")
    assert main(["run", str(songs), "--out", str(tmp_path / "out"), *_fast(tiny_model_path)]) == 0
    out, err = capsys.readouterr()
    _inert(out + err)
    assert "b\\x1b]0;owned\\x07\\x1b[2J.wav" in err  # the → line and the batch table


def test_an_evaluation_and_its_report_show_names_notes_and_warnings_inert(
        tmp_path, tiny_model_path, capsys):
    dataset = tmp_path / "dataset"
    write_track(dataset / f"t{TITLE}", seconds=1.0)  # shorter than the excerpt: a note
    broken = write_track(dataset / f"u{CLEAR}", seconds=1.0)
    (broken / "mixture.wav").write_bytes(b"not audio " * 300)  # skipped, with its reason
    out = tmp_path / "eval"
    assert main(["eval", str(dataset), "--out", str(out), "--excerpt", "2",
                 *_fast(tiny_model_path)]) == 0
    printed = "".join(capsys.readouterr())
    _inert(printed)
    assert "t\\x1b]0;owned\\x07" in printed and "u\\x1b[2J" in printed
    document = out / "eval.json"
    meta = json.loads(document.read_text())
    meta["warnings"] = [f"[/bold]{OSC52}"]  # an eval.json someone sent
    document.write_text(json.dumps(meta))
    assert main(["report", str(out), "--no-plots"]) == 0
    printed = "".join(capsys.readouterr())
    _inert(printed)
    assert "[/bold]\\x1b]52;c;aGVsbG8=\\x07" in printed and "u\\x1b[2J" in printed


def test_the_cli_consoles_keep_markup_and_lines_but_show_controls():
    """The one guard every CLI print goes through (strings and table cells)."""
    import io

    from progdemix_tui.cli.common import InertConsole

    console = InertConsole(file=io.StringIO(), width=200, highlight=False)
    console.print(f"[bold]note:[/] a{TITLE}\nb\tc{CLEAR}")
    assert console.file.getvalue() == "note: a\\x1b]0;owned\\x07\nb       c\\x1b[2J\n"


def test_a_fifo_mixture_makes_no_folder_of_songs(tmp_path, tiny_model_path, capsys):
    # A track folder whose mixture is a FIFO passed for a folder of four songs (its stems),
    # separated one by one, exit 0; now it is the track it looks like, refused in one line.
    track = write_track(tmp_path / "track", seconds=1.0)
    (track / "mixture.wav").unlink()
    os.mkfifo(track / "mixture.wav")
    out = tmp_path / "out"
    assert main(["run", str(track), "--out", str(out), *_fast(tiny_model_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mixture.wav is not a regular file" in err[0], err
    assert not out.exists()


def test_a_fifo_stem_in_a_dataset_is_named_not_missing(tmp_path, tiny_model_path, capsys):
    dataset = tmp_path / "dataset"
    write_track(dataset / "good", seconds=1.0)
    odd = write_track(dataset / "odd", seconds=1.0)
    (odd / "bass.wav").unlink()
    os.mkfifo(odd / "bass.wav")
    code = main(["eval", str(dataset), "--out", str(tmp_path / "ev"), "--no-plots",
                 *_fast(tiny_model_path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "odd: bass.wav is not a regular file" in out + err and "missing" not in out + err
    doc = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert [s["track"] for s in doc["skipped"]] == ["odd"]
    assert doc["skipped"][0]["reason"].startswith("bass.wav is not a regular file")
