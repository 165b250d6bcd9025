"""Open-Unmix (``openunmix``): the published models by name, and model folders.

A step applies the package's own inference: its ``Separator`` (a spectrogram model per target,
then its multichannel Wiener post-filter, one EM iteration over 300-frame windows) on the whole
input at once, as ``openunmix.predict.separate`` runs it — no normalisation, no chunking.

Names: ``umxhq``, ``umx``, ``umxl`` (44.1 kHz stereo, four stems) and ``umxse`` (16 kHz speech
enhancement: speech, noise). Their weights are the package's published files on Zenodo, kept in
torch.hub's cache (``$TORCH_HOME/hub/checkpoints``) under the package's own file names; they are
fetched once (never with ``HF_HUB_OFFLINE`` set) and read as plain tensors (the package's loader
would unpickle them whole). Folders: :mod:`.umx_files`.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..errors import ModelUnavailable
from .umx_files import (
    file_shapes,
    fill,
    load_folder_targets,
    read_filterbank,
)
from .umx_package import openunmix

if TYPE_CHECKING:  # the seam imports this module: its types only here
    from collections.abc import Sequence

    from ..models.base import ModelRequest, ModelShape, ModelStatus

FAMILY = "openunmix"
NITER = 1
"""EM iterations of the Wiener post-filter (``openunmix.predict.separate``'s default)."""
WIENER_WIN_LEN = 300
"""Frames the post-filter works on at a time (the package's default)."""
SHIFT_SECONDS = 0.5
"""The largest random shift of ``--shifts`` (demucs's shift trick, which the package lacks)."""
PROBE_TIMEOUT = 2.0
"""Seconds the one request that tells whether Zenodo answers may take."""
OFFLINE_VALUES = {"1", "ON", "YES", "TRUE"}
"""Values of ``HF_HUB_OFFLINE`` that mean offline (as huggingface_hub reads it)."""

Notify = Callable[[str], None]


@dataclass(frozen=True)
class Published:
    """A model the package publishes: its constructor's name, what it is, its files."""

    name: str
    description: str
    samplerate: int
    urls: dict[str, str]
    """Target → the package's own weight URL (its ``<name>_spec``), in its target order."""

    @property
    def files(self) -> dict[str, str]:
        return {target: url.rsplit("/", 1)[1] for target, url in self.urls.items()}


def _zenodo(record: str, files: Sequence[str]) -> dict[str, str]:
    return {f.split("-")[0].split("_")[0]: f"https://zenodo.org/records/{record}/files/{f}"
            for f in files}


PUBLISHED = {p.name: p for p in (
    Published("umxhq", "Open-Unmix, MUSDB18-HQ (BiLSTM, 512 units, 16 kHz bandwidth)", 44100,
              _zenodo("3370489", ("vocals-b62c91ce.pth", "drums-9619578f.pth",
                                  "bass-8d85a5bd.pth", "other-b52fbbf7.pth"))),
    Published("umx", "Open-Unmix, MUSDB18 (7 s previews, not HQ)", 44100,
              _zenodo("3370486", ("vocals-c8df74a5.pth", "drums-5a48008b.pth",
                                  "bass-646024d3.pth", "other-f8e132cc.pth"))),
    Published("umxl", "Open-Unmix large, trained on extra data (1024 units; not on MUSDB18 "
              "test: no leakage there)", 44100,
              _zenodo("5069601", ("vocals-bccbd9aa.pth", "drums-69e0ebd4.pth",
                                  "bass-2ca1ce51.pth", "other-c8c5b3e6.pth"))),
    Published("umxse", "Open-Unmix speech enhancement (16 kHz, 1 channel): speech, noise",
              16000, _zenodo("3786908", ("speech_f5e0d9f9.pth", "noise_04a6fc2d.pth"))),
)}
"""The package's published models, as its ``openunmix/__init__.py`` lists them (a test
checks the URLs against the installed package)."""


@dataclass
class OpenUnmixModel:
    """A loaded Open-Unmix separator; ``module`` is the package's ``Separator``."""

    name: str
    module: torch.nn.Module
    sources: tuple[str, ...]
    samplerate: int
    origin: str
    family: str = FAMILY
    audio_channels: int = 2
    """Stereo in, stereo out (the package makes every input stereo, even for mono models)."""
    max_segment: float = math.inf
    """Any length: the whole input goes through in one pass."""

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    @property
    def targets(self) -> int:
        """Spectrogram models (one forward each per pass; a residual stem has none)."""
        return len(self.module.target_models)  # type: ignore[arg-type]  # a ModuleDict

    def chunks(self, length: int, segment: float, overlap: float, shifts: int) -> int:
        """Forwards of one apply: one per target model and shift (the input is never cut)."""
        return self.targets * max(1, shifts)

    def apply(self, module: torch.nn.Module, mix: torch.Tensor, *, segment: float,
              overlap: float, shifts: int, batch_chunks: int, device: torch.device,
              before: Callable[[], None], done: Callable[[], None]) -> torch.Tensor:
        """``[batch, 2, time]`` → ``[batch, sources, 2, time]``: the package's ``Separator``
        on the whole input (``segment``, ``overlap`` and ``batch_chunks`` do not apply);
        with ``shifts``, the mean over that many random shifts of up to
        :data:`SHIFT_SECONDS` (``random`` draws them, as demucs does). ``before``/``done``
        run around each target model's forward."""
        del segment, overlap, batch_chunks
        targets = list(module.target_models.values())  # type: ignore[operator]
        hooks = [m.register_forward_pre_hook(lambda *_: before()) for m in targets]
        hooks += [m.register_forward_hook(lambda *_: done()) for m in targets]
        length = mix.shape[-1]
        mix = mix.to(device, torch.float32)
        try:
            with torch.no_grad():
                if not shifts:
                    return module(mix).float()
                max_shift = int(SHIFT_SECONDS * self.samplerate)
                padded = torch.nn.functional.pad(mix, (max_shift, max_shift))
                out = torch.zeros((mix.shape[0], len(self.sources), *mix.shape[1:]),
                                  device=device)
                for _ in range(shifts):
                    offset = random.randint(0, max_shift)
                    res = module(padded[..., offset:length + max_shift])
                    out += res[..., max_shift - offset:].float()
                return out / shifts
        finally:
            for hook in hooks:
                hook.remove()


# --------------------------------------------------------------------------- names


def cache_dir() -> Path:
    """Where torch.hub keeps downloaded weights (``$TORCH_HOME/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def cached_files(name: str) -> dict[str, Path]:
    """Target → where the published model ``name``'s file is (or will be) cached."""
    return {t: cache_dir() / f for t, f in PUBLISHED[name].files.items()}


@functools.cache
def download_bytes(name: str) -> int:
    """About the bytes of published model ``name``'s files: its tensors as the package builds
    the model (float32, on the meta device: nothing allocated). The files add a few kB: their
    container and, in open-unmix 1.0's, an STFT window (0.3 % for umxse)."""
    with torch.device("meta"):
        targets = getattr(openunmix(), f"{name}_spec")(pretrained=False, device="meta")
    return sum(tensor.numel() * tensor.element_size() for model in targets.values()
               for tensor in model.state_dict().values())


def is_cached(name: str) -> bool:
    return all(path.is_file() for path in cached_files(name).values())


def offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` asks that nothing be downloaded (read at each call)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in OFFLINE_VALUES


def not_cached(name: str, why: str) -> ModelUnavailable:
    where = cache_dir()
    files = ", ".join(PUBLISHED[name].files.values())
    page = next(iter(PUBLISHED[name].urls.values())).rsplit("/", 2)[0]
    cli = (f"{name}'s weights are not cached ({where}) and {why}: connect once to download "
           f"them, or place {files} there by hand (from {page}); offline, try --model demo.")
    app = (f"{name}'s weights are not cached ({where}) and {why}: pick 'demo' in Params (p), "
           "or connect once, then run again.")
    return ModelUnavailable(cli, in_app=app)


def fetch(name: str, notify: Notify) -> dict[str, Path]:
    """The published model's files, downloading the missing ones into :func:`cache_dir`
    (one probe first, so an unreachable Zenodo is one quick line)."""
    import urllib.error
    import urllib.request

    files = cached_files(name)
    missing = {t: p for t, p in files.items() if not p.is_file()}
    if not missing:
        return files
    if offline():
        raise not_cached(name, "HF_HUB_OFFLINE is set, so nothing is downloaded")
    urls = PUBLISHED[name].urls
    first = urls[next(iter(missing))]
    try:
        urllib.request.urlopen(urllib.request.Request(first, method="HEAD"),
                               timeout=PROBE_TIMEOUT).close()
    except urllib.error.HTTPError:
        pass  # the server answered: the download says what it thinks
    except Exception as exc:
        raise not_cached(name, f"there is no network ({_reason(exc)})") from None
    notify(f"downloading Open-Unmix {name}: {len(missing)} file(s) from zenodo.org into "
           f"{cache_dir()}")
    cache_dir().mkdir(parents=True, exist_ok=True)
    for target, path in missing.items():
        match = torch.hub.HASH_REGEX.search(path.name)
        try:
            torch.hub.download_url_to_file(urls[target], str(path), progress=False,
                                           hash_prefix=match.group(1) if match else None)
        except Exception as exc:
            raise ModelUnavailable(f"downloading {name}'s {target} weights from {urls[target]} "
                                   f"failed ({_reason(exc)}); try again later.") from None
    return files


def load_published(name: str, trust: bool = False, notify: Notify | None = None) \
        -> OpenUnmixModel:
    """A published model: the package builds it (its sizes, no weights), the cached files
    fill it after a key and shape check."""
    package = openunmix()  # before any download: without it, the weights would be no use
    files = fetch(name, notify or (lambda _: None))
    separator = getattr(package, name)(targets=None, residual=False, niter=NITER, device="cpu",
                                       pretrained=False, wiener_win_len=WIENER_WIN_LEN,
                                       filterbank="torch")
    for target, model in separator.target_models.items():
        shapes, reader = file_shapes(files[target], trust)
        fill(files[target], model, shapes, reader)
    separator.freeze()
    return OpenUnmixModel(name, separator, tuple(separator.target_models),
                          PUBLISHED[name].samplerate, f"openunmix {name} ({cache_dir()})")


def load_folder(folder: Path, trust: bool = False) -> OpenUnmixModel:
    """A model folder as the package saves one (:mod:`.umx_files`); one target gets the
    package's residual stem (the Wiener filter needs two)."""
    bank = read_filterbank(folder)
    targets = load_folder_targets(folder, bank, trust)
    residual = len(targets) == 1
    separator = openunmix().model.Separator(
        target_models=targets, niter=NITER, residual=residual, sample_rate=bank.sample_rate,
        n_fft=bank.nfft, n_hop=bank.nhop, nb_channels=bank.nb_channels,
        wiener_win_len=WIENER_WIN_LEN, filterbank="torch")
    separator.freeze()
    sources = (*targets, "residual") if residual else tuple(targets)
    return OpenUnmixModel(folder.name or str(folder), separator, sources, bank.sample_rate,
                          f"Open-Unmix folder {folder}")


# --------------------------------------------------------------------------- source


def is_model_folder(spec: str) -> bool:
    path = Path(spec).expanduser()
    return path.is_dir() and (path / "separator.json").is_file()


class OpenUnmixSource:
    """The models-seam source of this family (:class:`..models.ModelSource`): published
    names and model folders."""

    family = FAMILY
    offered = True

    def names(self) -> tuple[str, ...]:
        return tuple(PUBLISHED)

    def handles(self, request: ModelRequest) -> bool:
        return request.config is None and (request.spec in PUBLISHED
                                           or is_model_folder(request.spec))

    def available_offline(self, spec: str) -> bool:
        """Whether ``spec`` loads without a network: cached weights, or a folder."""
        return is_cached(spec) if spec in PUBLISHED else is_model_folder(spec)

    def status(self, name: str, with_sources: bool = False) -> ModelStatus:
        """A published name: cached or not (no download), its stems and rate as published, its
        size: its cached files', or what it would download (:func:`download_bytes`)."""
        from ..models.base import ModelStatus

        if name not in PUBLISHED:
            folder = Path(name).expanduser()
            return ModelStatus(folder.name, "Open-Unmix folder", is_model_folder(name), None,
                               str(folder), str(folder), family=FAMILY)
        published = PUBLISHED[name]
        files = cached_files(name)
        cached = all(path.is_file() for path in files.values())
        size: int | None = None
        if cached:
            size = sum(path.stat().st_size for path in files.values())
        else:
            with contextlib.suppress(ModelUnavailable):  # no package: the size is unknown
                size = download_bytes(name)
        return ModelStatus(name, published.description, cached, size,
                           str(cache_dir()) if cached else None,
                           next(iter(published.urls.values())).rsplit("/", 2)[0],
                           tuple(published.urls), FAMILY, published.samplerate,
                           "estimate" if size is not None and not cached else None)

    def shape(self, request: ModelRequest) -> ModelShape | None:
        """A published name's rate and stems; its size from its cached files, or the package's
        model when not cached (float32 either way)."""
        from ..models.base import ModelShape

        if request.spec not in PUBLISHED:
            return None
        status = self.status(request.spec)
        return ModelShape(PUBLISHED[request.spec].samplerate, len(PUBLISHED[request.spec].urls),
                          status.size_bytes, math.inf, tuple(PUBLISHED[request.spec].urls))

    def load(self, request: ModelRequest) -> OpenUnmixModel:
        if request.spec in PUBLISHED:
            return load_published(request.spec, request.trust_checkpoint, request.notify)
        return load_folder(Path(request.spec).expanduser(), request.trust_checkpoint)


def _reason(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:160]}" if lines else type(exc).__name__

