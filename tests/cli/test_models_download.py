"""`models download` through the real download code (huggingface_hub's hf_hub_download),
against a hub stand-in on loopback that serves a tiny model made by the test."""

from __future__ import annotations

import hashlib
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

NAME = "hdemucs_mmi"  # a demucs pretrained name; its files here are the tiny test model
REPO = "adefossez/Demucs-hdemucs_mmi"
SIG = "0123abcd"
COMMIT = "a" * 40


class Hub(http.server.BaseHTTPRequestHandler):
    """``/<repo>/resolve/<revision>/<file>`` as the hub answers it: size, ETag, commit."""

    files: dict[str, bytes] = {}
    requests: list[str] = []

    def _answer(self, body: bool) -> None:
        self.requests.append(f"{self.command} {self.path}")
        prefix = f"/{REPO}/resolve/main/"
        name = self.path[len(prefix):] if self.path.startswith(prefix) else None
        data = self.files.get(name) if name else None
        if data is None:
            self.send_response(404)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        self.send_header("X-Repo-Commit", COMMIT)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
        self._answer(False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(True)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hub(tiny_model_path):
    Hub.files = {f"{NAME}.yaml": f"models: ['{SIG}']\n".encode(),
                 f"{SIG}.safetensors": Path(tiny_model_path).read_bytes()}
    Hub.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def hub_env(tmp_path, endpoint: str) -> dict:
    """This test's hub, its own cache, no proxy for loopback, not offline."""
    env = {**os.environ, "HF_ENDPOINT": endpoint, "HF_HOME": str(tmp_path / "hf"),
           "HF_HUB_DISABLE_TELEMETRY": "1", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    env.pop("HF_HUB_OFFLINE", None)
    return env


def cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "progdemix_tui", *args], env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.smoke  # the floors' environment: the uncached path
@pytest.mark.slow
def test_download_into_cache_and_folder_then_offline_run(tmp_path, hub):
    env = hub_env(tmp_path, hub)
    weights = tmp_path / "weights"
    done = cli("models", "download", NAME, "--to", str(weights), env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in weights.iterdir()) == [f"{SIG}.safetensors", f"{NAME}.yaml"]
    assert (weights / f"{SIG}.safetensors").read_bytes() == Hub.files[f"{SIG}.safetensors"]
    assert any(r.startswith("GET ") and SIG in r for r in Hub.requests)
    # offline now: the cached model and the --repo folder both load and run
    offline = {**env, "HF_HUB_OFFLINE": "1"}
    listed = cli("models", "--json", env=offline)
    assert f'"name": "{NAME}"' in listed.stdout
    from conftest import write_track

    track = write_track(tmp_path / "song", seconds=1.0)
    for extra in ([], ["--repo", str(weights)]):
        out = tmp_path / f"s{len(extra)}"
        ran = cli("run", str(track), "--model", NAME, *extra, "--steps", "1", "--segment", "1",
                  "--device", "cpu", "--out", str(out), "-q", env=offline)
        assert ran.returncode == 0, ran.stderr[-2000:]
        assert (out / "manifest.json").is_file()


@pytest.mark.smoke  # the floors' environment: the uncached path
def test_unknown_name_and_unreachable_hub_are_one_line(tmp_path, hub):
    env = hub_env(tmp_path, hub)
    bad = cli("models", "download", "no_such_model", env=env)
    assert bad.returncode == 2 and "unknown model" in bad.stderr
    gone = cli("models", "download", NAME, env={**env, "HF_ENDPOINT": "http://127.0.0.1:9"})
    assert gone.returncode == 2 and "cannot be reached" in gone.stderr
    assert "Traceback" not in bad.stderr + gone.stderr
    assert len(gone.stderr.strip().splitlines()) == 1


def test_download_reports_progress(tmp_path, hub):
    """The notes a download gives (the TUI's status line shows them in place of
    "loading model…"): bytes so far, ending at the file's size."""
    env = hub_env(tmp_path, hub)
    script = (
        "from progdemix_tui.engine.download import download\n"
        "from progdemix_tui.engine.hub import DownloadProgress\n"
        "seen = []\n"
        f"download({NAME!r}, notify=seen.append)\n"
        "for s in seen:\n"
        "    print(isinstance(s, DownloadProgress), getattr(s, 'done', ''), "
        "getattr(s, 'total', ''), s)\n")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    size = len(Hub.files[f"{SIG}.safetensors"])
    assert any(line.startswith(f"True {size} {size} downloading {SIG}.safetensors")
               for line in lines), lines
    assert any(line.startswith("False") and "downloading" in line for line in lines)


def test_online_sizes_of_models_not_downloaded(tmp_path, hub):
    import json

    env = hub_env(tmp_path, hub)
    offline = cli("models", "--json", env={**env, "HF_HUB_OFFLINE": "1"})
    row = next(r for r in json.loads(offline.stdout) if r["name"] == NAME)
    assert (row["size_bytes"], row["size_source"], row["cached"]) == (None, None, False)
    online = cli("models", "--json", "--online", env=env)
    assert online.returncode == 0, online.stderr[-2000:]
    row = next(r for r in json.loads(online.stdout) if r["name"] == NAME)
    assert row["size_bytes"] == len(Hub.files[f"{SIG}.safetensors"])
    assert row["size_source"] == "hub" and row["cached"] is False  # the weights stay remote
    assert not any(r.startswith("GET ") and SIG in r for r in Hub.requests)
    assert "note: size of" in online.stderr  # the others: not on this stand-in, said so


@pytest.mark.smoke
def test_run_of_an_uncached_hub_model_downloads_it(tmp_path, hub):
    """``run --model NAME`` with an empty cache: probe, download, load, run (issue 26: with
    huggingface_hub 0.24 this ended in a traceback; the floors' smoke tests missed it)."""
    from conftest import write_track

    env = hub_env(tmp_path, hub)
    track = write_track(tmp_path / "song", seconds=1.0)
    out = tmp_path / "session"
    ran = cli("run", str(track), "--model", NAME, "--steps", "1", "--segment", "1",
              "--device", "cpu", "--out", str(out), "-q", env=env)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert "Traceback" not in ran.stderr
    assert (out / "manifest.json").is_file()
    assert any(r.startswith("GET ") and SIG in r for r in Hub.requests)
