"""The step-0 cache: a re-run with a new schedule reuses step 0; entries are hostile input."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import threading

import pytest
import torch
from conftest import tiny_hdemucs, write_track

from progdemix_tui.cli import main
from progdemix_tui.engine import RunConfig, SeparatorConfig
from progdemix_tui.engine.models import save_safetensors
from progdemix_tui.engine.progressive import iterate
from progdemix_tui.engine.separator import Separator
from progdemix_tui.engine.step0_cache import ENV_DIR, MAGIC, SUFFIX, Step0Cache, step0_key

SECONDS = 1.0


def _separator(model, folder=None, **overrides) -> Separator:
    config = SeparatorConfig(model=str(model), device="cpu", segment=1.0, precision="fp32",
                             cache=folder is not None, **overrides)
    separator = Separator.from_config(config)
    if folder is not None:
        separator.step0_cache = Step0Cache(folder)
    return separator


def _mix(seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    return torch.randn(2, int(44100 * SECONDS)) * 0.2


def _step0(separator: Separator, mix: torch.Tensor, schedule: str = "linear"):
    """Step 0's estimates and the progress calls it made."""
    calls: list[tuple[int, int]] = []
    config = RunConfig(steps=1, schedule=schedule)  # type: ignore[arg-type]
    results = iterate(separator, mix, config,
                      on_chunk=lambda step, done, total: calls.append((done, total))
                      if step == 0 else None)
    first = next(results).estimates
    results.close()
    return first, calls


def _entries(folder):
    return sorted(folder.glob(f"*{SUFFIX}"))


def test_a_rerun_with_a_new_schedule_reuses_step_0(tmp_path, tiny_model_path):
    mix = _mix()
    cold, cold_calls = _step0(_separator(tiny_model_path), mix)
    assert cold_calls == [(1, 2), (2, 2)]  # two chunks separated
    separator = _separator(tiny_model_path, tmp_path)
    first, calls = _step0(separator, mix, "linear")
    assert calls == cold_calls and len(_entries(tmp_path)) == 1
    again, calls = _step0(separator, mix, "cosine")  # a new schedule: step 0 from the cache
    assert calls == [(2, 2)]  # nothing separated, progress complete at once
    assert torch.equal(first, cold) and torch.equal(again, cold)
    # a new separator (a new process) with the same parameters reads it too
    fresh, calls = _step0(_separator(tiny_model_path, tmp_path), mix, "geometric")
    assert calls == [(2, 2)] and torch.equal(fresh, cold)


