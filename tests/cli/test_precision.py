"""``--precision``: bf16 (weights and autocast) where it is native, fp32 otherwise, fp16 on CUDA
only."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import write_track

from progdemix_tui.cli import main
from progdemix_tui.engine import SeparatorConfig, open_session
from progdemix_tui.engine.config import fold_half
from progdemix_tui.engine.errors import ConfigError, DeviceError
from progdemix_tui.engine.metrics import si_sdr_stems
from progdemix_tui.engine.models import load_model
from progdemix_tui.engine.precision import FLOAT32_LAYERS, cpu_has_bf16, resolve_precision
from progdemix_tui.engine.separator import Separator

CPU = torch.device("cpu")


def _cpuinfo(tmp_path, flags: str):
    path = tmp_path / f"cpuinfo-{abs(hash(flags))}"
    path.write_text(f"processor\t: 0\nmodel name\t: x\nflags\t\t: {flags}\n\n")
    return path


def test_native_bf16_is_read_from_the_cpu_flags(tmp_path):
    assert cpu_has_bf16(_cpuinfo(tmp_path, "fpu sse2 avx512f avx512_bf16 avx512_vnni"))
    assert cpu_has_bf16(_cpuinfo(tmp_path, "fpu sse2 amx_tile amx_bf16"))
    assert not cpu_has_bf16(_cpuinfo(tmp_path, "fpu sse2 avx2 avx512f avx512bw"))
    assert not cpu_has_bf16(tmp_path / "missing")


def test_auto_is_bf16_exactly_where_the_cpu_has_it():
    assert resolve_precision("auto", CPU) == ("bf16" if cpu_has_bf16() else "fp32")
    assert resolve_precision("fp32", CPU) == "fp32"
    assert resolve_precision("bf16", CPU) == "bf16"  # asked for: emulated where not native


def test_fp16_off_cuda_and_contradictions_are_refused():
    with pytest.raises(DeviceError, match="--precision fp16 needs a CUDA device"):
        resolve_precision("fp16", CPU)
    assert fold_half(True, "auto") == "fp16"  # --half is fp16, read so at parsing
    assert fold_half(False, "bf16") == "bf16"
    with pytest.raises(ConfigError, match="--half means --precision fp16"):
        fold_half(True, "bf16")
    with pytest.raises(ConfigError, match="--precision must be one of"):
        resolve_precision("fp8", CPU)


@pytest.mark.parametrize("argv", [["--precision", "fp16"], ["--half"]])
@pytest.mark.parametrize("command", ["run", "eval"])
def test_fp16_on_the_cpu_is_one_line_exit_2(tmp_path, tiny_model_path, capsys, command, argv):
    track = write_track(tmp_path / "song", seconds=1.0)
    target = track if command == "run" else tmp_path
    code = main([command, str(target), "--out", str(tmp_path / "out"), "--model",
                 str(tiny_model_path), "--device", "cpu", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        "error: --precision fp16 needs a CUDA device (cpu has no fast fp16); use --precision "
        "bf16 or fp32, or --device cuda."]
    assert not (tmp_path / "out").exists()


def test_unknown_precision_is_refused_by_the_parser(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["run", str(tmp_path), "--precision", "fp8"])
    assert exited.value.code == 2
    assert "argument --precision: invalid choice: 'fp8'" in capsys.readouterr().err


def test_bf16_output_is_close_to_fp32_but_not_equal(tiny_model_path):
    """A tiny real HDemucs under bf16 autocast: a little different (it did run in bf16),
    close (SI-SDR of the bf16 stems against the fp32 ones well above 20 dB)."""
    torch.manual_seed(0)
    mix = torch.randn(2, 44100) * 0.3

    def separate(precision: str) -> torch.Tensor:
        config = SeparatorConfig(model=str(tiny_model_path), device="cpu", segment=1.0,
                                 precision=precision, cache=False)  # type: ignore[arg-type]
        separator = Separator.from_config(config)
        assert separator.precision == precision
        return separator.separate(mix)

    full, bf16 = separate("fp32"), separate("bf16")
    assert bf16.dtype == torch.float32 and bf16.shape == full.shape
    assert not torch.equal(full, bf16)
    agreement = si_sdr_stems(bf16, full)
    assert all(value is not None and value > 20 for value in agreement), agreement


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_run_and_eval_record_the_precision_used(tmp_path, tiny_model_path, precision):
    common = ["--model", str(tiny_model_path), "--segment", "1", "--device", "cpu",
              "--steps", "0", "--precision", precision]
    track = write_track(tmp_path / "data" / "song", seconds=1.0)
    assert main(["run", str(track), "--out", str(tmp_path / "run"), "-q", *common]) == 0
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["model"]["precision"] == precision
    assert manifest["config"]["separator"]["precision"] == precision
    assert open_session(tmp_path / "run").config.separator.precision == precision
    assert main(["eval", str(tmp_path / "data"), "--out", str(tmp_path / "eval"),
                 "--no-plots", *common]) == 0
    meta = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert meta["model"]["precision"] == precision


def test_auto_records_what_it_resolved_to(tmp_path, tiny_model_path):
    track = write_track(tmp_path / "song", seconds=1.0)
    assert main(["run", str(track), "--out", str(tmp_path / "run"), "-q", "--steps", "0",
                 "--model", str(tiny_model_path), "--segment", "1", "--device", "cpu"]) == 0
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["config"]["separator"]["precision"] == "auto"
    assert manifest["model"]["precision"] == ("bf16" if cpu_has_bf16() else "fp32")


def _dtypes(module: torch.nn.Module) -> tuple[set[torch.dtype], set[torch.dtype]]:
    """The dtypes of the normalisation layers' weights, and of all the others."""
    norms, others = set(), set()
    for layer in module.modules():
        for tensor in layer.parameters(recurse=False):
            (norms if isinstance(layer, FLOAT32_LAYERS) else others).add(tensor.dtype)
    return norms, others


