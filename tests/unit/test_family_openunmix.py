"""Open-Unmix as a model family: the package's own models (random weights, saved the way the
package saves and publishes them) loaded through the family's loader, offline."""

from __future__ import annotations

import argparse
import copy
import importlib.util
import inspect
import json
import random
import sys
from pathlib import Path

import pytest
import torch

from progdemix_tui.engine.errors import Cancelled, ModelUnavailable
from progdemix_tui.engine.families import openunmix as family
from progdemix_tui.engine.families.umx_package import openunmix, torchaudio_problem
from progdemix_tui.engine.models import ModelRequest

if importlib.util.find_spec("openunmix") is None:  # it imports only through umx_package
    pytest.skip("openunmix is not installed (pip install --no-deps 'openunmix>=1.3.0')", allow_module_level=True)

CPU = torch.device("cpu")
UMXHQ_ARGS = {"nfft": 4096, "nhop": 1024, "nb_channels": 2, "hidden_size": 512,
              "bandwidth": 16000, "unidirectional": False, "seq_dur": 6.0, "target": "vocals"}
"""What the package's scripts/train.py writes under ``args`` for umxhq's sizes (a part)."""


def randomise(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights with trained-looking statistics (positive variances and scales)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith(("running_var", "input_scale", "output_scale")):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.1)
    return model


def save_folder(folder: Path, targets: dict[str, torch.nn.Module], args: dict,
                rate: int = 44100, nhop: int | None = None) -> Path:
    """A model folder as the package's train.py leaves it: separator.json, and per target its
    json (training arguments under ``args``) and its ``.pth`` state dict."""
    folder.mkdir(parents=True, exist_ok=True)
    nhop = nhop or args["nfft"] // 4
    (folder / "separator.json").write_text(json.dumps(
        {"nfft": args["nfft"], "nhop": nhop, "sample_rate": rate,
         "nb_channels": args["nb_channels"]}))
    for target, model in targets.items():
        torch.save(model.state_dict(), folder / f"{target}.pth")
        (folder / f"{target}.json").write_text(json.dumps(
            {"args": {**args, "target": target}, "epochs_trained": 1, "best_loss": 0.5,
             "train_loss_history": [0.7, 0.5], "commit": "0000000"}))
    return folder


def tiny_targets(names=("vocals", "drums", "bass", "other"), hidden=8, layers=1, seed=0):
    """Tiny target models (nfft 256, stereo): fast, for everything but equality."""
    model = openunmix().model.OpenUnmix
    return {name: randomise(model(nb_bins=129, nb_channels=2, hidden_size=hidden,
                                  nb_layers=layers, max_bin=100), seed + i)
            for i, name in enumerate(names)}


TINY_ARGS = {"nfft": 256, "nb_channels": 2, "hidden_size": 8, "nb_layers": 1}


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return save_folder(tmp_path / "tiny-umx", tiny_targets(), TINY_ARGS)


def apply(model, mix, shifts=0, module=None, before=lambda: None, done=lambda: None):
    return model.apply(module or model.module, mix, segment=10.0, overlap=0.25, shifts=shifts,
                       batch_chunks=1, device=CPU, before=before, done=done)


def noise(seconds: float, rate: int = 44100, seed: int = 0) -> torch.Tensor:
    return torch.randn(1, 2, int(seconds * rate), generator=torch.Generator().manual_seed(seed)) * 0.1


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


# --------------------------------------------------------------------------- equality


@pytest.mark.slow
def test_umxhq_sized_folder_applies_as_the_package_separates(tmp_path: Path):
    """A real-size umxhq (random weights) saved as the package saves it: one apply of the
    family on 10 s equals ``openunmix.predict.separate`` loading the same folder."""
    targets = {name: randomise(model, i) for i, (name, model) in
               enumerate(openunmix().umxhq_spec(pretrained=False).items())}
    folder = save_folder(tmp_path / "umxhq-random", targets, UMXHQ_ARGS)
    del targets
    model = family.OpenUnmixSource().load(ModelRequest(str(folder)))
    assert (model.family, model.sources, model.samplerate) == (
        "openunmix", ("vocals", "drums", "bass", "other"), 44100)
    assert model.parameters == 35_577_488  # umxhq's size (4 targets of 512 units)
    mix = noise(10.0)
    out = apply(model, mix)
    reference = openunmix().predict.separate(mix[0], rate=44100, model_str_or_path=str(folder),
                                             targets=list(model.sources), niter=1, device="cpu")
    expected = torch.stack([reference[name] for name in model.sources], 1)
    assert out.shape == (1, 4, 2, mix.shape[-1]) and out.dtype == torch.float32
    torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-6)


