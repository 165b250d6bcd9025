"""`progdemix-tui models`: Open-Unmix names not downloaded yet show their download's size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import HANG_TIMEOUT

from progdemix_tui.engine.families.openunmix import PUBLISHED


def test_models_lists_every_uncached_name_with_its_download_size(tmp_path: Path):
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch"), "HF_HOME": str(tmp_path / "hf"),
           "HF_HUB_OFFLINE": "1", "COLUMNS": "120"}

    def models(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "progdemix_tui", "models", *args],
                              env=env, capture_output=True, text=True, timeout=HANG_TIMEOUT)
        assert done.returncode == 0, done.stderr
        return done.stdout

    rows = {row["name"]: row for row in json.loads(models("--json"))}
    sizes = {name: (rows[name]["size_bytes"], rows[name]["size_source"], rows[name]["cached"])
             for name in PUBLISHED}
    # float32 tensors of the package's models: 4 targets of 8.9 M weights (umxl: 28.3 M), or
    # umxse's 2 of 1.6 M
    assert sizes == {"umxhq": (142_457_568, "estimate", False),
                     "umx": (142_457_568, "estimate", False),
                     "umxl": (452_311_776, "estimate", False),
                     "umxse": (12_685_424, "estimate", False)}
    table = {line.split()[1]: line for line in models().splitlines()
             if line.startswith("│ umx")}
    assert "~142.5 MB" in table["umxhq"] and "~452.3 MB" in table["umxl"]
    assert "~12.7 MB" in table["umxse"]
