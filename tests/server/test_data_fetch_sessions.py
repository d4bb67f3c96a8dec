"""Incremental fetch sessions (KIP-227) on the wire: a full fetch opens a session, incremental
fetches report only partitions with news, bad ids and epochs get Kafka's errors."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from data_broker import Client, DataBroker, data_broker
from test_produce_fetch import FETCH_ID_V, FETCH_V, TOPIC, batch, fetch_request, produce, values

from ferrokafka.protocol.messages.fetch import FetchRequest
from ferrokafka.server.handlers.fetch_session import FetchSessionCache


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[DataBroker]:
    with data_broker(tmp_path / "b") as b:
        b.create_topic(TOPIC, partitions=2)
        yield b


@pytest.fixture
def client(broker: DataBroker) -> Iterator[Client]:
    c = Client(broker.bootstrap_servers)
    with c:
        yield c


def reported(response: Any) -> dict[int, Any]:
    return {p.partition_index: p for t in response.responses for p in t.partitions}


def test_full_then_incremental(client: Client) -> None:
    produce(client, batch(b"a"), partition=0)
    full = client.call(fetch_request({0: 0, 1: 0}, session_epoch=0), FETCH_V)
    assert full.error_code == 0 and full.session_id != 0
    assert set(reported(full)) == {0, 1}
    session = full.session_id

    # the client moved partition 0 on; nothing new anywhere: nothing reported
    moved = client.call(fetch_request({0: 1}, session_id=session, session_epoch=1), FETCH_V)
    assert (moved.error_code, moved.session_id, moved.responses) == (0, session, [])

    produce(client, batch(b"b"), partition=1)
    news = client.call(fetch_request({}, session_id=session, session_epoch=2), FETCH_V)
    parts = reported(news)
    assert set(parts) == {1}
    assert values(parts[1].records) == [b"b"]  # from the offset the session remembers: 0

    # forgetting partition 1: a later append there is not reported
    forget = fetch_request({}, session_id=session, session_epoch=3)
    forget.forgotten_topics_data = [FetchRequest.ForgottenTopic(topic=TOPIC, partitions=[1])]
    assert client.call(forget, FETCH_V).responses == []
    produce(client, batch(b"c"), partition=1)
    quiet = client.call(fetch_request({}, session_id=session, session_epoch=4), FETCH_V)
    assert quiet.responses == []


def test_session_errors_and_close(client: Client) -> None:
    full = client.call(fetch_request({0: 0}, session_epoch=0), FETCH_V)
    session = full.session_id
    wrong_epoch = client.call(fetch_request({}, session_id=session, session_epoch=5), FETCH_V)
    assert (wrong_epoch.error_code, wrong_epoch.session_id) == (71, 0)
    unknown = client.call(fetch_request({}, session_id=session + 1, session_epoch=1), FETCH_V)
    assert unknown.error_code == 70
    # a topic-id request on a session opened with names
    by_id = client.call(fetch_request({}, session_id=session, session_epoch=1), FETCH_ID_V)
    assert by_id.error_code == 106
    # epoch -1 closes the session and is answered as a plain full fetch
    closing = client.call(fetch_request({0: 0}, session_id=session, session_epoch=-1), FETCH_V)
    assert (closing.error_code, closing.session_id) == (0, 0)
    gone = client.call(fetch_request({}, session_id=session, session_epoch=1), FETCH_V)
    assert gone.error_code == 70


def test_sessions_by_topic_id(broker: DataBroker, client: Client) -> None:
    topic_id = broker.partition(TOPIC, 0).topic_id
    request = fetch_request({0: 0}, session_epoch=0)
    request.topics[0].topic_id = topic_id
    full = client.call(request, FETCH_ID_V)
    assert full.session_id != 0
    assert full.responses[0].topic_id == topic_id
    produce(client, batch(b"x"), partition=0)
    news = client.call(fetch_request({}, session_id=full.session_id, session_epoch=1), FETCH_ID_V)
    assert values(news.responses[0].partitions[0].records) == [b"x"]
    # an unknown topic id is UNKNOWN_TOPIC_ID
    unknown = fetch_request({0: 0})
    unknown.topics[0].topic_id = uuid.UUID(int=topic_id.int ^ 1)
    assert client.call(unknown, FETCH_ID_V).responses[0].partitions[0].error_code == 100


def test_cache_is_bounded() -> None:
    async def fill() -> None:
        cache = FetchSessionCache(slots=2, eviction_s=3600)
        assert cache.create(OrderedDict(), False) is not None
        assert cache.create(OrderedDict(), False) is not None
        # full and nobody idle long enough: no session, the client goes on with full fetches
        assert cache.create(OrderedDict(), False) is None
        assert len(cache) == 2
        cache.eviction_s = 0
        assert cache.create(OrderedDict(), False) is not None
        assert len(cache) == 2

    trio.run(fill)


def test_a_followers_session_may_evict_a_consumers() -> None:
    """Kafka's privileged sessions: with the cache full and no one idle, a follower's new
    session evicts the consumer session with the fewest partitions; a consumer's new session
    evicts no follower's."""

    async def fill() -> None:
        cache = FetchSessionCache(slots=2, eviction_s=3600)
        two = OrderedDict((("t", i), object()) for i in range(2))
        big = cache.create(two, False)  # type: ignore[arg-type]
        small = cache.create(OrderedDict(), False)
        assert big is not None and small is not None
        follower = cache.create(OrderedDict(), False, privileged=True)
        assert follower is not None and follower.privileged
        assert cache.get(small.id) is None and cache.get(big.id) is big
        assert cache.create(OrderedDict(), True, privileged=False) is None
        assert cache.get(follower.id) is follower
        # one follower's session does not evict another's created within eviction_s
        assert cache.create(OrderedDict(), False, privileged=True) is not None  # evicts big
        assert cache.create(OrderedDict(), False, privileged=True) is None

    trio.run(fill)


def test_an_incremental_answer_carries_diverging_epochs_and_hw_news() -> None:
    """Kafka's maybeUpdateResponseData: a diverging epoch is always answered (the fetcher
    truncates on it), even when nothing else changed; so is a high watermark a follower does
    not know yet (the leader answered early for it, KIP-1166)."""
    from ferrokafka.server.handlers.fetch_session import CachedPartition

    part = CachedPartition("t", uuid.UUID(int=1), 0, 10, 1024, 3)
    assert part.must_respond(0, 0, 10, 10, 0)  # first answer: offsets are news
    assert not part.must_respond(0, 0, 10, 10, 0)
    assert part.must_respond(0, 0, 10, 10, 0, diverging=True)
    assert part.must_respond(0, 0, 10, 10, 0, hw_news=True)
    assert not part.must_respond(0, 0, 10, 10, 0)
