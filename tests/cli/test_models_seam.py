"""Issue 24 item 1: the separator seam. Models come from sources tried in order (the package's
demo, torchaudio's bundles, files, a repo folder, demucs's pretrained names on the hub), each
says whether a model is available offline, and what loads is a :class:`LoadedModel` whose own
``apply`` the Separator runs; the memory check and the target list follow the model."""

from __future__ import annotations

import pytest
import torch
from conftest import tiny_hdemucs, write_track

from progdemix_tui.engine import models, resources
from progdemix_tui.engine.config import RunConfig, SeparatorConfig
from progdemix_tui.engine.errors import Cancelled, DeviceError, ModelUnavailable
from progdemix_tui.engine.models import (
    LoadedModel,
    ModelRequest,
    ModelShape,
    model_shape,
    model_status,
    register,
    source_for,
)
from progdemix_tui.engine.models.demo import DemoSource
from progdemix_tui.engine.models.file import FileSource
from progdemix_tui.engine.models.pretrained import PretrainedSource
from progdemix_tui.engine.models.repo import RepoSource
from progdemix_tui.engine.models.torchaudio_bundle import TorchaudioSource
from progdemix_tui.engine.separator import Separator

TWO = ["vocals", "other"]


def _hf_cache(root, name: str, sig: str) -> None:
    """demucs's Hugging Face cache layout for adefossez/<repo> with the tiny model inside."""
    from demucs.hf import hf_repo_name

    repo = root / f"models--adefossez--{hf_repo_name(name)}"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    (snapshot / f"{name}.yaml").write_text(f"models: ['{sig}']\n")
    models.save_safetensors(tiny_hdemucs(), snapshot / f"{sig}.safetensors")


@pytest.fixture
def hub_cache(tmp_path, monkeypatch):
    folder = tmp_path / "hf" / "hub"
    folder.mkdir(parents=True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(folder))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    return folder


@pytest.fixture(scope="module")
def two_stem_model(tmp_path_factory):
    """A real tiny HDemucs with two stems at 22050 Hz, as safetensors."""
    from demucs.hdemucs import HDemucs

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("two") / "two.safetensors"
    return models.save_safetensors(HDemucs(sources=TWO, channels=4, samplerate=22050).eval(),
                                   path)


def test_each_request_goes_to_its_source_in_order(tmp_path, tiny_model_path):
    cases = {("demo", None): DemoSource, ("demo", tmp_path): DemoSource,
             ("HDEMUCS_HIGH_MUSDB_PLUS", None): TorchaudioSource,
             (str(tiny_model_path), None): FileSource, ("./x.th", None): FileSource,
             ("tiny", tmp_path): RepoSource, ("htdemucs", None): PretrainedSource,
             ("someone/fine", None): PretrainedSource}
    for (spec, repo), kind in cases.items():
        assert type(source_for(ModelRequest.of(spec, repo))) is kind, (spec, repo)
    assert type(models.SOURCES[-1]) is PretrainedSource  # the fallback stays last


def test_every_source_loads_a_loaded_model(tmp_path, tiny_model_path, hub_cache):
    repo = tmp_path / "repo"
    repo.mkdir()
    models.save_safetensors(tiny_hdemucs(), repo / "tiny.safetensors")
    _hf_cache(hub_cache, "htdemucs", "abcd1234")
    loaded = {"demo": models.load_model("demo"),
              "file": models.load_model(str(tiny_model_path)),
              "repo": models.load_model("tiny", repo=repo),
              "hub": models.load_model("htdemucs")}
    for where, model in loaded.items():
        assert isinstance(model, LoadedModel), where
        assert (model.family, model.samplerate, model.audio_channels) == ("demucs", 44100, 2)
        assert model.sources == ("drums", "bass", "other", "vocals"), where
    assert "adefossez/HTDemucs" in loaded["hub"].origin and str(repo) == loaded["repo"].origin
    with pytest.raises(ModelUnavailable, match="needs torchaudio"):  # no torchaudio here
        models.load_model("HDEMUCS_HIGH_MUSDB")


