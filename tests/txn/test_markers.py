"""The marker sender (txn/markers.py) against fake leaders on trio's mock clock: one request
per leader per round carrying every transaction's markers for it, retriable errors retried
after a backoff, a leader that appears later, deleted topics and obsolete producers dropped,
the bound on pending transactions."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import trio
import trio.testing

from ferrokafka.cluster.image import (
    BrokerEndpoint,
    BrokerRegistration,
    MetadataImage,
    PartitionImage,
    TopicImage,
)
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.write_txn_markers import (
    WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
)
from ferrokafka.txn import markers as markers_module
from ferrokafka.txn.markers import MarkerQueueFullError, PendingMarkers, TxnMarkerChannel

ME = 1
WAIT_S = 60.0


def image(leaders: dict[tuple[str, int], int]) -> MetadataImage:
    topics: dict[str, TopicImage] = {}
    for (name, index), leader in sorted(leaders.items()):
        parts = dict(topics[name].partitions) if name in topics else {}
        parts[index] = PartitionImage(index, (1, 2), (1, 2), leader, 5, 5)
        topic_id = uuid.UUID(int=hash(name) & 0xFFFF)
        topics[name] = TopicImage(name, topic_id, parts)
    brokers = {
        i: BrokerRegistration(
            i,
            uuid.UUID(int=i),
            1,
            (BrokerEndpoint("PLAINTEXT", "127.0.0.1", 1, 0),),
            {},
            None,
            False,
        )
        for i in (1, 2)
    }
    return MetadataImage(
        offset=1,
        topics_by_name=topics,
        topics_by_id={t.topic_id: t for t in topics.values()},
        brokers=brokers,
    )


class Leaders:
    """Fake leaders by broker id: answer each partition with the code ``codes`` gives it."""

    def __init__(self) -> None:
        self.requests: list[tuple[int, WriteTxnMarkersRequest]] = []
        self.codes: dict[tuple[str, int], list[int]] = {}  # a code per attempt (last repeats)

    async def call(self, leader: int, request: WriteTxnMarkersRequest) -> WriteTxnMarkersResponse:
        self.requests.append((leader, request))
        results = []
        for m in request.markers:
            topics = []
            for t in m.topics:
                parts = []
                for p in t.partition_indexes:
                    codes = self.codes.get((t.name, p), [ec.NONE])
                    code = codes.pop(0) if len(codes) > 1 else codes[0]
                    parts.append(
                        WriteTxnMarkersResponse.WritableTxnMarkerPartitionResult(
                            partition_index=p, error_code=code
                        )
                    )
                topics.append(
                    WriteTxnMarkersResponse.WritableTxnMarkerTopicResult(
                        name=t.name, partitions=parts
                    )
                )
            results.append(
                WriteTxnMarkersResponse.WritableTxnMarkerResult(
                    producer_id=m.producer_id, topics=topics
                )
            )
        return WriteTxnMarkersResponse(markers=results)


def channel(current: list[MetadataImage], leaders: Leaders, written: list[str]) -> TxnMarkerChannel:
    sender = TxnMarkerChannel(
        ME, "PLAINTEXT", lambda: current[0], lambda m: written.append(m.transactional_id)
    )
    sender._call = leaders.call  # type: ignore[method-assign]
    return sender


def pending(
    txn_id: str, pid: int, *partitions: tuple[str, int], commit: bool = True
) -> PendingMarkers:
    return PendingMarkers(txn_id, 0, 3, pid, 2, commit, 0, set(partitions))


def run(test: Callable[[], object]) -> None:
    async def main() -> None:
        with trio.fail_after(WAIT_S):
            await test()  # type: ignore[misc]

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await trio.sleep(0.01)


def test_one_request_per_leader_with_every_transaction_s_markers() -> None:
    current = [image({("t", 0): 1, ("t", 1): 2, ("u", 0): 1})]
    leaders, written = Leaders(), []

    async def test() -> None:
        sender = channel(current, leaders, written)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender.run)
            sender.add(pending("a", 10, ("t", 0), ("t", 1)))
            sender.add(pending("b", 11, ("u", 0), commit=False))
            await until(lambda: len(written) == 2)
            nursery.cancel_scope.cancel()
        assert sorted(written) == ["a", "b"]
        by_leader = {leader: r for leader, r in leaders.requests}
        assert len(leaders.requests) == 2 and set(by_leader) == {1, 2}
        assert [
            (m.producer_id, m.transaction_result, m.coordinator_epoch) for m in by_leader[1].markers
        ] == [
            (10, True, 3),
            (11, False, 3),
        ]
        assert [(t.name, t.partition_indexes) for t in by_leader[1].markers[0].topics] == [
            ("t", [0])
        ]
        assert [(t.name, t.partition_indexes) for t in by_leader[2].markers[0].topics] == [
            ("t", [1])
        ]
        assert len(sender) == 0

    run(test)


def test_retriable_errors_are_retried_after_a_backoff() -> None:
    current = [image({("t", 0): 1, ("t", 1): 1})]
    leaders, written = Leaders(), []
    leaders.codes[("t", 1)] = [ec.NOT_LEADER_OR_FOLLOWER, ec.NOT_ENOUGH_REPLICAS, ec.NONE]

    async def test() -> None:
        sender = channel(current, leaders, written)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender.run)
            start = trio.current_time()
            sender.add(pending("a", 10, ("t", 0), ("t", 1)))
            await until(lambda: written == ["a"])
            elapsed = trio.current_time() - start
            nursery.cancel_scope.cancel()
        # Three attempts: t-0 once, t-1 until it was written; with the backoffs between.
        sent = [
            [(t.name, p) for m in r.markers for t in m.topics for p in t.partition_indexes]
            for _, r in leaders.requests
        ]
        assert sent == [[("t", 0), ("t", 1)], [("t", 1)], [("t", 1)]]
        assert elapsed >= markers_module.RETRY_BACKOFF_S * 3

    run(test)


def test_a_leader_that_appears_later_gets_its_markers() -> None:
    current = [image({("t", 0): -1})]
    leaders, written = Leaders(), []

    async def test() -> None:
        sender = channel(current, leaders, written)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender.run)
            sender.add(pending("a", 10, ("t", 0)))
            await trio.sleep(5)
            assert leaders.requests == [] and written == []
            current[0] = image({("t", 0): 2})
            await until(lambda: written == ["a"])
            nursery.cancel_scope.cancel()
        assert [leader for leader, _ in leaders.requests] == [2]

    run(test)


def test_deleted_topics_and_obsolete_producers_are_dropped() -> None:
    current = [image({("t", 0): 1})]
    leaders, written = Leaders(), []
    leaders.codes[("t", 0)] = [ec.INVALID_PRODUCER_EPOCH]

    async def test() -> None:
        sender = channel(current, leaders, written)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender.run)
            # "gone" was deleted: its marker needs no writing, the transaction completes.
            sender.add(pending("deleted", 10, ("gone", 0)))
            # A newer producer epoch is on the partition already: the markers are obsolete,
            # and the coordinator is not told the transaction completed.
            sender.add(pending("obsolete", 11, ("t", 0)))
            await until(lambda: len(sender) == 0)
            nursery.cancel_scope.cancel()
        assert written == ["deleted"]
        assert len(leaders.requests) == 1

    run(test)


def test_pending_transactions_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(markers_module, "PENDING_TRANSACTIONS_MAX", 2)
    current = [image({("t", 0): -1})]
    leaders, written = Leaders(), []

    async def test() -> None:
        sender = channel(current, leaders, written)
        sender.add(pending("a", 10, ("t", 0)))
        sender.add(pending("b", 11, ("t", 0)))
        assert not sender.has_room()  # the coordinator admits no more ends
        sender.add(pending("c", 12, ("t", 0)))  # a prepare written meanwhile: taken
        sender.add(pending("d", 13, ("t", 0)))
        with pytest.raises(MarkerQueueFullError):  # the hard limit
            sender.add(pending("e", 14, ("t", 0)))
        sender.add(pending("a", 10, ("t", 0)))  # replacing one's markers takes no room
        sender.remove_txn_partition(0)  # resigned: they are not ours to send
        assert len(sender) == 0 and sender.has_room()

    run(test)
