"""The engine must stay free of UI libraries."""

from __future__ import annotations

import subprocess
import sys


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
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