def test_published_name_loads_from_the_torch_hub_cache_as_the_package_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """umxse (the smallest published model) from files placed under the package's own names
    in torch.hub's cache: the family's loader equals the package's ``umxse(pretrained=True)``
    reading the same cache, and nothing is downloaded (HF_HUB_OFFLINE is set)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    source = family.OpenUnmixSource()
    assert not source.available_offline("umxse")
    family.cache_dir().mkdir(parents=True)
    for i, (target, model) in enumerate(openunmix().umxse_spec(pretrained=False).items()):
        state = randomise(model, i).state_dict()
        state["stft.window"] = torch.hann_window(1024)  # open-unmix 1.0 files carry these
        state["sample_rate"] = torch.tensor(16000)
        torch.save(state, family.cached_files("umxse")[target])
    assert source.available_offline("umxse") and source.handles(ModelRequest("umxse"))
    model = source.load(ModelRequest("umxse"))
    assert (model.sources, model.samplerate, model.origin.startswith("openunmix umxse")) == (
        ("speech", "noise"), 16000, True)
    package = openunmix().umxse(pretrained=True, niter=1)
    package.freeze()
    mix = noise(10.0, 16000)
    with torch.no_grad():
        expected = package(mix)
    torch.testing.assert_close(apply(model, mix), expected, rtol=1e-4, atol=1e-6)


def test_published_urls_are_the_package_s_own():
    """The table of published files is the installed package's (its ``*_spec`` functions)."""
    package = openunmix()
    for name, published in family.PUBLISHED.items():
        source = inspect.getsource(getattr(package, f"{name}_spec"))
        for target, url in published.urls.items():
            assert f'"{target}": "{url}"' in source, (name, target)


# --------------------------------------------------------------------------- the contract


def test_tiny_model_counts_forwards_and_stops_on_cancel(tiny: Path):
    """``chunks`` is the number of ``before`` calls (one per target and shift); a cancel
    raised from ``before`` stops the apply and leaves no hook behind."""
    model = family.OpenUnmixSource().load(ModelRequest(str(tiny)))
    calls = {"before": 0, "done": 0}
    mix = noise(2.0)
    random.seed(0)
    out = apply(model, mix, shifts=2,
                before=lambda: calls.__setitem__("before", calls["before"] + 1),
                done=lambda: calls.__setitem__("done", calls["done"] + 1))
    assert out.shape == (1, 4, 2, mix.shape[-1]) and bool(torch.isfinite(out).all())
    assert calls == {"before": 8, "done": 8}
    assert model.chunks(mix.shape[-1], 10.0, 0.25, 2) == 8
    random.seed(0)
    torch.testing.assert_close(apply(model, mix, shifts=2), out)  # `random` draws the shifts

    started = []

    def cancel_second() -> None:
        started.append(1)
        if len(started) == 2:
            raise Cancelled("cancelled")

    with pytest.raises(Cancelled):
        apply(model, mix, before=cancel_second)
    assert len(started) == 2
    assert all(not m._forward_pre_hooks and not m._forward_hooks
               for m in model.module.target_models.values())


def test_tiny_model_batches_and_runs_in_bf16(tiny: Path):
    """A batch of inputs separates each as alone; a bf16 copy of the weights runs under
    autocast close to float32 (its STFT runs in float32: torch promotes the cast window)."""
    from progdemix_tui.engine.precision import autocast, cast_weights

    model = family.OpenUnmixSource().load(ModelRequest(str(tiny)))
    mix = torch.cat([noise(1.0, seed=1), noise(1.0, seed=2)])
    out = apply(model, mix)
    torch.testing.assert_close(out[1:], apply(model, mix[1:]), rtol=1e-4, atol=1e-6)
    low = cast_weights(copy.deepcopy(model.module), "bf16")
    with autocast("bf16", CPU):
        bf16 = apply(model, mix, module=low)
    assert bf16.dtype == torch.float32
    error = (bf16 - out).pow(2).sum() / out.pow(2).sum()
    assert error < 1e-3  # 1.0e-4 measured


def test_safetensors_weights_equal_the_pth(tiny: Path, tmp_path: Path):
    from safetensors.torch import save_file

    copy_folder = tmp_path / "safe"
    copy_folder.mkdir()
    for path in tiny.iterdir():
        if path.suffix == ".pth":
            save_file(torch.load(path, weights_only=True), copy_folder / f"{path.stem}.safetensors")
        else:
            (copy_folder / path.name).write_bytes(path.read_bytes())
    mix = noise(1.0)
    torch.testing.assert_close(apply(family.load_folder(copy_folder), mix),
                               apply(family.load_folder(tiny), mix))


def test_one_target_folder_gets_the_residual_stem(tmp_path: Path):
    folder = save_folder(tmp_path / "karaoke", tiny_targets(("vocals",)), TINY_ARGS)
    model = family.OpenUnmixSource().load(ModelRequest(str(folder)))
    mix = noise(1.0)
    out = apply(model, mix)
    assert model.sources == ("vocals", "residual") and out.shape[1] == 2
    assert model.chunks(mix.shape[-1], 10.0, 0.25, 0) == 1


