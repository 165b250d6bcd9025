"""Hostile and broken model files on every load path, and failing fast without a network.

Every file here is built by the test itself: a Hugging Face cache layout, a local demucs
repo folder, safetensors files with crafted metadata, and a small HTTP server standing in
for the Hugging Face hub (``HF_ENDPOINT``) that counts the requests it gets.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from conftest import tiny_hdemucs, write_track

from progdemix_tui.engine import models
from progdemix_tui.engine.errors import ModelUnavailable

REVISION = "0" * 40
EVIL = {"klass": "os.system", "args": '["touch $TMPDIR/PWNED"]', "kwargs": "{}"}


def _save_raw(path: Path, tensors: dict, metadata: dict) -> Path:
    from safetensors.torch import save_file

    save_file(tensors, str(path), metadata=metadata)
    return path


def _tiny_file(path: Path, **changes) -> Path:
    """A tiny HDemucs in demucs's format; ``changes`` edit its metadata or tensors."""
    from safetensors import safe_open

    models.save_safetensors(tiny_hdemucs(), path)
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
        names = handle.keys()
        tensors = {key: handle.get_tensor(key) for key in names}
    for key in ("klass", "args", "kwargs"):
        if key in changes:
            metadata[key] = changes.pop(key)
    if "drop" in changes:
        del tensors[changes.pop("drop")]
    tensors.update(changes.pop("tensors", {}))
    assert not changes
    return _save_raw(path, tensors, metadata)


def _hf_layout(hf_home: Path, repo_id: str, files: dict[str, bytes | Path]) -> Path:
    """The Hugging Face hub cache layout for ``repo_id`` holding ``files``."""
    owner, name = repo_id.split("/")
    storage = hf_home / "hub" / f"models--{owner}--{name}"
    snapshot = storage / "snapshots" / REVISION
    snapshot.mkdir(parents=True)
    (storage / "refs").mkdir()
    (storage / "refs" / "main").write_text(REVISION)
    for filename, content in files.items():
        target = snapshot / filename
        if isinstance(content, Path):
            target.write_bytes(content.read_bytes())
        else:
            target.write_bytes(content)
    return snapshot


def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "TMPDIR": str(cwd), **env}
    return subprocess.run([sys.executable, "-m", "progdemix_tui", *args], capture_output=True,
                          text=True, env=full, cwd=cwd, timeout=240)


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


# --------------------------------------------------------------------------- item 1: hub


