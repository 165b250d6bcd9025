"""The views' and the player's bounded cache: least recently used entries go first."""

from __future__ import annotations

import pytest

from progdemix_tui.lru import LRU


def test_the_least_recently_used_entry_goes_first():
    cache: LRU[str, int] = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # a is now the most recent
    cache.put("c", 3)
    assert "b" not in cache and len(cache) == 2
    assert cache.peek("a") == 1 and cache.get("c") == 3


def test_peek_leaves_the_order_alone():
    cache: LRU[str, int] = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.peek("a") == 1
    cache.put("c", 3)
    assert "a" not in cache and cache.get("b") == 2 and cache.get("missing") is None


def test_a_bound_under_one_is_refused():
    with pytest.raises(ValueError, match="keep must be at least 1"):
        LRU(0)
