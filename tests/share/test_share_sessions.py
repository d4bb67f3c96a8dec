"""Share sessions (ferrokafka.share.sessions): epochs, the cache limit, connections."""

from __future__ import annotations

import pytest

from ferrokafka.protocol import error_codes as ec
from ferrokafka.share.sessions import ShareSessionCache, ShareSessionError, next_epoch


def code_of(call: object) -> int:
    with pytest.raises(ShareSessionError) as caught:
        call()  # type: ignore[operator]
    return caught.value.code


def test_epochs_advance_and_wrap() -> None:
    cache = ShareSessionCache(max_sessions=10)
    session, replaced = cache.open("g", "m", connection_id=7)
    assert replaced is None and session.epoch == 1
    assert cache.advance("g", "m", 1).epoch == 2
    assert code_of(lambda: cache.advance("g", "m", 1)) == ec.INVALID_SHARE_SESSION_EPOCH
    assert code_of(lambda: cache.advance("g", "x", 1)) == ec.SHARE_SESSION_NOT_FOUND
    assert next_epoch(2**31 - 1) == 1


def test_reopening_replaces_and_the_limit() -> None:
    cache = ShareSessionCache(max_sessions=2)
    cache.open("g", "a")
    _, replaced = cache.open("g", "a")
    assert replaced is not None and len(cache) == 1
    cache.open("g", "b")
    assert code_of(lambda: cache.open("g", "c")) == ec.SHARE_SESSION_LIMIT_REACHED
    cache.open("g", "b")  # replacing one's own session is not refused at the limit
    assert cache.close("g", "a").member_id == "a"
    assert code_of(lambda: cache.close("g", "a")) == ec.SHARE_SESSION_NOT_FOUND


def test_sessions_die_with_their_connection() -> None:
    cache = ShareSessionCache(max_sessions=10)
    cache.open("g", "a", connection_id=1)
    cache.open("g", "b", connection_id=2)
    cache.open("h", "c", connection_id=1)
    gone = cache.remove_connection(1)
    assert sorted((s.group_id, s.member_id) for s in gone) == [("g", "a"), ("h", "c")]
    assert cache.get("g", "b") is not None and len(cache) == 1
