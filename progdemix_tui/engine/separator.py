"""The separator: a loaded model (:class:`.models.LoadedModel`, any family) applied in
chunks by its own ``apply``, on a device, in a precision, with the out-of-memory retry, the
finite check, notes and the step-0 cache around it.

``Separator.separate`` maps ``[batch, channels, time]`` to ``[batch, sources, channels, time]``,
reports progress once per processed chunk and checks a cancel ``threading.Event`` before each
chunk, so a cancel takes effect within one chunk.
"""

from __future__ import annotations

import contextlib
import random
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields

import torch

from .config import DEFAULT_OVERLAP, DEFAULT_SEGMENT, MIN_SEGMENT, SeparatorConfig
from .device import describe, resolve_device
from .errors import (
    Cancelled,
    DeviceError,
    NonFiniteOutput,
    is_accelerator_oom,
    is_allocation_failure,
    out_of_memory,
)
from .models import LoadedModel, RunNotes, family_version, load_model
from .precision import (
    Resolved,
    autocast,
    cast_weights,
    float32_layers,
    module_in,
    precision_errors,
    resolve_precision,
    slow_bf16_warning,
)
from .resources import batch_chunks_for
from .step0_cache import Step0Cache, model_signature, step0_key

_NOT_IDENTITY = ("model", "device", "notes", "step0_cache", "batch_chunks")
"""Separator fields that do not change what it computes (the model counts by signature;
batched chunks equal one chunk at a time to float tolerance, and CUDA's count follows its free
memory and the OOM retry, which must not turn a re-run into a cache miss)."""

ChunkCallback = Callable[[int, int], None]
"""Called as ``on_chunk(done, total)`` after each chunk of one ``separate`` call."""


