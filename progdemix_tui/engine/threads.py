"""How many CPU threads torch uses: one policy for the CLI and the TUI.

The policy (:func:`torch_threads`): ``--threads N`` when given (1 … :data:`MAX_THREADS`),
else ``OMP_NUM_THREADS`` when set, else the CPUs this process may run on minus one, at least
one. torch's own default (every core) oversubscribes a machine that is doing anything else
(bench/bench_threads.py). :func:`use_threads` applies it.

Plain Python: torch is imported only by :func:`use_threads`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping

from .errors import ConfigError

MAX_THREADS = 256
"""The largest ``--threads`` accepted."""


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def torch_threads(requested: int | None = None, cpus: int | None = None,
                  environ: Mapping[str, str] = os.environ) -> int:
    """The thread count to use: ``requested``; else ``OMP_NUM_THREADS`` in ``environ`` when
    it is a count in range; else one fewer than ``cpus`` (:func:`available_cpus` when None),
    at least one.

    A ``requested`` count outside 1 … :data:`MAX_THREADS` is a :class:`ConfigError`.
    """
    if requested is not None:
        if not 1 <= requested <= MAX_THREADS:
            raise ConfigError(f"--threads must be between 1 and {MAX_THREADS} (got {requested}).")
        return requested
    omp = environ.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and 1 <= int(omp) <= MAX_THREADS:
        return int(omp)
    return max(1, (cpus if cpus is not None else available_cpus()) - 1)


def use_threads(threads: int) -> None:
    """Make torch use ``threads`` intra-op threads (and as many inter-op ones, once).

    Call it in the thread that runs the separation, before its first parallel work: the
    inter-op pool can be sized only before it starts, so later calls leave it as it is.
    """
    import torch

    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # the inter-op pool started: it keeps its size
        torch.set_num_interop_threads(threads)