def test_the_torchaudio_stand_in_does_not_outlive_the_import():
    """openunmix imports torchaudio only to resample; where torchaudio cannot load, the
    stand-in used for that import is gone afterwards."""
    openunmix()
    if torchaudio_problem() is not None:
        assert "torchaudio" not in sys.modules
        with pytest.raises(ImportError):
            import torchaudio  # noqa: F401


# --------------------------------------------------------------------------- refusals


def test_offline_uncached_name_is_one_named_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    source = family.OpenUnmixSource()
    assert source.handles(ModelRequest("umxl")) and not source.available_offline("umxl")
    with pytest.raises(ModelUnavailable) as caught:
        source.load(ModelRequest("umxl"))
    text = one_line(caught)
    assert text.startswith("umxl's weights are not cached") and "HF_HUB_OFFLINE" in text
    assert "vocals-bccbd9aa.pth" in text and "--model demo" in text
    assert "Params" in caught.value.in_app
    assert not (tmp_path / "empty").exists()  # nothing written


@pytest.mark.parametrize(("where", "change", "says"), [
    ("vocals", {"nfft": 1e12}, "nfft=1000000000000.0 is out of bounds"),
    ("vocals", {"hidden_size": -4}, "hidden_size=-4 is out of bounds"),
    ("vocals", {"nb_channels": 3}, "nb_channels=3 is out of bounds"),
    ("vocals", {"nb_layers": 10_000}, "nb_layers=10000 is out of bounds"),
    ("vocals", {"nfft": True}, "nfft=True is out of bounds"),
    ("vocals", {"hidden_size": "512"}, "hidden_size='512' is out of bounds"),
    ("vocals", {"hidden_size": 9}, "must be even"),
    ("vocals", {"nfft": 512}, "differ from separator.json"),
    ("vocals", {"unidirectional": "yes"}, "is not true or false"),
    ("separator", {"sample_rate": 0}, "sample_rate=0 is out of bounds"),
    ("separator", {"nhop": 1024}, "nhop=1024 is longer than nfft=256"),
])
def test_hostile_json_numbers_are_refused_before_building(tiny: Path, where, change, says):
    path = tiny / ("separator.json" if where == "separator" else f"{where}.json")
    data = json.loads(path.read_text())
    (data if where == "separator" else data["args"]).update(change)
    path.write_text(json.dumps(data))
    with pytest.raises(ModelUnavailable) as caught:
        family.OpenUnmixSource().load(ModelRequest(str(tiny)))
    assert says in one_line(caught)


