"""Finding and loading separation models through demucs's own loading code.

A model is named by a *spec*: a demucs name (``hdemucs_mmi``, ``htdemucs``, ``mdx_extra``…,
fetched into the Hugging Face cache by ``demucs.hf``), ``demo`` (the small model shipped with
this package), a path to a ``.safetensors`` file in demucs's format (class, args and kwargs
in the metadata), a path to a pickled ``.th`` checkpoint (refused unless trusted, because
unpickling runs code), or torchaudio's ``HDEMUCS_HIGH_MUSDB`` / ``HDEMUCS_HIGH_MUSDB_PLUS``.
With ``repo``, names are looked up in a local demucs repo folder (``NAME.yaml`` bag files and
``SIG.safetensors`` or ``SIG[-CHECKSUM].th`` model files).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import torch

from . import hub
from .config import DEFAULT_MODEL as DEFAULT_MODEL  # re-exported: engine.DEFAULT_MODEL
from .errors import ModelUnavailable, UntrustedCheckpoint
from .model_files import SAFE_CLASSES as SAFE_CLASSES  # re-exported: the allow-list
from .model_files import (
    Bag,
    check_plain_name,
    check_safetensors,
    check_stem_names,
    inside,
    load_checked_safetensors,
    load_checked_safetensors_files,
    read_bag,
)

Notify = hub.Notify

DEMO_WEIGHTS = Path(__file__).resolve().parent.parent / "demo" / "weights" / "demo.safetensors"
TORCHAUDIO_BUNDLES = {
    "HDEMUCS_HIGH_MUSDB": "torchaudio Hybrid Demucs trained on MUSDB18-HQ train set",
    "HDEMUCS_HIGH_MUSDB_PLUS": "torchaudio Hybrid Demucs trained on MUSDB18-HQ train AND test "
    "sets plus extra data: do not evaluate it on MUSDB18-HQ test (leakage)",
}
DESCRIPTIONS = {
    DEFAULT_MODEL: "Hybrid Demucs v3, MUSDB18-HQ + 800 songs (the study's architecture)",
    "htdemucs": "Hybrid Transformer Demucs v4",
    "htdemucs_ft": "Hybrid Transformer Demucs v4, fine-tuned per source (4 models, slow)",
    "htdemucs_6s": "Hybrid Transformer Demucs v4, 6 sources (adds guitar, piano)",
    "mdx": "Demucs v3 MDX challenge bag, MUSDB18-HQ only",
    "mdx_extra": "Demucs v3 MDX challenge bag, extra training data",
    "mdx_q": "mdx, quantized (needs diffq)",
    "mdx_extra_q": "mdx_extra, quantized (needs diffq)",
    "demo": "small HDemucs trained on this package's synthetic demo songs (offline)",
}


if TYPE_CHECKING:
    from demucs.apply import BagOfModels
    from demucs.demucs import Demucs
    from demucs.hdemucs import HDemucs
    from demucs.htdemucs import HTDemucs

    DemucsModel: TypeAlias = BagOfModels | Demucs | HDemucs | HTDemucs
    """The types :func:`demucs.apply.apply_model` is annotated with, for ``cast``: torch
    types the attributes demucs sets on a module (``sources``…) as tensors or modules, and
    the torchaudio adapter duck-types a demucs model."""


@dataclass
class LoadedModel:
    """A model ready for :func:`demucs.apply.apply_model`.

    ``module`` maps ``[batch, channels, time]`` to ``[batch, sources, channels, time]``.
    """

    name: str
    module: torch.nn.Module
    sources: tuple[str, ...]
    samplerate: int
    audio_channels: int
    origin: str
    max_segment: float

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters())


@dataclass(frozen=True)
class ModelStatus:
    """Whether a known model's weights are available locally."""

    name: str
    description: str
    cached: bool
    size_bytes: int | None
    location: str | None
    origin: str = ""
    """Where the weights come from: ``package``, ``torchaudio``, a Hugging Face repository id
    or a local repo folder."""
    sources: tuple[str, ...] | None = None
    """The stems it separates, read from local safetensors metadata (None: not known here)."""


# --------------------------------------------------------------------------- loading


