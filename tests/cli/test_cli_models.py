"""`progdemix-tui models`: --json for scripts, --repo for a local repo folder, 80 columns."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

from conftest import HANG_TIMEOUT

from cli.test_cli_tables import assert_fits
from cli.test_model_safety import EVIL, _hf_layout, _tiny_file
from progdemix_tui.engine.config import STEMS


def models_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``progdemix-tui models ARGS`` with an empty Hugging Face cache, 80 columns wide."""
    env = {**os.environ, "HF_HOME": str(cwd / "hf"), "HF_HUB_OFFLINE": "1", "COLUMNS": "80",
           "TMPDIR": str(cwd)}
    return subprocess.run([sys.executable, "-m", "progdemix_tui", "models", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=HANG_TIMEOUT)


class _Evil:
    """Unpickling this runs ``touch $TMPDIR/PWNED``."""

    def __reduce__(self):
        return os.system, ("touch $TMPDIR/PWNED",)


def test_models_json_parses_with_what_is_known_locally(tmp_path):
    done = models_cli("--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert set(rows["demo"]) == {"name", "default", "cached", "size_bytes", "location",
                                 "origin", "sources", "description", "size_source", "family",
                                 "samplerate"}
    demo, default = rows["demo"], rows["hdemucs_mmi"]
    assert demo["cached"] and demo["size_bytes"] > 0 and demo["origin"] == "package"
    assert demo["size_source"] == "local"
    assert demo["sources"] == list(STEMS)
    assert default["default"] and not demo["default"]
    # not downloaded: no size or stems invented, but where it would come from
    assert not default["cached"] and default["size_bytes"] is None
    assert default["sources"] is None and default["origin"] == "adefossez/Demucs-hdemucs_mmi"


def test_models_json_reads_a_cached_hub_model(tmp_path):
    model = _tiny_file(tmp_path / "75fc33f5.safetensors")
    _hf_layout(tmp_path / "hf", "adefossez/Demucs-hdemucs_mmi",
               {"hdemucs_mmi.yaml": b"models: ['75fc33f5']\n", "75fc33f5.safetensors": model})
    done = models_cli("--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    row = next(row for row in json.loads(done.stdout) if row["name"] == "hdemucs_mmi")
    assert row["cached"] and row["size_bytes"] == model.stat().st_size
    assert row["sources"] == list(STEMS) and row["default"]


def test_models_table_fits_80_columns(tmp_path):
    done = models_cli(cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert_fits(done.stdout)
    assert " MB " in done.stdout and "hdemucs_mmi (default)" in done.stdout


def test_models_repo_lists_a_local_repo_and_skips_what_a_load_refuses(tmp_path):
    from demucs.hdemucs import HDemucs

    from progdemix_tui.engine.models import save_safetensors

    repo = tmp_path / "repo"
    repo.mkdir()
    _tiny_file(repo / "aaaa1111.safetensors")
    save_safetensors(HDemucs(sources=[*STEMS, "guitar", "piano"], channels=4),
                     repo / "bbbb2222.safetensors")
    (repo / "pair.yaml").write_text("models: ['aaaa1111', 'aaaa1111']\n")
    (repo / "cccc3333.th").write_bytes(pickle.dumps(_Evil()))  # listed, never unpickled
    _tiny_file(repo / "evil.safetensors", **EVIL)
    (repo / "escape.yaml").write_text("models: ['../x']\n")
    (repo / "missing.yaml").write_text("models: ['dddd4444']\n")
    done = models_cli("--repo", str(repo), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert set(rows) == {"pair", "bbbb2222", "cccc3333"}
    assert rows["pair"]["sources"] == list(STEMS)
    assert rows["pair"]["size_bytes"] == 2 * (repo / "aaaa1111.safetensors").stat().st_size
    assert rows["bbbb2222"]["sources"] == [*STEMS, "guitar", "piano"]
    assert rows["cccc3333"]["sources"] is None
    assert "--trust-checkpoint" in rows["cccc3333"]["description"]
    assert all(row["origin"] == str(repo) and row["cached"] for row in rows.values())
    skipped = [line for line in done.stderr.splitlines() if line.startswith("skipped:")]
    assert len(skipped) == 3 and "Traceback" not in done.stderr
    assert not (tmp_path / "PWNED").exists()
    table = models_cli("--repo", str(repo), cwd=tmp_path)
    assert table.returncode == 0 and "pair" in table.stdout and "cached" not in table.stdout
    assert_fits(table.stdout)


def test_models_repo_that_is_not_a_folder_is_one_line(tmp_path):
    done = models_cli("--repo", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if line.strip()] == [
        f"error: --repo {tmp_path / 'nowhere'} is not a folder."]
