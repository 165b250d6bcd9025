"""The study's procedure and names (docs/study.md): the old "constant", ``--preset study``,
the whole-excerpt SDR, and the adaptive oracle's whole-excerpt guarantee."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import write_track

from progdemix_tui.cli import main
from progdemix_tui.engine import open_session


def fast(model) -> list[str]:
    return ["--model", str(model), "--segment", "1", "--device", "cpu"]


# ------------------------------------------------------------------ names: "constant"


def test_old_constant_schedule_reads_as_flat_everywhere(tmp_path, tiny_model_path, capsys):
    """The command line takes the old name with a one-line note; an old session reads it."""
    track = write_track(tmp_path / "song", seconds=1.0)
    out = tmp_path / "s"
    assert main(["run", str(track), "--steps", "1", "--schedule", "constant", "--out", str(out),
                 *fast(tiny_model_path)]) == 0
    err = capsys.readouterr().err
    assert "--schedule constant is now called flat" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["schedule"] == "flat"
    manifest["config"]["schedule"] = "constant"  # as an older version wrote it
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert open_session(out).config.schedule == "flat"
    with pytest.raises(SystemExit) as exited:  # other names are still refused
        main(["run", str(track), "--schedule", "sideways", *fast(tiny_model_path)])
    assert exited.value.code == 2
    assert "invalid choice: 'sideways'" in capsys.readouterr().err


def test_old_evaluation_folder_with_constant_resumes_as_flat(tmp_path, tiny_model_path,
                                                            capsys):
    write_track(tmp_path / "data" / "song", seconds=1.0)
    out = tmp_path / "ev"
    command = ["eval", str(tmp_path / "data"), "--steps", "1", "--schedule", "flat", "--out",
               str(out), "--no-plots", *fast(tiny_model_path)]
    assert main(command) == 0
    meta = json.loads((out / "eval.json").read_text())
    assert meta["parameters"]["run"]["schedule"] == "flat"
    assert "preset" not in meta["parameters"]["run"]  # as folders made before presets
    meta["parameters"]["run"]["schedule"] = "constant"  # as an older version wrote it
    (out / "eval.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(command) == 0
    assert "resuming" in capsys.readouterr().err


def test_old_constant_in_settings_reads_as_flat(tmp_path, monkeypatch):
    from progdemix_tui.tui.settings import ENV_DIR, Settings

    monkeypatch.setenv(ENV_DIR, str(tmp_path))
    (tmp_path / "settings.json").write_text(json.dumps({"params": {"schedule": "constant"}}))
    settings = Settings.load()
    assert settings.params["schedule"] == "flat" and settings.problem is None


# ------------------------------------------------------------------ adaptive guarantee


def _gain_switching_candidates(length: int = 8000, chunk: int = 4000):
    """Candidates whose target is better than the previous one in every chunk (less noise)
    but at a gain that jumps between chunks: chunk-wise they win, over the whole excerpt the
    assembly is far worse. ``[2, sources=2, channels=2, time]`` with the previous at 0."""
    g = torch.Generator().manual_seed(3)
    reference = torch.randn(2, length, generator=g)
    previous = reference + 0.1 * torch.randn(2, length, generator=g)
    gain = torch.ones(length)
    gain[:chunk], gain[chunk:] = 3.0, 0.3
    candidate = gain * (reference + 0.05 * torch.randn(2, length, generator=g))
    rest = torch.randn(2, length, generator=g)
    stems = torch.stack([torch.stack([previous, rest]), torch.stack([candidate, rest])])
    mixes = stems.sum(1)
    return stems, mixes, reference


def test_adaptive_oracle_never_ends_below_keeping_the_previous_step():
    """Per chunk the candidate wins everywhere; the whole-excerpt check keeps the previous
    estimate. Without it (the old per-chunk selection alone) the target fell from 20 to 2 dB."""
    from progdemix_tui.engine import adaptive
    from progdemix_tui.engine.metrics import si_sdr

    stems, mixes, reference = _gain_switching_candidates()
    scores = adaptive.chunk_scores(stems[:, 0], reference, 4000, "oracle")
    assert bool((scores[1] > scores[0]).all())  # chunk by chunk the candidate is better
    chunkwise = adaptive.select(stems, mixes, [0.5], scores, 4000)
    before = si_sdr(stems[0, 0], reference)
    assert bool((si_sdr(chunkwise.stems[0], reference) < before - 10).all())  # the old flaw
    chosen = adaptive.choose(stems, mixes, [0.5], 0, 4000, "oracle", reference, None)
    assert bool((si_sdr(chosen.stems[0], reference) >= before).all())
    assert torch.equal(chosen.stems, stems[0]) and torch.equal(chosen.mixture, mixes[0])
    assert bool((chosen.choice == 0).all()) and float(chosen.betas.abs().max()) == 0.0


def test_adaptive_whole_check_keeps_a_better_assembly_per_channel():
    """Where the assembly is better over the whole excerpt it stays, channel by channel."""
    from progdemix_tui.engine import adaptive
    from progdemix_tui.engine.metrics import si_sdr

    stems, mixes, reference = _gain_switching_candidates()
    stems[1, 0, 1] = reference[1] + 0.01 * torch.randn(8000)  # channel 1: uniformly better
    chosen = adaptive.choose(stems, mixes, [0.5], 0, 4000, "oracle", reference, None)
    assert torch.equal(chosen.stems[:, 0], stems[0, :, 0])  # channel 0 falls back
    assert torch.equal(chosen.stems[:, 1], stems[1, :, 1])  # channel 1 keeps the candidate
    assert chosen.choice[0].tolist() == [0, 0] and chosen.choice[1].tolist() == [1, 1]
    after, before = si_sdr(chosen.stems[0], reference), si_sdr(stems[0, 0], reference)
    assert bool((after >= before).all()) and float(after[1]) > float(before[1]) + 5


def test_adaptive_decorrelation_never_ends_below_previous_on_its_proxy():
    from progdemix_tui.engine import adaptive

    stems, mixes, _ = _gain_switching_candidates()
    mixture = stems[0].sum(0)
    chosen = adaptive.choose(stems, mixes, [0.5], 0, 4000, "decorrelation", None, mixture)
    pair = torch.stack([chosen.stems[0], stems[0, 0]])
    whole = adaptive.chunk_scores(pair, None, 8000, "decorrelation", mixture)[..., 0]
    assert bool((whole[0] >= whole[1]).all())


# ------------------------------------------------------------------ --preset study

STUDY_RATE = 44100


def _study_track(folder, seconds: float = 3.0, seed: int = 2):
    """A track whose vocals start late (so the study's excerpt starts late) and whose
    mixture file is quieter than the sum of its stems (so the new mixture is rescaled)."""
    import soundfile as sf
    from conftest import STEMS, synth_stems

    folder.mkdir(parents=True)
    stems = synth_stems(seconds, STUDY_RATE, seed=seed)
    stems[STEMS.index("vocals"), :, : int(0.7 * STUDY_RATE)] = 0.0
    for i, name in enumerate(STEMS):
        sf.write(folder / f"{name}.wav", stems[i].T, STUDY_RATE, subtype="FLOAT")
    sf.write(folder / "mixture.wav", 0.8 * stems.sum(0).T, STUDY_RATE, subtype="FLOAT")
    return folder


def _the_studys_procedure(folder, model, target: str, steps: int, mode: str) -> list[dict]:
    """The study's code (L12.ipynb) re-written straight, from its files: no engine helper.

    Returns the SI-SDR per stem of the steps it reports (0 … steps−1)."""
    import numpy as np
    import soundfile as sf
    from torchmetrics.audio import ScaleInvariantSignalDistortionRatio

    names = ["mixture", "drums", "bass", "vocals", "other"]
    waves = {}
    for name in names:
        data, rate = sf.read(folder / f"{name}.wav", dtype="float32", always_2d=True)
        assert rate == STUDY_RATE
        waves[name] = torch.from_numpy(data.T.copy())
    # get_max_non_silence_start: librosa.effects.trim(librosa.to_mono(w))[1][0], the largest.
    # trim: frames of 2048 every 512, centred (1024 zeros either side), RMS in dB re the
    # loudest frame (amin 1e-5), the first frame above −60 dB, times 512.
    max_start = 0
    for wave in waves.values():
        mono = wave.numpy().mean(0)
        padded = np.pad(mono, 1024)
        count = 1 + len(mono) // 512
        frames = np.stack([padded[k * 512: k * 512 + 2048] for k in range(count)])
        rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
        db = 20 * np.log10(np.maximum(1e-5, rms)) - 20 * np.log10(max(1e-5, rms.max()))
        loud = np.flatnonzero(db > -60)
        start = int(loud[0]) * 512 if loud.size else 0
        max_start = max(max_start, start)
    assert max_start > 0.5 * STUDY_RATE  # the late vocals moved the excerpt
    stems = {n: w[:, max_start: max_start + 30 * STUDY_RATE] for n, w in waves.items()}
    # create_dataset: new_mixture = Σ stems, scaled to the peak of the mixture
    new_mixture = stems["drums"] + stems["bass"] + stems["vocals"] + stems["other"]
    new_mixture = new_mixture * (torch.max(torch.abs(stems["mixture"]))
                                 / torch.max(torch.abs(new_mixture)))
    stems["new_mixture"] = new_mixture
    mix = new_mixture[None]
    sources = list(model.sources)
    metric = ScaleInvariantSignalDistortionRatio()

    def separate(m):  # separate_sources(normalize=False): one call on the whole excerpt
        with torch.no_grad():
            return model(m)

    def sdrs(out):
        return {s: metric(out[0, i], stems[s]).item() for i, s in enumerate(sources)}

    out = separate(mix)
    results = [sdrs(out)]
    for step in range(1, steps + 1):
        beta = step / steps
        if mode == "oracle":  # generate_new_mixture_with_original_stems
            new_mix = torch.zeros_like(mix)
            for name, wave in stems.items():
                new_mix += wave if name == target else wave * (1 - beta)
            tmp_mix = torch.zeros_like(mix)
            for wave in stems.values():
                tmp_mix += wave
            new_mix *= torch.max(torch.abs(mix)) / torch.max(torch.abs(tmp_mix))
        else:  # add_target_to_mixture
            new_mix = mix * (1 - beta) + out[:, sources.index(target)] * beta
        peak = torch.max(torch.abs(new_mix))
        if peak > 1.0:
            new_mix = new_mix / peak
        out = separate(new_mix)
        results.append(sdrs(out))
    return results[:steps]  # sdr_results_single_track[step] for step in range(steps)


@pytest.mark.parametrize("mode", ["add-to-mixture", "oracle"])
def test_preset_study_reproduces_the_studys_code(tmp_path, tiny_model_path, capsys, mode):
    from conftest import tiny_hdemucs

    track = _study_track(tmp_path / "song")
    expected = _the_studys_procedure(track, tiny_hdemucs(), "vocals", 3, mode)
    out = tmp_path / "s"
    assert main(["run", str(track), "--preset", "study", "--steps", "3", "--mode", mode,
                 "--json", "--out", str(out), "--model", str(tiny_model_path),
                 "--device", "cpu"]) == 0
    got = [step["si_sdr"] for step in json.loads(capsys.readouterr().out)]
    assert len(got) == len(expected) == 3
    for mine, theirs in zip(got, expected, strict=True):
        for stem, value in theirs.items():
            assert mine[stem] == pytest.approx(value, abs=0.01), (stem, mine, theirs)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["preset"] == "study"
    assert [s["metrics"]["step"] for s in manifest["steps"]] == [0, 1, 2]


def test_without_the_preset_the_numbers_differ(tmp_path, tiny_model_path, capsys):
    """The comparison above can fail: the tool's own procedure gives other numbers."""
    from conftest import tiny_hdemucs

    track = _study_track(tmp_path / "song")
    expected = _the_studys_procedure(track, tiny_hdemucs(), "vocals", 3, "add-to-mixture")
    assert main(["run", str(track), "--steps", "3", "--json", "--out", str(tmp_path / "s"),
                 "--model", str(tiny_model_path), "--device", "cpu"]) == 0
    got = [step["si_sdr"] for step in json.loads(capsys.readouterr().out)]
    assert len(got) == 4
    assert max(abs(got[0][s] - expected[0][s]) for s in expected[0]) > 0.01


def test_study_onset_read_in_blocks_is_librosas_trim(tmp_path):
    """The streamed onset (blocks of 262144 frames) equals the whole-array one and a
    frame-by-frame re-derivation of librosa.effects.trim, past a block boundary."""
    import numpy as np
    import soundfile as sf

    from progdemix_tui.engine import study

    rng = np.random.default_rng(5)
    x = np.zeros((2, 7 * STUDY_RATE), dtype=np.float32)
    x[:, 6 * STUDY_RATE + 777:] = 0.5 * rng.standard_normal((2, STUDY_RATE - 777))
    x[:, 100:200] = 1e-4  # far below −60 dB of the loudest frame: still silence
    sf.write(tmp_path / "a.wav", x.T, STUDY_RATE, subtype="FLOAT")
    mono = x.astype(np.float64).mean(0)
    padded = np.pad(mono, 1024)
    power = np.array([np.mean(padded[k * 512: k * 512 + 2048] ** 2)
                      for k in range(1 + len(mono) // 512)])
    db = 10 * np.log10(np.maximum(1e-10, power)) - 10 * np.log10(power.max())
    expected = int(np.flatnonzero(db > -60)[0]) * 512
    assert 6 * STUDY_RATE - 2048 < expected < 6 * STUDY_RATE + 777
    assert study.trim_onset(x) == expected
    assert study.file_trim_onset(tmp_path / "a.wav") == expected
    silent = tmp_path / "s.wav"
    sf.write(silent, np.zeros((1000, 2), dtype=np.float32), STUDY_RATE)
    assert study.file_trim_onset(silent) == 0  # librosa: nothing above −60 dB of 0 → 0


def test_preset_study_eval_reports_steps_to_n_minus_1_with_sample_std(tmp_path,
                                                                     tiny_model_path, capsys):
    import csv

    import numpy as np

    for i in range(3):
        _study_track(tmp_path / "data" / f"song{i}", seconds=2.0 + 0.3 * i, seed=i)
    out = tmp_path / "ev"
    assert main(["eval", str(tmp_path / "data"), "--preset", "study", "--steps", "2",
                 "--out", str(out), "--no-plots", "--model", str(tiny_model_path),
                 "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "preset study" in printed and "std: sample" in printed
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert sorted({int(r["step"]) for r in rows}) == [0, 1]
    assert all(float(r["beta"]) == 0.5 for r in rows if r["step"] == "1")
    summary = [r for r in csv.DictReader((out / "summary.csv").open())
               if r["stem"] == "vocals" and r["metric"] == "si_sdr" and r["step"] == "0"]
    values = [float(r["si_sdr"]) for r in rows if r["stem"] == "vocals" and r["step"] == "0"]
    assert np.std(values, ddof=1) > np.std(values) + 1e-3  # the two differ here
    assert float(summary[0]["std"]) == pytest.approx(np.std(values, ddof=1), abs=1e-9)
    params = json.loads((out / "eval.json").read_text())["parameters"]
    assert params["run"]["preset"] == "study"


def test_preset_study_refuses_a_schedule_its_code_never_had(tmp_path, tiny_model_path, capsys):
    track = _study_track(tmp_path / "song", seconds=1.0)
    assert main(["run", str(track), "--preset", "study", "--schedule", "cosine",
                 "--out", str(tmp_path / "s"), *fast(tiny_model_path)]) == 2
    err = capsys.readouterr().err
    assert "study fixes β = n/N" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()


# ------------------------------------------------------------------ --sdr whole


def test_whole_sdr_is_torchmetrics_sdr():
    """The engine's re-derivation against torchmetrics itself (a test dependency only)."""
    from torchmetrics.audio import SignalDistortionRatio

    from progdemix_tui.engine.sdr import whole_sdr_db

    g = torch.Generator().manual_seed(0)
    refs = torch.randn(3, 2, 20000, generator=g)
    ests = 0.7 * refs + 0.3 * torch.randn(3, 2, 20000, generator=g)
    ests[1] = torch.roll(refs[1], 7, -1) + 0.05 * torch.randn(2, 20000, generator=g)  # a filter
    ests[2, 1] = 0.0  # a silent channel: undefined
    metric = SignalDistortionRatio(zero_mean=False)  # as standard_SDR_ealuation.py calls it
    got = whole_sdr_db(ests, refs)
    for i in range(2):
        assert got[i] == pytest.approx(metric(ests[i], refs[i]).item(), abs=1e-4)
    assert got[1] > 20  # a delay is a filter: the whole-excerpt SDR forgives it
    assert got[2] is None


@pytest.mark.slow
def test_eval_reports_both_sdrs(tmp_path, tiny_model_path, capsys):
    import csv

    _study_track(tmp_path / "data" / "song", seconds=1.5)
    out = tmp_path / "ev"
    # step 0 alone: BSSEval (museval) is most of this test's time, and every step's SDRs
    # come from the same code
    assert main(["eval", str(tmp_path / "data"), "--steps", "0", "--sdr", "both",
                 "--out", str(out), "--no-plots", "--model", str(tiny_model_path),
                 "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "BSSEval v4 SDR" in printed and "whole-excerpt SDR" in printed
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert rows and all(r["sdr"] != "" and r["sdr_whole"] != "" for r in rows)
    assert any(abs(float(r["sdr"]) - float(r["sdr_whole"])) > 0.01 for r in rows)
    params = json.loads((out / "eval.json").read_text())["parameters"]
    assert params["sdr"] is True and params["sdr_whole"] is True


def test_report_and_listing_of_a_study_session(tmp_path, tiny_model_path, capsys):
    """A complete study session of N steps holds N results and reads as complete."""
    from progdemix_tui.engine.session import scan_sessions

    track = _study_track(tmp_path / "song", seconds=1.0)
    out = tmp_path / "sessions" / "s"
    assert main(["run", str(track), "--preset", "study", "--steps", "2", "--out", str(out),
                 *fast(tiny_model_path)]) == 0
    capsys.readouterr()
    assert main(["report", str(out), "--no-plots"]) == 0
    captured = capsys.readouterr()
    assert "preset study" in captured.out and "2 step(s) of 2" in captured.err
    listed = scan_sessions(tmp_path / "sessions")
    assert [(s.steps_done, s.steps_planned) for s in listed.sessions] == [(2, 2)]


def test_preset_study_refuses_a_model_that_cannot_take_the_whole_excerpt(tmp_path):
    """HTDemucs takes at most its training segment at once: one line, what to do."""
    from conftest import STEMS
    from demucs.htdemucs import HTDemucs

    from progdemix_tui import engine
    from progdemix_tui.engine.errors import ConfigError
    from progdemix_tui.engine.models import _wrap

    torch.manual_seed(0)
    model = HTDemucs(sources=list(STEMS), channels=4, depth=2, t_layers=1, segment=1)
    sep = engine.Separator.from_config(engine.SeparatorConfig(device="cpu"),
                                       model=_wrap("tiny-ht", model, "test"))
    config = engine.RunConfig(steps=1, preset="study")
    mixture = torch.zeros(2, 2 * 44100)
    with pytest.raises(ConfigError, match=r"takes at most 1 s at once; use a Hybrid Demucs"):
        next(engine.progressive.iterate(sep, mixture, config))


def test_study_pass_runs_at_the_separators_precision_and_the_preset_reads_auto_as_fp32():
    """The whole-excerpt pass applies the precision the manifest records (bf16 autocast
    changes its output; the input is float32 either way); with the preset, ``auto``
    is the study's float32 on every machine, an explicit precision is kept."""
    from conftest import tiny_hdemucs

    from progdemix_tui import engine
    from progdemix_tui.engine.models import _wrap
    from progdemix_tui.engine.study import WholeExcerptSeparator

    assert engine.RunConfig(preset="study").separator.precision == "fp32"
    kept = engine.SeparatorConfig(precision="bf16")
    assert engine.RunConfig(preset="study", separator=kept).separator.precision == "bf16"
    assert engine.RunConfig().separator.precision == "auto"

    torch.manual_seed(0)
    model = _wrap("tiny", tiny_hdemucs(), "test")
    mixture = torch.randn(1, 2, 44100) * 0.1
    outs = {}
    for precision in ("fp32", "bf16"):
        sep = engine.Separator.from_config(
            engine.SeparatorConfig(device="cpu", precision=precision), model=model)
        assert sep.precision == precision
        outs[precision] = WholeExcerptSeparator(sep).separate(mixture)
    assert outs["bf16"].dtype == outs["fp32"].dtype == torch.float32
    assert not torch.equal(outs["bf16"], outs["fp32"])
    assert torch.allclose(outs["bf16"], outs["fp32"], atol=0.05 * outs["fp32"].abs().max())
