"""CLI tables at 80 columns: no number is ever cut; wider terminals keep every column."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import HANG_TIMEOUT, write_track
from rich.console import Console

from progdemix_tui.cli import main
from progdemix_tui.cli.eval import print_summary
from progdemix_tui.cli.report import SESSION_WIDTH
from progdemix_tui.engine.config import STEMS

SIX = (*STEMS, "guitar", "piano")
CUT_NUMBER = re.compile(r"[\d.+-]…")
LONG = "20250101-120000-a-song-with-a-rather-long-name"


def cli(*args: str, columns: int) -> str:
    """Run ``progdemix-tui ARGS`` as a user would, piped, in a terminal ``columns`` wide."""
    env = {**os.environ, "COLUMNS": str(columns)}
    env.pop("LINES", None)
    done = subprocess.run([sys.executable, "-m", "progdemix_tui", *args], env=env,
                          capture_output=True, text=True, timeout=HANG_TIMEOUT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def assert_fits(text: str, columns: int = 80) -> None:
    assert not CUT_NUMBER.search(text), text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= columns, text


@pytest.fixture(scope="module")
def sessions(tmp_path_factory) -> Path:
    """Two real sessions: a six-stem model with six references (13 columns), and a
    four-stem one with other target and schedule (nothing shared in the list but the mode)."""
    from demucs.hdemucs import HDemucs

    from progdemix_tui.engine.models import save_safetensors

    root = tmp_path_factory.mktemp("tables")
    torch.manual_seed(0)
    six = save_safetensors(HDemucs(sources=list(SIX), channels=4).eval(), root / "six.safetensors")
    four = save_safetensors(HDemucs(sources=list(STEMS), channels=4).eval(),
                            root / "four.safetensors")
    track = write_track(root / "song", seconds=1.0)
    rng = np.random.default_rng(1)
    for name in ("guitar", "piano"):
        sf.write(track / f"{name}.wav", 0.05 * rng.standard_normal((44100, 2)), 44100,
                 subtype="FLOAT")
    folder = root / "sessions"
    fast = ["--segment", "1", "--device", "cpu", "--steps", "2", "-q"]
    # made in this process: these runs' own output is not what the tests read
    assert main(["run", str(track), "--model", str(six), *fast, "--out",
                 str(folder / f"{LONG}-vocals-add-to-mixture")]) == 0
    assert main(["run", str(track), "--model", str(four), *fast, "--target", "drums",
                 "--schedule", "cosine", "--beta-max", "0.5", "--out", str(folder / "b")]) == 0
    return folder


def test_run_and_report_tables_fit_80_columns(sessions, tmp_path):
    session = sessions / f"{LONG}-vocals-add-to-mixture"
    track = sessions.parent / "song"
    model = sessions.parent / "six.safetensors"
    ran = cli("run", str(track), "--model", str(model), "--segment", "1", "--device", "cpu",
              "--steps", "1", "--out", str(tmp_path / "s"), columns=80)
    reported = cli("report", str(session), "--no-plots", columns=80)
    for text in (ran, reported):
        assert_fits(text)
        for header in ("step", "resid", "Δest", *SIX, "Δ0"):
            assert header in text
        assert "+0.00" in text  # step 0's Δ0, whole


def test_wide_terminal_keeps_every_column_in_one_table(sessions):
    text = cli("report", str(sessions / f"{LONG}-vocals-add-to-mixture"), "--no-plots",
               columns=200)
    header = next(line for line in text.splitlines() if line.split()[:1] == ["step"])
    assert header.split() == ["step", "β", "sec", "clip", "resid", "Δest", *SIX, "Δ0"]
    assert "not shown" not in text


def test_sessions_list_fits_80_columns_with_readable_names(sessions):
    text = cli("report", str(sessions), columns=80)
    assert_fits(text)
    assert LONG[:SESSION_WIDTH] in text  # not cut into 7-character pieces
    assert re.search(r" [+-]\d+\.\d\d *\n", text)  # a best step's Δ0, whole
    wide = cli("report", str(sessions), columns=200)
    assert LONG in wide and "not shown" not in wide
    for header in ("status", "schedule", "β max", "model", "Δ0 dB"):
        assert header in wide


def _summary(monkeypatch, tables: SimpleNamespace, width: int) -> str:
    """``eval``'s summary as printed on a terminal ``width`` columns wide."""
    from progdemix_tui.cli import common

    console = Console(file=io.StringIO(), width=width, color_system=None)
    monkeypatch.setattr(common, "out_console", console)
    print_summary(SimpleNamespace(meta={}), tables)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_eval_summary_with_wide_numbers_stacks_at_80_columns(monkeypatch):
    summary = [{"target": "vocals", "stem": stem, "metric": metric, "step": step,
                "beta": step / 200, "n": 50, "mean": -123.45, "median": -122.5, "std": 100.5,
                "min": -150.25, "max": 100.75}
               for stem in SIX for metric in ("si_sdr", "si_sdr_delta") for step in (0, 100, 200)]
    tables = SimpleNamespace(rows=[{"target": "vocals"}], summary=summary, oracle_summary=[])
    narrow = _summary(monkeypatch, tables, 80)
    assert_fits(narrow)
    wide = _summary(monkeypatch, tables, 200)
    assert len([line for line in wide.splitlines() if line.split()[:1] == ["step"]]) == 1
    # per step: the target's mean, Δ0 and the five other stems' means, whole at both widths
    assert narrow.count("-123.45") == wide.count("-123.45") == 3 * 7


