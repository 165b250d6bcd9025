"""The snapshot tests' waits: a screen that never gets ready fails the wait loudly (with the
screen's text), instead of the old 200 × 50 ms poll that carried on and compared a
half-drawn screen."""

from __future__ import annotations

import threading

import pytest
from conftest import HANG_TIMEOUT, write_track
from support.tui_helpers import sync, write_fake_session

from progdemix_tui.tui.app import ProgdemixApp
from progdemix_tui.tui.audition import NullBackend
from progdemix_tui.tui.settings import ENV_DIR, Settings
from tui.test_tui_snapshots import MODELS, _mark_ab


class HeldBackend(NullBackend):
    """A silent backend whose A/B load waits until :attr:`release` is set."""

    def __init__(self) -> None:
        super().__init__("no audio device")
        self.release = threading.Event()

    def load(self, a, b, rate):
        self.release.wait(HANG_TIMEOUT)
        return super().load(a, b, rate)


@sync
async def test_mark_ab_fails_loudly_while_the_levels_never_come(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_DIR, str(tmp_path / "config"))
    work = tmp_path / "work"  # as test_tui_snapshots' app fixture
    write_track(work / "track", seconds=1.0)
    write_fake_session(work / "sessions" / "demo-session", steps=3)
    monkeypatch.chdir(work)
    backend = HeldBackend()
    held = ProgdemixApp(".", settings=Settings.load(), backend=backend, models=MODELS,
                        save_settings=False)
    async with held.run_test(size=(100, 24)) as pilot:
        try:
            # the load never ends: any bound is reached, so this is no race with the clock
            with pytest.raises(AssertionError, match="timed out after 1 s"):
                await _mark_ab(pilot, timeout=1)
            assert held.player.levels is None
        finally:
            backend.release.set()
