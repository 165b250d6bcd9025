"""The TUI offers to resume a cancelled session (issue 26 item 3): R in the sessions
screen continues it live, and the session ends complete with every planned step."""

from __future__ import annotations

import shutil

import pytest
from cli.test_resume import STEPS, cancelled_once
from support import tui_helpers
from support.tui_helpers import screen_text, sync, wait_for

from progdemix_tui.engine import open_session


@pytest.mark.slow
@sync
async def test_sessions_screen_resumes_a_cancelled_session(work, tiny_model_path,
                                                            tmp_path_factory):
    session, _ = cancelled_once(tmp_path_factory, tiny_model_path)  # shared with test_resume
    out = shutil.copytree(session, work / "sessions" / "cancelled")
    kept = len(open_session(out).steps)
    app = tui_helpers.make_app(".", tiny_model_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("o")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ == "SessionsScreen")
        assert "R resumes" in screen_text(app)
        await pilot.press("R")
        await wait_for(pilot, lambda: app.screen.__class__.__name__ != "SessionsScreen")
        await wait_for(pilot, lambda: not app.run_view.running
                       and len(app.timeline.rows) == int(STEPS) + 1)
        await wait_for(pilot, lambda: "complete" in screen_text(app))
    session = open_session(out)
    assert session.status == "complete"
    assert [r.step for r in session.steps] == list(range(int(STEPS) + 1))
    assert kept < int(STEPS) + 1