def load_model(spec: str = DEFAULT_MODEL, repo: str | os.PathLike | None = None,
               trust_checkpoint: bool = False, notify: Notify | None = None) -> LoadedModel:
    """Load the model named by ``spec`` (see module docstring). Raises named errors only.

    ``notify`` receives one-line notes worth showing before a slow step: which Hugging Face
    repository a name with a slash comes from, and that a download starts.
    """
    notify = notify or _quiet
    path = Path(spec).expanduser()
    if spec == "demo":
        if not DEMO_WEIGHTS.is_file():
            raise ModelUnavailable(
                f"the demo model's weights are missing ({DEMO_WEIGHTS}); reinstall progdemix-tui."
            )
        return _wrap("demo", load_safetensors(DEMO_WEIGHTS), f"package data {DEMO_WEIGHTS}")
    if spec in TORCHAUDIO_BUNDLES:
        return _load_torchaudio(spec)
    if path.suffix in (".safetensors", *PICKLED_SUFFIXES) or path.is_file() or (
            repo is None and hub.looks_like_path(spec)):
        if file_kind(path) == "safetensors":
            return _wrap(path.stem, load_safetensors(path), str(path))
        return _wrap(path.stem, _load_pickled(path, trust_checkpoint), str(path))
    if repo is not None:
        return _load_from_repo(spec, Path(repo), trust_checkpoint)
    return _load_from_hub(spec, trust_checkpoint, notify)


PICKLED_SUFFIXES = (".th", ".pt", ".pth")


def file_kind(path: Path) -> str:
    """``"safetensors"`` or ``"pickled"``, read from the file's first bytes (a name can lie);
    ModelUnavailable for a missing, non-regular or other file, saying what it is."""
    import stat

    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ModelUnavailable(f"model file {path} is not a regular file (a folder, device "
                                   "or FIFO); give a .safetensors file, a model name or --repo.")
        with path.open("rb") as handle:
            head = handle.read(9)
    except FileNotFoundError:
        raise ModelUnavailable(f"model file {path} does not exist (and {str(path)!r} is not a "
                               "model name: a demucs name or OWNER/NAME).") from None
    except OSError as exc:
        raise ModelUnavailable(f"model file {path} cannot be read ({exc.strerror}).") from None
    if path.suffix == ".safetensors" or (  # a damaged one: check_safetensors says how
            len(head) == 9 and head[8:9] == b"{"
            and int.from_bytes(head[:8], "little") < info.st_size):
        return "safetensors"
    if head.startswith((b"PK\x03\x04", b"\x80")) and path.suffix in PICKLED_SUFFIXES:
        return "pickled"  # a zip (torch.save) or a pickle
    raise ModelUnavailable(
        f"model file {path} is not a model: neither safetensors nor a torch checkpoint"
        f"{'' if path.suffix in PICKLED_SUFFIXES else ' (.th, .pt, .pth)'}; give a "
        ".safetensors file in demucs's format, a model name, or --repo DIR.")


def _quiet(_text: str) -> None:
    """The default ``notify``: say nothing."""


def load_safetensors(path: str | os.PathLike) -> torch.nn.Module:
    """Load a demucs model saved as safetensors with class/args/kwargs metadata.

    The file is checked first (:func:`~.model_files.check_safetensors`): only demucs model
    classes, with arguments that match the file's tensors, so a crafted file cannot make
    the loader call arbitrary code.
    """
    return load_checked_safetensors(Path(path))


def save_safetensors(model: torch.nn.Module, path: str | os.PathLike, half: bool = False) -> Path:
    """Save a demucs model (built with ``capture_init``) in demucs's safetensors format."""
    from safetensors.torch import save_file

    from .audio import atomic_path

    # Set by demucs.states.capture_init.
    args, kwargs = cast("tuple[tuple[Any, ...], dict[str, Any]]", model._init_args_kwargs)
    klass = f"{type(model).__module__}.{type(model).__qualname__}"
    dtype = torch.float16 if half else None
    state = {k: v.detach().to("cpu", dtype=dtype if v.is_floating_point() else None).contiguous()
             for k, v in model.state_dict().items()}
    metadata = {"klass": klass, "args": json.dumps(_encode_json(list(args))),
                "kwargs": json.dumps(_encode_json(dict(kwargs)))}
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=metadata)
    return path


def _encode_json(value):
    if isinstance(value, Fraction):
        return {"_type": "fraction", "numerator": value.numerator, "denominator": value.denominator}
    if isinstance(value, dict):
        return {k: _encode_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode_json(v) for v in value]
    return value


def _load_pickled(path: Path, trust: bool) -> torch.nn.Module:
    if not trust:
        raise UntrustedCheckpoint(
            f"{path} is a pickled checkpoint, and loading it runs code from the file; "
            "pass --trust-checkpoint if you trust its source, or use a .safetensors file."
        )
    from demucs.states import load_model as demucs_load

    try:
        model = demucs_load(path)
    except Exception as exc:
        raise ModelUnavailable(f"{path} could not be loaded as a demucs checkpoint ({exc}).") from None
    model.eval()
    return model


