"""An Open-Unmix name not downloaded yet shows what its download brings (issue 25)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from progdemix_tui.engine.families import openunmix as family
from progdemix_tui.engine.families.umx_package import openunmix
from progdemix_tui.engine.models.base import ModelRequest
from unit.test_family_openunmix import randomise


def test_the_estimate_is_the_size_of_the_files_as_published(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """umxse's two files saved as the package published them (open-unmix 1.0 state dicts,
    with their STFT window): the size shown before they are cached is theirs to 1 %."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    source = family.OpenUnmixSource()
    before = source.status("umxse")
    assert not before.cached and before.size_source == "estimate"
    assert before.size_bytes is not None and before.size_bytes > 0
    family.cache_dir().mkdir(parents=True)
    for i, (target, model) in enumerate(openunmix().umxse_spec(pretrained=False).items()):
        state = randomise(model, i).state_dict()
        state["stft.window"] = torch.hann_window(1024)
        state["sample_rate"] = torch.tensor(16000)
        torch.save(state, family.cached_files("umxse")[target])
    after = source.status("umxse")
    files = sum(path.stat().st_size for path in family.cached_files("umxse").values())
    assert after.cached and after.size_source is None and after.size_bytes == files
    assert abs(before.size_bytes - files) < 0.01 * files
    assert source.shape(ModelRequest("umxse")).model_bytes == files  # type: ignore[union-attr]