@pytest.mark.parametrize(("text", "says"), [
    ('{"args": {"nfft": NaN}}', "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"no_args": 1}', "no 'args' object"),
    ("[" * 100 + "]" * 100, "nested"),
])
def test_malformed_json_is_refused(tiny: Path, text: str, says: str):
    (tiny / "drums.json").write_text(text)
    with pytest.raises(ModelUnavailable) as caught:
        family.load_folder(tiny)
    assert says in one_line(caught) and "drums.json" in str(caught.value)


def _edit_state(path: Path, edit) -> None:
    state = torch.load(path, weights_only=True)
    edit(state)
    torch.save(state, path)


@pytest.mark.parametrize(("edit", "says"), [
    (lambda s: s.pop("fc2.weight"), "1 missing (e.g. fc2.weight)"),
    (lambda s: s.__setitem__("decoder.weight", torch.zeros(3)),
     "1 unexpected (e.g. decoder.weight)"),
    (lambda s: s.__setitem__("fc3.weight", torch.zeros(5, 8)), "fc3.weight: [5, 8], expected"),
    (lambda s: s.__setitem__("input_mean", torch.zeros(1000)), "input_mean has shape [1000]"),
])
def test_mismatched_keys_and_shapes_are_refused(tiny: Path, edit, says):
    _edit_state(tiny / "bass.pth", edit)
    with pytest.raises(ModelUnavailable) as caught:
        family.load_folder(tiny)
    assert says in one_line(caught) and "bass.pth" in str(caught.value)


def test_sizes_from_the_json_must_match_the_file(tiny: Path):
    """A json that claims 16 hidden units beside a file of 8: the first wrong shape is named
    (the model is compared on the meta device, never filled)."""
    path = tiny / "other.json"
    data = json.loads(path.read_text())
    data["args"]["hidden_size"] = 16
    path.write_text(json.dumps(data))
    with pytest.raises(ModelUnavailable) as caught:
        family.load_folder(tiny)
    assert "wrong shape" in one_line(caught) and "other.pth" in str(caught.value)


def test_pickled_objects_need_trust(tiny: Path):
    """A ``.pth`` with more than tensors would run code when unpickled: refused unless
    trusted (``torch.load(weights_only=True)`` reads the rest)."""
    _edit_state(tiny / "vocals.pth", lambda s: None)
    state = torch.load(tiny / "vocals.pth", weights_only=True)
    torch.save({"state": state, "args": argparse.Namespace(x=1)}, tiny / "vocals.pth")
    with pytest.raises(ModelUnavailable) as caught:
        family.load_folder(tiny)
    assert "--trust-checkpoint" in one_line(caught)
    with pytest.raises(ModelUnavailable) as caught:  # trusted, it is still not a state dict
        family.load_folder(tiny, trust=True)
    assert "not a state dict of named tensors" in one_line(caught)


def test_weights_outside_the_folder_and_missing_files_are_refused(tiny: Path, tmp_path: Path):
    outside = tmp_path / "elsewhere.pth"
    (tiny / "drums.pth").rename(outside)
    (tiny / "drums.pth").symlink_to(outside)
    with pytest.raises(ModelUnavailable) as caught:
        family.load_folder(tiny)
    assert "leads outside" in one_line(caught)
    (tiny / "drums.pth").unlink()
    with pytest.raises(ModelUnavailable) as caught:
        family.load_folder(tiny)
    assert "no weights file for target 'drums'" in one_line(caught)


def test_source_handles_names_and_model_folders_only(tiny: Path, tmp_path: Path):
    source = family.OpenUnmixSource()
    assert source.names() == ("umxhq", "umx", "umxl", "umxse")
    assert source.handles(ModelRequest(str(tiny))) and source.available_offline(str(tiny))
    assert not source.handles(ModelRequest("htdemucs")) and not source.handles(ModelRequest(str(tmp_path)))


# --------------------------------------------------------------------------- downloads


@pytest.fixture
def web(tmp_path: Path):
    """A real HTTP server on localhost serving ``tmp_path / 'web'``; yields (folder, base URL)."""
    import functools
    import http.server
    import threading

    folder = tmp_path / "web"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


def _publish_umxse(folder: Path, base: str, monkeypatch: pytest.MonkeyPatch,
                   spoil: bool = False) -> None:
    """umxse's two files (random weights) served from ``base`` under hash-named files, as
    Zenodo serves the real ones; ``spoil``: a file whose hash is not its name's."""
    import hashlib

    urls = {}
    for i, (target, model) in enumerate(openunmix().umxse_spec(pretrained=False).items()):
        path = folder / "tmp.pth"
        torch.save(randomise(model, i).state_dict(), path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:8]
        if spoil:
            digest = "0" * 8
        path.rename(folder / f"{target}-{digest}.pth")
        urls[target] = f"{base}/{target}-{digest}.pth"
    published = family.PUBLISHED["umxse"]
    monkeypatch.setitem(family.PUBLISHED, "umxse",
                        family.Published("umxse", published.description, 16000, urls))


def test_an_uncached_name_is_downloaded_once_into_the_cache(
        tmp_path: Path, web, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("HF_HUB_OFFLINE")
    _publish_umxse(*web, monkeypatch)
    notes: list[str] = []
    model = family.OpenUnmixSource().load(ModelRequest("umxse", notify=notes.append))
    assert model.sources == ("speech", "noise")
    assert len(notes) == 1 and notes[0].startswith("downloading Open-Unmix umxse: 2 file(s)")
    assert family.OpenUnmixSource().available_offline("umxse")
    for path in web[0].iterdir():
        path.unlink()  # served no more: the second load reads the cache only
    family.OpenUnmixSource().load(ModelRequest("umxse", notify=notes.append))
    assert len(notes) == 1


def test_a_download_with_the_wrong_hash_is_refused(
        tmp_path: Path, web, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("HF_HUB_OFFLINE")
    _publish_umxse(*web, monkeypatch, spoil=True)
    with pytest.raises(ModelUnavailable) as caught:
        family.OpenUnmixSource().load(ModelRequest("umxse"))
    assert "downloading umxse's speech weights" in one_line(caught)
    assert "hash" in str(caught.value) and not family.cached_files("umxse")["speech"].exists()


def test_no_network_is_one_line_after_one_quick_probe(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Nothing listens on port 9 of localhost: the probe fails at once."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("HF_HUB_OFFLINE")
    urls = {"vocals": "http://127.0.0.1:9/vocals-00000000.pth",
            "other": "http://127.0.0.1:9/other-00000000.pth"}
    monkeypatch.setitem(family.PUBLISHED, "umxl", family.Published("umxl", "", 44100, urls))
    with pytest.raises(ModelUnavailable) as caught:
        family.OpenUnmixSource().load(ModelRequest("umxl"))
    assert one_line(caught).startswith("umxl's weights are not cached")
    assert "there is no network (URLError" in str(caught.value)