def _load_from_repo(name: str, repo: Path, trust: bool) -> LoadedModel:
    """``name`` from a local demucs repo folder; every file must resolve inside it."""
    if not repo.is_dir():
        raise ModelUnavailable(f"--repo {repo} is not a folder.")
    check_plain_name(name, f"model name for --repo {repo}")
    bag_file = repo / f"{name}.yaml"
    if bag_file.is_file() or bag_file.is_symlink():
        bag = read_bag(inside(bag_file, repo, "bag file"))
    else:
        bag = Bag((name,))
    files = [_repo_model_file(repo, sig, name, trust) for sig in bag.models]
    safe = iter(load_checked_safetensors_files([f for f in files if f.suffix == ".safetensors"]))
    modules = [next(safe) if f.suffix == ".safetensors" else _load_repo_pickle(repo, sig, f)
               for sig, f in zip(bag.models, files, strict=True)]
    return _wrap(name, _unwrap(_make_bag(modules, bag, str(repo))), str(repo))


def _repo_model_file(repo: Path, sig: str, name: str, trust: bool) -> Path:
    """The file for ``sig`` in ``repo`` (safetensors first), refused if it leads outside."""
    file = _find_repo_file(repo, sig, name)
    if file.suffix == ".th" and not trust:
        raise UntrustedCheckpoint(
            f"{file} is a pickled checkpoint, and loading it runs code from the file; "
            "pass --trust-checkpoint if you trust its source."
        )
    return file


def _find_repo_file(repo: Path, sig: str, name: str) -> Path:
    """``SIG.safetensors`` (resolved), else the first ``SIG[-CHECKSUM].th``, in ``repo``;
    ModelUnavailable if none, or if a candidate leads outside ``repo``."""
    safe = repo / f"{sig}.safetensors"
    if safe.is_file() or safe.is_symlink():
        return inside(safe, repo, "model file")
    pickled = sorted(repo.glob(f"{sig}.th")) + sorted(repo.glob(f"{sig}-*.th"))
    if not pickled:
        raise ModelUnavailable(
            f"model {name!r} not found in {repo}: expected {name}.yaml and "
            f"{sig}.safetensors (or {sig}.th); see README 'Offline weights'."
        )
    for file in pickled:
        inside(file, repo, "model file")
    return pickled[0]


def _load_repo_pickle(repo: Path, sig: str, file: Path) -> torch.nn.Module:
    """A trusted pickled checkpoint through demucs's LocalRepo (it verifies the checksum)."""
    from demucs.pretrained import get_model

    try:
        return get_model(sig, repo=repo)
    except Exception as exc:
        raise ModelUnavailable(f"{file} could not be loaded ({_reason(exc)}).") from None


def _make_bag(modules: list[torch.nn.Module], bag: Bag, where: str) -> torch.nn.Module:
    """demucs's BagOfModels; a bag whose parts do not fit together is ModelUnavailable."""
    from demucs.apply import BagOfModels

    try:
        parts = cast("list[Demucs | HDemucs | HTDemucs]", modules)  # checked by BagOfModels
        return BagOfModels(parts, bag.weights, bag.segment)
    except (AssertionError, ValueError, TypeError) as exc:
        raise ModelUnavailable(
            f"the bag in {where} does not fit together ({_reason(exc)}): its models must share "
            "sources, sample rate and channels, and 'weights' needs one number per source."
        ) from None


def _load_from_hub(name: str, trust: bool, notify: Notify) -> LoadedModel:
    """A demucs bag from the Hugging Face cache, downloading what is missing (checked first)."""
    try:
        repo_id, bag, files = hub.resolve(name, notify)
    except hub.NotReachable as exc:
        if trust and "/" not in name:
            return _load_legacy_remote(name, exc)
        raise hub.not_cached_error(name, str(exc)) from None
    modules = load_checked_safetensors_files(files)
    bag_module = _make_bag(modules, bag, f"Hugging Face repository {repo_id}")
    return _wrap(name, _unwrap(bag_module),
                 f"Hugging Face repository {repo_id} (cache {hub.cache_dir()})")


def _load_legacy_remote(name: str, first_error: Exception) -> LoadedModel:
    """demucs's legacy download of pickled checkpoints (checksummed); only when trusted."""
    from demucs.pretrained import get_model

    try:
        model = get_model(name, repo=None)
    except Exception as exc:
        raise ModelUnavailable(
            f"cannot get weights for model {name!r} from the Hugging Face hub "
            f"({_reason(first_error)}) nor the legacy repo ({_reason(exc)})."
        ) from None
    return _wrap(name, model, "legacy demucs repo (torch hub cache)")


