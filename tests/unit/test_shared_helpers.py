"""Helpers where their names say: the excerpt's rules in one place (CLI, library, TUI panel,
eval), the result count beside the loop that yields the results, and one builder of the
documents' header and provenance (session manifest, eval.json)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import progdemix_tui
from progdemix_tui.engine import procedure, provenance, study
from progdemix_tui.engine.config import (
    STEMS,
    RunConfig,
    check_excerpt,
    excerpt_length_problem,
    excerpt_problems,
)
from progdemix_tui.engine.errors import ConfigError
from progdemix_tui.engine.evaluation import EvalFolder, EvalSettings
from progdemix_tui.engine.session import SessionWriter
from progdemix_tui.tui.run_plan import parse
from progdemix_tui.tui.settings import DEFAULTS


def test_the_panel_says_what_the_cli_says_about_an_excerpt():
    errors = parse(dict(DEFAULTS, start="-1", duration="0"))
    assert isinstance(errors, dict)
    rules = excerpt_problems(-1.0, 0.0)
    assert errors["start"] == f"start {rules['start']}" == "start must be ≥ 0 seconds, not -1"
    assert errors["duration"] == f"duration {rules['duration']} (empty = whole file)"
    with pytest.raises(ConfigError, match=r"^--start must be ≥ 0 seconds, not -1; --duration "
                                          r"must be > 0 seconds, not 0\.$"):
        check_excerpt(-1.0, 0.0)


@pytest.mark.parametrize(("seconds", "why"), [
    (-1.0, "must be ≥ 0 seconds (0: whole tracks)"), (float("nan"), "must be a finite number, not nan"),
    (0.0, None), (30.0, None)])
def test_evals_excerpt_length_rule(seconds, why):
    assert excerpt_length_problem(seconds) == why


def test_result_count_is_the_procedures():
    assert not hasattr(study, "result_count")
    assert procedure.result_count(RunConfig(steps=3)) == 4
    assert procedure.result_count(RunConfig(steps=3, preset="study")) == 3  # N − 1 last


def test_session_and_evaluation_documents_share_header_and_provenance(tmp_path):
    model = {"name": "m", "origin": "test"}
    with SessionWriter(tmp_path / "s", RunConfig(), input_info={"path": "x"}, model_info=model,
                       device="cpu", samplerate=44100, sources=STEMS) as writer:
        manifest = json.loads((writer.folder / "manifest.json").read_text())
    info = provenance.provenance(model, "cpu", 1)
    made = EvalFolder.create_or_resume(tmp_path / "e", EvalSettings(RunConfig(), ("vocals",)),
                                       info)
    meta = json.loads((made.folder / "eval.json").read_text())
    for doc in (manifest, meta):
        assert set(provenance.header("f", 1)) <= set(doc)
        assert doc["model"] == model and doc["device"] == "cpu"
        assert doc["versions"] == provenance.versions()
    assert "." in manifest["created"] and "." not in meta["created"]  # to the microsecond


def test_only_provenance_builds_the_documents_metadata():
    """No other module computes a ``versions`` or ``created`` value of its own (a dict key
    given a call): session, eval and their preparation take them from engine/provenance.py."""
    package = Path(progdemix_tui.__file__).parent
    builders = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict) and any(
                    isinstance(k, ast.Constant) and k.value in ("versions", "created")
                    and isinstance(v, ast.Call) for k, v in zip(node.keys, node.values,
                                                                strict=True)):
                builders.add(path.relative_to(package).as_posix())
    assert builders == {"engine/provenance.py"}
