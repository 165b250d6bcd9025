"""--batch-chunks: several chunks per forward give demucs's apply_model result to float
tolerance, with real demucs models (a real-size HDemucs with random weights, tiny ones, a
bag), shifts, per-chunk progress and cancel, the OOM policy and the manifest."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
import torch
from conftest import STEMS, synth_stems, tiny_hdemucs

from progdemix_tui.engine.config import RunConfig, SeparatorConfig
from progdemix_tui.engine.errors import Cancelled, DeviceError
from progdemix_tui.engine.metrics import si_sdr
from progdemix_tui.engine.models import _wrap
from progdemix_tui.engine.resources import batch_chunks_for, estimate_run_bytes
from progdemix_tui.engine.separator import Separator

RATE = 44100


def separator(module: torch.nn.Module, batch: int, segment: float = 1.0,
              shifts: int = 0) -> Separator:
    return Separator(_wrap("test", module, "test"), torch.device("cpu"), segment,
                     shifts=shifts, batch_chunks=batch)


def noise(seconds: float, items: int = 1, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(items, 2, int(seconds * RATE), generator=generator)


def tiny_htdemucs():
    from demucs.htdemucs import HTDemucs

    torch.manual_seed(0)
    return HTDemucs(sources=list(STEMS), channels=8, depth=4, t_layers=1, bottom_channels=0,
                    segment=1).eval()


def sdr_db(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Per-stem SI-SDR of ``[S, C, T]`` against ``[S, C, T]``, channels averaged."""
    return si_sdr(estimate.double(), reference.double()).mean(-1)


@pytest.mark.slow
def test_real_size_hdemucs_batched_equals_one_chunk_at_a_time():
    from demucs.hdemucs import HDemucs

    torch.manual_seed(0)
    module = HDemucs(sources=list(STEMS)).eval()  # hdemucs_mmi's size: channels 48
    references = torch.from_numpy(synth_stems(3.2))  # [4, 2, T]
    mix = references.sum(0)[None]  # 1 s segments, 0.75 s stride: 4 full chunks, 1 short
    one = separator(module, 1).separate(mix)[0]
    for batch in (2, 3, 8):
        many = separator(module, batch).separate(mix)[0]
        assert (many - one).abs().max().item() < 1e-5 * one.abs().max().item()
        change = (sdr_db(many, references) - sdr_db(one, references)).abs().max().item()
        assert change <= 0.001


def test_batch_one_is_apply_model_bit_for_bit():
    from demucs.apply import apply_model

    module = tiny_hdemucs()
    mix = noise(2.5)
    out = separator(module, 1).separate(mix)
    ref = mix.mean(1)
    mean = ref.mean(-1)[:, None, None]
    std = ref.std(-1, correction=0)[:, None, None]
    with torch.no_grad():
        expected = apply_model(module, (mix - mean) / std, shifts=0, split=True, overlap=0.25,
                               segment=1.0, device="cpu")
    expected = expected * std[..., None] + mean[..., None] / len(STEMS)
    assert torch.equal(out, expected)


@pytest.mark.parametrize("shifts", [0, 2])
def test_a_bag_with_weights_and_shifts_batches_alike(shifts):
    from demucs.apply import BagOfModels

    bag = BagOfModels([tiny_hdemucs(0), tiny_hdemucs(1)],
                      weights=[[1.0, 2.0, 3.0, 4.0], [4.0, 3.0, 2.0, 1.0]])
    mix = noise(2.6, items=2)  # two mixtures at once, as adaptive β's candidates
    one = separator(bag, 1, shifts=shifts).separate(mix)
    many = separator(bag, 4, shifts=shifts).separate(mix)
    assert (many - one).abs().max().item() < 1e-6


def test_htdemucs_batches_alike_and_with_shifts_runs_one_at_a_time():
    module = tiny_htdemucs()
    mix = noise(2.6)
    assert (separator(module, 4).separate(mix) - separator(module, 1).separate(mix)) \
        .abs().max().item() < 1e-6
    shifted = separator(module, 4, shifts=2)
    # its transformer draws from `random` in every forward: batched, the shifts would move
    assert torch.equal(shifted.separate(mix), separator(module, 1, shifts=2).separate(mix))
    assert any("--batch-chunks" in note and "--shifts" in note for note in shifted.notes)