def test_hub_cache_model_naming_os_system_runs_nothing(tmp_path):
    """The issue's reproduction: the default model's cache entry names ``os.system``."""
    evil = _save_raw(tmp_path / "evil.safetensors", {"x": torch.zeros(1)}, EVIL)
    _hf_layout(tmp_path / "hf", "adefossez/Demucs-hdemucs_mmi",
               {"hdemucs_mmi.yaml": b"models: [75fc33f5]\n", "75fc33f5.safetensors": evil})
    song = write_track(tmp_path / "track", seconds=1.0) / "mixture.wav"
    result = _cli(["run", str(song), "--steps", "0", "--out", str(tmp_path / "s")], tmp_path,
                  HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")
    assert not (tmp_path / "PWNED").exists()
    assert "does not hold a demucs model" in _one_line_error(result)
    assert "os.system" in result.stderr


def test_slash_name_says_which_repository_and_gets_the_same_checks(tmp_path):
    evil = _save_raw(tmp_path / "evil.safetensors", {"x": torch.zeros(1)}, EVIL)
    _hf_layout(tmp_path / "hf", "someone/Demucs-trap",
               {"trap.yaml": b"models: ['abcd1234']\n", "abcd1234.safetensors": evil})
    song = write_track(tmp_path / "track", seconds=1.0) / "mixture.wav"
    result = _cli(["run", str(song), "--model", "someone/trap", "--out", str(tmp_path / "s")],
                  tmp_path, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")
    assert not (tmp_path / "PWNED").exists()
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Hugging Face repository someone/Demucs-trap" in " ".join(result.stderr.split())
    assert "does not hold a demucs model" in result.stderr


def test_slash_name_loads_a_real_model_from_its_repository(tmp_path, monkeypatch):
    good = _tiny_file(tmp_path / "good.safetensors")
    _hf_layout(tmp_path / "hf", "someone/Demucs-fine",
               {"fine.yaml": b"models: ['abcd1234']\n", "abcd1234.safetensors": good})
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    notes: list[str] = []
    loaded = models.load_model("someone/fine", notify=notes.append)
    assert loaded.parameters == sum(p.numel() for p in tiny_hdemucs().parameters())
    assert "someone/Demucs-fine" in loaded.origin
    assert len(notes) == 1 and "Hugging Face repository someone/Demucs-fine" in notes[0]


@pytest.mark.parametrize("name", ["someone/../x", "someone/a/b", "../x/y", "some one/x"])
def test_slash_names_that_are_not_repositories_are_refused(name):
    with pytest.raises(ModelUnavailable, match="not a"):
        models.load_model(name)


def test_hub_bag_naming_a_path_is_refused(tmp_path, monkeypatch):
    good = _tiny_file(tmp_path / "good.safetensors")
    _hf_layout(tmp_path / "hf", "adefossez/Demucs-hdemucs_mmi",
               {"hdemucs_mmi.yaml": b"models: ['../../../../outside']\n"})
    (tmp_path / "outside.safetensors").write_bytes(good.read_bytes())
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    with pytest.raises(ModelUnavailable, match="not a plain model name"):
        models.load_model("hdemucs_mmi")


# --------------------------------------------------------------------------- item 1: files


def test_every_file_of_a_bag_is_checked_before_any_is_built(tmp_path):
    """A bag whose second file is hostile builds nothing, not even the first model."""
    _tiny_file(tmp_path / "aaaa0000.safetensors")
    _save_raw(tmp_path / "bbbb1111.safetensors", {"x": torch.zeros(1)}, EVIL)
    (tmp_path / "bag.yaml").write_text("models: [aaaa0000, bbbb1111]\n")
    built = []
    from demucs.hdemucs import HDemucs

    original = HDemucs.__init__

    @functools.wraps(original)
    def record(self, *args, **kwargs):
        built.append(torch.empty(0).device.type)
        original(self, *args, **kwargs)

    HDemucs.__init__ = record
    try:
        with pytest.raises(ModelUnavailable, match="does not hold a demucs model"):
            models.load_model("bag", repo=tmp_path)
    finally:
        HDemucs.__init__ = original
    assert "cpu" not in built  # only the allocation-free check on the meta device ran


def test_safetensors_file_naming_os_system_via_cli(tmp_path):
    evil = _save_raw(tmp_path / "evil.safetensors", {"x": torch.zeros(1)}, EVIL)
    song = write_track(tmp_path / "track", seconds=1.0) / "mixture.wav"
    result = _cli(["run", str(song), "--model", str(evil), "--out", str(tmp_path / "s")],
                  tmp_path)
    assert not (tmp_path / "PWNED").exists()
    assert "does not hold a demucs model" in _one_line_error(result)


# --------------------------------------------------------------------------- item 2: --repo


def test_repo_bag_entry_leading_outside_is_refused(tmp_path):
    repo, elsewhere = tmp_path / "repo", tmp_path / "models"
    repo.mkdir()
    elsewhere.mkdir()
    _tiny_file(elsewhere / "x.safetensors")
    (repo / "bag.yaml").write_text("models: ['../models/x']\n")
    with pytest.raises(ModelUnavailable, match="not a plain model name"):
        models.load_model("bag", repo=repo)


def test_repo_symlinks_leading_outside_are_refused(tmp_path):
    repo, elsewhere = tmp_path / "repo", tmp_path / "models"
    repo.mkdir()
    elsewhere.mkdir()
    outside = _tiny_file(elsewhere / "x.safetensors")
    (repo / "abcd1234.safetensors").symlink_to(outside)
    (repo / "bag.yaml").write_text("models: ['abcd1234']\n")
    with pytest.raises(ModelUnavailable, match="leads outside"):
        models.load_model("bag", repo=repo)
    (elsewhere / "other.yaml").write_text("models: ['abcd1234']\n")
    (repo / "other.yaml").symlink_to(elsewhere / "other.yaml")
    with pytest.raises(ModelUnavailable, match="leads outside"):
        models.load_model("other", repo=repo)


def test_repo_model_name_with_dots_is_refused(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _tiny_file(tmp_path / "x.safetensors")
    (tmp_path / "x.yaml").write_text("models: ['x']\n")
    with pytest.raises(ModelUnavailable, match="not a plain model name"):
        models.load_model("../x", repo=repo)


def test_repo_symlink_inside_the_repo_still_loads(tmp_path):
    repo = tmp_path / "repo"
    (repo / "blobs").mkdir(parents=True)
    real = _tiny_file(repo / "blobs" / "model.safetensors")
    (repo / "abcd1234.safetensors").symlink_to(real)
    (repo / "bag.yaml").write_text("models: ['abcd1234']\n")
    assert models.load_model("bag", repo=repo).parameters > 0


def test_repo_escape_via_cli_is_one_line(tmp_path):
    repo, elsewhere = tmp_path / "repo", tmp_path / "models"
    repo.mkdir()
    elsewhere.mkdir()
    _tiny_file(elsewhere / "x.safetensors")
    (repo / "bag.yaml").write_text("models: ['../models/x']\n")
    song = write_track(tmp_path / "track", seconds=1.0) / "mixture.wav"
    result = _cli(["run", str(song), "--model", "bag", "--repo", str(repo), "--out",
                   str(tmp_path / "s")], tmp_path)
    assert "../models/x" in _one_line_error(result)
    assert not (tmp_path / "s").exists()


# --------------------------------------------------------------------------- item 11


@pytest.mark.parametrize("text, match", [
    ("models: [abcd1234\n", "not a readable YAML"),
    ("- abcd1234\n", "expected a mapping"),
    ("segment: 4\n", "'models' must be a non-empty list"),
    ("models: []\n", "'models' must be a non-empty list"),
    ("models: [12345678]\n", "not a plain model name"),
    ("models: [abcd1234]\nweights: 3\n", "'weights' must be"),
    ("models: [abcd1234]\nweights: [[1, 1, 1, 1], [1, 1, 1, 1]]\n", "'weights' must be"),
    ("models: [abcd1234]\nsegment: long\n", "'segment' must be"),
    ("models: [abcd1234]\nweights: [[1, 1]]\n", "does not fit together"),
    ("\xff\xfe", "not a readable YAML"),
])
def test_malformed_repo_yaml_is_one_error(tmp_path, text, match):
    _tiny_file(tmp_path / "abcd1234.safetensors")
    (tmp_path / "bag.yaml").write_bytes(text.encode("latin-1"))
    with pytest.raises(ModelUnavailable, match=match):
        models.load_model("bag", repo=tmp_path)


@pytest.mark.parametrize("changes, match", [
    ({"kwargs": '{"channels": "many"}'}, "do not build a model"),
    ({"kwargs": '{"sources": ["drums", "bass", "other", "vocals"], "channels": 8}'},
     "wrong shape"),
    ({"kwargs": '{"sources": ["a", "b"], "channels": 4}'}, "wrong shape"),
    ({"args": '["not", "a", "model"]'}, "do not build a model"),
    ({"args": "{not json"}, "bad args/kwargs"),
    ({"args": '{"a": 1}'}, "args must be a JSON list"),
    ({"drop": "encoder.0.conv.weight"}, "1 missing"),
    ({"tensors": {"stray": torch.zeros(2)}}, "1 unexpected"),
    ({"tensors": {"encoder.0.conv.weight": torch.zeros(3)}}, "wrong shape"),
])
def test_demucs_class_with_wrong_arguments_or_state(tmp_path, changes, match):
    path = _tiny_file(tmp_path / "bad.safetensors", **changes)
    with pytest.raises(ModelUnavailable, match=match):
        models.load_model(str(path))


def test_wrong_state_via_cli_is_one_line(tmp_path):
    path = _tiny_file(tmp_path / "bad.safetensors", drop="encoder.0.conv.weight")
    song = write_track(tmp_path / "track", seconds=1.0) / "mixture.wav"
    result = _cli(["run", str(song), "--model", str(path), "--out", str(tmp_path / "s")],
                  tmp_path)
    assert "missing" in _one_line_error(result)


def test_malformed_yaml_via_cli_is_one_line(tmp_path):
    _tiny_file(tmp_path / "abcd1234.safetensors")
    (tmp_path / "bag.yaml").write_text("models: [abcd1234\n")
    song = write_track(tmp_path / "track", seconds=1.0) / "mixture.wav"
    result = _cli(["run", str(song), "--model", "bag", "--repo", str(tmp_path), "--out",
                   str(tmp_path / "s")], tmp_path)
    assert "not a readable YAML" in _one_line_error(result)


def test_unknown_kwargs_are_dropped_quietly_as_demucs_does(tmp_path):
    path = _tiny_file(tmp_path / "old.safetensors",
                      kwargs='{"sources": ["drums", "bass", "other", "vocals"], '
                             '"channels": 4, "retired_option": 1}')
    with _no_warnings():
        assert models.load_model(str(path)).parameters > 0


class _no_warnings:
    def __enter__(self):
        import warnings

        self._context = warnings.catch_warnings()
        self._context.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)


# --------------------------------------------------------------------------- item 13


class _Hub(ThreadingHTTPServer):
    """A stand-in for the Hugging Face hub: serves ``files`` or answers ``status``."""

    def __init__(self, files: dict[str, bytes] | None = None, status: int = 200):
        super().__init__(("127.0.0.1", 0), _HubHandler)
        self.files = files or {}
        self.status = status
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


class _HubHandler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def _answer(self, body: bool) -> None:
        hub: _Hub = self.server  # type: ignore[assignment]
        hub.requests.append(f"{self.command} {self.path}")
        content = hub.files.get(self.path.split("/resolve/main/", 1)[-1])
        if hub.status != 200 or content is None:
            self.send_response(hub.status if hub.status != 200 else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(content)))
        self.send_header("ETag", f'"{hashlib.sha256(content).hexdigest()}"')
        self.send_header("X-Repo-Commit", "1" * 40)
        self.end_headers()
        if body:
            self.wfile.write(content)

    def do_HEAD(self) -> None:  # noqa: N802 (http.server's names)
        self._answer(body=False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(body=True)


def test_offline_missing_model_fails_in_one_line_without_any_request(tmp_path):
    song = write_track(tmp_path / "track", seconds=1.0) / "mixture.wav"
    with _Hub() as hub:
        result = _cli(["run", str(song), "--steps", "0", "--out", str(tmp_path / "s")],
                      tmp_path, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1",
                      HF_ENDPOINT=hub.url)
    line = _one_line_error(result)
    assert hub.requests == []
    assert "downloading" not in result.stderr.lower()
    assert "HF_HUB_OFFLINE is set" in line and "--model demo" in line
    assert not (tmp_path / "s").exists()


def test_unreachable_slash_name_names_its_repository(tmp_path):
    song = write_track(tmp_path / "track", seconds=1.0) / "mixture.wav"
    result = _cli(["run", str(song), "--model", "someone/mine", "--out", str(tmp_path / "s")],
                  tmp_path, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")
    assert "(Hugging Face repository someone/Demucs-mine)" in _one_line_error(result)


def test_unreachable_hub_is_asked_once_and_fails_in_one_line(tmp_path):
    """A hub that answers 503 (as a failing proxy would) gets one request, not six."""
    song = write_track(tmp_path / "track", seconds=1.0) / "mixture.wav"
    with _Hub(status=503) as hub:
        result = _cli(["run", str(song), "--steps", "0", "--out", str(tmp_path / "s")],
                      tmp_path, HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT=hub.url,
                      HF_HUB_OFFLINE="0")
    line = _one_line_error(result)
    asked = [r for r in hub.requests if "/resolve/" in r]  # not the library's telemetry
    assert asked == ["HEAD /adefossez/Demucs-hdemucs_mmi/resolve/main/hdemucs_mmi.yaml"]
    assert "Retry" not in result.stderr and "downloading" not in result.stderr.lower()
    assert "cannot be reached" in line and "hdemucs_mmi" in line
    assert line.rstrip().endswith("--model demo.")


def test_no_network_at_all_fails_in_one_line(tmp_path):
    """Nothing listens on the endpoint's port: connection refused, at once, one line."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    song = write_track(tmp_path / "track", seconds=1.0) / "mixture.wav"
    result = _cli(["run", str(song), "--steps", "0", "--out", str(tmp_path / "s")], tmp_path,
                  HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT=f"http://127.0.0.1:{port}",
                  HF_HUB_OFFLINE="0")
    line = _one_line_error(result)
    assert "cannot be reached (ConnectError" in line and "Retry" not in result.stderr


def test_missing_model_downloads_once_reachable(tmp_path):
    """The real download path (huggingface_hub's hf_hub_download) against a local hub."""
    good = _tiny_file(tmp_path / "good.safetensors").read_bytes()
    files = {"hdemucs_mmi.yaml": b"models: ['75fc33f5']\n", "75fc33f5.safetensors": good}
    track = write_track(tmp_path / "track", seconds=1.0)
    with _Hub(files) as hub:
        result = _cli(["run", str(track), "--steps", "0", "--segment", "1", "--out",
                       str(tmp_path / "s")], tmp_path, HF_HOME=str(tmp_path / "hf"),
                      HF_ENDPOINT=hub.url, HF_HUB_OFFLINE="0",
                      HF_HUB_DISABLE_PROGRESS_BARS="1")
    assert result.returncode == 0, result.stderr
    assert "downloading hdemucs_mmi.yaml from the Hugging Face repository" in result.stderr
    assert (tmp_path / "s" / "steps" / "000" / "vocals.flac").is_file()
    again = _cli(["run", str(track), "--steps", "0", "--segment", "1", "--out",
                  str(tmp_path / "s2")], tmp_path, HF_HOME=str(tmp_path / "hf"),
                 HF_HUB_OFFLINE="1")
    assert again.returncode == 0, again.stderr
    assert "downloading" not in again.stderr


def test_tui_run_without_the_model_gives_app_advice(tmp_path, monkeypatch):
    """The app's run worker reports one line that names what to do in the app."""
    from huggingface_hub import constants

    from progdemix_tui.tui.run_plan import parse
    from progdemix_tui.tui.settings import DEFAULTS
    from progdemix_tui.tui.worker.runner import RunEnded, RunRequest, run_job

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    plan = parse(dict(DEFAULTS, model="hdemucs_mmi", model_path=""))
    track = write_track(tmp_path / "track", seconds=1.0)
    messages: list = []
    run_job(RunRequest(track, plan, tmp_path / "session"), threading.Event(), messages.append)
    ended = messages[-1]
    assert isinstance(ended, RunEnded) and ended.status == "failed"
    assert "pick 'demo' as the model in Params" in ended.error
    assert "--" not in ended.error and "\n" not in ended.error
    assert not any("download" in getattr(m, "text", "") for m in messages)


def test_missing_model_is_found_out_before_torch_loads(tmp_path):
    """The CLI's preflight needs neither torch nor demucs's modules (so it fails fast)."""
    code = ("import sys\n"
            "from progdemix_tui.engine.errors import ModelUnavailable\n"
            "from progdemix_tui.engine.hub import preflight\n"
            "try:\n    preflight('hdemucs_mmi')\nexcept ModelUnavailable as exc:\n"
            "    print('refused:', exc)\n"
            "print('torch loaded:', 'torch' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "HF_HOME": str(tmp_path / "hf"),
                                 "HF_HUB_OFFLINE": "1"}, timeout=120)
    assert ("refused: model 'hdemucs_mmi' (Hugging Face repository adefossez/Demucs-hdemucs_mmi)"
            " is not in the cache" in result.stdout)
    assert "torch loaded: False" in result.stdout


def test_hub_repo_names_match_demucs():
    from demucs.hf import hf_repo_name

    from progdemix_tui.engine import hub

    assert hub.known_names() and hub.known_names() == models_known_by_demucs()
    assert all(hub.hf_repo_name(n) == hf_repo_name(n) for n in hub.known_names())


def models_known_by_demucs() -> set[str]:
    from demucs.pretrained import REMOTE_ROOT

    return {p.stem for p in Path(REMOTE_ROOT).glob("*.yaml") if not p.stem.startswith("repro")}


def test_cached_model_makes_no_request_even_online(tmp_path):
    good = _tiny_file(tmp_path / "good.safetensors")
    _hf_layout(tmp_path / "hf", "adefossez/Demucs-hdemucs_mmi",
               {"hdemucs_mmi.yaml": b"models: ['75fc33f5']\n", "75fc33f5.safetensors": good})
    track = write_track(tmp_path / "track", seconds=1.0)
    with _Hub() as hub:
        result = _cli(["run", str(track), "--steps", "0", "--segment", "1", "--out",
                       str(tmp_path / "s")], tmp_path, HF_HOME=str(tmp_path / "hf"),
                      HF_ENDPOINT=hub.url, HF_HUB_OFFLINE="0")
    assert result.returncode == 0, result.stderr
    assert hub.requests == []


@pytest.mark.parametrize("klass", ["demucs.htdemucs.HTDemucs", "demucs.demucs.Demucs"])
def test_other_allowed_classes_pass_the_checks(tmp_path, klass):
    """The meta-device check builds every allowed class (tiny instances here)."""
    import importlib

    module, name = klass.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    torch.manual_seed(0)
    small = {"demucs.htdemucs.HTDemucs": {"channels": 4, "depth": 2, "t_layers": 1},
             "demucs.demucs.Demucs": {"channels": 4, "depth": 2}}[klass]
    model = cls(sources=["drums", "bass", "other", "vocals"], **small).eval()
    path = models.save_safetensors(model, tmp_path / "m.safetensors")
    loaded = models.load_model(str(path))
    assert type(loaded.module) is cls
    assert loaded.parameters == sum(p.numel() for p in model.parameters())