def _damage(path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        del data[len(data) // 2:]
    elif how == "flipped":
        data[-5] ^= 0xFF
    elif how == "magic":
        data[:len(MAGIC)] = b"PK\x03\x04NOPE"[:len(MAGIC)]
    elif how == "header":
        data[len(MAGIC):len(MAGIC) + 4] = (1 << 31).to_bytes(4, "little")
    elif how == "json":
        start = len(MAGIC) + 4
        data[start:start + 8] = b"\xff\xfe{[}]!!"
    elif how == "empty":
        data = bytearray()
    elif how == "grown":
        data += b"\0" * 8192
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["truncated", "flipped", "magic", "header", "json", "empty",
                                 "grown"])
def test_a_damaged_entry_is_ignored_and_rewritten(tmp_path, tiny_model_path, how):
    mix = _mix()
    separator = _separator(tiny_model_path, tmp_path)
    cold, _ = _step0(separator, mix)
    [entry] = _entries(tmp_path)
    _damage(entry, how)
    again, calls = _step0(separator, mix)
    assert calls == [(1, 2), (2, 2)]  # separated again
    assert torch.equal(again, cold)
    [rewritten] = _entries(tmp_path)
    assert rewritten == entry
    _, calls = _step0(separator, mix)
    assert calls == [(2, 2)]  # and the rewritten entry is good


def test_an_entry_of_another_key_or_shape_is_a_miss(tmp_path):
    cache = Step0Cache(tmp_path)
    value = torch.arange(24, dtype=torch.float32).reshape(1, 4, 2, 3)
    assert cache.put("a" * 64, value)
    assert torch.equal(cache.get("a" * 64, (1, 4, 2, 3)), value)
    assert cache.get("a" * 64, (1, 4, 3, 2)) is None  # the shape the caller expects
    assert cache.put("b" * 64, value)
    os.replace(cache.path("b" * 64), cache.path("c" * 64))  # an entry under another's name
    assert cache.get("c" * 64, (1, 4, 2, 3)) is None
    assert not cache.path("c" * 64).exists()


def test_the_key_follows_everything_that_changes_step_0(tmp_path, tiny_model_path):
    mix = _mix()[None]
    base = _separator(tiny_model_path, tmp_path)
    key = step0_key(base.step0_identity(), mix)
    assert step0_key(_separator(tiny_model_path, tmp_path).step0_identity(), mix) == key
    changed = {name: dataclasses.replace(base, **{name: value}) for name, value in
               {"segment": 2.0, "overlap": 0.5, "shifts": 1, "seed": 1, "precision": "bf16"}
               .items()}
    other_weights = save_safetensors(tiny_hdemucs(seed=1), tmp_path / "other.safetensors")
    changed["model"] = _separator(other_weights, tmp_path)
    keys = {name: step0_key(separator.step0_identity(), mix)
            for name, separator in changed.items()}
    edited = mix.clone()
    edited[0, 1, 100] += 1e-3
    keys["input"] = step0_key(base.step0_identity(), edited)
    keys["length"] = step0_key(base.step0_identity(), mix[..., :-1])
    identity = base.step0_identity()
    keys["device"] = step0_key(dict(identity, device="cuda"), mix)
    keys["torch"] = step0_key(dict(identity, torch="0.0"), mix)
    assert key not in keys.values()
    assert len(set(keys.values())) == len(keys)


def test_the_folder_stays_within_its_bound_least_recently_used_first(tmp_path):
    value = torch.zeros(1, 4, 2, 1000)  # 32 kB of payload
    one = len(MAGIC) + 4 + 200 + value.numel() * 4
    cache = Step0Cache(tmp_path, max_bytes=3 * one)
    for key in ("1", "2", "3"):
        assert cache.put(key * 64, value)
        os.utime(cache.path(key * 64), (1000 + int(key), 1000 + int(key)))
    assert cache.get("1" * 64, value.shape) is not None  # used: now the most recent
    assert cache.put("4" * 64, value)
    assert cache.size() <= cache.max_bytes
    assert sorted(p.name[0] for p in _entries(tmp_path)) == ["1", "3", "4"]  # 2 went first
    assert not cache.put("5" * 64, torch.zeros(1, 4, 2, 4000))  # over the bound: not stored
    assert cache.size() <= cache.max_bytes and not cache.path("5" * 64).exists()


def test_an_unusable_cache_folder_never_fails_a_run(tmp_path, tiny_model_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    mix = _mix()
    first, _ = _step0(_separator(tiny_model_path, blocker / "cache"), mix)
    assert torch.equal(first, _step0(_separator(tiny_model_path), mix)[0])


def test_run_uses_the_cache_unless_no_cache(tmp_path, tiny_model_path, monkeypatch):
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "cache"))
    track = write_track(tmp_path / "song", seconds=SECONDS)
    common = ["--model", str(tiny_model_path), "--segment", "1", "--device", "cpu",
              "--steps", "1", "-q"]
    assert main(["run", str(track), "--out", str(tmp_path / "a"), "--no-cache", *common]) == 0
    assert _entries(tmp_path / "cache") == []
    assert main(["run", str(track), "--out", str(tmp_path / "b"), *common]) == 0
    assert len(_entries(tmp_path / "cache")) == 1
    assert main(["run", str(track), "--out", str(tmp_path / "c"), "--schedule", "cosine",
                 *common]) == 0
    assert len(_entries(tmp_path / "cache")) == 1  # the same step 0
    steps = [(tmp_path / run / "steps" / "000" / "vocals.flac").read_bytes() for run in "abc"]
    assert steps[0] == steps[1] == steps[2]


def _header(entry) -> dict:
    data = entry.read_bytes()
    length = int.from_bytes(data[len(MAGIC):len(MAGIC) + 4], "little")
    return json.loads(data[len(MAGIC) + 4:len(MAGIC) + 4 + length])


def _step0_rows(folder) -> list[dict[str, str]]:
    """results.csv's step-0 rows without their timing column (read by name, not position)."""
    with open(folder / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows
            if row["step"] == "0"]


