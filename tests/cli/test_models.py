"""Real demucs loading paths, offline: local repo, Hugging Face cache layout, files."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from conftest import HANG_TIMEOUT, tiny_hdemucs, write_track

from progdemix_tui.engine import models
from progdemix_tui.engine.errors import ModelUnavailable, UntrustedCheckpoint


def _save_pickled(model, path):
    from demucs.states import get_state

    args, kwargs = model._init_args_kwargs
    torch.save({"klass": type(model), "args": args, "kwargs": kwargs,
                "state": get_state(model, None)}, path)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_safetensors_file_round_trip(tiny_model_path):
    loaded = models.load_model(str(tiny_model_path))
    assert loaded.sources == ("drums", "bass", "other", "vocals")
    assert loaded.samplerate == 44100
    assert _same_weights(loaded.module, tiny_hdemucs())


@pytest.mark.smoke
def test_local_repo_with_bag_and_safetensors(tmp_path):
    models.save_safetensors(tiny_hdemucs(), tmp_path / "abcd1234.safetensors")
    (tmp_path / "mybag.yaml").write_text("models: ['abcd1234']\nsegment: 4\n")
    loaded = models.load_model("mybag", repo=tmp_path)
    assert _same_weights(loaded.module, tiny_hdemucs())


def test_local_repo_pickled_needs_trust(tmp_path):
    _save_pickled(tiny_hdemucs(), tmp_path / "feedbeef.th")
    (tmp_path / "picklebag.yaml").write_text("models: ['feedbeef']\n")
    with pytest.raises(UntrustedCheckpoint, match="--trust-checkpoint"):
        models.load_model("picklebag", repo=tmp_path)
    loaded = models.load_model("picklebag", repo=tmp_path, trust_checkpoint=True)
    assert _same_weights(loaded.module, tiny_hdemucs())


def test_th_file_refused_without_trust(tmp_path):
    path = tmp_path / "model.th"
    _save_pickled(tiny_hdemucs(), path)
    with pytest.raises(UntrustedCheckpoint, match="runs code"):
        models.load_model(str(path))
    assert models.load_model(str(path), trust_checkpoint=True).parameters > 0


def test_safetensors_with_foreign_class_is_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "evil.safetensors"
    save_file({"x": torch.zeros(1)}, str(path),
              metadata={"klass": "os.system", "args": '["true"]', "kwargs": "{}"})
    with pytest.raises(ModelUnavailable, match="does not hold a demucs model"):
        models.load_model(str(path))


def test_unknown_model_offline():
    with pytest.raises(ModelUnavailable, match="unknown model 'nosuchmodel'"):
        models.load_model("nosuchmodel")


def _hf_cache(root, name: str, sig: str):
    """Lay out the Hugging Face hub cache for adefossez/<repo> with a tiny model inside."""
    from demucs.hf import hf_repo_name

    repo = root / "hub" / f"models--adefossez--{hf_repo_name(name)}"
    revision = "0" * 40
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    (snapshot / f"{name}.yaml").write_text(f"models: ['{sig}']\nsegment: 44\n")
    models.save_safetensors(tiny_hdemucs(), snapshot / f"{sig}.safetensors")


def _cli(args, env_extra, cwd):
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-m", "progdemix_tui", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=HANG_TIMEOUT)


@pytest.mark.smoke
def test_default_model_from_hf_cache_offline(tmp_path):
    """hdemucs_mmi resolves through demucs.pretrained/hf with HF_HUB_OFFLINE=1."""
    _hf_cache(tmp_path / "hf", "hdemucs_mmi", "75fc33f5")
    track = write_track(tmp_path / "track", seconds=1.5)
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    result = _cli(["run", str(track), "--steps", "1", "--segment", "1",
                   "--out", str(tmp_path / "s")], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "s" / "steps" / "001" / "vocals.flac").is_file()
    listing = _cli(["models"], env, tmp_path)
    assert listing.returncode == 0
    line = next(x for x in listing.stdout.splitlines() if "hdemucs_mmi" in x)
    assert "yes" in line


def test_missing_weights_offline_message(tmp_path):
    track = write_track(tmp_path / "track", seconds=1.0)
    env = {"HF_HOME": str(tmp_path / "empty-hf"), "HF_HUB_OFFLINE": "1"}
    result = _cli(["run", str(track), "--model", "htdemucs", "--out", str(tmp_path / "s")],
                  env, tmp_path)
    assert result.returncode == 2
    err = " ".join(result.stderr.split())
    assert "htdemucs" in err and "empty-hf" in err and "--repo" in err
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "s").exists()


def test_torchaudio_bundle_without_torchaudio_names_the_extra():
    """torchaudio has no CPU build here; without it, the bundles fail with one clear line."""
    try:
        import torchaudio  # noqa: F401
    except Exception:
        with pytest.raises(ModelUnavailable, match=r"progdemix-tui\[torchaudio\]"):
            models.load_model("HDEMUCS_HIGH_MUSDB_PLUS")
    else:
        pytest.skip("torchaudio is installed: the bundle would download weights")
