"""Band-split RoFormers (BS-RoFormer, Mel-Band RoFormer) as the community publishes them.

A model is a checkpoint plus the YAML config of the training code it comes from
(:mod:`.roformer_config`). The network is the ``BS-RoFormer`` package's (the optional extra
``progdemix-tui[roformer]``), at the version whose module and parameter names are those of the
published checkpoints. Loading is safe as for demucs: ``.safetensors`` never runs code; a
pickled ``.ckpt``/``.pth`` loads as plain tensors (``weights_only``) or, only when trusted,
as any pickle. The model is built on the meta device and its tensor names and shapes compared
with the file's before any memory is used. :meth:`RoformerModel.apply` runs the training
code's chunked inference (:mod:`.roformer_demix`), its optional input normalisation, and its
zeroing of each estimate's DC bin, which the package's forward lacks.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..errors import ModelUnavailable, OutputError, UntrustedCheckpoint
from ..model_files import first_line, safetensors_header
from .roformer_config import MAX_CONFIG_BYTES, RoformerConfig, parse_config, read_config
from .roformer_demix import chunk_count, demix, step_for

if TYPE_CHECKING:  # the seam imports this module: its types only here
    import torch

    from ..models.base import LoadedModel, ModelRequest, ModelShape, ModelStatus

INSTALL_HINT = "pip install 'progdemix-tui[roformer]'"
PICKLED_SUFFIXES = (".ckpt", ".pth", ".pt", ".th")
MAX_PARAMETERS = 2_000_000_000
"""The most weights a model may have (the largest published RoFormers have under 1 billion)."""
METADATA_KIND = "progdemix.roformer.kind"
METADATA_CONFIG = "progdemix.roformer.config"
"""Metadata keys of a converted ``.safetensors`` file: the architecture and checked config."""
WRAPPERS = ("state", "state_dict", "model_state_dict")
"""Keys under which training checkpoints nest the weights (the training code unwraps them)."""


@dataclass
class RoformerModel:
    """A loaded RoFormer following the family contract of the Separator."""

    name: str
    module: torch.nn.Module
    config: RoformerConfig
    origin: str
    family: str = field(default="roformer", init=False)

    @property
    def sources(self) -> tuple[str, ...]:
        return self.config.sources

    @property
    def samplerate(self) -> int:
        return self.config.samplerate

    @property
    def audio_channels(self) -> int:
        return self.config.audio_channels

    @property
    def max_segment(self) -> float:
        """Seconds of one chunk as trained (the default segment, and the longest)."""
        return self.config.chunk_size / self.config.samplerate

    @property
    def default_segment(self) -> float:
        """The segment a run uses unless given: the config's chunk (as trained)."""
        return self.max_segment

    @property
    def default_overlap(self) -> float:
        """The config's overlap as a fraction: ``1 - 1/num_overlap``."""
        return 1 - 1 / self.config.num_overlap

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    @property
    def float32_layers(self) -> tuple[type, ...]:
        """Layers whose weights must stay float32 when a precision stores the others in bf16:
        the rotary embeddings (positions past 256 frames are not whole numbers in bf16, and
        their rotations go wrong); float32 ones run exactly as in fp32 under autocast."""
        from rotary_embedding_torch import RotaryEmbedding

        return (RotaryEmbedding,)

    def chunk_samples(self, segment: float) -> int:
        """Samples per chunk for ``segment`` seconds: whole STFT hops, at most the config's."""
        hop = self.config.hop_length
        samples = min(round(segment * self.samplerate), self.config.chunk_size)
        return max(hop, samples - samples % hop)

    def chunks(self, length: int, segment: float, overlap: float, shifts: int) -> int:
        """How many chunks (progress units) one apply of ``length`` samples separates."""
        chunk = self.chunk_samples(segment)
        return chunk_count(length, chunk, step_for(chunk, overlap)) * max(1, shifts)

    def apply(self, module: torch.nn.Module, mix: torch.Tensor, *, segment: float,
              overlap: float, shifts: int, batch_chunks: int, device: torch.device,
              before: Callable[[], None], done: Callable[[], None]) -> torch.Tensor:
        """``mix`` ``[batch, channels, time]`` → ``[batch, sources, channels, time]`` float32:
        the training code's inference (normalisation when its config asks, chunked overlap-add,
        ``shifts`` > 1 as its "bigshifts": whole-input rotations averaged), then the residual
        stem, if any, as mixture − target."""
        import torch

        mix = mix.to(device=device, dtype=torch.float32)
        original = mix
        if self.config.normalize:
            mono = mix.mean(1)
            mean = mono.mean(-1)[:, None, None]
            std = mono.std(-1, correction=0).clamp_min(1e-8)[:, None, None]
            mix = (mix - mean) / std
        chunk = self.chunk_samples(segment)
        step = step_for(chunk, overlap)
        passes = max(1, shifts)
        rotation = mix.shape[-1] // passes
        total: torch.Tensor | None = None
        for index in range(passes):
            offset = index * rotation
            rotated = torch.roll(mix, offset, -1) if offset else mix
            estimate = demix(lambda x: separate_chunks(module, x, self.config), rotated,
                             stems=len(self.config.outputs), chunk=chunk, step=step,
                             batch_chunks=batch_chunks, before=before, done=done)
            estimate = torch.roll(estimate, -offset, -1) if offset else estimate
            total = estimate if total is None else total.add_(estimate)
        assert total is not None
        if passes > 1:
            total /= passes
        if self.config.normalize:
            total = total * std[:, None] + mean[:, None]
        if self.config.residual:
            total = torch.cat([total, (original - total[:, 0])[:, None]], dim=1)
        return total


