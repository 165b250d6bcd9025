"""Issue 22 items 5, 6, 11, 16: model files and bag YAML bounded before use, NaN output named.

Every hostile file is built here: safetensors files with crafted arguments, bag files with an
alias bomb, NaN weights.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from cli.test_cli_models import models_cli
from cli.test_model_safety import _cli, _one_line_error, _tiny_file
from conftest import HANG_TIMEOUT, write_track

from progdemix_tui.engine import models
from progdemix_tui.engine.errors import ModelUnavailable

SOURCES = ["drums", "bass", "other", "vocals"]


def _kwargs(**changes) -> str:
    return json.dumps({"sources": SOURCES, "channels": 4, **changes})


# --------------------------------------------------------------------------- item 5


def test_arguments_that_build_a_large_model_are_refused_before_any_memory(tmp_path):
    """A tiny file whose kwargs say channels 64 (a 600 MB HDemucs): refused on the meta
    device, the process's peak memory barely moves (the old loader built it for real)."""
    path = _tiny_file(tmp_path / "big.safetensors", kwargs=_kwargs(channels=64))
    code = ("import resource, sys\n"
            "from progdemix_tui.engine import models\n"
            "from progdemix_tui.engine.errors import ModelUnavailable\n"
            "import demucs.hdemucs, safetensors.torch\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "try:\n"
            f"    models.load_model({str(path)!r})\n"
            "except ModelUnavailable as exc:\n"
            "    print('refused:', exc)\n"
            "print('grew_mb', (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=HANG_TIMEOUT)
    assert "refused:" in done.stdout and "wrong shape" in done.stdout, done.stdout + done.stderr
    grew = int(done.stdout.split("grew_mb")[1])
    assert grew < 250, f"peak memory grew by {grew} MB"


@pytest.mark.parametrize("kwargs, match", [
    (_kwargs(channels=300), "wrong shape"),
    (_kwargs(channels=10**9), "out of bounds"),
    (_kwargs(depth=100000), "out of bounds"),
    (_kwargs(nfft=1e300), "out of bounds"),
    (_kwargs(freq_emb=99999999999999999999), "out of bounds"),
    ('{"sources": ["drums"], "channels": 4, "growth": Infinity}', "out of bounds"),
    (_kwargs(multi_freqs=list(range(1000))), "entries"),
    (_kwargs(channels=4.5), "out of bounds"),
])
def test_model_arguments_are_bounded_before_building(tmp_path, kwargs, match):
    path = _tiny_file(tmp_path / "m.safetensors", kwargs=kwargs)
    with pytest.raises(ModelUnavailable, match=match):
        models.load_model(str(path))


def test_a_good_file_is_materialised_exactly(tiny_model_path):
    """Built on the meta device, then filled: the same weights and output as the model saved."""
    from conftest import tiny_hdemucs

    loaded = models.load_model(str(tiny_model_path)).module
    original = tiny_hdemucs()
    assert not any(p.is_meta for p in loaded.parameters())
    for (name, mine), (_, theirs) in zip(loaded.state_dict().items(),
                                         original.state_dict().items(), strict=True):
        assert torch.equal(mine, theirs), name
    mix = torch.randn(1, 2, 44100)
    with torch.no_grad():
        assert torch.equal(loaded(mix), original(mix))


# --------------------------------------------------------------------------- item 11


BAD_ARGUMENTS = [
    (_kwargs(segment={"_type": "fraction", "numerator": 1, "denominator": 0}), "bad args/kwargs"),
    (_kwargs(samplerate=0), "samplerate=0 is out of bounds"),
    (_kwargs(sources=[1, 2, 3, 4]), "not a list of stem names"),
    (_kwargs(sources=[]), "not a list of stem names"),
    (_kwargs(audio_channels=0), "audio_channels=0"),
]


@pytest.mark.parametrize("kwargs, match", BAD_ARGUMENTS)
def test_bad_argument_values_are_one_error(tmp_path, kwargs, match):
    path = _tiny_file(tmp_path / "m.safetensors", kwargs=kwargs)
    with pytest.raises(ModelUnavailable, match=match):
        models.load_model(str(path))


def test_models_repo_skips_files_with_bad_arguments(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _tiny_file(repo / "good1111.safetensors")
    for index, (kwargs, _match) in enumerate(BAD_ARGUMENTS):
        _tiny_file(repo / f"bad{index}.safetensors", kwargs=kwargs)
    done = models_cli("--repo", str(repo), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [row["name"] for row in json.loads(done.stdout)] == ["good1111"]
    skipped = [line for line in done.stderr.splitlines() if line.startswith("skipped:")]
    assert len(skipped) == len(BAD_ARGUMENTS), done.stderr
    assert "Traceback" not in done.stderr


def test_bad_arguments_via_cli_are_one_line(tmp_path):
    path = _tiny_file(tmp_path / "m.safetensors",
                      kwargs=_kwargs(segment={"_type": "fraction", "numerator": 1,
                                              "denominator": 0}))
    song = write_track(tmp_path / "track", seconds=1.0) / "mixture.wav"
    result = _cli(["run", str(song), "--model", str(path), "--out", str(tmp_path / "s")],
                  tmp_path)
    assert "ZeroDivisionError" in _one_line_error(result)
    assert not (tmp_path / "s").exists()


# --------------------------------------------------------------------------- item 6


BOMB = ("a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                  for p, c in zip("abcdefgh", "bcdefghi", strict=True))
        + "models: [*i]\n")


def test_yaml_alias_bomb_is_refused_at_once(tmp_path):
    _tiny_file(tmp_path / "abcd1234.safetensors")
    (tmp_path / "bag.yaml").write_text(BOMB)
    with pytest.raises(ModelUnavailable, match="aliases") as info:
        models.load_model("bag", repo=tmp_path)
    assert len(str(info.value)) < 400


def test_large_yaml_is_refused_unread(tmp_path):
    _tiny_file(tmp_path / "abcd1234.safetensors")
    (tmp_path / "bag.yaml").write_text("models: [abcd1234]\n" + "#" * (1 << 20) + "\n")
    with pytest.raises(ModelUnavailable, match="larger than 64 KiB"):
        models.load_model("bag", repo=tmp_path)


def test_yaml_error_lines_are_bounded_in_the_cli(tmp_path):
    """An error quoting a bag's 30 KB entry (the bomb's 226 MB line, small): one line of
    bounded length."""
    _tiny_file(tmp_path / "abcd1234.safetensors")
    (tmp_path / "bag.yaml").write_text("models: [[" + ", ".join(["abcd1234"] * 3000) + "]]\n")
    song = write_track(tmp_path / "track", seconds=1.0) / "mixture.wav"
    result = _cli(["run", str(song), "--model", "bag", "--repo", str(tmp_path), "--out",
                   str(tmp_path / "s")], tmp_path)
    line = _one_line_error(result)
    assert "not a plain model name" in line and len(line) <= 1010, len(line)


# --------------------------------------------------------------------------- item 16


@pytest.mark.parametrize("weights", ["[[0, 0, 0, 0]]", "[[-1, -1, -1, -1]]", "[[.nan, 1, 1, 1]]",
                                     "[[1, 0, 0, 0], [1, 0, 0, 0]]"])
def test_bag_weights_that_give_no_audio_are_refused_at_load(tmp_path, weights):
    _tiny_file(tmp_path / "abcd1234.safetensors")
    count = weights.count("[") - 1
    (tmp_path / "bag.yaml").write_text(f"models: [{', '.join(['abcd1234'] * count)}]\n"
                                       f"weights: {weights}\n")
    with pytest.raises(ModelUnavailable, match="'weights' must be finite"):
        models.load_model("bag", repo=tmp_path)


def test_real_per_source_weights_still_load(tmp_path):
    """htdemucs_ft's weights: each model weighted 1 for its source, 0 for the others."""
    _tiny_file(tmp_path / "abcd1234.safetensors")
    rows = ", ".join(str([int(i == j) for j in range(4)]) for i in range(4))
    (tmp_path / "ft.yaml").write_text(f"models: [abcd1234, abcd1234, abcd1234, abcd1234]\n"
                                      f"weights: [{rows}]\n")
    assert models.load_model("ft", repo=tmp_path).sources == tuple(SOURCES)


@pytest.mark.parametrize("extra", [[], ["--preset", "study"]], ids=["chunked", "study"])
def test_nan_weights_are_their_own_error_naming_the_model(tmp_path, extra):
    from conftest import tiny_hdemucs

    model = tiny_hdemucs()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(float("nan"))
    path = models.save_safetensors(model, tmp_path / "broken.safetensors")
    song = write_track(tmp_path / "track", seconds=1.0) / "mixture.wav"
    result = _cli(["run", str(song), "--model", str(path), "--out", str(tmp_path / "s"),
                   "--steps", "1", "--no-cache", "-q", *extra], tmp_path)
    line = _one_line_error(result)
    assert "NaN or infinite audio" in line and "'broken'" in line, line
    assert "short write" not in line