@pytest.mark.parametrize(("precision", "dtype"), [("fp32", torch.float32),
                                                  ("bf16", torch.bfloat16)])
def test_a_loaded_model_keeps_its_weights_in_the_precisions_dtype(tiny_model_path, precision,
                                                                  dtype):
    config = SeparatorConfig(model=str(tiny_model_path), device="cpu", segment=1.0,
                             precision=precision, cache=False)
    separator = Separator.from_config(config)
    norms, others = _dtypes(separator.model.module)
    assert others == {dtype}
    assert norms == {torch.float32}  # HDemucs has GroupNorm layers: they stay float32
    assert separator.runnable_module() is separator.model.module  # no second copy


def test_a_shared_model_is_copied_not_changed(tiny_model_path):
    """A model given to separators of two precisions: the bf16 one runs a bf16 copy, the
    float32 weights stay as they were and the fp32 separator's output does not change."""
    torch.manual_seed(0)
    mix = torch.randn(2, 44100) * 0.3
    model = load_model(str(tiny_model_path))
    before = {k: v.clone() for k, v in model.module.state_dict().items()}

    def separator(precision: str) -> Separator:
        config = SeparatorConfig(device="cpu", segment=1.0, precision=precision, cache=False)  # type: ignore[arg-type]
        return Separator.from_config(config, model=model)

    full = separator("fp32").separate(mix)
    bf16 = separator("bf16")
    out = bf16.separate(mix)
    assert _dtypes(bf16.runnable_module())[1] == {torch.bfloat16}
    assert bf16.runnable_module() is bf16.runnable_module()  # copied once
    assert _dtypes(model.module) == ({torch.float32}, {torch.float32})
    assert all(torch.equal(before[k], v) for k, v in model.module.state_dict().items())
    assert torch.equal(separator("fp32").separate(mix), full)
    assert not torch.equal(out, full)


@pytest.mark.parametrize("given", [False, True])
def test_bf16_runs_a_transformer_model(tmp_path, given):
    """HTDemucs normalises float32 activations in its transformer: with bf16 norm weights the
    CPU kernels refuse them ("mixed dtype"). Its LayerNorm/GroupNorm weights stay float32."""
    from demucs.htdemucs import HTDemucs

    from progdemix_tui.engine.models import save_safetensors

    torch.manual_seed(0)
    module = HTDemucs(sources=["drums", "bass", "other", "vocals"], channels=8, depth=4,
                      t_layers=1, bottom_channels=0, segment=1).eval()
    path = save_safetensors(module, tmp_path / "ht.safetensors")
    mix = torch.randn(2, 44100) * 0.3

    def separate(precision: str) -> tuple[Separator, torch.Tensor]:
        config = SeparatorConfig(model=str(path), device="cpu", precision=precision,  # type: ignore[arg-type]
                                 cache=False)
        model = load_model(str(path)) if given else None
        separator = Separator.from_config(config, model=model)
        return separator, separator.separate(mix)

    _, full = separate("fp32")
    separator, bf16 = separate("bf16")
    norms, others = _dtypes(separator.runnable_module())
    assert norms == {torch.float32} and others == {torch.bfloat16}
    assert bf16.shape == full.shape and torch.isfinite(bf16).all()
    assert not torch.equal(bf16, full)
    agreement = si_sdr_stems(bf16, full)
    assert all(value is not None and value > 10 for value in agreement), agreement


def test_a_layer_bf16_cannot_run_is_one_line_naming_fp32(tmp_path, monkeypatch, capsys):
    """Were the norm layers cast too (as for a model class with a layer bf16 does not
    handle), the run stops with one line that names --precision fp32, exit 2."""
    from demucs.htdemucs import HTDemucs

    from progdemix_tui.engine import precision
    from progdemix_tui.engine.models import save_safetensors

    monkeypatch.setattr(precision, "FLOAT32_LAYERS", ())
    torch.manual_seed(0)
    module = HTDemucs(sources=["drums", "bass", "other", "vocals"], channels=8, depth=4,
                      t_layers=1, bottom_channels=0, segment=1).eval()
    path = save_safetensors(module, tmp_path / "ht.safetensors")
    track = write_track(tmp_path / "song", seconds=1.0)
    code = main(["run", str(track), "--model", str(path), "--device", "cpu", "--steps", "0",
                 "--precision", "bf16", "--no-cache", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "cannot run in bf16 here (mixed dtype" in lines[0]
    assert lines[0].endswith("use --precision fp32.")
