"""The engine must stay free of UI libraries."""

from __future__ import annotations

import subprocess
import sys

from conftest import HANG_TIMEOUT


def run_fresh(code: str) -> None:
    """Run ``code`` in a new interpreter (a clean ``sys.modules``); it must exit 0."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=HANG_TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_engine_imports_no_textual_or_rich():
    code = (
        "import importlib, pkgutil, sys\n"
        "import progdemix_tui.engine as e\n"
        "for m in pkgutil.walk_packages(e.__path__, 'progdemix_tui.engine.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('textual', 'rich'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    run_fresh(code)


def test_engine_names_load_lazily_and_all_resolve():
    """``engine.errors`` / ``engine.config`` and ``--help`` must not pay for torch and demucs;
    every public name still resolves from ``progdemix_tui.engine``."""
    code = (
        "import sys\n"
        "import progdemix_tui.engine as e\n"
        "from progdemix_tui.engine.errors import ProgdemixError\n"
        "from progdemix_tui.engine.config import RunConfig\n"
        "from progdemix_tui.cli import build_parser\n"
        "from progdemix_tui.playback.errors import AudioUnavailable\n"
        "build_parser()\n"
        "assert 'torch' not in sys.modules, 'torch imported too early'\n"
        "assert sorted(e.__all__) == sorted(e._SOURCE)\n"
        "missing = [n for n in e.__all__ if getattr(e, n, None) is None]\n"
        "assert not missing, missing\n"
        "assert 'torch' in sys.modules\n"
        "assert e.RunConfig is RunConfig and issubclass(AudioUnavailable, ProgdemixError)\n"
    )
    run_fresh(code)
