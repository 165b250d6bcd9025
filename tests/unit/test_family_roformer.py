"""Band-split RoFormers (engine/families/roformer.py): published configs, safe loading, and
apply equal to a re-derivation of the training code's chunked inference.

The model numbers below are those of the training code's published vocals configs
(ZFTurbo/Music-Source-Separation-Training, configs/config_vocals_bs_roformer.yaml and
config_vocals_mel_band_roformer.yaml). The key counts and weight totals were checked once
against that code's own model classes (built on the meta device from the same configs).
Quick tests shrink the width, depth and STFT, keep everything else, and run on CPU.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
import yaml

pytest.importorskip("bs_roformer")

from progdemix_tui.engine.errors import (  # noqa: E402
    Cancelled,
    ModelUnavailable,
    OutputError,
    UntrustedCheckpoint,
)
from progdemix_tui.engine.families import roformer  # noqa: E402
from progdemix_tui.engine.families.roformer_config import parse_config  # noqa: E402
from progdemix_tui.engine.models import ModelRequest  # noqa: E402

CPU = torch.device("cpu")
PUBLISHED_BANDS = (2,) * 24 + (4,) * 12 + (12,) * 8 + (24,) * 8 + (48,) * 8 + (128, 129)
VOCALS_MODEL = {  # both published vocals configs' model sections, less their own keys
    "dim": 192, "stereo": True, "num_stems": 1, "time_transformer_depth": 1,
    "freq_transformer_depth": 1, "linear_transformer_depth": 0, "dim_head": 64, "heads": 8,
    "attn_dropout": 0.1, "ff_dropout": 0.1, "flash_attn": True, "dim_freqs_in": 1025,
    "stft_n_fft": 2048, "stft_hop_length": 512, "stft_win_length": 2048,
    "stft_normalized": False, "mask_estimator_depth": 2, "multi_stft_resolution_loss_weight": 1.0,
    "multi_stft_resolutions_window_sizes": (4096, 2048, 1024, 512, 256),
    "multi_stft_hop_size": 147, "multi_stft_normalized": False, "mlp_expansion_factor": 4,
    "use_torch_checkpoint": False, "skip_connection": False,
}
PUBLISHED = {
    "bs_roformer": {**VOCALS_MODEL, "depth": 6, "freqs_per_bands": PUBLISHED_BANDS},
    "mel_band_roformer": {**VOCALS_MODEL, "depth": 8, "num_bands": 60, "sample_rate": 44100},
}
FOUR_STEMS = {  # configs/config_musdb18_mel_band_roformer_all_stems.yaml's model section
    **PUBLISHED["mel_band_roformer"], "dim": 384, "depth": 6, "num_stems": 4,
    "attn_dropout": 0, "ff_dropout": 0, "stft_hop_length": 441,
}
SMALL_BANDS = (2,) * 8 + (4,) * 8 + (8,) * 4 + (16,) * 2 + (17,)  # 129 = a 256-point STFT's
SHRINK = {"dim": 16, "depth": 1, "dim_head": 8, "heads": 2, "stft_n_fft": 256,
          "stft_hop_length": 64, "stft_win_length": 256, "dim_freqs_in": 129}
RATE = 8000


def document(kind: str, *, num_stems: int = 1, instruments: tuple = ("vocals", "other"),
             target: str | None = "vocals", chunk: int = 8192, num_overlap: int = 4,
             normalize: bool | None = None, **model: object) -> dict:
    """A published vocals config, shrunk for speed (``model`` overrides more)."""
    arguments = {**PUBLISHED[kind], **SHRINK, "num_stems": num_stems, **model}
    if kind == "bs_roformer":
        arguments["freqs_per_bands"] = SMALL_BANDS
    else:
        arguments.update(num_bands=8, sample_rate=RATE)
    inference = {"batch_size": 1, "dim_t": 256, "num_overlap": num_overlap}
    if normalize is not None:
        inference["normalize"] = normalize
    return {"audio": {"chunk_size": chunk, "dim_f": 1024, "dim_t": 256, "hop_length": 64,
                      "n_fft": 256, "num_channels": 2, "sample_rate": RATE,
                      "min_mean_abs": 0.001},
            "model": arguments,
            "training": {"batch_size": 10, "instruments": list(instruments),
                         "target_instrument": target, "use_amp": True},
            "inference": inference}


def write_config(path: Path, data: dict) -> Path:
    path.write_text(yaml.dump(data))  # tuples as !!python/tuple, as published configs have
    return path


def random_checkpoint(tmp_path: Path, data: dict, kind: str, name: str = "model") -> Path:
    """A model of ``data``'s arguments with random weights, saved as the training code saves
    (``torch.save`` of the state dict)."""
    classes = roformer._package()
    torch.manual_seed(0)
    model = classes[kind](**parse_config(data, "test", kind).arguments)
    path = tmp_path / f"{name}.ckpt"
    torch.save(model.state_dict(), path)
    return path


def saved(tmp_path: Path, kind: str, **options: object) -> tuple[Path, Path]:
    data = document(kind, **options)
    return (random_checkpoint(tmp_path, data, kind),
            write_config(tmp_path / "config.yaml", data))


def music(seconds: float, channels: int = 2, seed: int = 1) -> torch.Tensor:
    """A stereo test signal: tones, noise and a DC offset (the DC zeroing shows)."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * RATE)) / RATE
    tones = sum(torch.sin(2 * math.pi * f * t + p) for f, p in ((110, 0), (440, 1), (1250, 2)))
    noise = torch.randn(channels, t.numel(), generator=generator)
    return (0.2 * tones + 0.1 * noise + 0.05)[None].float()