def _unwrap(bag) -> torch.nn.Module:
    """A bag of one model with unit weights is just that model."""
    if len(bag.models) == 1 and all(w == 1 for w in bag.weights[0]):
        return bag.models[0]
    return bag


_reason = hub.reason


def _load_torchaudio(name: str) -> LoadedModel:
    try:
        import torchaudio.pipelines as pipelines
    except Exception as exc:
        raise ModelUnavailable(
            f"{name} needs torchaudio ({_reason(exc)}); install the extra: "
            "pip install 'progdemix-tui[torchaudio]'."
        ) from None
    bundle = getattr(pipelines, name)
    try:
        inner = _torchaudio_hdemucs(bundle)
    except Exception as exc:
        raise ModelUnavailable(f"cannot get weights for {name} ({_reason(exc)}).") from None
    module = _TorchaudioAdapter(inner, int(bundle.sample_rate), TORCHAUDIO_SOURCES)
    return _wrap(name, module, "torchaudio bundle")


TORCHAUDIO_SOURCES = ("drums", "bass", "other", "vocals")
"""The sources of torchaudio's HDemucs bundles, in its order."""


def _torchaudio_hdemucs(bundle: Any) -> torch.nn.Module:
    """torchaudio's HDemucs (a fixed class, never one a file names) with the bundle's state,
    read as plain tensors (``weights_only``: a tampered checkpoint cannot run code)."""
    from torchaudio.models import hdemucs_high
    from torchaudio.utils import download_asset

    state = torch.load(download_asset(bundle._model_path), map_location="cpu", weights_only=True)
    model = hdemucs_high(sources=list(TORCHAUDIO_SOURCES))
    model.load_state_dict(state)
    return model.eval()


class _TorchaudioAdapter(torch.nn.Module):
    """Gives torchaudio's HDemucs the attributes demucs's ``apply_model`` reads."""

    def __init__(self, inner: torch.nn.Module, samplerate: int, sources: tuple[str, ...]):
        super().__init__()
        self.inner = inner
        self.samplerate = samplerate
        self.sources = list(sources)
        self.audio_channels = 2
        self.segment = 10.0

    def forward(self, mix: torch.Tensor) -> torch.Tensor:
        return self.inner(mix)


def _wrap(name: str, module: torch.nn.Module, origin: str) -> LoadedModel:
    from demucs.apply import BagOfModels
    from demucs.htdemucs import HTDemucs

    module.eval()
    model = cast("DemucsModel", module)  # or the torchaudio adapter, with the same attributes
    if isinstance(module, BagOfModels):
        max_segment = float(module.max_allowed_segment)
    elif isinstance(module, HTDemucs):
        max_segment = float(module.segment)
    else:
        max_segment = float("inf")
    sources = check_stem_names(model.sources, f"model {name!r} ({origin})")
    return LoadedModel(name=name, module=module, sources=sources,
                       samplerate=int(model.samplerate),
                       audio_channels=int(model.audio_channels), origin=origin,
                       max_segment=max_segment)


# --------------------------------------------------------------------------- status


def known_models() -> list[str]:
    """Model names offered to users, default first."""
    names = sorted(hub.known_names() - {DEFAULT_MODEL})
    return [DEFAULT_MODEL, "demo", *names]


def model_status(name: str, with_sources: bool = False) -> ModelStatus:
    """Whether ``name``'s weights are cached locally (Hugging Face cache or package data);
    ``with_sources``: also the stems, read from the cached file's metadata."""
    description = DESCRIPTIONS.get(name, TORCHAUDIO_BUNDLES.get(name, ""))
    if name == "demo":
        ok = DEMO_WEIGHTS.is_file()
        return ModelStatus(name, description, ok, DEMO_WEIGHTS.stat().st_size if ok else None,
                           str(DEMO_WEIGHTS) if ok else None, "package",
                           _cached_sources([DEMO_WEIGHTS]) if ok and with_sources else None)
    if name in TORCHAUDIO_BUNDLES:
        folder = Path(torch.hub.get_dir()) / "checkpoints"
        files = list(folder.glob(f"hdemucs_high_{'musdbhq_plus' if 'PLUS' in name else 'trained'}*"))
        size = sum(f.stat().st_size for f in files) if files else None
        return ModelStatus(name, description, bool(files), size, str(folder) if files else None,
                           "torchaudio", TORCHAUDIO_SOURCES)
    from huggingface_hub import try_to_load_from_cache

    repo_id = hub.repo_for(name)[0]
    bag_path = try_to_load_from_cache(repo_id, f"{name}.yaml")
    if not isinstance(bag_path, str):
        return ModelStatus(name, description, False, None, None, repo_id)
    try:
        sigs = read_bag(Path(bag_path)).models
    except ModelUnavailable:  # a broken bag file is not a usable cached model
        return ModelStatus(name, description, False, None, None, repo_id)
    found = [try_to_load_from_cache(repo_id, f"{sig}.safetensors") for sig in sigs]
    paths = [Path(file) for file in found if isinstance(file, str)]
    if len(paths) < len(sigs):
        return ModelStatus(name, description, False, None, None, repo_id)
    return ModelStatus(name, description, True, sum(p.stat().st_size for p in paths),
                       str(Path(bag_path).parent), repo_id,
                       _cached_sources(paths) if with_sources else None)


