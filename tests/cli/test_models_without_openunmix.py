"""Without the openunmix package (a core install: it is installed apart, ``--no-deps``),
``models`` still lists every model, the Open-Unmix names with no size; running one says how
to install the package in one line. CI's floors environment found ``models`` exiting 2 there
once the uncached names' sizes came from the package's own model."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import HANG_TIMEOUT

from progdemix_tui.engine.families.umx_package import INSTALL

# sys.modules["openunmix"] = None: importlib.util.find_spec then answers None, as it does
# where the package is not installed, and `import openunmix` fails.
ABSENT = "import sys\nsys.modules['openunmix'] = None\n"


def cli(tmp_path, *args: str) -> subprocess.CompletedProcess:
    folder = tmp_path / "absent"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(ABSENT)
    path = os.pathsep.join(filter(None, (str(folder), os.environ.get("PYTHONPATH"))))
    env = {**os.environ, "PYTHONPATH": path, "TORCH_HOME": str(tmp_path / "torch"),
           "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "progdemix_tui", *args], env=env,
                          capture_output=True, text=True, timeout=HANG_TIMEOUT, check=False)


def test_models_lists_openunmix_names_without_the_package(tmp_path, track):
    listed = cli(tmp_path, "models", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert {"demo", "umxhq", "umxl", "umx", "umxse"} <= set(rows)
    for name in ("umxhq", "umxl", "umx", "umxse"):
        assert rows[name]["size_bytes"] is None and rows[name]["size_source"] is None
    table = cli(tmp_path, "models")
    assert table.returncode == 0 and "umxhq" in table.stdout, table.stderr
    run = cli(tmp_path, "run", str(track), "--model", "umxhq", "--out", str(tmp_path / "s"))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [
        f"error: Open-Unmix models need the openunmix package, which is not installed; "
        f"install it: {INSTALL}."]
    assert "--no-deps" in INSTALL and "progdemix-tui[" not in INSTALL  # no such extra
    assert not (tmp_path / "s").exists()