def separate_chunks(module: torch.nn.Module, chunks: torch.Tensor,
                    config: RoformerConfig) -> torch.Tensor:
    """One forward of the package's model on ``[n, channels, samples]`` →
    ``[n, stems, channels, samples]`` float32, with the training code's DC zeroing."""
    with _masks(module, chunks.shape[1]) as dc_masks:
        out = module(chunks)
    if out.dim() == 3:  # one stem: the package drops the stem axis
        out = out[:, None]
    if config.zero_dc:
        out = out - _dc_part(module, chunks, dc_masks)
    return out


@contextmanager
def _masks(module: torch.nn.Module, channels: int) -> Iterator[list[torch.Tensor]]:
    """Hooks on the mask estimators: their output is made float32 (so reduced precision
    reaches the complex product), and each stem's complex mask of the DC bin kept
    (``[n, channels, frames]``, averaged over the bands holding it, as the model averages)."""
    import torch

    indices = getattr(module, "freq_indices", None)  # Mel-Band: each band's frequencies
    picks = [torch.tensor([s]) if indices is None else (indices == s).nonzero().flatten().cpu()
             for s in range(channels)]
    kept: list[torch.Tensor] = []

    def hook(_module: object, _inputs: object, output: torch.Tensor) -> torch.Tensor:
        output = output.float()
        pairs = output.unflatten(-1, (-1, 2))  # [n, frames, entries, (real, imag)]
        kept.append(torch.stack([torch.view_as_complex(pairs[:, :, pick.to(output.device)]
                                                       .contiguous()).mean(-1)
                                 for pick in picks], dim=1))
        return output

    estimators: Any = module.mask_estimators
    handles = [estimator.register_forward_hook(hook) for estimator in estimators]
    try:
        yield kept
    finally:
        for handle in handles:
            handle.remove()


def _dc_part(module: Any, chunks: torch.Tensor, dc_masks: list[torch.Tensor]) -> torch.Tensor:
    """What the DC bin of each masked spectrum adds to the output (the inverse STFT is linear,
    so the output with that bin zeroed is the output minus this)."""
    import torch

    n, channels, samples = chunks.shape
    window = module.stft_window_fn(device=chunks.device)
    spectrum = torch.stft(chunks.reshape(n * channels, samples).float(), **module.stft_kwargs,
                          window=window, return_complex=True)
    dc = spectrum[:, 0].reshape(n, 1, channels, -1) * torch.stack(dc_masks, dim=1)
    only_dc = torch.zeros(dc.numel() // dc.shape[-1], spectrum.shape[1], dc.shape[-1],
                          dtype=spectrum.dtype, device=chunks.device)
    only_dc[:, 0] = dc.reshape(-1, dc.shape[-1])
    part = torch.istft(only_dc, **module.stft_kwargs, window=window, length=samples)
    return part.reshape(n, -1, channels, samples)


# --------------------------------------------------------------------------- loading


def load(checkpoint: str | os.PathLike, config: str | os.PathLike | None = None, *,
         trust_checkpoint: bool = False, kind: str | None = None) -> RoformerModel:
    """The RoFormer of ``checkpoint`` (``.safetensors``, or a pickled ``.ckpt``/``.pth``) and
    its YAML ``config`` (optional for a file made by :func:`convert`, which embeds it).
    Raises ModelUnavailable or UntrustedCheckpoint, one line each."""
    path = Path(checkpoint).expanduser()
    _package()  # the extra's one-line message before any file is read
    if path.suffix == ".safetensors":
        shapes, metadata = safetensors_header(path)
        checked = _config(path, config, metadata, kind)
        module = _build(checked, shapes, path)
        _fill_from_safetensors(module, path)
    elif path.suffix in PICKLED_SUFFIXES:
        if config is None:
            raise ModelUnavailable(f"{path} needs its YAML config (--model-config FILE.yaml): "
                                   "the model's arguments are in it.")
        checked = read_config(config, kind)
        state = read_checkpoint(path, trust_checkpoint)
        module = _build(checked, {k: tuple(v.shape) for k, v in state.items()}, path)
        module.load_state_dict(state)
    else:
        raise ModelUnavailable(f"{path}: a RoFormer checkpoint is a .safetensors, .ckpt or "
                               ".pth file.")
    return RoformerModel(path.stem, module.eval(), checked, str(path))


