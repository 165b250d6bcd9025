"""Run preparation in the engine (engine/prepare.py), ``--half`` folded into ``precision`` at
parsing, and the study preset as a procedure chosen once (engine/procedure.py).

Real parts: the tiny HDemucs on disk, synthetic track folders, the real CLI and worker.
"""

from __future__ import annotations

import ast
import json
import threading
from collections import Counter
from pathlib import Path

import pytest
from conftest import write_track

import progdemix_tui
from progdemix_tui.cli import main
from progdemix_tui.engine import open_session, prepare, run_session
from progdemix_tui.engine.config import PRESETS, RunConfig, SeparatorConfig
from progdemix_tui.engine.errors import ConfigError, OutputError
from progdemix_tui.engine.procedure import PROCEDURES, STUDY, TOOL, procedure_for
from progdemix_tui.engine.separator import SeparatorCache
from progdemix_tui.tui.run_plan import parse
from progdemix_tui.tui.settings import DEFAULTS
from progdemix_tui.tui.worker.runner import RunEnded, RunRequest, run_job

PACKAGE = Path(progdemix_tui.__file__).parent


def _config(model: Path, **fields) -> RunConfig:
    return RunConfig(steps=1, separator=SeparatorConfig(model=str(model), device="cpu",
                                                        segment=1.0), **fields)


def test_prepare_gives_a_run_that_run_session_trusts(tmp_path, tiny_model_path):
    track = write_track(tmp_path / "song", seconds=1.0)
    cache = SeparatorCache()
    config = _config(tiny_model_path, mode="oracle")
    run = prepare.prepare(prepare.RunRequest(track, config, out=tmp_path / "s"), cache)
    assert run.input.references and run.start == 0.0 and run.checked.covers(
        config, run.separator.sources, True)
    results = list(run_session(run.separator, run.load_input(), config, tmp_path / "s",
                               checked=run.checked))
    assert [r.step for r in results] == [0, 1]
    again = prepare.prepare(prepare.RunRequest(track, config), cache)
    assert again.separator is run.separator  # the cache kept the model


def test_prepare_refuses_a_target_the_model_lacks_in_one_line(tmp_path, tiny_model_path):
    track = write_track(tmp_path / "song", seconds=1.0)
    with pytest.raises(ConfigError, match="--target guitar is not a stem of model"):
        prepare.prepare(prepare.RunRequest(track, _config(tiny_model_path, target="guitar")))


def test_prepare_checks_the_output_folder_before_the_model(tmp_path):
    track = write_track(tmp_path / "song", seconds=1.0)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("x")
    # the model does not exist: the folder is refused first, nothing is loaded
    request = prepare.RunRequest(track, _config(tmp_path / "missing.safetensors"), out=taken)
    with pytest.raises(OutputError):
        prepare.prepare(request)


@pytest.fixture
def value_checks(monkeypatch) -> Counter:
    """Counts the config's value checks (each calls the real one)."""
    counts: Counter = Counter()
    real = RunConfig._check_values

    def counting(self):
        counts["value checks"] += 1
        return real(self)

    monkeypatch.setattr(RunConfig, "_check_values", counting)
    return counts


def test_cli_run_checks_the_config_values_once(tmp_path, tiny_model_path, value_checks):
    track = write_track(tmp_path / "song", seconds=1.0)
    assert main(["run", str(track), "--steps", "1", "--out", str(tmp_path / "s"), "--model",
                 str(tiny_model_path), "--segment", "1", "--device", "cpu"]) == 0
    assert value_checks == {"value checks": 1}


def test_tui_worker_checks_the_config_values_once(tmp_path, tiny_model_path, value_checks):
    track = write_track(tmp_path / "song", seconds=1.0)
    plan = parse({**DEFAULTS, "model_path": str(tiny_model_path), "steps": "1",
                  "segment": "1", "device": "cpu"})
    messages: list = []
    seen: list[int] = []

    def emit(message) -> None:
        messages.append(message)
        seen.append(value_checks["value checks"])

    run_job(RunRequest(track, plan, tmp_path / "s"), threading.Event(), emit)
    assert isinstance(messages[-1], RunEnded) and messages[-1].status == "complete"
    # the panel's check, and none while the run prepares and runs (the final status then
    # reads the written manifest back, which checks that document on its own)
    assert seen[-2] == 1, seen


