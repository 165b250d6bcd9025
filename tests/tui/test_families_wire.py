"""Every family everywhere (issue 25): Open-Unmix and band-split RoFormers through the real
CLI (run, report, export, resume, models, models convert), with tiny random-weight models
built from the families' published configurations (as in their own test files)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import write_track

pytest.importorskip("bs_roformer")

from cli.test_resume import cancelled_session  # noqa: E402
from unit.test_family_openunmix import (  # noqa: E402
    TINY_ARGS,
    _publish_umxse,
    save_folder,
    tiny_targets,
    web,  # noqa: F401  # the fixture, for the download test
)
from unit.test_family_roformer import (  # noqa: E402
    document,
    random_checkpoint,
    training_code_demix,
    write_config,
)

from progdemix_tui.cli import main  # noqa: E402
from progdemix_tui.engine import open_session  # noqa: E402
from progdemix_tui.engine.config import RunConfig, SeparatorConfig  # noqa: E402
from progdemix_tui.engine.families import OPENUNMIX_NAMES, roformer  # noqa: E402
from progdemix_tui.engine.families.openunmix import PUBLISHED  # noqa: E402
from progdemix_tui.engine.families.umx_package import openunmix  # noqa: E402
from progdemix_tui.engine.models import family_version  # noqa: E402
from progdemix_tui.engine.prepare import model_targets  # noqa: E402
from progdemix_tui.engine.separator import Separator, SeparatorCache  # noqa: E402

RATE = 8000  # the tiny RoFormer configs' rate
CPU = ["--device", "cpu", "--precision", "fp32", "--stem-format", "wav"]


@pytest.fixture
def cli(capsys) -> Callable[..., subprocess.CompletedProcess]:
    """The CLI in this process (``main``): its exit code and what it printed. None of these
    tests is about the process itself (the kill below is a real one)."""

    def call(*args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's refusals
            code = exc.code
        printed = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, printed.out, printed.err)

    return call


def one_line_error(done: subprocess.CompletedProcess) -> str:
    """The run failed as bad input does: exit 2, one line on stderr, no traceback."""
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


@pytest.fixture(scope="module")
def karaoke(tmp_path_factory) -> tuple[Path, Path]:
    """A 2-stem BS-RoFormer (vocals + instrumental: the training code's target and the rest),
    as a pickled checkpoint with its YAML config."""
    folder = tmp_path_factory.mktemp("karaoke")
    data = document("bs_roformer", instruments=("vocals", "instrumental"))
    return random_checkpoint(folder, data, "bs_roformer"), write_config(folder / "cfg.yaml", data)


@pytest.fixture(scope="module")
def umx(tmp_path_factory) -> Path:
    """A tiny Open-Unmix model folder (4 targets) as the package's train.py leaves one."""
    return save_folder(tmp_path_factory.mktemp("umx") / "tiny-umx", tiny_targets(), TINY_ARGS)


def song(folder: Path, rate: int, seconds: float = 3.0) -> Path:
    """A MUSDB-style track folder (mixture + the four stems)."""
    return write_track(folder, seconds=seconds, rate=rate)


def read(session: Path, step: int, stem: str) -> torch.Tensor:
    return open_session(session).load(step, stem)


# --------------------------------------------------------------------------- RoFormer


def test_roformer_run_report_export_through_the_cli(tmp_path, karaoke, cli):
    """``run --model CKPT --model-config CFG``: step 0 is the training code's chunked
    inference with the config's chunk and overlap (not 10 s and 0.25); N+1 steps; the
    manifest records the family and the config; report reads it; export writes the model's
    stems, and a karaoke pair with --two-stems (accompaniment = mixture − vocals)."""
    checkpoint, config = karaoke
    track = song(tmp_path / "song", RATE)
    out = tmp_path / "session"
    done = cli("run", str(track), "--model", str(checkpoint), "--model-config", str(config),
               "--steps", "2", "--out", str(out), *CPU)
    assert done.returncode == 0, done.stderr
    session = open_session(out)
    assert [s.step for s in session.steps] == [0, 1, 2] and session.status == "complete"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["family"] == "roformer"
    assert manifest["model"]["sources"] == ["vocals", "instrumental"]
    assert manifest["model"]["segment"] == pytest.approx(8192 / RATE)
    assert manifest["model"]["overlap"] == pytest.approx(0.75)
    assert manifest["config"]["separator"]["model_config"] == str(config)

    model = roformer.load(checkpoint, config)
    mix = torch.from_numpy(sf.read(track / "mixture.wav", dtype="float32")[0].T.copy())
    vocals = training_code_demix(model.module, mix, chunk=8192, num_overlap=4)[0]
    torch.testing.assert_close(read(out, 0, "vocals"), vocals, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(read(out, 0, "instrumental"), mix - vocals, rtol=1e-4,
                               atol=1e-5)

    report = cli("report", str(out))
    assert report.returncode == 0, report.stderr
    exported = tmp_path / "exported"
    done = cli("export", str(out), "--step", "2", "--format", "float32", "--out",
               str(exported), "--json")
    assert done.returncode == 0, done.stderr
    names = {Path(row["path"]).stem for row in json.loads(done.stdout)}
    assert any("vocals" in n for n in names) and any("instrumental" in n for n in names)
    assert not any(n.endswith(("drums", "bass")) for n in names)
    karaoke_out = tmp_path / "karaoke"
    done = cli("export", str(out), "--step", "2", "--two-stems", "vocals", "--format",
               "float32", "--out", str(karaoke_out), "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    files = {Path(r["path"]).stem: sf.read(r["path"], dtype="float32")[0].T for r in rows}
    vocals_file = next(v for k, v in files.items() if k.endswith("vocals") and "no_" not in k)
    minus = next(v for k, v in files.items() if "no_vocals" in k)
    np.testing.assert_allclose(vocals_file + minus, mix.numpy(), atol=1e-5)


def test_roformer_resumed_after_a_kill(tmp_path, karaoke, cli):
    checkpoint, config = karaoke
    track = song(tmp_path / "song", RATE, seconds=1.5)
    out = cancelled_session(tmp_path, checkpoint, track, "--model-config", str(config),
                            "--device", "cpu", kill=True)
    resumed = cli("run", "--resume", str(out))
    assert resumed.returncode == 0, resumed.stderr
    session = open_session(out)
    assert session.status == "complete" and len(session.steps) == 9


def test_roformer_converted_file_runs_without_its_config(tmp_path, karaoke, cli):
    """``models convert``: the safe copy runs without --model-config and gives what the
    checkpoint gives; nothing is written when the checkpoint is not trusted and holds more
    than tensors."""
    checkpoint, config = karaoke
    converted = tmp_path / "safe.safetensors"
    done = cli("models", "convert", str(checkpoint), "--model-config", str(config), "--to",
               str(converted))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(converted)
    a = Separator.from_config(SeparatorConfig(model=str(checkpoint), model_config=str(config),
                                              device="cpu", precision="fp32", cache=False))
    b = Separator.from_config(SeparatorConfig(model=str(converted), device="cpu",
                                              precision="fp32", cache=False))
    mix = torch.randn(2, RATE * 2, generator=torch.Generator().manual_seed(3)) * 0.1
    assert (b.segment, b.overlap, b.sources) == (a.segment, a.overlap, a.sources)
    torch.testing.assert_close(b.separate(mix), a.separate(mix))

    wrapped = tmp_path / "wrapped.ckpt"
    torch.save({"state_dict": torch.load(checkpoint), "epoch": Path("x")}, wrapped)
    target = tmp_path / "never.safetensors"
    line = one_line_error(cli("models", "convert", str(wrapped), "--model-config",
                              str(config), "--to", str(target)))
    assert "--trust-checkpoint" in line and not target.exists()
    assert not list(tmp_path.glob(".never*"))  # no temporary left either
    done = cli("models", "convert", str(wrapped), "--model-config", str(config), "--to",
               str(target), "--trust-checkpoint")
    assert done.returncode == 0, done.stderr and target.is_file()


def test_hostile_config_and_mismatched_checkpoint_are_one_line(tmp_path, karaoke, cli):
    checkpoint, _ = karaoke
    track = song(tmp_path / "song", RATE, seconds=1.5)
    huge = write_config(tmp_path / "huge.yaml", document("bs_roformer", dim=1 << 20,
                                                         depth=1000))
    other = write_config(tmp_path / "other.yaml", document("bs_roformer", dim=32))
    for config, says in ((huge, "huge.yaml"), (other, "wrong shape")):
        out = tmp_path / f"never-{config.stem}"
        line = one_line_error(cli("run", str(track), "--model", str(checkpoint),
                                  "--model-config", str(config), "--steps", "1", "--out",
                                  str(out), *CPU))
        assert says in line and not out.exists()
    missing = one_line_error(cli("run", str(track), "--model", str(checkpoint), "--steps", "1",
                                 "--out", str(tmp_path / "x"), *CPU))
    assert "--model-config" in missing


def test_rotary_embeddings_stay_float32_in_bf16(karaoke):
    """The separator's bf16 weights keep the model's own float32 layers (RoFormer's rotary
    embeddings) as well as the norms; its step-0 identity names the family's package."""
    from rotary_embedding_torch import RotaryEmbedding

    checkpoint, config = karaoke
    sep = Separator.from_config(SeparatorConfig(model=str(checkpoint), model_config=str(config),
                                                device="cpu", precision="bf16", cache=False))
    rotary = [m for m in sep.runnable_module().modules() if isinstance(m, RotaryEmbedding)]
    assert rotary and all(t.dtype == torch.float32 for m in rotary
                          for t in (*m.parameters(), *m.buffers()) if t.is_floating_point())
    assert any(p.dtype == torch.bfloat16 for p in sep.runnable_module().parameters())
    identity = sep.step0_identity()
    assert (identity["family"], identity["package"]) == ("roformer",
                                                         family_version("roformer"))
    assert identity["package"] != "?"


def test_user_segment_and_overlap_win_but_the_chunk_caps(karaoke):
    checkpoint, config = karaoke
    sep = Separator.from_config(SeparatorConfig(
        model=str(checkpoint), model_config=str(config), device="cpu", precision="fp32",
        segment=30.0, overlap=0.5, cache=False))
    assert (sep.segment, sep.overlap) == (pytest.approx(8192 / RATE), 0.5)


# --------------------------------------------------------------------------- refusals


def test_study_preset_and_oracle_follow_the_family(tmp_path, karaoke, umx, cli):
    """The study preset reproduces a demucs study: another family is one line. Oracle mode
    with a 2-stem model on a MUSDB-style folder: the model's last stem's reference is the
    rest of the song (the four stems but its target); a folder without the four is one line
    naming the model's stems; nothing is written either way."""
    checkpoint, config = karaoke
    track = song(tmp_path / "song44", 44100, seconds=1.5)
    out = tmp_path / "study"
    line = one_line_error(cli("run", str(track), "--model", str(umx), "--preset", "study",
                              "--steps", "1", "--out", str(out), "--device", "cpu"))
    assert "--preset study" in line and "openunmix" in line and not out.exists()

    track = song(tmp_path / "song8", RATE, seconds=1.5)
    out = tmp_path / "oracle"
    done = cli("run", str(track), "--model", str(checkpoint), "--model-config", str(config),
               "--mode", "oracle", "--steps", "1", "--out", str(out), *CPU)
    assert done.returncode == 0, done.stderr
    assert "reference instrumental = drums + bass + other" in done.stderr
    stems = {n: sf.read(track / f"{n}.wav", dtype="float32")[0] for n in ("drums", "bass",
                                                                          "other")}
    reference = open_session(out).load(-1, "instrumental")  # step -1: the references
    np.testing.assert_allclose(reference.numpy().T, sum(stems.values()), atol=1e-5)

    three = document("bs_roformer", num_stems=3, target=None,
                     instruments=("vocals", "keys", "guitar"))
    bad = write_config(tmp_path / "three.yaml", three)
    weights = random_checkpoint(tmp_path, three, "bs_roformer", "three")
    out = tmp_path / "refused"
    line = one_line_error(cli("run", str(track), "--model", str(weights), "--model-config",
                              str(bad), "--target", "vocals", "--mode", "oracle", "--steps",
                              "1", "--out", str(out), *CPU))
    assert "vocals, keys, guitar" in line and "no reference for keys, guitar" in line
    assert "oracle mode needs" in line and not out.exists()


# --------------------------------------------------------------------------- Open-Unmix


def test_openunmix_run_equals_the_package_and_exports(tmp_path, umx, cli):
    """``run --model FOLDER``: step 0 is ``openunmix.predict.separate`` on the same folder;
    N+1 steps; report and export work with its stems."""
    track = song(tmp_path / "song", 44100, seconds=2.0)
    out = tmp_path / "session"
    done = cli("run", str(track), "--model", str(umx), "--steps", "2", "--out", str(out), *CPU)
    assert done.returncode == 0, done.stderr
    session = open_session(out)
    assert [s.step for s in session.steps] == [0, 1, 2]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["family"] == "openunmix"
    mix = torch.from_numpy(sf.read(track / "mixture.wav", dtype="float32")[0].T.copy())
    expected = openunmix().predict.separate(mix, rate=44100, model_str_or_path=str(umx),
                                            targets=["vocals", "drums", "bass", "other"],
                                            niter=1, device="cpu")
    # A tiny random Open-Unmix's Wiener filter is ill-conditioned: the package's own output
    # moves by ~1e-3 between torch thread counts; so "equal" is a 40 dB SNR here (the family's
    # umxhq-sized test holds 1e-4).
    for stem in ("vocals", "drums", "bass", "other"):
        got, want = read(out, 0, stem), expected[stem][0]
        assert got.shape == want.shape
        assert 10 * torch.log10(want.pow(2).sum() / (got - want).pow(2).sum()) > 40, stem
    assert cli("report", str(out)).returncode == 0
    done = cli("export", str(out), "--step", "last", "--out", str(tmp_path / "x"), "--json")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 4


def test_models_json_lists_the_families(tmp_path):
    """Open-Unmix's names are listed, cached or not, with their family, stems and rate."""
    env_home = tmp_path / "torch"
    done = subprocess.run([sys.executable, "-m", "progdemix_tui", "models", "--json"],
                          capture_output=True, text=True,
                          env={**__import__("os").environ, "TORCH_HOME": str(env_home),
                               "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert set(OPENUNMIX_NAMES) == set(PUBLISHED) <= set(rows)
    umxl, umxse, demo = rows["umxl"], rows["umxse"], rows["demo"]
    assert (umxl["family"], umxl["cached"], umxl["samplerate"]) == ("openunmix", False, 44100)
    assert umxl["sources"] == ["vocals", "drums", "bass", "other"]
    assert (umxse["samplerate"], umxse["sources"]) == (16000, ["speech", "noise"])
    assert (demo["family"], demo["samplerate"]) == ("demucs", 44100)
    assert not any(row["family"] == "roformer" for row in rows.values())  # files, not names


def test_uncached_openunmix_name_is_one_line_offline(tmp_path):
    track = song(tmp_path / "song", 44100, seconds=1.0)
    done = subprocess.run(
        [sys.executable, "-m", "progdemix_tui", "run", str(track), "--model", "umxl",
         "--steps", "1", "--out", str(tmp_path / "never"), "--device", "cpu"],
        capture_output=True, text=True,
        env={**__import__("os").environ, "TORCH_HOME": str(tmp_path / "torch"),
             "HF_HUB_OFFLINE": "1"})
    line = one_line_error(done)
    assert line.startswith("error: umxl's weights are not cached") and "HF_HUB_OFFLINE" in line
    assert not (tmp_path / "never").exists()


def test_eval_target_all_is_the_models_stems(karaoke, umx):
    checkpoint, config = karaoke
    run = RunConfig(separator=SeparatorConfig(model=str(checkpoint), model_config=str(config),
                                              device="cpu"))
    cache = SeparatorCache()
    assert model_targets(run, cache) == ("vocals", "instrumental")
    umx_run = RunConfig(separator=SeparatorConfig(model=str(umx), device="cpu"))
    assert model_targets(umx_run, cache) == ("vocals", "drums", "bass", "other")


def test_eval_all_targets_of_a_karaoke_roformer(tmp_path, karaoke, cli):
    """``eval --target all`` with a vocals + instrumental RoFormer on a MUSDB-style dataset:
    both of its stems are evaluated, the instrumental's reference being the sum of the
    other three stems (none skipped for lacking instrumental.wav)."""
    import csv

    checkpoint, config = karaoke
    root = tmp_path / "musdb"
    write_track(root / "a", seconds=2.5, rate=RATE, seed=1)
    out = tmp_path / "eval"
    done = cli("eval", str(root), "--out", str(out), "--steps", "1", "--excerpt", "1.5",
               "--model", str(checkpoint), "--model-config", str(config), "--target", "all",
               "--no-plots", *CPU[:4])
    assert done.returncode == 0, done.stderr
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["target"] for r in rows} == {"vocals", "instrumental"}
    assert {r["stem"] for r in rows} == {"vocals", "instrumental"} and len(rows) == 8
    assert not json.loads((out / "eval.json").read_text())["skipped"]


def test_models_download_fetches_an_openunmix_name_into_the_cache(
        tmp_path, web, monkeypatch, capsys):  # noqa: F811
    """``models download umxse`` fetches the published files (here from a local server) into
    torch.hub's cache, where ``--model umxse`` then loads them offline."""
    from progdemix_tui.engine.families.openunmix import cached_files, is_cached

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    _publish_umxse(*web, monkeypatch)
    assert main(["models", "download", "umxse"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(p) for p in cached_files("umxse").values()] and is_cached("umxse")
    assert main(["models", "download", "umxse", "--to", str(tmp_path / "x")]) == 2
    assert "drop --to" in capsys.readouterr().err and not (tmp_path / "x").exists()


def test_memory_check_reads_the_models_own_segment(monkeypatch):
    """The memory check sizes one forward by the model's own segment: Open-Unmix separates
    the whole input at once (refused here where a 10 s-chunked model fits), a RoFormer its
    config's chunk, and ``--segment`` is capped by the model's."""
    import math

    from progdemix_tui.engine.errors import DeviceError
    from progdemix_tui.engine.models import ModelShape
    from progdemix_tui.engine.resources import MEMORY_ENV, preflight, segment_seconds

    monkeypatch.setenv(MEMORY_ENV, "3G")
    config = RunConfig(steps=1)
    frames = 120 * 44100
    assert preflight(frames, 44100, config, False, shape=ModelShape(44100, 4, 100 << 20))
    with pytest.raises(DeviceError):
        preflight(frames, 44100, config, False, shape=ModelShape(44100, 4, 100 << 20, math.inf))
    assert segment_seconds(None, math.inf, 120.0) == 120.0
    assert segment_seconds(None, 2.98, 120.0) == 2.98
    assert segment_seconds(30.0, 2.98, 120.0) == 2.98
    assert segment_seconds(None, None, 120.0) == 10.0


def test_an_empty_model_config_is_none():
    """The TUI's empty field is no config: the hub's checks and the sources see none."""
    from progdemix_tui.engine.hub import is_hub_name
    from progdemix_tui.engine.models import ModelRequest
    from progdemix_tui.engine.options import run_config

    assert run_config({"model_config": ""}).separator.model_config is None
    assert ModelRequest.of("htdemucs", config="").config is None
    assert is_hub_name("htdemucs", None, "") and not is_hub_name("htdemucs", None, "c.yaml")
    assert not is_hub_name("umxl") and not is_hub_name("umxhq")


@pytest.mark.parametrize("family", ["roformer", "openunmix"])
def test_the_tui_reopens_a_familys_session(tmp_path, work, karaoke, umx, family):
    """A session the CLI wrote with each family opens in the TUI (Pilot): its three steps in
    the timeline, a step selectable for listening."""
    import asyncio

    from support.tui_helpers import make_app, screen_text, wait_for

    checkpoint, config = karaoke
    model = (["--model", str(checkpoint), "--model-config", str(config)]
             if family == "roformer" else ["--model", str(umx)])
    track = song(tmp_path / "song", RATE if family == "roformer" else 44100, seconds=1.5)
    folder = work / "sessions" / family
    assert main(["run", str(track), *model, "--steps", "2", "--out", str(folder), *CPU]) == 0

    async def reopen() -> None:
        app = make_app(".", checkpoint)
        async with app.run_test(size=(100, 30)) as pilot:
            app.open_session_folder(folder)
            await wait_for(pilot, lambda: f"session {family} (complete, 3 steps)"
                           in screen_text(app))
            await pilot.press("t", "down", "down")
            await wait_for(pilot, lambda: app.player.selection is not None
                           and app.player.selection.step == 2)
            assert app.player.selection.stem == "vocals"

    asyncio.run(reopen())
