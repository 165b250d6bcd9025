"""``run --resume SESSION`` (issue 26 item 3): a cancelled run resumed equals an uninterrupted
one; a changed input or model, a complete session and a hostile manifest are refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
from conftest import interrupt_when, tiny_hdemucs, wait_while_running, write_track

from progdemix_tui.cli import main
from progdemix_tui.engine import open_session

STEPS = "8"


def cli(capsys, *args: str) -> subprocess.CompletedProcess:
    """``run *args`` through the CLI's ``main`` in this process (the entry point's own code
    path; the Ctrl-C and kill cases, where the process is the point, run a real one)."""
    capsys.readouterr()
    code = main(["run", *args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["run", *args], code, out, err)


def common(model: Path) -> list[str]:
    return ["--steps", STEPS, "--model", str(model), "--segment", "1", "--device", "cpu"]


def flat(value, key: str = "") -> dict:
    """A step's metrics as ``{dotted key: value}`` (nested dicts of stems flattened)."""
    if isinstance(value, dict):
        return {k: v for name, item in value.items() for k, v in flat(item, f"{key}.{name}").items()}
    return {key: value}


def assert_same(a: list[dict], b: list[dict]) -> None:
    """Same steps, same metrics (all but the seconds taken) to float tolerance."""
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        x, y = flat({**x, "seconds": None}), flat({**y, "seconds": None})
        assert x.keys() == y.keys()
        for key in x:
            if isinstance(x[key], float):
                assert x[key] == pytest.approx(y[key], rel=1e-5, abs=1e-5), (key, x, y)
            else:
                assert x[key] == y[key], (key, x, y)


def cancelled_session(tmp_path: Path, model: Path, track: Path, *extra: str,
                      kill: bool = False) -> Path:
    """A session stopped after two or more steps: Ctrl-C (cancelled), or ``kill``: SIGKILL
    (its manifest stays ``running``, read as interrupted)."""
    out = tmp_path / "cancelled"
    proc = subprocess.Popen([sys.executable, "-m", "progdemix_tui", "run", str(track),
                             "--out", str(out), *common(model), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    manifest = out / "manifest.json"

    def two_steps() -> bool:
        return manifest.exists() and len(json.loads(manifest.read_text())["steps"]) >= 2

    if kill:
        try:
            wait_while_running(proc, two_steps, "two steps in the manifest")
        finally:
            proc.kill()
            proc.communicate()
        assert open_session(out).status == "interrupted"
        return out
    err = interrupt_when(proc, two_steps, "two steps in the manifest")
    assert proc.returncode == 130, err
    assert open_session(out).status == "cancelled"
    return out


_CANCELLED: dict[Path, tuple[Path, Path]] = {}


def cancelled_once(factory: pytest.TempPathFactory, model: Path) -> tuple[Path, Path]:
    """(session, track): a run of a 2 s track cancelled with Ctrl-C after two or more steps,
    made once per test process for ``model`` (three tests resume or refuse it: they copy)."""
    if model not in _CANCELLED:
        base = factory.mktemp("cancelled-once")
        track = write_track(base / "song", seconds=2.0)
        _CANCELLED[model] = cancelled_session(base, model, track), track
    return _CANCELLED[model]


@pytest.fixture
def cancelled(tmp_path_factory, tmp_path, tiny_model_path) -> tuple[Path, Path]:
    """A copy of :func:`cancelled_once`'s session in ``tmp_path``, and the track it ran on
    (shared: copy it too before changing it)."""
    session, track = cancelled_once(tmp_path_factory, tiny_model_path)
    return Path(shutil.copytree(session, tmp_path / "cancelled")), track


@pytest.mark.slow
@pytest.mark.parametrize(("extra", "kill"), [((), False), (("--adaptive", "2"), True)],
                         ids=["cancelled", "killed-adaptive"])
def test_resumed_run_equals_an_uninterrupted_one(request, tmp_path, tiny_model_path, capsys,
                                                  extra, kill):
    if kill:
        track = write_track(tmp_path / "song", seconds=2.0)
        out = cancelled_session(tmp_path, tiny_model_path, track, *extra, kill=kill)
    else:
        out, track = request.getfixturevalue("cancelled")
    whole = cli(capsys, str(track), "--out", str(tmp_path / "whole"), "--json",
                *common(tiny_model_path), *extra)
    assert whole.returncode == 0, whole.stderr
    kept = len(open_session(out).steps)
    resumed = cli(capsys, "--resume", str(out), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert f"after step {kept - 1}" in resumed.stderr
    assert_same(json.loads(resumed.stdout), json.loads(whole.stdout))
    session = open_session(out)
    assert session.status == "complete"
    assert_same([r.metrics.to_dict() for r in session.steps],
                [r.metrics.to_dict() for r in open_session(tmp_path / "whole").steps])
    assert not list(out.glob("steps/*/state.npy"))  # removed once complete
    again = cli(capsys, "--resume", str(out))  # a complete session is refused
    assert again.returncode == 2 and "complete" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1 and "Traceback" not in again.stderr


def test_changed_input_model_or_manifest_is_refused(tmp_path, tiny_model_path, capsys,
                                                    cancelled):
    from progdemix_tui.engine.models import save_safetensors

    out, shared = cancelled
    track = Path(shutil.copytree(shared, tmp_path / "song"))  # this test changes its track
    manifest = json.loads((out / "manifest.json").read_text())
    source = Path(manifest["input"]["resume"]["source"])
    manifest["input"]["resume"]["source"] = str(track / source.relative_to(shared))
    (out / "manifest.json").write_text(json.dumps(manifest))
    before = (out / "manifest.json").read_text()

    mix, rate = sf.read(track / "mixture.wav", dtype="float32")
    sf.write(track / "mixture.wav", mix * 0.5, rate, subtype="FLOAT")
    changed = cli(capsys, "--resume", str(out))
    assert changed.returncode == 2 and "changed" in changed.stderr, changed.stderr
    assert len(changed.stderr.strip().splitlines()) == 1
    sf.write(track / "mixture.wav", mix, rate, subtype="FLOAT")

    save_safetensors(tiny_hdemucs(seed=1), tiny_model_path.parent / "other.safetensors")
    manifest = json.loads(before)
    manifest["config"]["separator"]["model"] = str(tiny_model_path.parent / "other.safetensors")
    (out / "manifest.json").write_text(json.dumps(manifest))
    other = cli(capsys, "--resume", str(out))
    assert other.returncode == 2 and "model" in other.stderr and "changed" in other.stderr, \
        other.stderr
    assert len(other.stderr.strip().splitlines()) == 1

    manifest = json.loads(before)
    manifest["steps"][0]["files"]["mixture"]["path"] = "../../etc/passwd"
    (out / "manifest.json").write_text(json.dumps(manifest))
    hostile = cli(capsys, "--resume", str(out))
    assert hostile.returncode == 2 and "outside" in hostile.stderr, hostile.stderr
    assert len(hostile.stderr.strip().splitlines()) == 1
    assert (out / "manifest.json").read_text() == json.dumps(manifest)  # nothing written
