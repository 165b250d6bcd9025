"""A run's checks happen once, in the engine, whoever starts the run (CLI or TUI worker).

The engine's own functions are wrapped by counters that call through to them: the runs are
real ones, with the tiny HDemucs and a synthetic track folder.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import torch
from conftest import synth_stems, write_track
from support.perfect import PerfectSeparator

from progdemix_tui.cli import main
from progdemix_tui.engine import job, progressive, separator, tracks
from progdemix_tui.engine.config import RunConfig
from progdemix_tui.engine.errors import InputUnreadable, NoMixture, ReferencesRequired
from progdemix_tui.tui.run_plan import parse
from progdemix_tui.tui.settings import DEFAULTS
from progdemix_tui.tui.worker.runner import RunEnded, RunRequest, run_job


@pytest.fixture
def calls(monkeypatch) -> Counter:
    """Counts calls of the run checks; each counter calls the real function."""
    counts: Counter = Counter()

    def counting(name, fn):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(progressive, "check_references",
                        counting("check_references", progressive.check_references))
    monkeypatch.setattr(RunConfig, "validate", counting("validate", RunConfig.validate))
    monkeypatch.setattr(job, "inspect_input", counting("inspect_input", job.inspect_input))
    monkeypatch.setattr(job, "preflight", counting("preflight", job.preflight))
    monkeypatch.setattr(separator.Separator, "from_config",
                        counting("model loads", separator.Separator.from_config))
    return counts


def tui_plan(model, **params):
    return parse({**DEFAULTS, "model_path": str(model), "steps": "1", "segment": "1",
                  "device": "cpu", **params})


def test_tui_worker_run_checks_once(tmp_path, tiny_model_path, calls):
    track = write_track(tmp_path / "song", seconds=1.0)
    plan = tui_plan(tiny_model_path, mode="oracle")  # oracle: references are needed
    messages: list = []
    run_job(RunRequest(track, plan, tmp_path / "session"), threading.Event(), messages.append)
    assert isinstance(messages[-1], RunEnded) and messages[-1].status == "complete", messages[-1]
    assert calls == {"check_references": 1, "validate": 1, "inspect_input": 1, "preflight": 1,
                     "model loads": 1}


def test_cli_run_checks_once(tmp_path, tiny_model_path, calls):
    track = write_track(tmp_path / "song", seconds=1.0)
    assert main(["run", str(track), "--steps", "1", "--mode", "oracle", "--out",
                 str(tmp_path / "s"), "--model", str(tiny_model_path), "--segment", "1",
                 "--device", "cpu"]) == 0
    # validate: once when the arguments are parsed (cli/common.py), once by engine.check_run;
    # the second checks only the target, the values being kept (tests/test_prepare.py)
    assert calls == {"check_references": 1, "validate": 2, "inspect_input": 1, "preflight": 1,
                     "model loads": 1}


def test_separator_cache_keeps_the_model_while_its_config_is_unchanged(tmp_path,
                                                                       tiny_model_path, calls):
    track = write_track(tmp_path / "song", seconds=1.0)
    cache = separator.SeparatorCache()
    for n, segment in enumerate(("1", "1", "1.5")):
        messages: list = []
        run_job(RunRequest(track, tui_plan(tiny_model_path, segment=segment),
                           tmp_path / f"s{n}"),
                threading.Event(), messages.append, separators=cache)
        assert messages[-1].status == "complete", messages[-1]
    assert calls["model loads"] == 2  # the second run reused the first one's model


def test_a_check_for_another_config_is_not_trusted():
    stems = torch.from_numpy(synth_stems(0.5))
    sep = PerfectSeparator(stems)
    checked = progressive.check_config(RunConfig(steps=1), sep.sources, False)
    oracle = RunConfig(steps=1, mode="oracle")  # needs references: none are given
    with pytest.raises(ReferencesRequired):
        list(progressive.iterate(sep, stems.sum(0), oracle, checked=checked))


def test_inspect_input(tmp_path):
    track = write_track(tmp_path / "song", seconds=0.5)
    found = tracks.inspect_input(track)
    assert found.track_folder and found.references and found.audio.path.stem == "mixture"
    plain = tracks.inspect_input(track / "mixture.wav")
    assert not plain.track_folder and not plain.references
    assert tracks.inspect_input(track / "mixture.wav", references=track).references
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoMixture):
        tracks.inspect_input(tmp_path / "empty")


def test_inspect_input_says_why_a_folder_cannot_be_listed(tmp_path, monkeypatch):
    def refuse(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(tmp_path), "is_dir", refuse)
    with pytest.raises(InputUnreadable) as info:
        tracks.inspect_input(tmp_path)
    assert info.value.cause.strerror == "Permission denied"
    assert "cannot be read (Permission denied)" in str(info.value)

