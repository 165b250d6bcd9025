"""Bounds at the boundary: non-finite options, segment limits, memory, unreadable paths.

Each case fails with one line on stderr and exit code 2, before anything is written.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile as sf
from conftest import write_track

from progdemix_tui.cli import main
from progdemix_tui.engine import RunConfig, SeparatorConfig
from progdemix_tui.engine.config import (
    MAX_SEGMENT,
    AdaptiveConfig,
    excerpt_problems,
    not_finite,
)
from progdemix_tui.engine.resources import MEMORY_ENV, estimate_run_bytes, parse_bytes


def fast(model) -> list[str]:
    return ["--model", str(model), "--segment", "1", "--device", "cpu"]


def one_line_error(err: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    return lines[0]


def error_line(err: str) -> str:
    """The one ``error:`` line of a run that failed after starting (progress lines may precede)."""
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


def write_wav(path, seconds: float, rate: int = 44100):
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.2 * np.sin(2 * np.pi * 220 * t)
    sf.write(path, np.stack([tone, 0.5 * tone], 1), rate, subtype="PCM_16")
    return path


# ------------------------------------------------------------------ item 5: nan and inf

@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_config_flags_every_non_finite_float(value):
    config = RunConfig(beta_max=value, early_stop_db=value, adaptive=AdaptiveConfig(2, "auto", value),
                       separator=SeparatorConfig(segment=value, overlap=value))
    found = config.problems()
    for key in ("beta_max", "early_stop_db", "adaptive.chunk_seconds", "separator.segment",
                "separator.overlap"):
        assert found[key] == f"must be a finite number, not {value}", key
    assert excerpt_problems(value, value) == {
        "start": f"must be a finite number, not {value}",
        "duration": f"must be a finite number, not {value}"}
    assert not_finite(1.5) is None


RUN_FLOATS = [("--start",), ("--duration",), ("--segment",), ("--adaptive-chunk", "--adaptive", "2"),
              ("--early-stop",), ("--beta-max",), ("--overlap",)]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("option", RUN_FLOATS, ids=lambda o: o[0])
def test_run_non_finite_option_is_one_line_and_writes_nothing(tmp_path, tiny_model_path, capsys,
                                                              option, value):
    track = write_track(tmp_path / "song", seconds=1.0)
    out = tmp_path / "out"
    args = [str(track), "--steps", "1", "--out", str(out), *fast(tiny_model_path)]
    args += [f"{option[0]}={value}", *option[1:]]
    assert main(["run", *args]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "finite" in line
    assert not out.exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("option", ["--excerpt", "--silence-db"])
def test_eval_non_finite_option_is_one_line_and_writes_nothing(tmp_path, tiny_model_path, capsys,
                                                               option, value):
    write_track(tmp_path / "ds" / "test" / "song", seconds=1.0)
    out = tmp_path / "out"
    assert main(["eval", str(tmp_path / "ds"), "--out", str(out), "--steps", "1",
                 *fast(tiny_model_path), f"{option}={value}"]) == 2
    assert f"{option} must be a finite number" in one_line_error(capsys.readouterr().err)
    assert not out.exists()


# ------------------------------------------------------------------ item 3: segment bounds

def test_segment_over_the_maximum_is_refused(tmp_path, tiny_model_path, capsys):
    track = write_track(tmp_path / "song", seconds=1.0)
    out = tmp_path / "out"
    assert main(["run", str(track), "--out", str(out), "--model", str(tiny_model_path),
                 "--device", "cpu", "--duration", "2", "--segment", "100000"]) == 2
    assert f"segment must be at most {MAX_SEGMENT:g} s" in one_line_error(capsys.readouterr().err)
    assert not out.exists()


def test_segment_longer_than_the_input_is_capped(tmp_path, tiny_model_path, capsys):
    track = write_track(tmp_path / "song", seconds=1.0)
    out = tmp_path / "out"
    assert main(["run", str(track), "--out", str(out), "--model", str(tiny_model_path),
                 "--device", "cpu", "--steps", "1", "--segment", str(MAX_SEGMENT)]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert f"segment {MAX_SEGMENT:g} s capped at 10.0 s" in err


ALLOCATION_CHILD = textwrap.dedent("""
    import os, resource, sys
    import torch
    torch.set_num_threads(1)
    from progdemix_tui.cli import main
    from progdemix_tui.engine import separator, progressive, session  # imported before the cap
    with open("/proc/self/status") as status:
        size = next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmSize:"))
    # The address space can grow by 120 MB: the 2-minute input loads, its separation does not.
    resource.setrlimit(resource.RLIMIT_AS, (size + (120 << 20), resource.RLIM_INFINITY))
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux's /proc")
def test_cpu_allocation_failure_is_one_line(tmp_path, tiny_model_path):
    wav = write_wav(tmp_path / "long.wav", 120.0)
    env = dict(os.environ, MALLOC_ARENA_MAX="1", OMP_NUM_THREADS="1", **{MEMORY_ENV: "off"})
    done = subprocess.run([sys.executable, "-c", ALLOCATION_CHILD, "run", str(wav), "--steps", "0",
                           "--out", str(tmp_path / "out"), *fast(tiny_model_path)],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 2, done.stderr
    assert "out of memory" in error_line(done.stderr)


# ------------------------------------------------------------------ item 4: memory estimate

def test_parse_bytes():
    assert parse_bytes("512M") == 512 << 20
    assert parse_bytes("2g") == 2 << 30
    assert parse_bytes("1000") == 1000
    with pytest.raises(ValueError):
        parse_bytes("lots")


def test_estimate_grows_with_input_references_and_candidates():
    base = dict(frames=60 * 44100, steps=1)
    one = estimate_run_bytes(**base)
    assert estimate_run_bytes(frames=600 * 44100, steps=1) - one > 9 * (one - estimate_run_bytes(
        frames=0, steps=1)) * 0.9
    assert estimate_run_bytes(**base, references=True) > one
    assert estimate_run_bytes(**base, candidates=4) > one


def test_run_that_cannot_fit_is_refused_before_the_model_loads(tmp_path, tiny_model_path, capsys,
                                                               monkeypatch):
    long = write_wav(tmp_path / "long.wav", 60.0)
    size = tiny_model_path.stat().st_size
    three_seconds = estimate_run_bytes(frames=3 * 44100, steps=1, model_bytes=size, segment=1.0)
    monkeypatch.setenv(MEMORY_ENV, str(three_seconds))  # room for about 3 s of this input
    out = tmp_path / "out"
    assert main(["run", str(long), "--steps", "1", "--out", str(out), *fast(tiny_model_path)]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "needs about" in line and "available" in line and "--start/--duration" in line
    assert not out.exists()
    # the excerpt the message suggests does fit, and runs
    duration = re.search(r"--duration (\d+) or less", line).group(1)
    assert 1 <= int(duration) <= 3
    assert main(["run", str(long), "--steps", "1", "--out", str(out), "--duration", duration,
                 *fast(tiny_model_path)]) == 0


# ------------------------------------------------------------------ item 11: paths

def test_input_in_unsearchable_folder_is_one_line(tmp_path, tiny_model_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    write_wav(locked / "song.wav", 1.0)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "progdemix_tui", "run", str(locked / "song.wav"), "--out", str(out),
           *fast(tiny_model_path)]
    if os.geteuid() == 0:  # root passes permission checks unless it drops its capabilities
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot drop CAP_DAC_OVERRIDE")
        caps = "-dac_override,-dac_read_search"
        cmd = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", *cmd]
    locked.chmod(0o600)  # no search (x) permission
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    finally:
        locked.chmod(0o700)
    assert done.returncode == 2, done.stderr
    assert "Permission denied" in one_line_error(done.stderr)
    assert not out.exists()


def test_over_long_out_name_is_one_line(tmp_path, tiny_model_path, capsys):
    track = write_track(tmp_path / "song", seconds=1.0)
    out = tmp_path / ("x" * 300)
    before = set(tmp_path.iterdir())
    assert main(["run", str(track), "--out", str(out), *fast(tiny_model_path)]) == 2
    assert "File name too long" in one_line_error(capsys.readouterr().err)
    assert set(tmp_path.iterdir()) == before


def test_eval_skips_a_track_that_cannot_fit_and_evaluates_the_rest(tmp_path, tiny_model_path,
                                                                   capsys, monkeypatch):
    from conftest import write_track

    root = tmp_path / "data"
    write_track(root / "short", seconds=2.0, seed=1)
    write_track(root / "long", seconds=40.0, seed=2)
    size = tiny_model_path.stat().st_size
    # room for about 5 s of a track with its references, so the 40 s one cannot fit
    five_seconds = estimate_run_bytes(frames=5 * 44100, steps=1, model_bytes=size, segment=1.0,
                                      references=True)
    monkeypatch.setenv(MEMORY_ENV, str(five_seconds))
    out = tmp_path / "out"
    assert main(["eval", str(root), "--steps", "1", "--excerpt", "0", "--no-plots",
                 "--out", str(out), *fast(tiny_model_path)]) == 0
    meta = json.loads((out / "eval.json").read_text())
    assert meta["status"] == "complete"
    assert [p.name for p in (out / "tracks").glob("*.json")] == ["short__vocals.json"]
    reason = {s["track"]: s["reason"] for s in meta["skipped"]}["long"]
    assert "needs about" in reason and "--excerpt" in reason
    assert "Traceback" not in capsys.readouterr().err
