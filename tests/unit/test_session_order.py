"""Sessions are listed in a total order: ``created`` to the microsecond, then the name
(issue "First hour" 2: two sessions written in the same second swapped in the legend)."""

from __future__ import annotations

import json

from support.tui_helpers import write_fake_session

from progdemix_tui.engine.session import scan_sessions


def test_two_sessions_in_the_same_second_list_newest_first(tmp_path):
    # the later one's name sorts first, so the folder order cannot pass for the time order
    write_fake_session(tmp_path / "b-first", steps=1, seconds=0.1)
    write_fake_session(tmp_path / "a-second", steps=1, seconds=0.1)
    created = [json.loads((tmp_path / n / "manifest.json").read_text())["created"]
               for n in ("b-first", "a-second")]
    assert created[0] < created[1] and all("." in c for c in created)  # microseconds
    # the same second, as two quick runs write them: only the microseconds tell them apart
    # (fixed ones: the writes' own may straddle a second, .999 then .001)
    for name, micro in (("b-first", "250000"), ("a-second", "750000")):
        path = tmp_path / name / "manifest.json"
        manifest = json.loads(path.read_text())
        manifest["created"] = f"2026-12-04T16:00:55.{micro}+00:00"
        path.write_text(json.dumps(manifest))
    assert [s.folder.name for s in scan_sessions(tmp_path).sessions] == ["a-second", "b-first"]


def test_equal_times_fall_back_to_the_name(tmp_path):
    for name in ("m", "z", "a"):
        write_fake_session(tmp_path / name, steps=1, seconds=0.1)
        path = tmp_path / name / "manifest.json"
        manifest = json.loads(path.read_text())
        manifest["created"] = "2026-12-04T16:00:55+00:00"
        path.write_text(json.dumps(manifest))
    assert [s.folder.name for s in scan_sessions(tmp_path).sessions] == ["z", "m", "a"]