def test_evals_that_share_step_0_reuse_it(tmp_path, tiny_model_path, monkeypatch):
    """A second eval with another schedule reads step 0 from the cache: planting a valid
    entry with the stems swapped changes its step-0 scores."""
    cache = tmp_path / "cache"
    monkeypatch.setenv(ENV_DIR, str(cache))
    write_track(tmp_path / "data" / "a", seconds=SECONDS, seed=1)
    write_track(tmp_path / "data" / "b", seconds=SECONDS, seed=2)
    common = ["--model", str(tiny_model_path), "--segment", "1", "--device", "cpu",
              "--steps", "1", "--no-plots"]
    assert main(["eval", str(tmp_path / "data"), "--out", str(tmp_path / "one"), *common]) == 0
    entries = _entries(cache)
    assert len(entries) == 2  # one step 0 per track
    assert main(["eval", str(tmp_path / "data"), "--out", str(tmp_path / "two"), "--schedule",
                 "cosine", *common]) == 0
    assert _entries(cache) == entries
    assert _step0_rows(tmp_path / "two") == _step0_rows(tmp_path / "one")
    store = Step0Cache(cache)
    for entry in entries:
        header = _header(entry)
        stored = store.get(header["key"], tuple(header["shape"]))
        assert stored is not None
        assert store.put(header["key"], stored[:, [1, 0, 3, 2]])  # drums<->bass, other<->vocals
    assert main(["eval", str(tmp_path / "data"), "--out", str(tmp_path / "three"),
                 "--schedule", "geometric", *common]) == 0
    assert _step0_rows(tmp_path / "three") != _step0_rows(tmp_path / "one")
    assert main(["eval", str(tmp_path / "data"), "--out", str(tmp_path / "four"),
                 "--schedule", "geometric", "--no-cache", *common]) == 0
    assert _step0_rows(tmp_path / "four") == _step0_rows(tmp_path / "one")


def test_a_tui_rerun_with_a_new_schedule_starts_at_step_1(tmp_path, tiny_model_path,
                                                          monkeypatch):
    """The TUI's run worker, twice on one kept model: the second run's step 0 reports its
    chunks done at once (nothing separated) and writes the same audio."""
    from progdemix_tui.engine.separator import SeparatorCache
    from progdemix_tui.tui.run_plan import parse
    from progdemix_tui.tui.settings import DEFAULTS
    from progdemix_tui.tui.worker.runner import ChunkProgress, RunEnded, RunRequest, run_job

    monkeypatch.setenv(ENV_DIR, str(tmp_path / "cache"))
    track = write_track(tmp_path / "song", seconds=SECONDS)
    separators = SeparatorCache()
    step0: dict[str, list[tuple[int, int]]] = {}
    for schedule in ("linear", "cosine"):
        plan = parse(dict(DEFAULTS, model_path=str(tiny_model_path), steps="1", segment="1",
                          device="cpu", schedule=schedule))
        assert not isinstance(plan, dict), plan
        messages: list = []
        run_job(RunRequest(track, plan, tmp_path / schedule), threading.Event(),
                messages.append, progress_interval=0.0, separators=separators)
        assert isinstance(messages[-1], RunEnded) and messages[-1].status == "complete"
        step0[schedule] = [(m.done, m.total) for m in messages
                           if isinstance(m, ChunkProgress) and m.step == 0]
    assert step0 == {"linear": [(1, 2), (2, 2)], "cosine": [(2, 2)]}
    first, again = (tmp_path / name / "steps" / "000" / "vocals.flac" for name in step0)
    assert first.read_bytes() == again.read_bytes()


@pytest.mark.parametrize("argv", [[], ["--no-cache"]])
def test_the_tui_command_line_turns_the_cache_off(work, tiny_model_path, monkeypatch, argv):
    """``progdemix-tui --no-cache``: a run in the app writes no entry; without it, one."""
    from support.tui_helpers import screen_text, sync, wait_for

    from progdemix_tui.cli.tui import build_app
    from progdemix_tui.tui.audition import NullBackend

    cache = work.parent / "cache"
    monkeypatch.setenv(ENV_DIR, str(cache))
    app = build_app([*argv, "--model", str(tiny_model_path), "track"], backend=NullBackend(),
                    torch_threads=None, save_settings=False)
    assert app.step0_cache is not bool(argv)

    @sync
    async def run_once() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            for name, value in (("steps", "1"), ("segment", "1"), ("duration", "2"),
                                ("device", "cpu")):
                app.panel.set_value(name, value)
            await pilot.press("r")
            await wait_for(pilot, lambda: "complete" in screen_text(app))

    run_once()
    assert len(_entries(cache)) == (0 if argv else 1)
