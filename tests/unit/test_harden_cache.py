"""Issue 22, items 4, 7, 8 and 10: step-0 cache entries are bounded before they are read,
tamper-evident, and what a killed writer or a hostile header leaves behind goes away.

Real cache folders, real FIFOs and links to ``/dev/zero``, a real tiny demucs model.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest
import torch
from tui.test_step0_cache import _entries, _mix, _separator, _step0

from progdemix_tui.engine import step0_cache
from progdemix_tui.engine.step0_cache import MAGIC, STALE_TMP_SECONDS, Step0Cache

SHAPE = (1, 4, 2, 3)
KEY = "a" * 64


@pytest.fixture(autouse=True)
def config(tmp_path, monkeypatch):
    """The per-user key in a config folder of this test's own."""
    folder = tmp_path / "config"
    monkeypatch.setenv("PROGDEMIX_TUI_CONFIG_DIR", str(folder))
    return folder


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "folder"])
def test_an_entry_that_is_not_a_regular_file_is_refused_unread(tmp_path, kind):
    """A link to /dev/zero read forever (6 GB in 12 s); a FIFO hung the run."""
    cache = Step0Cache(tmp_path / "cache")
    cache.folder.mkdir()
    path = cache.path(KEY)
    if kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()
    assert cache.get(KEY, SHAPE) is None
    if kind != "folder":
        assert not os.path.lexists(path)  # removed: the next put rewrites it


def test_a_link_to_a_good_entry_is_refused(tmp_path):
    cache = Step0Cache(tmp_path / "cache")
    assert cache.put(KEY, torch.ones(SHAPE))
    elsewhere = tmp_path / "elsewhere"
    os.replace(cache.path(KEY), elsewhere)
    cache.path(KEY).symlink_to(elsewhere)
    assert cache.get(KEY, SHAPE) is None


def test_a_forged_entry_with_a_recomputed_checksum_is_refused(tmp_path, config):
    """The issue's reproduction: step 0 all zeros, checksum recomputed, accepted (exit 0)."""
    cache = Step0Cache(tmp_path / "cache")
    value = torch.arange(24, dtype=torch.float32).reshape(SHAPE)
    assert cache.put(KEY, value)
    body = torch.zeros(SHAPE).numpy().astype("<f4").tobytes()
    wrong_key = hashlib.sha256(b"not the user's key").digest()
    header = json.dumps({"key": KEY, "shape": list(SHAPE),
                         "sha256": hashlib.sha256(body).hexdigest(),
                         "hmac": step0_cache._mac(wrong_key, KEY, list(SHAPE), body)}).encode()  # noqa: SLF001
    cache.path(KEY).write_bytes(MAGIC + len(header).to_bytes(4, "little") + header + body)
    assert cache.get(KEY, SHAPE) is None
    assert cache.damaged == 1 and not cache.path(KEY).exists()
    # the key lives outside the cache folder, private to the user
    key_file = config / step0_cache.KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not list(cache.folder.glob("*.key"))
    assert cache.put(KEY, value) and torch.equal(Step0Cache(cache.folder).get(KEY, SHAPE), value)


def test_a_key_file_others_can_read_turns_the_cache_off(tmp_path, config):
    cache = Step0Cache(tmp_path / "cache")
    assert cache.put(KEY, torch.ones(SHAPE))
    (config / step0_cache.KEY_FILE).chmod(0o644)
    fresh = Step0Cache(cache.folder)
    assert fresh.get(KEY, SHAPE) is None and not fresh.put("b" * 64, torch.ones(SHAPE))


def test_eviction_removes_temporaries_a_killed_writer_left(tmp_path):
    cache = Step0Cache(tmp_path / "cache")
    cache.folder.mkdir()
    stale, live = cache.folder / ".tmp-killed", cache.folder / ".tmp-writing"
    stale.write_bytes(b"\0" * 1000)
    live.write_bytes(b"\0" * 1000)
    old = stale.stat().st_mtime - STALE_TMP_SECONDS - 60
    os.utime(stale, (old, old))
    assert cache.put(KEY, torch.ones(SHAPE))
    assert not stale.exists() and live.exists()


@pytest.mark.parametrize("levels", [400, 2000])
def test_a_deeply_nested_header_is_damage_noted_and_separated_again(tmp_path, tiny_model_path,
                                                                   levels):
    """A RecursionError on every run of that song, never evicted: now one note, a miss."""
    mix = _mix()
    separator = _separator(tiny_model_path, tmp_path / "cache")
    cold, _ = _step0(separator, mix)
    [entry] = _entries(tmp_path / "cache")
    header = b"[" * levels + b"]" * levels
    entry.write_bytes(MAGIC + len(header).to_bytes(4, "little") + header)
    again, calls = _step0(separator, mix)
    assert calls == [(1, 2), (2, 2)] and torch.equal(again, cold)
    assert sum("damaged or forged step-0 cache entry" in n for n in separator.notes) == 1
    _, calls = _step0(separator, mix)
    assert calls == [(2, 2)]  # rewritten, and good


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_documents_read_by_name_are_regular_files_never_waited_on(tmp_path, kind):
    """Manifests and evaluation documents go through the same bounded, non-blocking read."""
    from progdemix_tui.engine.jsondoc import DocumentError, parse_bounded

    path = tmp_path / "manifest.json"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    with pytest.raises(DocumentError, match="not a regular file"):
        parse_bounded(path, 1 << 20)
