"""The extras ([web], [plots], [eval]) through the real CLI in an interpreter that cannot import
them: every command that needs one says which in one line (exit 2, no traceback); ``run`` and
the TUI work without any of them.

The blocker is a ``sitecustomize.py`` on ``PYTHONPATH`` whose meta-path finder makes
``import matplotlib`` (aiohttp, museval) raise ``ModuleNotFoundError``, as an install without
the extra would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import HANG_TIMEOUT, write_track

from progdemix_tui.engine import open_session

EXTRA_MODULES = ("matplotlib", "aiohttp", "museval")
BLOCKER = textwrap.dedent("""\
    import os
    import sys

    BLOCKED = set(filter(None, os.environ.get("PROGDEMIX_TEST_BLOCK", "").split(",")))


    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None


    sys.meta_path.insert(0, Blocker())
    """)


@pytest.fixture
def without(tmp_path):
    """``without(*modules)``: an environment whose Python cannot import ``modules``."""
    folder = tmp_path / "blocker"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(BLOCKER)

    def env(*modules: str) -> dict[str, str]:
        path = os.pathsep.join(filter(None, (str(folder), os.environ.get("PYTHONPATH"))))
        return {**os.environ, "PYTHONPATH": path, "PROGDEMIX_TEST_BLOCK": ",".join(modules),
                "COLUMNS": "200"}

    return env


def cli(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "progdemix_tui", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=HANG_TIMEOUT)


def one_error_line(result: subprocess.CompletedProcess, *parts: str) -> str:
    """``result`` exited 2 with exactly one line on stderr, the error, holding ``parts``."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


PLOTS_LINE = ("error: drawing plots needs matplotlib: pip install 'progdemix-tui[plots]', or "
              "add --no-plots.")


def fast(model: Path) -> list[str]:
    return ["--model", str(model), "--segment", "1", "--device", "cpu"]


def test_the_blocker_blocks(without):
    code = "import matplotlib"
    result = subprocess.run([sys.executable, "-c", code], env=without("matplotlib"),
                            capture_output=True, text=True, timeout=HANG_TIMEOUT)
    assert result.returncode == 1 and "No module named 'matplotlib'" in result.stderr


@pytest.mark.slow
def test_run_and_report_without_matplotlib(tmp_path, tiny_model_path, without):
    """``run`` works without [plots] and says its chart needs it; ``report`` refuses to draw
    in one line (nothing printed before it) and prints its tables with ``--no-plots``."""
    env = without(*EXTRA_MODULES)
    track = write_track(tmp_path / "song", seconds=1.0)
    out = tmp_path / "session"
    result = cli(env, "run", str(track), "--steps", "1", "--out", str(out),
                 *fast(tiny_model_path))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert ("note: chart not written: a PNG chart needs matplotlib: pip install "
            "'progdemix-tui[plots]'.") in result.stderr
    assert open_session(out).status == "complete"
    assert not list(out.glob("*.png"))

    refused = cli(env, "report", str(out))
    one_error_line(refused, PLOTS_LINE)
    assert refused.stdout == ""
    tables = cli(env, "report", str(out), "--no-plots")
    assert tables.returncode == 0, tables.stderr
    assert "vocals" in tables.stdout and not list(out.glob("*.png"))


def test_eval_without_matplotlib_or_museval(tmp_path, tiny_model_path, without):
    """``eval`` refuses before any work: plots without [plots] (unless --no-plots), --sdr bss
    without [eval]; ``eval-merge`` the same for its plots."""
    dataset = tmp_path / "musdb"
    write_track(dataset / "test" / "one", seconds=1.0)
    out = tmp_path / "eval"
    args = ["eval", str(dataset), "--steps", "1", "--out", str(out), *fast(tiny_model_path)]
    one_error_line(cli(without("matplotlib"), *args), PLOTS_LINE)
    one_error_line(cli(without("museval"), *args, "--no-plots", "--sdr", "bss"),
                   "BSSEval v4 SDR (--sdr bss or both) needs museval: pip install "
                   "'progdemix-tui[eval]', or use --sdr whole, or drop --sdr.")
    assert not out.exists()
    one_error_line(cli(without("matplotlib"), "eval-merge", str(tmp_path / "a"),
                       str(tmp_path / "b"), "--out", str(tmp_path / "merged")), PLOTS_LINE)
    assert not (tmp_path / "merged").exists()


def test_web_speaker_without_aiohttp_one_line(tmp_path, without):
    """``--audio-device web`` without [web]: one line before the app starts."""
    for device in ("web", "web:0"):
        result = cli(without("aiohttp"), "--audio-device", device, str(tmp_path))
        one_error_line(result, "the web speaker (web, web:PORT) needs aiohttp: pip install "
                               "'progdemix-tui[web]', or choose another audio device.")


TUI_WITHOUT_EXTRAS = textwrap.dedent("""\
    import asyncio
    import sys

    from progdemix_tui.cli.tui import build_app
    from progdemix_tui.playback.errors import AudioUnavailable
    from progdemix_tui.playback.web_server import WebSpeaker


    async def main():
        app = build_app([sys.argv[1]])
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("down")
            await pilot.pause()
            assert app.is_running and app.screen is not None
        try:
            WebSpeaker(0)  # choosing the browser speaker in the app
        except AudioUnavailable as exc:
            print(exc)
        else:
            raise SystemExit("the web speaker started without aiohttp")
        loaded = sorted({name.split(".")[0] for name in sys.modules} & {%s})
        print("loaded:", loaded)


    asyncio.run(main())
    """) % ", ".join(repr(m) for m in EXTRA_MODULES)


def test_tui_starts_without_the_extras(tmp_path, without):
    write_track(tmp_path / "songs" / "one", seconds=1.0)
    result = subprocess.run([sys.executable, "-c", TUI_WITHOUT_EXTRAS, str(tmp_path / "songs")],
                            env=without(*EXTRA_MODULES), capture_output=True, text=True,
                            timeout=HANG_TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("the web speaker (web, web:PORT) needs aiohttp: pip install 'progdemix-tui[web]', "
            "or choose another audio device.") in result.stdout
    assert "loaded: []" in result.stdout


ROOT = Path(__file__).resolve().parents[2]


def test_extras_are_declared_and_ci_installs_their_floors():
    """The core install lacks the extras' packages, ``[test]`` pulls every extra in, and
    ``.ci/run``'s floors script (run here as CI runs it) pins the extras' floors too."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+, as .ci/run's script
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    extras = project["optional-dependencies"]
    for name, module in (("plots", "matplotlib"), ("web", "aiohttp"), ("eval", "museval")):
        assert module not in core
        assert [d.split(">=")[0] for d in extras[name]] == [module]
    pulled = next(d for d in extras["test"] if d.startswith("progdemix-tui["))
    assert {"web", "plots", "eval"} <= set(pulled[len("progdemix-tui["):-1].split(","))
    script = re.search(r"<<'EOF'\n(.*?)\nEOF\n", (ROOT / ".ci" / "run").read_text(), re.S)
    assert script is not None
    floors = subprocess.run([sys.executable, "-"], input=script.group(1), cwd=ROOT,
                            capture_output=True, text=True, timeout=HANG_TIMEOUT)
    assert floors.returncode == 0, floors.stderr
    pins = floors.stdout.split()
    for name in ("plots", "web", "eval"):
        for dependency in extras[name]:
            assert dependency.replace(">=", "==") in pins
    assert "demucs==4.1.0" in pins and not any(p.startswith("torch==") for p in pins)
