"""Parameter parsing and the settings file (no Textual needed)."""

from __future__ import annotations

import json

from progdemix_tui.engine.config import RunConfig
from progdemix_tui.engine.options import FIELD_NAMES, PANEL
from progdemix_tui.tui.run_plan import RunPlan, describe_errors, field_errors, parse
from progdemix_tui.tui.settings import DEFAULTS, ENV_DIR, Settings, config_dir


def test_defaults_parse_to_a_plan():
    plan = parse(dict(DEFAULTS))
    assert isinstance(plan, RunPlan)
    assert plan.config.steps == 10 and plan.duration == 30.0 and plan.config.adaptive is None
    assert str(plan.out) == "sessions"


def test_invalid_fields_are_all_reported():
    values = dict(DEFAULTS, steps="x", beta_max="1.5", overlap="1", device="gpu",
                  early_stop="-1", duration="0", out=" ")
    errors = parse(values)
    assert isinstance(errors, dict)
    assert set(errors) == {"steps", "beta_max", "overlap", "device", "early_stop", "duration",
                           "out"}
    assert "steps must be a whole number" in describe_errors(errors)
    assert errors["beta_max"] == "β max must be in (0, 1], not 1.5"
    assert field_errors(dict(DEFAULTS)) == {}


def test_ranges_come_from_the_engine():
    """The panel reports the engine's own range checks, under the panel's field names."""
    panel_fields = {option.field for option in PANEL}
    # not panel fields: the chunk length, the preset (command line only, docs/study.md) and
    # the chunks per forward (the device's own choice serves the TUI)
    assert set(FIELD_NAMES) - panel_fields == {"adaptive.chunk_seconds", "preset",
                                               "separator.batch_chunks"}
    # the target: one of the model's stems where they are known without loading it (demo)
    errors = parse(dict(DEFAULTS, adaptive_k="40", steps="1001", shifts="-1", segment="0.05",
                        target="kazoo", model="demo"))
    assert errors == {
        "target": "target must be one of drums, bass, other, vocals, not 'kazoo'",
        "steps": "steps must be a whole number from 0 to 1000, not 1001",
        "adaptive_k": "adaptive K must be from 1 to 32 (0 = off)",
        "segment": "segment must be longer than 0.1 s (empty = default)",
        "shifts": "shifts must be from 0 to 20",
    }
    for values in ({"steps": "1001"}, {"adaptive_k": "33"}, {"overlap": "1"}):
        assert set(parse(dict(DEFAULTS, **values))) == set(values)
    assert RunConfig(steps=1001).problems().keys() == {"steps"}


def test_model_path_overrides_and_adaptive(tmp_path):
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"x")
    plan = parse(dict(DEFAULTS, model_path=str(model), adaptive_k="4", segment="2.5",
                      wiener=True))
    assert isinstance(plan, RunPlan)
    assert plan.model == str(model)
    assert plan.config.adaptive.candidates == 4 and plan.config.separator.segment == 2.5
    assert plan.config.wiener
    missing = parse(dict(DEFAULTS, model_path=str(tmp_path / "nope.safetensors")))
    assert "model_path" in missing


def test_settings_roundtrip_and_env_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "cfg"))
    assert config_dir() == tmp_path / "cfg"
    settings = Settings.load()
    settings.params["steps"] = "abc"  # stored as typed
    settings.ui["theme"] = "textual-light"
    assert settings.save() is not None
    again = Settings.load()
    assert again.params["steps"] == "abc" and again.ui["theme"] == "textual-light"
    (tmp_path / "cfg" / "settings.json").write_text("{broken")
    broken = Settings.load()
    assert broken.problem and broken.params == DEFAULTS


def test_xdg_config_home(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_DIR, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config_dir() == tmp_path / "progdemix-tui"
    (tmp_path / "progdemix-tui").mkdir()
    (tmp_path / "progdemix-tui" / "settings.json").write_text(
        json.dumps({"params": {"steps": 3, "wiener": True, "bogus": 1}}))
    loaded = Settings.load()
    assert loaded.params["steps"] == "3" and loaded.params["wiener"] is True
    assert "bogus" not in loaded.params
