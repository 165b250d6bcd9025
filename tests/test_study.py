"""The study's procedure and names (docs/study.md): the old "constant", ``--preset study``,
the whole-excerpt SDR, and the adaptive oracle's whole-excerpt guarantee."""

from __future__ import annotations

import json

import pytest
from conftest import write_track

from progdemix_tui.cli import main
from progdemix_tui.engine import open_session


def fast(model) -> list[str]:
    return ["--model", str(model), "--segment", "1", "--device", "cpu"]


# ------------------------------------------------------------------ names: "constant"


def test_old_constant_schedule_reads_as_flat_everywhere(tmp_path, tiny_model_path, capsys,
                                                        monkeypatch):
    """The command line takes the old name with a one-line note; an old session reads it."""
    track = write_track(tmp_path / "song", seconds=1.0)
    out = tmp_path / "s"
    assert main(["run", str(track), "--steps", "1", "--schedule", "constant", "--out", str(out),
                 *fast(tiny_model_path)]) == 0
    err = capsys.readouterr().err
    assert "--schedule constant is now called flat" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["schedule"] == "flat"
    manifest["config"]["schedule"] = "constant"  # as an older version wrote it
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert open_session(out).config.schedule == "flat"
    with pytest.raises(SystemExit) as exited:  # other names are still refused
        main(["run", str(track), "--schedule", "sideways", *fast(tiny_model_path)])
    assert exited.value.code == 2
    assert "invalid choice: 'sideways'" in capsys.readouterr().err


def test_old_constant_in_settings_reads_as_flat(tmp_path, monkeypatch):
    from progdemix_tui.tui.settings import ENV_DIR, Settings

    monkeypatch.setenv(ENV_DIR, str(tmp_path))
    (tmp_path / "settings.json").write_text(json.dumps({"params": {"schedule": "constant"}}))
    settings = Settings.load()
    assert settings.params["schedule"] == "flat" and settings.problem is None