@dataclass
class Separator:
    """A loaded model plus how to run it. Build with :meth:`from_config`."""

    model: LoadedModel
    device: torch.device
    segment: float
    overlap: float = DEFAULT_OVERLAP
    shifts: int = 0
    half: bool = False
    seed: int = 0
    notes: list[str] = field(default_factory=list)
    precision: Resolved = "fp32"
    """The precision the model runs in (:mod:`.precision`); ``half`` means fp16."""
    step0_cache: Step0Cache | None = None
    """Where :meth:`separate_step0` keeps one-shot separations (None: no cache)."""
    batch_chunks: int = 1
    """Chunks per forward pass (demucs: 1 is ``apply_model``, more :mod:`.chunked`)."""
    _signature: str | None = field(default=None, init=False, repr=False, compare=False)
    _runnable: tuple[torch.nn.Module, torch.nn.Module] | None = field(
        default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_config(cls, config: SeparatorConfig, model: LoadedModel | None = None,
                    notify: Callable[[str], None] | None = None) -> Separator:
        """Resolve the device, load the model (unless given; ``notify`` as in
        :func:`~.models.load_model`, and first told when bf16 is slow on this CPU:
        :func:`.precision.slow_bf16_warning`; without ``notify`` that is a note) and pick
        the segment length. A loaded model's weights
        are stored in the precision's dtype (:func:`.precision.cast_weights`)."""
        device = resolve_device(config.device)
        precision = resolve_precision(config.precision, device)
        warning = slow_bf16_warning(precision, device)  # before the model loads and runs
        if warning is not None and notify is not None:
            notify(warning)
        if model is None:
            # this separator's own: its weights take the precision's dtype in place (a given
            # model keeps its dtype; :meth:`runnable_module` copies it)
            model = load_model(config.model, config.repo, config.trust_checkpoint, notify,
                               config.model_config or None)
            cast_weights(model.module, precision, float32_layers(model))
        model.module.to(device)
        segment = config.segment if config.segment is not None else \
            getattr(model, "default_segment", DEFAULT_SEGMENT)
        segment = min(segment, model.max_segment)
        overlap = config.overlap if config.overlap is not None else \
            getattr(model, "default_overlap", DEFAULT_OVERLAP)
        return cls(model, device, float(segment), float(overlap), config.shifts,
                   precision == "fp16", config.seed, precision=precision,
                   step0_cache=Step0Cache() if config.cache else None,
                   batch_chunks=batch_chunks_for(config.batch_chunks, device, segment),
                   notes=[warning] if warning is not None and notify is None else [])

    def runnable_module(self) -> torch.nn.Module:
        """The model as :attr:`precision` runs it: weights in its dtype
        (:func:`.precision.module_in`; a model shared with another separator is copied once)."""
        module = self.model.module
        if self._runnable is None or self._runnable[0] is not module:
            self._runnable = (module, module_in(module, self.precision,
                                                float32_layers(self.model)))
        return self._runnable[1]

    @contextlib.contextmanager
    def inference(self) -> Iterator[None]:
        """How the model runs: no autograd, :attr:`precision`'s autocast, and a layer that
        precision cannot run as one line (:func:`.precision.precision_errors`)."""
        with precision_errors(self.model.name, self.precision), torch.no_grad(), \
                autocast(self.precision, self.device):
            yield

    @property
    def sources(self) -> tuple[str, ...]:
        return self.model.sources

    @property
    def samplerate(self) -> int:
        return self.model.samplerate

    @property
    def device_name(self) -> str:
        return describe(self.device)

    def segment_for(self, length: int) -> float:
        """The segment used on ``length`` samples: :attr:`segment`, but no longer than the
        input (never under the default segment, so short inputs chunk as they always did)."""
        return min(self.segment, max(length / self.samplerate, DEFAULT_SEGMENT))

    def chunks(self, length: int) -> int:
        """How many model calls one ``separate`` of ``length`` samples makes."""
        return self.model.chunks(length, self.segment_for(length), self.overlap, self.shifts)

    def separate(
        self,
        mix: torch.Tensor,
        on_chunk: ChunkCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> torch.Tensor:
        """Separate ``mix`` ``[batch, channels, time]`` (or ``[channels, time]``).

        Returns ``[batch, sources, channels, time]`` (or ``[sources, channels, time]``) in
        float32 on the separator's device, so the caller's maths stays there too. On
        out-of-memory on an accelerator the chunks per forward (:attr:`batch_chunks`) are
        halved, then, at one, the segment, and the call retried; a failed
        allocation on the CPU raises :class:`DeviceError`. Raises :class:`Cancelled` if
        ``cancel`` is set.
        """
        squeeze = mix.dim() == 2
        if squeeze:
            mix = mix[None]
        with memory_errors(self.device_name):
            while True:
                try:
                    out = self._apply(mix, on_chunk, cancel)
                    break
                except RuntimeError as exc:  # torch.OutOfMemoryError is one
                    if self.device.type == "cpu" or not is_accelerator_oom(exc):
                        raise
                    if self.device.type == "cuda":
                        torch.cuda.empty_cache()
                    self.shrink_after_oom()
        self.check_finite(out)
        return out[0] if squeeze else out

    def check_finite(self, out: torch.Tensor) -> None:
        """:class:`NonFiniteOutput` naming the model when ``out`` holds NaN or infinity (so it
        is never written as audio, nor mistaken for a full disk)."""
        if not bool(torch.isfinite(out).all()):
            also = "" if self.precision == "fp32" else " (or --precision fp32)"
            raise NonFiniteOutput(
                f"model {self.model.name!r} ({self.model.origin}) gave NaN or infinite audio: its "
                f"weights are damaged or it is not a working model; use another --model{also}.")

    def shrink_after_oom(self) -> None:
        """Use less memory after an out-of-memory error: half the chunks per forward, or at
        one chunk half the segment, with a note; :class:`DeviceError` when the segment would
        fall under :data:`.config.MIN_SEGMENT`."""
        if self.batch_chunks > 1:
            self.batch_chunks //= 2
            self.notes.append(f"out of memory: {self.batch_chunks} chunk(s) per forward pass")
            return
        if self.segment / 2 < MIN_SEGMENT:
            raise DeviceError(
                f"out of memory on {self.device_name} even with {self.segment:.1f} "
                "s segments; use a shorter --duration, --device cpu, or "
                "--precision fp16.") from None
        self.segment /= 2
        self.notes.append(f"out of memory: segment reduced to {self.segment:.2f} s")

    def model_signature(self) -> str:
        """The signature (:func:`.step0_cache.model_signature`) of the weights as they run
        (:meth:`runnable_module`), once."""
        if self._signature is None:
            self._signature = model_signature(self.runnable_module())
        return self._signature

    def step0_identity(self) -> dict:
        """Everything besides the input that a one-shot separation depends on, JSON-ready:
        the model's signature, the device type, every run parameter (each field but the
        model, device, notes, cache and chunks per forward, so a field added later counts
        too), the torch version, and the model's family with its package's version."""
        params = {f.name: getattr(self, f.name) for f in fields(self)
                  if f.init and f.name not in _NOT_IDENTITY}
        return {"model": self.model_signature(), "device": self.device.type,
                "params": params, "torch": torch.__version__, "family": self.model.family,
                "package": family_version(self.model.family)}

    def separate_step0(
        self,
        mix: torch.Tensor,
        on_chunk: ChunkCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> torch.Tensor:
        """:meth:`separate` through the step-0 cache: a hit returns the stored separation
        (``on_chunk`` hears ``(total, total)`` once), a miss separates and stores it."""
        if self.step0_cache is None:
            return self.separate(mix, on_chunk, cancel)
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        batched = mix if mix.dim() == 3 else mix[None]
        identity = self.step0_identity()
        key = step0_key(identity, batched)
        shape = (batched.shape[0], len(self.sources), *batched.shape[1:])
        damaged = self.step0_cache.damaged
        found = self.step0_cache.get(key, shape)
        if self.step0_cache.damaged > damaged:
            note = ("a damaged or forged step-0 cache entry was removed; step 0 is separated "
                    "again")
            if note not in self.notes:
                self.notes.append(note)
        if found is not None:
            if on_chunk is not None:
                total = self.chunks(batched.shape[-1])
                on_chunk(total, total)
            found = found.to(self.device)
            return found if mix.dim() == 3 else found[0]
        out = self.separate(mix, on_chunk, cancel)
        # The key names the parameters the separation ran with (an out-of-memory retry
        # halves the segment): store under the key of what actually ran.
        ran = self.step0_identity()
        if ran != identity:
            key = step0_key(ran, batched)
        self.step0_cache.put(key, out if mix.dim() == 3 else out[None])
        return out

    def _apply(self, mix: torch.Tensor, on_chunk: ChunkCallback | None,
               cancel: threading.Event | None) -> torch.Tensor:
        total = self.chunks(mix.shape[-1])
        segment = self.segment_for(mix.shape[-1])
        if segment < self.segment:
            self._note(f"segment {self.segment:g} s capped at {segment:.1f} s: the input is "
                       f"{mix.shape[-1] / self.samplerate:.1f} s long")
        done = 0

        def before() -> None:
            if cancel is not None and cancel.is_set():
                raise Cancelled("cancelled")

        def after() -> None:
            nonlocal done
            done += 1
            if on_chunk is not None:
                on_chunk(min(done, total), total)

        before()
        mix = mix.to(self.device)
        random.seed(self.seed)  # demucs's shift trick draws from `random`
        if isinstance(self.model, RunNotes):
            for note in self.model.run_notes(shifts=self.shifts, batch_chunks=self.batch_chunks):
                self._note(note)
        # no_grad, not inference_mode: the output stays an ordinary tensor that callers may
        # update. Reduced precision is autocast over the precision's weights; the input
        # stays float32.
        # a family's hooks live on the runnable module during each forward: one module runs
        # in one thread at a time (the TUI's worker and another separator may share it)
        with module_lock(self.runnable_module()), self.inference():
            out = self.model.apply(self.runnable_module(), mix, segment=segment,
                                   overlap=self.overlap, shifts=self.shifts,
                                   batch_chunks=self.batch_chunks, device=self.device,
                                   before=before, done=after)
        if on_chunk is not None and done < total:
            on_chunk(total, total)
        return out

    def _note(self, note: str) -> None:
        """Add ``note`` to :attr:`notes` once."""
        if note not in self.notes:
            self.notes.append(note)


_LOCKS: weakref.WeakKeyDictionary[torch.nn.Module, threading.Lock] = \
    weakref.WeakKeyDictionary()
_LOCKS_LOCK = threading.Lock()


def module_lock(module: torch.nn.Module) -> threading.Lock:
    """The lock that one runnable ``module`` runs under (one per module, kept while it lives)."""
    with _LOCKS_LOCK:
        lock = _LOCKS.get(module)
        if lock is None:
            lock = _LOCKS[module] = threading.Lock()
        return lock


@contextlib.contextmanager
def memory_errors(where: str) -> Iterator[None]:
    """Turn an out-of-memory error or a failed host allocation inside into the one-line
    :class:`DeviceError` for ``where`` (e.g. "cpu"); other errors pass unchanged."""
    try:
        yield
    except torch.OutOfMemoryError:
        raise out_of_memory(where) from None
    except (RuntimeError, MemoryError) as exc:
        if not is_allocation_failure(exc):
            raise
        raise out_of_memory(where) from None


class SeparatorCache:
    """Keeps the last :class:`Separator` built, for as long as its config stays the same.

    Thread-safe: the TUI builds separators in its run worker. One cache per owner (the app);
    ``get`` with another config drops the kept model before loading the new one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: tuple[SeparatorConfig, Separator] | None = None

    def get(self, config: SeparatorConfig,
            notify: Callable[[str], None] | None = None) -> Separator:
        """A separator for ``config``: the kept one if its config is equal, else a new one
        (``notify`` gets the model loader's notes: a download starts, a model's origin)."""
        with self._lock:
            if self._kept is not None and self._kept[0] == config:
                return self._kept[1]
            self._kept = None  # let the old model go before the new one loads
            separator = Separator.from_config(config, notify=notify)
            self._kept = (config, separator)
            return separator
