"""Two separators sharing one module run one at a time (:func:`separator.module_lock`).

A RoFormer's DC-bin hooks live on the module for the length of a forward: a second thread
running the same module meanwhile would feed its masks to the first one's hooks. The test
forces that interleaving with events: thread A stops inside its first forward (its hooks
registered), thread B then runs; B reports when it reaches the module's lock (or, with no
lock, when it is done), and only then does A go on.
"""

from __future__ import annotations

import threading
from pathlib import Path

import torch
from conftest import HANG_TIMEOUT

from progdemix_tui.engine import separator as separator_module
from progdemix_tui.engine.families import roformer
from progdemix_tui.engine.separator import Separator
from unit.test_family_roformer import CPU, music, saved


class WatchedLock:
    """The module's lock, also telling ``waiting`` when ``thread`` is about to take it."""

    def __init__(self, waiting: threading.Event) -> None:
        self.lock = threading.Lock()
        self.waiting = waiting
        self.thread: threading.Thread | None = None

    def __enter__(self) -> WatchedLock:
        if threading.current_thread() is self.thread:
            self.waiting.set()
        self.lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


def test_a_second_thread_waits_for_the_module_in_use(tmp_path: Path):
    model = roformer.load(*saved(tmp_path, "bs_roformer"))
    first, second = (Separator(model, CPU, model.max_segment, overlap=model.default_overlap)
                     for _ in range(2))
    module = first.runnable_module()
    assert second.runnable_module() is module  # fp32: both run the model's own module
    mix = music(1.0)
    expected = first.separate(mix)  # alone

    inside, reached, go = threading.Event(), threading.Event(), threading.Event()
    watched = WatchedLock(reached)
    separator_module._LOCKS[module] = watched  # type: ignore[assignment]
    results: dict[str, torch.Tensor | BaseException] = {}
    paused: list[bool] = []

    def pause_a(*_: object) -> None:
        """In A's first forward only: say so, and wait for B to get as far as it can."""
        if threading.current_thread() is a and not paused:
            paused.append(True)
            inside.set()
            assert go.wait(HANG_TIMEOUT)

    def run(name: str, sep: Separator) -> None:
        try:
            results[name] = sep.separate(mix)
        except BaseException as exc:  # the assertion below names it
            results[name] = exc
        finally:
            if name == "b":
                reached.set()

    handle = module.mask_estimators[0].register_forward_pre_hook(pause_a)  # type: ignore[index]
    try:
        a = threading.Thread(target=run, args=("a", first))
        b = threading.Thread(target=run, args=("b", second))
        watched.thread = b
        a.start()
        assert inside.wait(HANG_TIMEOUT)
        b.start()
        assert reached.wait(HANG_TIMEOUT)  # B waits at the lock (or, with none, is done)
        go.set()
        a.join(HANG_TIMEOUT)
        b.join(HANG_TIMEOUT)
    finally:
        go.set()
        handle.remove()
    for name in "ab":
        result = results[name]
        assert isinstance(result, torch.Tensor), f"thread {name}: {result!r}"
        torch.testing.assert_close(result, expected)