def test_progress_is_per_chunk_and_cancel_stops_before_the_next_forward():
    module = tiny_hdemucs()
    sep = separator(module, 2)
    mix = noise(4.0)
    total = sep.chunks(mix.shape[-1])
    assert total == 6
    heard: list[tuple[int, int]] = []
    sep.separate(mix, on_chunk=lambda done, of: heard.append((done, of)))
    assert heard == [(n, total) for n in range(1, total + 1)]

    forwards = []
    handle = module.register_forward_hook(lambda *_: forwards.append(1))
    cancel = threading.Event()
    try:
        with pytest.raises(Cancelled):
            sep.separate(mix, on_chunk=lambda done, of: cancel.set(), cancel=cancel)
    finally:
        handle.remove()
    assert len(forwards) == 1  # the first batch of two chunks ran, no other


def test_out_of_memory_halves_the_batch_before_the_segment():
    sep = separator(tiny_hdemucs(), 8, segment=4.0)
    for _ in range(3):
        sep.shrink_after_oom()
    assert (sep.batch_chunks, sep.segment) == (1, 4.0)
    sep.shrink_after_oom()
    assert (sep.batch_chunks, sep.segment) == (1, 2.0)
    assert sep.notes[:3] == [f"out of memory: {n} chunk(s) per forward pass" for n in (4, 2, 1)]
    sep.segment = 0.15
    with pytest.raises(DeviceError):
        sep.shrink_after_oom()


def test_the_batch_per_device_and_in_the_memory_estimate():
    cpu = torch.device("cpu")
    assert batch_chunks_for(0, cpu, 10.0) == 1
    assert batch_chunks_for(6, cpu, 10.0) == 6
    one = estimate_run_bytes(frames=30 * RATE, batch_chunks=1)
    assert estimate_run_bytes(frames=30 * RATE, batch_chunks=4) > one
    config = SeparatorConfig(model="demo", device="cpu", batch_chunks=3)
    assert Separator.from_config(config).batch_chunks == 3


def test_invalid_batch_chunks_is_one_line(track):
    problems = RunConfig(separator=SeparatorConfig(batch_chunks=-1)).problems()
    assert "separator.batch_chunks" in problems
    done = subprocess.run([sys.executable, "-m", "progdemix_tui", "run", str(track),
                           "--batch-chunks", "100", "--model", "demo"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "batch-chunks" in done.stderr


def test_the_manifest_records_the_batch(track, tiny_model_path, tmp_path):
    out = tmp_path / "session"
    done = subprocess.run([sys.executable, "-m", "progdemix_tui", "run", str(track),
                           "--model", str(tiny_model_path), "--steps", "1", "--segment", "1",
                           "--batch-chunks", "2", "--device", "cpu", "--out", str(out), "-q"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["batch_chunks"] == 2
    assert manifest["config"]["separator"]["batch_chunks"] == 2


def test_a_cudnn_or_cublas_allocation_failure_counts_as_out_of_memory():
    from progdemix_tui.engine.errors import is_accelerator_oom

    assert is_accelerator_oom(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate"))
    assert is_accelerator_oom(RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"))
    assert is_accelerator_oom(RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when "
                                           "calling `cublasCreate(handle)`"))
    assert not is_accelerator_oom(RuntimeError("shape '[2, 4]' is invalid"))


def test_the_memory_check_counts_the_batch_on_the_cpu(track, tiny_model_path, tmp_path):
    import os

    def run(batch: int) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "progdemix_tui", "run", str(track), "--model",
             str(tiny_model_path), "--steps", "0", "--device", "cpu", "--batch-chunks",
             str(batch), "--out", str(tmp_path / f"s{batch}")],
            capture_output=True, text=True, check=False,
            env=dict(os.environ, PROGDEMIX_MEMORY_AVAILABLE="8G"))

    assert run(1).returncode == 0
    refused = run(64)  # 64 chunks of 10 s at once: ~32 GB of working memory
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0 and "--batch-chunks" in refused.stderr


def test_the_batch_does_not_change_the_step0_cache_key():
    module = tiny_hdemucs()
    assert separator(module, 1).step0_identity() == separator(module, 8).step0_identity()