def convert(checkpoint: str | os.PathLike, config: str | os.PathLike,
            out: str | os.PathLike, *, trust_checkpoint: bool = False,
            kind: str | None = None) -> Path:
    """Write ``checkpoint``'s weights, checked against ``config``, to the ``.safetensors``
    file ``out`` with the checked config embedded (loading it then runs no code and needs no
    config file); written whole or not at all. Returns ``out``."""
    source, target = Path(checkpoint).expanduser(), Path(out).expanduser()
    if target.suffix != ".safetensors":
        raise ModelUnavailable(f"{target}: the converted file must end in .safetensors.")
    _package()
    checked = read_config(config, kind)
    state = read_checkpoint(source, trust_checkpoint)
    _check_shapes(checked, {k: tuple(v.shape) for k, v in state.items()}, source)
    from safetensors.torch import save_file

    metadata = {"format": "pt", METADATA_KIND: checked.kind,
                METADATA_CONFIG: json.dumps(checked.document)}
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                             dir=target.parent)
    except OSError as exc:
        raise OutputError(f"cannot write {target} ({exc.strerror or exc}).") from None
    os.close(handle)
    try:
        save_file(_unshared(state), temporary, metadata=metadata)
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise OutputError(f"cannot write {target} ({exc.strerror or exc}).") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _unshared(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with every tensor contiguous and in storage of its own (safetensors refuses
    shared storage; the rotary embeddings are one tensor under many names), copying only
    those that need it."""
    import torch

    seen: set[int] = set()
    tensors = {}
    for key, value in state.items():
        pointer = value.untyped_storage().data_ptr()
        tensor = value.detach()
        if pointer in seen or not tensor.is_contiguous():
            tensor = tensor.clone(memory_format=torch.contiguous_format)
        seen.add(pointer)
        tensors[key] = tensor
    return tensors


def read_checkpoint(path: Path, trust: bool) -> dict[str, torch.Tensor]:
    """The weights of a pickled checkpoint: plain tensors only (``weights_only``) unless
    ``trust``; unwrapped from the training code's ``state``/``state_dict`` nesting."""
    import torch

    if path.suffix not in PICKLED_SUFFIXES:
        raise ModelUnavailable(f"{path}: a pickled checkpoint ends in .ckpt or .pth.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError:
        raise UntrustedCheckpoint(
            f"{path} holds more than plain tensors, and loading it runs code from the file; "
            "pass --trust-checkpoint if you trust its source.") from None
    except Exception as exc:
        raise ModelUnavailable(f"{path} is not a readable checkpoint ({first_line(exc)}).") from None
    for key in WRAPPERS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not state or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ModelUnavailable(f"{path} does not hold a model's weights (a mapping of names "
                               "to tensors).")
    return state


def is_roformer_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a ``.safetensors`` file made by :func:`convert`."""
    try:
        return METADATA_KIND in safetensors_header(Path(path))[1]
    except ModelUnavailable:
        return False


def _package() -> dict[str, type]:
    """The package's model classes by kind; ModelUnavailable naming the extra when absent."""
    try:
        from bs_roformer import BSRoformer, MelBandRoformer
    except ImportError:
        raise ModelUnavailable(f"band-split RoFormer models need the BS-RoFormer package: "
                               f"{INSTALL_HINT}.") from None
    # Its attention selects kernels with a context manager newer torch deprecates; the
    # warning says nothing a user can act on.
    warnings.filterwarnings("ignore", message=r".*sdp_kernel\(\)` is deprecated",
                            category=FutureWarning)
    return {"bs_roformer": BSRoformer, "mel_band_roformer": MelBandRoformer}


def _config(path: Path, config: str | os.PathLike | None, metadata: dict[str, str],
            kind: str | None) -> RoformerConfig:
    if config is not None:
        return read_config(config, kind)
    if METADATA_CONFIG not in metadata:
        raise ModelUnavailable(f"{path} needs its YAML config (--model-config FILE.yaml); it "
                               "embeds none.")
    text = metadata[METADATA_CONFIG]
    if len(text) > MAX_CONFIG_BYTES:
        raise ModelUnavailable(f"{path}: its embedded config is larger than "
                               f"{MAX_CONFIG_BYTES // 1024} KiB; the file is damaged.")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        raise ModelUnavailable(f"{path}: its embedded config is not valid JSON.") from None
    return parse_config(document, str(path), kind or metadata.get(METADATA_KIND))


def _fill_from_safetensors(module: torch.nn.Module, path: Path) -> None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            names = handle.keys()
            module.load_state_dict({key: handle.get_tensor(key) for key in names})
    except Exception as exc:
        raise ModelUnavailable(f"{path} could not be loaded ({first_line(exc)}).") from None


def expected_shapes(config: RoformerConfig, where: str | Path = "the config") -> dict[str, tuple]:
    """The model's tensor names and shapes, from a model built on the meta device (no
    memory); ModelUnavailable when it does not build or exceeds :data:`MAX_PARAMETERS`."""
    import torch

    classes = _package()
    try:
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = classes[config.kind](**config.arguments)
    except Exception as exc:
        raise ModelUnavailable(f"{where}: its config's model arguments do not build a "
                               f"{config.kind} model ({first_line(exc)}).") from None
    count = sum(p.numel() for p in model.parameters())
    if count > MAX_PARAMETERS:
        raise ModelUnavailable(f"{where}: its config describes a model of {count:,} weights "
                               f"(at most {MAX_PARAMETERS:,}); the config is damaged.")
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def _check_shapes(config: RoformerConfig, shapes: dict[str, tuple], path: Path) -> None:
    """The file's tensor ``shapes`` compared with the config's model (built on the meta
    device): ModelUnavailable naming the first mismatch."""
    from ..model_build import compare_state

    compare_state(path, expected_shapes(config, path), shapes)


def _build(config: RoformerConfig, shapes: dict[str, tuple], path: Path) -> torch.nn.Module:
    """The model, checked on the meta device first, then built on the CPU (its buffers are
    computed when built, so it is not materialised from the meta device)."""
    _check_shapes(config, shapes, path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _package()[config.kind](**config.arguments)



class RoformerSource:
    """The models-seam source of this family (:class:`..models.ModelSource`): checkpoint
    files with their YAML config (``--model-config``, :attr:`ModelRequest.config`), and
    ``.safetensors`` files made by :func:`convert`. It publishes no names: RoFormer weights
    come from their authors, not from a package."""

    family = "roformer"
    offered = False

    def names(self) -> tuple[str, ...]:
        return ()

    def handles(self, request: ModelRequest) -> bool:
        """A ``.ckpt``, a converted ``.safetensors``, or, given a config, anything (a file
        it cannot read is then one line naming ``--model-config``)."""
        if request.config is not None:
            return True
        path = Path(request.spec).expanduser()
        return path.suffix == ".ckpt" or (path.suffix == ".safetensors" and path.is_file()
                                          and is_roformer_file(path))

    def available_offline(self, spec: str) -> bool:
        return Path(spec).expanduser().is_file()

    def status(self, name: str, with_sources: bool = False) -> ModelStatus:
        from ..models.base import ModelStatus


        path = Path(name).expanduser()
        ok = path.is_file()
        return ModelStatus(path.stem, "band-split RoFormer file", ok,
                           path.stat().st_size if ok else None, str(path) if ok else None,
                           str(path), family=self.family)

    def shape(self, request: ModelRequest) -> ModelShape | None:
        """Rate, stems and size from the config (the one given, or a converted file's own),
        the model built on the meta device; None when that cannot tell."""
        from ..models.base import ModelShape

        path = Path(request.spec).expanduser()
        try:
            if request.config is not None:
                checked = read_config(request.config)
            elif path.suffix == ".safetensors" and path.is_file():
                checked = _config(path, None, safetensors_header(path)[1], None)
            else:
                return None
            count = sum(math.prod(shape) for shape in expected_shapes(checked).values())
        except ModelUnavailable:
            return None
        return ModelShape(checked.samplerate, len(checked.sources), 4 * count,
                          checked.chunk_size / checked.samplerate, checked.sources)

    def load(self, request: ModelRequest) -> LoadedModel:
        path = Path(request.spec).expanduser()
        if request.config is not None and path.suffix not in (".safetensors",
                                                              *PICKLED_SUFFIXES):
            raise ModelUnavailable(f"--model-config is a RoFormer checkpoint's YAML config; "
                                   f"{request.spec!r} is not a .safetensors, .ckpt or .pth "
                                   "file: drop --model-config or give the checkpoint.")
        # its stems, rate and segment are read-only properties of its config
        return cast("LoadedModel", load(path, request.config,
                                        trust_checkpoint=request.trust_checkpoint))
