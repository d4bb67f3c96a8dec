"""Fetch answered at once (``FetchHandler.answer_now``) when it needs no wait and no worker
thread, and otherwise ``Later`` with the rest of its work, the session rules applied once; and
Kafka's EndToEndLatency tool (its consumer fetches with fetch.max.wait.ms=0 in an incremental
session, one record in flight) running against it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from data_broker import Client, DataBroker, data_broker
from test_produce_fetch import FETCH_V, TOPIC, batch, fetch_request, produce, values

import kafka_support as ks
from ferrokafka.protocol import RequestHeader
from ferrokafka.server.dispatcher import Later, RequestContext
from ferrokafka.server.handlers.fetch import FetchHandler

FETCH_KEY = 1
# A wait long enough that an answer given at once cannot be the deadline's, short enough to
# sit out in a test.
WAIT_MS = 300
E2E_RECORDS = 300
E2E_TIMEOUT_S = 120.0
E2E_PERCENTILES = re.compile(r"Percentiles: 50th = \d+, 99th = \d+, 99.9th = \d+")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[DataBroker]:
    with data_broker(tmp_path / "b") as b:
        b.create_topic(TOPIC, partitions=1)
        yield b


def context() -> RequestContext:
    header = RequestHeader(
        request_api_key=FETCH_KEY, request_api_version=FETCH_V, correlation_id=1, client_id="t"
    )
    return RequestContext(header, ("127.0.0.1", 1), "PLAINTEXT", 1)


def in_broker(broker: DataBroker, work: Any) -> Any:
    """Run ``work`` (a coroutine function) in the broker's trio thread, as a handler runs."""
    return trio.from_thread.run(work, trio_token=broker.token)


def records_of(response: Any) -> list[bytes]:
    return [v for t in response.responses for p in t.partitions for v in values(p.records)]


def test_data_there_is_answered_at_once(broker: DataBroker) -> None:
    with Client(broker.bootstrap_servers) as client:
        produce(client, batch(b"a", b"b"), partition=0)
    handler = FetchHandler(broker.node)

    async def work() -> Any:
        # May not wait, or has what it asked for: answered now, whatever max_wait_ms says.
        now = handler.answer_now(context(), fetch_request({0: 0}, max_wait_ms=0))
        found = handler.answer_now(context(), fetch_request({0: 0}, max_wait_ms=WAIT_MS))
        return now, found

    now, found = in_broker(broker, work)
    assert not isinstance(now, Later) and records_of(now) == [b"a", b"b"]
    assert not isinstance(found, Later) and records_of(found) == [b"a", b"b"]


def test_a_wait_is_left_for_later_with_the_session_advanced_once(
    broker: DataBroker,
) -> None:
    with Client(broker.bootstrap_servers) as client:
        produce(client, batch(b"a"), partition=0)
    handler = FetchHandler(broker.node)

    async def work() -> list[Any]:
        full = handler.answer_now(context(), fetch_request({0: 0}, session_epoch=0))
        session = full.session_id
        # At the end, may wait: Later, whose rest (what the connection awaits next) waits it
        # out from where answer_now left the session.
        waits = fetch_request({0: 1}, max_wait_ms=WAIT_MS, session_id=session, session_epoch=1)
        left = handler.answer_now(context(), waits)
        waited = await left.rest
        # The session expects epoch 2 now: had the rest applied the rules again, epoch 1
        # would have been taken twice (INVALID_FETCH_SESSION_EPOCH there).
        then = handler.answer_now(context(), fetch_request({}, session_id=session, session_epoch=2))
        return [full, left, waited, then]

    full, left, waited, then = in_broker(broker, work)
    assert not isinstance(full, Later) and full.error_code == 0 and full.session_id != 0
    assert isinstance(left, Later) and left.rest is not None
    assert waited.error_code == 0 and waited.session_id == full.session_id
    assert not isinstance(then, Later)
    assert then.error_code == 0 and then.session_id == full.session_id


def test_history_in_the_page_cache_is_answered_at_once(broker: DataBroker) -> None:
    # A consumer far behind (here 300 offsets, from 0) whose data is cached is read inline:
    # no worker-thread hop before its answer.
    with Client(broker.bootstrap_servers) as client:
        for i in range(300):
            produce(client, batch(b"%d" % i), partition=0)
    handler = FetchHandler(broker.node)

    async def work() -> Any:
        return handler.answer_now(context(), fetch_request({0: 0}, max_wait_ms=WAIT_MS))

    answer = in_broker(broker, work)
    assert not isinstance(answer, Later)
    assert records_of(answer) == [b"%d" % i for i in range(300)]


def test_a_read_that_would_wait_for_the_disk_goes_to_a_worker_thread(
    broker: DataBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from ferrokafka.server.handlers import fetch

    with Client(broker.bootstrap_servers) as client:
        produce(client, batch(b"a", b"b"), partition=0)
    real = fetch.read_partitions
    threads: list[tuple[bool, bool]] = []

    def not_cached(*args: Any, nowait: bool = False, **kwargs: Any) -> Any:
        # (read without waiting, read in the broker's trio thread)
        threads.append((nowait, threading.current_thread() is broker_thread))
        if nowait:
            raise BlockingIOError("not in the page cache")
        return real(*args, **kwargs)

    monkeypatch.setattr(fetch, "read_partitions", not_cached)
    handler = FetchHandler(broker.node)

    async def work() -> Any:
        nonlocal broker_thread
        broker_thread = threading.current_thread()
        left = handler.answer_now(context(), fetch_request({0: 0}, max_wait_ms=WAIT_MS))
        assert isinstance(left, Later) and left.rest is not None
        return await left.rest

    broker_thread: threading.Thread | None = None
    answer = in_broker(broker, work)
    assert records_of(answer) == [b"a", b"b"]
    # Tried from the cache inline (in answer_now, then in the rest), then read in a worker.
    assert threads == [(True, True), (True, True), (False, False)]


def test_session_errors_are_answered_at_once(broker: DataBroker) -> None:
    handler = FetchHandler(broker.node)

    async def work() -> Any:
        unknown = fetch_request({0: 0}, max_wait_ms=WAIT_MS, session_id=12345, session_epoch=3)
        return handler.answer_now(context(), unknown)

    answer = in_broker(broker, work)
    assert not isinstance(answer, Later) and answer.error_code != 0 and answer.responses == []


def test_kafka_end_to_end_latency_tool(broker: DataBroker, tmp_path: Path) -> None:
    """Kafka's EndToEndLatency: produce one record (acks=1), consume it (fetch.max.wait.ms=0,
    an incremental fetch session), commit, repeat; it fails on a lost or wrong record."""
    ks.require_kafka()
    broker.create_topic("e2e", partitions=1)
    out = ks.run_kafka_tool(
        "org.apache.kafka.tools.EndToEndLatency",
        [
            "--bootstrap-server",
            broker.bootstrap_servers,
            "--topic",
            "e2e",
            "--num-records",
            str(E2E_RECORDS),
            "--producer-acks",
            "1",
            "--record-size",
            "100",
        ],
        work_dir=tmp_path,
        timeout_s=E2E_TIMEOUT_S,
    ).stdout
    assert E2E_PERCENTILES.search(out), out