def test_eval_checks_the_config_values_once(tmp_path, tiny_model_path, value_checks):
    """Once when parsed, not again for each target nor for each track's run."""
    for i in range(2):
        write_track(tmp_path / "data" / f"song{i}", seconds=1.0, seed=i)
    assert main(["eval", str(tmp_path / "data"), "--targets", "all", "--steps", "1",
                 "--excerpt", "0", "--out", str(tmp_path / "ev"), "--model",
                 str(tiny_model_path), "--segment", "1", "--device", "cpu", "--no-plots"]) == 0
    assert value_checks == {"value checks": 1}


@pytest.mark.parametrize("command", ["run", "eval"])
def test_half_beside_another_precision_is_refused_at_parsing(tmp_path, tiny_model_path,
                                                             capsys, monkeypatch, command):
    """Before the memory check: with almost no memory free the contradiction still wins."""
    monkeypatch.setenv("PROGDEMIX_MEMORY_AVAILABLE", "1M")
    track = write_track(tmp_path / "song", seconds=1.0)
    target = track if command == "run" else tmp_path
    code = main([command, str(target), "--out", str(tmp_path / "out"), "--model",
                 str(tiny_model_path), "--device", "cpu", "--half", "--precision", "bf16"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "--half means --precision fp16; drop --half or --precision bf16." in err
    assert not (tmp_path / "out").exists()


def test_half_is_precision_fp16_in_one_field():
    from progdemix_tui.engine.options import run_config

    assert run_config({"half": True}).separator.precision == "fp16"
    assert "half" not in RunConfig().to_dict()["separator"]
    with pytest.raises(ConfigError, match="--half means --precision fp16"):
        run_config({"half": True, "precision": "fp32"})


def test_old_manifests_and_evaluations_with_half_still_open(tmp_path, tiny_model_path,
                                                            capsys):
    track = write_track(tmp_path / "song", seconds=1.0)
    session = tmp_path / "sessions" / "old"
    assert main(["run", str(track), "--steps", "1", "--out", str(session), "--model",
                 str(tiny_model_path), "--segment", "1", "--device", "cpu"]) == 0
    manifest = json.loads((session / "manifest.json").read_text())
    manifest["config"]["separator"]["half"] = False  # as written before the fold
    (session / "manifest.json").write_text(json.dumps(manifest))
    assert open_session(session).config.separator.precision == manifest["config"][
        "separator"]["precision"]
    # --skip-existing still recognises it as a finished session with these parameters
    capsys.readouterr()
    assert main(["run", str(track), "--skip-existing", "--steps", "1", "--out",
                 str(tmp_path / "sessions"), "--model", str(tiny_model_path), "--segment", "1",
                 "--device", "cpu"]) == 0
    assert "skipped" in capsys.readouterr().err
    manifest["config"]["separator"]["half"] = True
    (session / "manifest.json").write_text(json.dumps(manifest))
    if manifest["config"]["separator"]["precision"] == "auto":
        assert open_session(session).config.separator.precision == "fp16"


def test_the_preset_chooses_the_procedure_once():
    assert tuple(PROCEDURES) == PRESETS
    assert procedure_for(RunConfig(preset="study")) is STUDY
    assert procedure_for(RunConfig()) is TOOL
    assert (STUDY.last_step(10), TOOL.last_step(10)) == (9, 10)
    assert not STUDY.resumable and STUDY.sample_std


def _sources(*folders: str):
    for folder in folders:
        for path in sorted((PACKAGE / folder).rglob("*.py")):
            yield path, path.read_text(encoding="utf-8")


def test_no_module_but_the_config_tests_for_the_study_preset():
    """The preset is chosen once (engine/procedure.py); only the config's own rules (its
    float32 and β = n/N) read it there."""
    testing = [str(path.relative_to(PACKAGE)) for path, text in _sources("engine", "cli", "tui")
               if path.name not in ("config.py", "procedure.py")
               and ('== "study"' in text or "is_study" in text or "!= \"study\"" in text)]
    assert testing == []


def test_eval_does_not_import_run():
    tree = ast.parse((PACKAGE / "cli" / "eval.py").read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "run" not in imported and "progdemix_tui.cli.run" not in imported
