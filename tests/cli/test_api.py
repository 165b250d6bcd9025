"""The Python API (``progdemix_tui.separate``): cheap to import, its defaults are the options',
``py.typed`` ships, bad input is the engine's named errors, and every example of docs/api.md
runs on a demo song with the demo model and gives the numbers ``progdemix-tui run`` gives."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import HANG_TIMEOUT

import progdemix_tui
from progdemix_tui.engine.errors import AudioInputError, ConfigError
from progdemix_tui.engine.options import OPTION

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "api.md"
API_ONLY = {"audio", "samplerate", "references", "session_dir", "overwrite", "cancel"}
"""``separate``'s parameters that are not run options."""


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True,
                          text=True, timeout=HANG_TIMEOUT)


def test_importing_the_package_and_the_api_loads_no_torch():
    code = ("import sys\nimport progdemix_tui\nfrom progdemix_tui import Result, separate\n"
            "assert callable(separate) and Result.__name__ == 'Result'\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    result = python(code)
    assert result.returncode == 0, result.stderr
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "progdemix_tui.api" in imported and "torch" not in imported


def test_parameters_are_the_run_options_with_their_defaults():
    params = inspect.signature(progdemix_tui.separate).parameters
    options = set(params) - API_ONLY
    assert options <= set(OPTION), options - set(OPTION)
    for name in options:
        assert params[name].default == OPTION[name].default, name
    # every option of the engine's config and of run's excerpt is offered, but the
    # deprecated --half (precision fp16 says it)
    offered = {o.name for o in OPTION.values() if o.field} | {"start", "duration", "stem_format"}
    assert offered - options <= {"half"}


def test_py_typed_ships_in_the_wheel(tmp_path):
    assert (ROOT / "progdemix_tui" / "py.typed").is_file()
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True, timeout=HANG_TIMEOUT)
    assert build.returncode == 0, build.stderr
    wheel = next(tmp_path.glob("progdemix_tui-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "progdemix_tui/py.typed" in names and "progdemix_tui/api.py" in names


def test_bad_input_is_named_errors_before_any_model_load(tmp_path):
    # "no-such-model" would fail to load: each of these is refused before that
    with pytest.raises(ConfigError, match="needs samplerate="):
        progdemix_tui.separate(torch.zeros(2, 100), model="no-such-model")
    with pytest.raises(AudioInputError, match=r"\[channels, time\]"):
        progdemix_tui.separate(torch.zeros(100), samplerate=44100, model="no-such-model")
    with pytest.raises(ConfigError, match="steps must be"):
        progdemix_tui.separate(torch.zeros(2, 100), samplerate=44100, steps=-1,
                               model="no-such-model")
    with pytest.raises(ConfigError, match="samplerate= is for a tensor"):
        progdemix_tui.separate(tmp_path / "song.wav", samplerate=44100, model="no-such-model")
    with pytest.raises(AudioInputError, match="does not exist|not found|no such"):
        progdemix_tui.separate(tmp_path / "song.wav", model="no-such-model")


def doc_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", DOC.read_text(), re.M | re.S)


COMPARED = ("step", "beta", "clip_factor", "loudness_gain_db", "residual_db", "estimate_change",
            "si_sdr", "si_sdr_delta", "converged")
"""The metrics compared with the CLI's (``seconds`` is a time)."""


def same_metrics(ours: list[dict], theirs: list[dict]) -> None:
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        for key in COMPARED:
            assert a[key] == pytest.approx(b[key], abs=1e-3), (a["step"], key)


@pytest.mark.slow
def test_docs_examples_run_and_match_the_cli(tmp_path, monkeypatch, capsys):
    from progdemix_tui.demo import generate_song, write_song
    from progdemix_tui.engine import open_session

    blocks = doc_blocks()
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    write_song(generate_song(1000, 3.0), tmp_path / "demo-songs" / "demo-001")
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)  # noqa: S102 - the docs' own code
    printed = capsys.readouterr().out
    assert "refused: target must be one of drums, bass, other, vocals" in printed
    assert "refused: audio must be a [channels, time] tensor" in printed

    result = namespace["result"]
    assert result.steps == (0, 1, 2) and result.samplerate == 44100
    assert result.stems[0].shape == (4, 2, 3 * 44100) and result.best_step is not None
    ours = [m.to_dict() for m in result.metrics]
    assert all(m["si_sdr"] for m in ours)  # a track folder: references
    # the CLI's own code path, in this process (what is compared is its numbers, not a process)
    from progdemix_tui.cli import main

    code = main(["run", "demo-songs/demo-001", "--model", "demo", "--steps", "2", "--json",
                 "--no-cache", "--out", "cli-session"])
    cli = capsys.readouterr()
    assert code == 0, cli.err
    same_metrics(ours, json.loads(cli.out))

    # the same samples as a tensor: the same run, without references
    from_tensor = namespace["from_tensor"]
    tensor_metrics = [m.to_dict() for m in from_tensor.metrics]
    assert all(m["si_sdr"] is None for m in tensor_metrics)
    for key in ("beta", "residual_db", "estimate_change"):
        assert [m[key] for m in tensor_metrics] == pytest.approx(
            [m[key] for m in ours], abs=1e-3), key
    assert torch.allclose(from_tensor.stems[2], result.stems[2], atol=1e-5)
    assert sorted(Path(name).stem for name in tmp_path.glob("*.wav")) == [
        "bass", "drums", "no_vocals", "other", "vocals"]

    saved = namespace["saved"]
    session = open_session(tmp_path / "sessions" / "api-demo")
    assert session.status == "complete" and saved.session == Path("sessions/api-demo")
    same_metrics([r.metrics.to_dict() for r in session.steps], ours)
    assert torch.allclose(session.load(2, "vocals"), saved.stem("vocals", 2), atol=1e-4)