# --------------------------------------------------------------------------- re-derivation


def training_code_forward(module: torch.nn.Module, chunk: torch.Tensor) -> torch.Tensor:
    """The training code's forward: the package's, with the DC bin of the masked spectrum
    zeroed before the inverse STFT (its ``zero_dc``, on by default)."""
    real_istft = torch.istft

    def istft(spectrum: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        return real_istft(spectrum.index_fill(1, torch.tensor(0), 0.0), *args, **kwargs)

    with mock.patch("torch.istft", istft), torch.no_grad():
        out = module(chunk)
    return out if out.dim() == 4 else out[:, None]


def training_code_demix(module: torch.nn.Module, mix: torch.Tensor, chunk: int,
                        num_overlap: int) -> torch.Tensor:
    """The training code's ``demix`` (generic mode, batch size 1) on ``[channels, time]``:
    reflect-pad by the border, chunks every step, faded windows, weighted average."""
    fade, step = chunk // 10, chunk // num_overlap
    border, length = chunk - step, mix.shape[-1]
    window = torch.ones(chunk)
    window[-fade:] = torch.linspace(1, 0, fade)
    window[:fade] = torch.linspace(0, 1, fade)
    if length > 2 * border and border > 0:
        mix = F.pad(mix, (border, border), mode="reflect")
    result = counter = None
    i = 0
    while i < mix.shape[1]:
        part = mix[:, i:i + chunk]
        size = part.shape[-1]
        part = F.pad(part, (0, chunk - size), mode="reflect" if size > chunk // 2 else "constant")
        x = training_code_forward(module, part[None])[0]
        if result is None:
            result = torch.zeros((x.shape[0],) + mix.shape)
            counter = torch.zeros((x.shape[0],) + mix.shape)
        i += step
        w = window.clone()
        if i - step == 0:
            w[:fade] = 1
        elif i >= mix.shape[1]:
            w[-fade:] = 1
        result[..., i - step:i - step + size] += x[..., :size] * w[:size]
        counter[..., i - step:i - step + size] += w[:size]
    estimate = torch.nan_to_num(result / counter, nan=0.0)
    if length > 2 * border and border > 0:
        estimate = estimate[..., border:-border]
    return estimate


def run(model: roformer.RoformerModel, mix: torch.Tensor, *, batch_chunks: int = 1,
        shifts: int = 0, before=lambda: None, done=lambda: None) -> torch.Tensor:
    with torch.no_grad():
        return model.apply(model.module, mix, segment=model.max_segment,
                           overlap=model.default_overlap, shifts=shifts,
                           batch_chunks=batch_chunks, device=CPU, before=before, done=done)


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert text and "\n" not in text and exc.value.exit_code == 2
    return text


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize(("kind", "model", "stems", "keys", "weights", "digest", "named"), [
    ("bs_roformer", PUBLISHED["bs_roformer"], 1, 567, 24_591_660, "0bc9987f14967e9a", {
        "band_split.to_features.0.1.weight": (192, 8),
        "band_split.to_features.61.1.weight": (192, 516),
        "layers.5.1.layers.0.0.to_qkv.weight": (1536, 192),
        "layers.0.0.layers.0.0.to_gates.weight": (8, 192),
        "layers.0.0.layers.0.0.rotary_embed.freqs": (32,),
        "mask_estimators.0.to_freqs.61.0.2.weight": (1032, 768),
        "final_norm.gamma": (192,)}),
    ("mel_band_roformer", PUBLISHED["mel_band_roformer"], 1, 732, 69_102_916, "6f8b079e18dbff76",
     {"band_split.to_features.0.1.weight": (192, 28),
      "layers.7.1.layers.0.1.net.4.weight": (192, 768),
      "layers.0.0.layers.0.0.to_out.0.weight": (192, 512),
      "mask_estimators.0.to_freqs.59.0.0.weight": (768, 192)}),
    ("mel_band_roformer", FOUR_STEMS, 4, 1764, None, "d6dca2dfe2b14669",
     {"mask_estimators.3.to_freqs.0.0.0.weight": (1536, 384)}),
])
def test_published_configs_build_the_training_codes_tensors(kind, model, stems, keys, weights,
                                                            digest, named):
    """Real size, on the meta device: the package's model from a published config has exactly
    the training code's tensor names and shapes (``digest``: SHA-256 of the sorted
    ``name:shape`` lines of that code's own model from the same config, computed once)."""
    data = document(kind, num_stems=stems, chunk=131584 if stems == 1 else 352800,
                    **({"target": None, "instruments": ("vocals", "bass", "drums", "other")}
                       if stems == 4 else {}))
    data["model"] = dict(model)
    data["audio"]["sample_rate"] = 44100
    shapes = roformer.expected_shapes(parse_config(data, "published", kind))
    text = "\n".join(f"{name}:{shape}" for name, shape in sorted(shapes.items()))
    assert len(shapes) == keys
    assert hashlib.sha256(text.encode()).hexdigest()[:16] == digest
    if weights is not None:
        assert sum(math.prod(shape) for shape in shapes.values()) == weights
    for name, shape in named.items():
        assert shapes[name] == shape


@pytest.mark.parametrize("kind", ["bs_roformer", "mel_band_roformer"])
def test_apply_equals_the_training_codes_chunked_inference(tmp_path, kind):
    """10 s through the loader and apply, one chunk per forward and three: equal to the
    re-derived demix of the training code; progress counts every chunk once."""
    checkpoint, config = saved(tmp_path, kind)
    model = roformer.load(checkpoint, config)
    assert (model.family, model.sources, model.samplerate, model.audio_channels) == (
        "roformer", ("vocals", "other"), RATE, 2)
    mix = music(10)
    calls = {"before": 0, "done": 0}
    out = run(model, mix, before=lambda: calls.__setitem__("before", calls["before"] + 1),
              done=lambda: calls.__setitem__("done", calls["done"] + 1))
    expected = training_code_demix(model.module, mix[0], 8192, 4)
    assert out.shape == (1, 2, 2, mix.shape[-1]) and out.dtype == torch.float32
    assert torch.allclose(out[0, 0], expected[0], atol=1e-5)
    assert torch.allclose(out[0, 1], mix[0] - expected[0], atol=1e-5)
    count = model.chunks(mix.shape[-1], model.max_segment, model.default_overlap, 0)
    assert calls == {"before": count, "done": count}
    batched = run(model, torch.cat([mix, mix.flip(-1)]), batch_chunks=3)
    assert torch.allclose(batched[0], out[0], atol=1e-5)
    assert torch.allclose(batched[1, 0], training_code_demix(model.module, mix[0].flip(-1),
                                                              8192, 4)[0], atol=1e-5)


def test_normalisation_and_bigshifts_follow_the_config(tmp_path):
    """inference.normalize: the mono mix's mean and std, undone on every stem; shifts as the
    training code's bigshifts (whole-input rotations, averaged)."""
    checkpoint, config = saved(tmp_path, "bs_roformer", normalize=True, num_overlap=2)
    model = roformer.load(checkpoint, config)
    mix = 3 * music(3)
    mono = mix[0].mean(0)
    mean, std = mono.mean(), mono.std(correction=0)
    expected = training_code_demix(model.module, (mix[0] - mean) / std, 8192, 2) * std + mean
    assert torch.allclose(run(model, mix)[0, 0], expected[0], atol=1e-4)
    rotation = mix.shape[-1] // 2
    rolled = training_code_demix(model.module, (mix[0].roll(rotation, -1) - mean) / std, 8192, 2)
    shifted = (expected + (rolled.roll(-rotation, -1) * std + mean)) / 2
    assert torch.allclose(run(model, mix, shifts=2)[0, 0], shifted[0], atol=1e-4)


@pytest.mark.parametrize(("options", "sources"), [
    ({"instruments": ("vocals",)}, ("vocals",)),
    ({"instruments": ("vocals", "instrumental")}, ("vocals", "instrumental")),
    ({"instruments": ("vocals", "bass", "drums", "other")}, ("vocals", "instrumental")),
    ({"num_stems": 2, "instruments": ("vocals", "other"), "target": None}, ("vocals", "other")),
    ({"num_stems": 4, "instruments": ("vocals", "bass", "drums", "other"), "target": None},
     ("vocals", "bass", "drums", "other")),
])
def test_one_two_and_four_stems(tmp_path, options, sources):
    checkpoint, config = saved(tmp_path, "mel_band_roformer", num_overlap=2, **options)
    model = roformer.load(checkpoint, config)
    assert model.sources == sources
    mix = music(2)
    out = run(model, mix)
    assert out.shape == (1, len(sources), 2, mix.shape[-1])
    stems = model.config.outputs
    expected = training_code_demix(model.module, mix[0], 8192, 2)
    assert torch.allclose(out[0, :len(stems)], expected, atol=1e-5)


def test_safetensors_convert_embeds_the_config_and_loads_the_same(tmp_path):
    """Two layers share each rotary embedding (one tensor under several names)."""
    checkpoint, config = saved(tmp_path, "bs_roformer", num_overlap=2, depth=2)
    with pytest.raises(OutputError) as unwritable:
        roformer.convert(checkpoint, config, tmp_path / "absent" / "model.safetensors")
    assert "cannot write" in one_line(unwritable)
    target = roformer.convert(checkpoint, config, tmp_path / "model.safetensors")
    assert roformer.is_roformer_file(target) and not roformer.is_roformer_file(checkpoint)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    mix = music(2)
    reference = run(roformer.load(checkpoint, config), mix)
    alone = roformer.load(target)  # no config file: the embedded one
    assert alone.sources == ("vocals", "other") and alone.max_segment == 8192 / RATE
    assert torch.equal(run(alone, mix), reference)
    assert torch.equal(run(roformer.load(target, config), mix), reference)
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(target), framework="pt") as handle:
        metadata, tensors = handle.metadata(), {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    embedded = json.loads(metadata[roformer.METADATA_CONFIG])
    embedded["model"]["dim"] = 10**9
    hostile = tmp_path / "hostile.safetensors"
    save_file(tensors, hostile, {**metadata, roformer.METADATA_CONFIG: json.dumps(embedded)})
    with pytest.raises(ModelUnavailable) as refused:
        roformer.load(hostile)
    assert "model.dim=1000000000 is out of bounds" in one_line(refused)
    save_file(tensors, hostile, {roformer.METADATA_KIND: "bs_roformer"})
    with pytest.raises(ModelUnavailable) as no_config:
        roformer.load(hostile)
    assert "--model-config" in one_line(no_config)


def test_pickled_checkpoints_load_weights_only_unless_trusted(tmp_path):
    checkpoint, config = saved(tmp_path, "mel_band_roformer")
    state = torch.load(checkpoint, weights_only=True)
    nested = tmp_path / "nested.ckpt"
    torch.save({"state_dict": state, "epoch": 3}, nested)
    assert roformer.load(nested, config).sources == ("vocals", "other")
    foreign = tmp_path / "foreign.pth"
    torch.save({"state_dict": state, "args": argparse.Namespace(lr=1e-5)}, foreign)
    with pytest.raises(UntrustedCheckpoint) as refused:
        roformer.load(foreign, config)
    assert "--trust-checkpoint" in one_line(refused)
    with pytest.raises(UntrustedCheckpoint):
        roformer.convert(foreign, config, tmp_path / "out.safetensors")
    assert not (tmp_path / "out.safetensors").exists()
    assert roformer.load(foreign, config, trust_checkpoint=True).sources == ("vocals", "other")
    with pytest.raises(ModelUnavailable) as no_config:
        roformer.load(checkpoint)
    assert "--model-config" in one_line(no_config)


def test_checkpoints_that_do_not_match_their_config_are_refused(tmp_path):
    checkpoint, _ = saved(tmp_path, "bs_roformer")
    wider = write_config(tmp_path / "wider.yaml", document("bs_roformer", dim=32))
    with pytest.raises(ModelUnavailable) as wrong_shape:
        roformer.load(checkpoint, wider)
    assert "wrong shape" in one_line(wrong_shape) and "band_split.to_features.0" in str(
        wrong_shape.value)
    state = torch.load(checkpoint, weights_only=True)
    config = write_config(tmp_path / "config.yaml", document("bs_roformer"))
    for name, changed in (("missing", {k: v for k, v in state.items() if k != "final_norm.gamma"}),
                          ("extra", {**state, "bonus.weight": torch.zeros(2)})):
        path = tmp_path / f"{name}.ckpt"
        torch.save(changed, path)
        with pytest.raises(ModelUnavailable) as refused:
            roformer.load(path, config)
        assert ("final_norm.gamma" if name == "missing" else "bonus.weight") in one_line(refused)
    deeper = write_config(tmp_path / "deeper.yaml", document("bs_roformer", depth=2))
    with pytest.raises(ModelUnavailable) as missing_layers:
        roformer.load(checkpoint, deeper)
    assert "missing (e.g. layers.1." in one_line(missing_layers)


HOSTILE = {
    "huge dim": lambda d: d["model"].update(dim=10**9),
    "huge depth": lambda d: d["model"].update(depth=10**6),
    "bounded numbers, giant total": lambda d: d["model"].update(
        dim=4096, depth=64, heads=128, dim_head=1024, stft_n_fft=2048, stft_hop_length=512,
        stft_win_length=2048, freqs_per_bands=PUBLISHED_BANDS),
    "endless bands": lambda d: d["model"].update(freqs_per_bands=(1,) * 2000),
    "bands not the STFT's": lambda d: d["model"].update(freqs_per_bands=(2, 2)),
    "float depth": lambda d: d["model"].update(depth=1.5),
    "nan dropout": lambda d: d["model"].update(attn_dropout=float("nan")),
    "unknown argument": lambda d: d["model"].update(stft_window_fn="os.system"),
    "linear attention": lambda d: d["model"].update(linear_transformer_depth=1),
    "skip connections": lambda d: d["model"].update(skip_connection=True),
    "chunk off the hop": lambda d: d["audio"].update(chunk_size=8100),
    "giant chunk": lambda d: d["audio"].update(chunk_size=10**12),
    "zero overlap": lambda d: d["inference"].update(num_overlap=0),
    "stems disagree": lambda d: d["training"].update(target_instrument=None),
    "stem name a path": lambda d: d["training"].update(target_instrument="../../etc"),
    "no model section": lambda d: d.pop("model"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_configs_are_refused_before_anything_is_built(tmp_path, case):
    data = document("bs_roformer")
    checkpoint = random_checkpoint(tmp_path, data, "bs_roformer")
    HOSTILE[case](data)
    config = write_config(tmp_path / "hostile.yaml", data)
    with pytest.raises(ModelUnavailable) as refused:
        roformer.load(checkpoint, config)
    assert str(config) in one_line(refused) or str(checkpoint) in str(refused.value)


@pytest.mark.parametrize(("text", "says"), [
    ("model: !!python/object/apply:os.system ['touch {marker}']\n", "not a readable YAML"),
    ("a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b]\n",
     "aliases"),
    ("model: !!python/tuple 3\n", "not a readable YAML"),
    ("[1, 2, 3]\n", "is a mapping"),
    ("# padding\n" * 30_000, "larger than"),
    ("model: [" * 5000, "not a readable YAML"),
])
def test_hostile_yaml_is_refused_with_one_line(tmp_path, text, says):
    checkpoint, _ = saved(tmp_path, "bs_roformer")
    marker = tmp_path / "ran"
    config = tmp_path / "hostile.yaml"
    config.write_text(text.replace("{marker}", str(marker)))
    with pytest.raises(ModelUnavailable) as refused:
        roformer.load(checkpoint, config)
    assert says in one_line(refused)
    assert not marker.exists()


def test_reduced_precision_runs_through_the_complex_masks(tmp_path):
    """Under bfloat16 autocast the masks reach the complex product as float32."""
    checkpoint, config = saved(tmp_path, "mel_band_roformer", num_overlap=2)
    model = roformer.load(checkpoint, config)
    mix = music(2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = run(model, mix)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    assert torch.allclose(out, run(model, mix), atol=0.05)


def test_cancel_stops_before_the_next_forward(tmp_path):
    checkpoint, config = saved(tmp_path, "bs_roformer")
    model = roformer.load(checkpoint, config)
    forwards = []

    def before() -> None:
        if forwards:
            raise Cancelled("cancelled")
        forwards.append(1)

    with pytest.raises(Cancelled):
        run(model, music(10), before=before)
    assert forwards == [1]


def test_without_the_extra_one_line_names_it(tmp_path, monkeypatch):
    checkpoint, config = saved(tmp_path, "bs_roformer")
    monkeypatch.setitem(sys.modules, "bs_roformer", None)
    with pytest.raises(ModelUnavailable) as refused:
        roformer.load(checkpoint, config)
    assert "pip install 'progdemix-tui[roformer]'" in one_line(refused)


def test_rotary_embeddings_are_named_to_stay_float32():
    """bf16 weights everywhere would quantise the rotary positions (a chunk has up to 801
    frames); the model names the layers a precision must keep float32, and kept so they
    rotate exactly as in fp32 under autocast."""
    from rotary_embedding_torch import RotaryEmbedding

    model = roformer.RoformerModel("m", torch.nn.Identity(), parse_config(
        document("bs_roformer"), "test"), "test")
    assert model.float32_layers == (RotaryEmbedding,)
    rotary = RotaryEmbedding(dim=64)
    q = torch.randn(1, 8, 801, 64, generator=torch.Generator().manual_seed(0))
    exact = rotary.rotate_queries_or_keys(q)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        kept = rotary.rotate_queries_or_keys(q)
        cast = RotaryEmbedding(dim=64).to(torch.bfloat16).rotate_queries_or_keys(q)
    assert torch.equal(kept, exact)
    assert (cast.float() - exact).abs().max() > 1


@pytest.mark.parametrize(("training", "num_stems", "sources"), [
    ({"instruments": ["vocals", "other"], "target_instrument": "other"}, 1, ("other", "vocals")),
    ({"instruments": ["instrumental", "vocals", "bass"], "target_instrument": "instrumental"}, 1,
     ("instrumental", "residual")),
    ({"target_instrument": "vocals"}, 1, ("vocals",)),
    ({"instruments": ["drums", "bass"], "target_instrument": None}, 2, ("drums", "bass")),
])
def test_stems_follow_the_training_section(training, num_stems, sources):
    data = document("bs_roformer", num_stems=num_stems)
    data["training"] = training
    assert parse_config(data, "test").sources == sources


@pytest.mark.parametrize("kind", ["bs_roformer", "mel_band_roformer"])
def test_mono_models_and_shorter_segments(tmp_path, kind):
    """A mono model (``stereo: false``), and a segment shorter than the config's chunk (as
    after an out-of-memory retry): whole STFT hops, still the training code's inference."""
    checkpoint, config = saved(tmp_path, kind, stereo=False, num_overlap=2)
    model = roformer.load(checkpoint, config)
    assert model.audio_channels == 1
    assert model.chunk_samples(model.max_segment / 2) == 4096
    assert model.chunk_samples(0.001) == 64 and model.chunk_samples(100) == 8192
    mix = music(2, channels=1)
    with torch.no_grad():
        out = model.apply(model.module, mix, segment=model.max_segment / 2, overlap=0.5,
                          shifts=0, batch_chunks=2, device=CPU, before=lambda: None,
                          done=lambda: None)
    assert out.shape == (1, 2, 1, mix.shape[-1])
    assert torch.allclose(out[0, 0], training_code_demix(model.module, mix[0], 4096, 2)[0],
                          atol=1e-5)


def test_the_source_handles_roformer_files_only(tmp_path):
    checkpoint, config = saved(tmp_path, "bs_roformer")
    converted = roformer.convert(checkpoint, config, tmp_path / "model.safetensors")
    demucs_file = tmp_path / "demucs.safetensors"
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, demucs_file, {"klass": "demucs.hdemucs.HDemucs"})
    plain = roformer.RoformerSource()

    def request(path: object, config: Path | None = None) -> ModelRequest:
        return ModelRequest(str(path), config=config)

    assert plain.handles(request(checkpoint)) and plain.handles(request(converted))
    assert not plain.handles(request(demucs_file)) and not plain.handles(request("htdemucs"))
    assert not plain.handles(request(tmp_path / "model.pth"))  # a demucs suffix: needs a config
    assert plain.handles(request(tmp_path / "model.pth", config))
    assert plain.available_offline(str(converted)) and plain.names() == ()
    assert plain.load(request(converted)).sources == ("vocals", "other")
    assert plain.load(request(checkpoint, config)).family == "roformer"