def _cached_sources(files: list[Path]) -> tuple[str, ...] | None:
    """:func:`_sources`, None where the file is refused (loading it will say why)."""
    try:
        return _sources(files)
    except ModelUnavailable:
        return None


def _sources(files: list[Path]) -> tuple[str, ...] | None:
    """The stems named in the first safetensors file's checked metadata (nothing is built);
    None without one, or when its metadata does not name them."""
    safe = [f for f in files if f.suffix == ".safetensors"]
    if not safe:
        return None
    _klass, args, kwargs, _shapes = check_safetensors(safe[0])
    sources = kwargs.get("sources", args[0] if args else None)
    if isinstance(sources, list) and sources and all(isinstance(s, str) for s in sources):
        return tuple(sources)
    return None


def model_stems(spec: str) -> tuple[str, ...] | None:
    """The stems of model ``spec`` read without building it: a known name's cached weights
    or a ``.safetensors`` file's checked metadata; None when only loading can tell."""
    try:
        path = Path(spec).expanduser()
        if path.suffix == ".safetensors" and path.is_file():
            return _cached_sources([path])
        if spec in known_models():
            status = model_status(spec, with_sources=True)
            return status.sources if status.cached else None
    except Exception:  # a broken cache entry or file: loading it will say what is wrong
        return None
    return None


def list_models() -> list[ModelStatus]:
    """Status of every known model, plus the torchaudio bundles."""
    return [model_status(n, with_sources=True) for n in (*known_models(), *TORCHAUDIO_BUNDLES)]


@dataclass(frozen=True)
class RepoListing:
    """The models of a local repo folder, and one line per entry that is not usable."""

    models: list[ModelStatus]
    skipped: list[str]


def list_repo(repo: str | os.PathLike) -> RepoListing:
    """The models ``--repo REPO`` can load: each ``NAME.yaml`` bag, then each
    ``SIG.safetensors`` or ``SIG.th`` no bag names. Checked as a load checks them (plain
    names, files inside the folder, safetensors metadata), but nothing is built or unpickled."""
    folder = Path(repo)
    if not folder.is_dir():
        raise ModelUnavailable(f"--repo {folder} is not a folder.")
    models: list[ModelStatus] = []
    skipped: list[str] = []
    used: set[str] = set()
    for bag_file in sorted(folder.glob("*.yaml")):
        try:
            check_plain_name(bag_file.stem, f"bag file {bag_file}")
            sigs = read_bag(inside(bag_file, folder, "bag file")).models
            files = [_find_repo_file(folder, sig, bag_file.stem) for sig in sigs]
            models.append(_repo_status(bag_file.stem, files, folder))
        except ModelUnavailable as exc:
            skipped.append(str(exc))
            continue
        used.update(sigs)
    for file in sorted([*folder.glob("*.safetensors"), *folder.glob("*.th")]):
        sig = file.stem.split("-")[0] if file.suffix == ".th" else file.stem
        if sig in used or sig in {m.name for m in models}:
            continue
        try:
            check_plain_name(sig, f"model file {file}")
            models.append(_repo_status(sig, [_find_repo_file(folder, sig, sig)], folder))
        except ModelUnavailable as exc:
            skipped.append(str(exc))
    return RepoListing(models, skipped)


def _repo_status(name: str, files: list[Path], folder: Path) -> ModelStatus:
    """A repo model whose ``files`` were found; pickled parts need --trust-checkpoint."""
    pickled = sum(f.suffix == ".th" for f in files)
    description = (f"{len(files)} model(s)" if len(files) > 1 else "1 model") + (
        f", {pickled} pickled (needs --trust-checkpoint)" if pickled else "")
    return ModelStatus(name, description, True, sum(f.stat().st_size for f in files),
                       str(folder), str(folder), _sources(files))