def test_offline_status_per_source(tmp_path, tiny_model_path, hub_cache, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch"))
    assert model_status("demo").cached and model_status("demo").origin == "package"
    assert not model_status("htdemucs").cached
    assert not model_status("HDEMUCS_HIGH_MUSDB").cached
    _hf_cache(hub_cache, "htdemucs", "abcd1234")
    status = model_status("htdemucs", with_sources=True)
    assert status.cached and status.sources == ("drums", "bass", "other", "vocals")
    assert status.origin == "adefossez/HTDemucs"
    checkpoints = tmp_path / "torch" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save({}, checkpoints / "hdemucs_high_trained.pt")  # where torchaudio caches it
    assert model_status("HDEMUCS_HIGH_MUSDB").cached
    assert not model_status("HDEMUCS_HIGH_MUSDB_PLUS").cached
    assert model_status(str(tiny_model_path), with_sources=True).sources == (
        "drums", "bass", "other", "vocals")
    names = [s.name for s in models.list_models()]
    assert names[:2] == ["hdemucs_mmi", "demo"] and names[-2:] == list(models.TORCHAUDIO_BUNDLES)


class NamedFiles:
    """A real source: names mapped to demucs safetensors files (as a family's source would
    map its names to its weights)."""

    offered = True

    def __init__(self, files: dict) -> None:
        self.files = files

    def handles(self, request: ModelRequest) -> bool:
        return request.spec in self.files

    def names(self) -> tuple[str, ...]:
        return tuple(self.files)

    def status(self, name: str, with_sources: bool = False) -> models.ModelStatus:
        return models.ModelStatus(name, "named file", True, self.files[name].stat().st_size,
                                  str(self.files[name]), "test")

    def shape(self, request: ModelRequest) -> ModelShape | None:
        return FileSource().shape(ModelRequest(str(self.files[request.spec])))

    def load(self, request: ModelRequest) -> LoadedModel:
        loaded = FileSource().load(ModelRequest(str(self.files[request.spec])))
        loaded.name = request.spec
        return loaded


def test_a_registered_source_claims_its_names_first(two_stem_model, monkeypatch):
    monkeypatch.setattr(models.registry, "SOURCES", list(models.SOURCES))
    source = NamedFiles({"htdemucs": two_stem_model, "duo": two_stem_model})
    register(source)
    register(source)  # once only
    assert models.registry.SOURCES.count(source) == 1
    assert source_for(ModelRequest("htdemucs")) is source
    model = models.load_model("duo")
    assert (model.name, model.sources, model.samplerate) == ("duo", tuple(TWO), 22050)
    assert "duo" in models.known_models() and model_status("duo").origin == "test"
    assert model_shape("duo") == ModelShape(22050, 2, two_stem_model.stat().st_size)


def test_separator_runs_the_models_own_apply(tiny_model_path):
    """The Separator's output is the model's ``apply`` (normalised, chunked, denormalised),
    with one ``before``/``done`` per forward, as many as ``chunks`` says."""
    from demucs.apply import apply_model

    config = SeparatorConfig(model=str(tiny_model_path), device="cpu", segment=1.0,
                             precision="fp32", cache=False)
    separator = Separator.from_config(config)
    model = separator.model
    mix = torch.randn(1, 2, 44100 * 2) * 0.1
    heard: list[tuple[int, int]] = []
    out = separator.separate(mix, on_chunk=lambda done, total: heard.append((done, total)))
    total = model.chunks(mix.shape[-1], 1.0, 0.25, 0)
    assert heard == [(n, total) for n in range(1, total + 1)] == [(1, 3), (2, 3), (3, 3)]
    ref = mix.mean(1)
    mean, std = ref.mean(-1)[:, None, None], ref.std(-1, correction=0)[:, None, None]
    with torch.no_grad():
        expected = apply_model(model.module, (mix - mean) / std, shifts=0, split=True,
                               overlap=0.25, segment=1.0)
    assert torch.equal(out, expected * std[..., None] + mean[..., None] / 4)
    calls: list[str] = []
    with torch.no_grad():
        direct = model.apply(model.module, mix, segment=1.0, overlap=0.25, shifts=0,
                             batch_chunks=2, device=torch.device("cpu"),
                             before=lambda: calls.append("b"), done=lambda: calls.append("d"))
    # two forwards: the two full-length chunks together, then the shorter last one
    assert calls == ["b", "d", "d", "b", "d"]
    torch.testing.assert_close(direct, out)

    def cancel() -> None:
        raise Cancelled("cancelled")

    with pytest.raises(Cancelled):
        model.apply(model.module, mix, segment=1.0, overlap=0.25, shifts=0, batch_chunks=1,
                    device=torch.device("cpu"), before=cancel, done=lambda: None)


def test_memory_check_uses_the_models_rate_and_stems(tmp_path, two_stem_model, monkeypatch):
    """A 2-stem 22050 Hz model's run is estimated with its own rate and stems (the old
    constant, 44100 Hz and four stems, refused it)."""
    assert model_shape(str(two_stem_model)) == ModelShape(22050, 2,
                                                          two_stem_model.stat().st_size)
    config = RunConfig(steps=2, separator=SeparatorConfig(model=str(two_stem_model)))
    size = two_stem_model.stat().st_size
    own = dict(sources=2, model_bytes=size, steps=2, segment=10.0)
    need = resources.estimate_run_bytes(frames=60 * 22050, samplerate=22050, **own)
    as_before = resources.estimate_run_bytes(
        frames=60 * 44100, samplerate=44100, resampled=True,
        **{**own, "sources": 4})
    assert as_before > need
    monkeypatch.setenv(resources.MEMORY_ENV, str((need + as_before) // 2))
    assert resources.preflight(60 * 22050, 22050, config, references=False)
    monkeypatch.setenv(resources.MEMORY_ENV, str(need - 1))
    with pytest.raises(DeviceError, match="for 60 s of audio"):
        resources.preflight(60 * 22050, 22050, config, references=False)


def test_memory_is_checked_once_loaded_where_only_loading_tells(tmp_path, monkeypatch,
                                                                capsys):
    """A pickled checkpoint's rate and stems are unknown before it loads: the run is checked
    with the loaded model's, before its session folder is made."""
    from demucs.states import get_state

    from progdemix_tui.cli import main

    pickled = tmp_path / "tiny.th"
    model = tiny_hdemucs()
    args, kwargs = model._init_args_kwargs
    torch.save({"klass": type(model), "args": args, "kwargs": kwargs,
                "state": get_state(model, None)}, pickled)  # demucs's checkpoint layout
    assert model_shape(str(pickled)) is None
    track = write_track(tmp_path / "song", seconds=1.0)
    monkeypatch.setenv(resources.MEMORY_ENV, "300M")
    out = tmp_path / "session"
    assert main(["run", str(track), "--model", str(pickled), "--trust-checkpoint", "--steps",
                 "1", "--segment", "1", "--device", "cpu", "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs about" in err[0] and "300 MB is available" in err[0], err
    assert not out.exists()


def test_tui_plan_checks_the_target_against_the_models_stems(two_stem_model):
    """The panel refuses a target the model file lacks before a run (drums is one of the
    four standard stems, but not this model's)."""
    from progdemix_tui.tui.run_plan import parse
    from progdemix_tui.tui.settings import DEFAULTS

    base = {**DEFAULTS, "model_path": str(two_stem_model), "device": "cpu"}
    errors = parse({**base, "target": "drums"})
    assert isinstance(errors, dict) and "vocals, other" in errors["target"]
    assert not isinstance(parse({**base, "target": "vocals"}), dict)