# --------------------------------------------------------------------------- -q / -v


def test_every_command_takes_quiet_and_verbose():
    from progdemix_tui.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices  # noqa: SLF001
    assert {"run", "report", "eval", "models"} <= set(commands)
    for name, command in commands.items():
        text = command.format_help()
        assert "-q, --quiet" in text and "-v, --verbose" in text, name


def test_quiet_run_prints_the_table_and_nothing_on_stderr(sessions, tmp_path):
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run(
        [sys.executable, "-m", "progdemix_tui", "run", str(sessions.parent / "song"), "-q",
         "--model", str(sessions.parent / "four.safetensors"), "--segment", "1", "--device",
         "cpu", "--steps", "1", "--out", str(tmp_path / "s")],
        env=env, capture_output=True, text=True, timeout=HANG_TIMEOUT)
    assert done.returncode == 0 and done.stderr == ""
    assert "Δ0" in done.stdout
    for args in (["-q", "report", str(tmp_path / "nowhere")],
                 ["report", "-q", str(tmp_path / "nowhere")]):  # errors still show, one line
        failed = subprocess.run([sys.executable, "-m", "progdemix_tui", *args], env=env,
                                capture_output=True, text=True, timeout=HANG_TIMEOUT)
        assert failed.returncode == 2 and "Traceback" not in failed.stderr
        assert [line for line in failed.stderr.splitlines() if line.strip()] == [
            f"error: {tmp_path / 'nowhere'} does not exist; give a session or evaluation folder."]


@pytest.mark.parametrize(("flags", "shown"), [([], False), (["-v"], True), (["-q"], False)])
def test_verbose_shows_library_warnings(sessions, flags, shown):
    """A library's DeprecationWarning (hidden by Python's defaults) shows with -v only."""
    code = ("import sys, warnings\nfrom progdemix_tui.cli import main\n"
            "main(['report', *sys.argv[2:], sys.argv[1], '--no-plots'])\n"
            "warnings.warn_explicit('old api', DeprecationWarning, 'lib.py', 1, module='lib')\n")
    done = subprocess.run([sys.executable, "-c", code, str(sessions / "b"), *flags],
                          capture_output=True, text=True, timeout=HANG_TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert ("old api" in done.stderr) == shown
    assert ("session " in done.stderr) == (flags != ["-q"])
