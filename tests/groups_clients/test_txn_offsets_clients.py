"""Transactional offset commits seen by clients we did not write: a TxnOffsetCommit sent with
our protocol codec stays invisible until the transaction's COMMIT marker is written to
``__consumer_offsets`` (``GroupCoordinator.complete_transaction``, and WriteTxnMarkers, which
calls it); meanwhile librdkafka, which asks OffsetFetch with ``require_stable`` under
read_committed, gets UNSTABLE_OFFSET_COMMIT for the partition, and without it no offset; after
the marker confluent-kafka and Apache Kafka's kafka-consumer-groups read the committed offsets.
An aborted transaction's offsets never appear.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from server_wire import RawClient

import kafka_support as ks
from ferrokafka.groups.coordinator import OFFSETS_TOPIC, GroupCoordinator
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.find_coordinator import FindCoordinatorRequest
from ferrokafka.protocol.messages.offset_fetch import OffsetFetchRequest
from ferrokafka.protocol.messages.txn_offset_commit import TxnOffsetCommitRequest
from ferrokafka.protocol.messages.write_txn_markers import WriteTxnMarkersRequest
from ferrokafka.testing import open_broker

TEST_TIMEOUT_S = 120
GROUP = "txn-group"
TOPIC = "txn-topic"
PRODUCER_ID = 4000
# librdkafka retries UNSTABLE_OFFSET_COMMIT until the call's timeout: short, it fails anyway.
UNSTABLE_WAIT_S = 3.0
COMMITTED_WAIT_S = 20.0
CONSUMER_GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"

# Transactional commits of a producer no transaction coordinator knows, as this test writes
# them by hand: as on Kafka, that needs the leaders' verification (KIP-890) off.
NO_VERIFICATION = {"transaction.partition.verification.enable": "false"}


def _setup(bootstrap: str) -> None:
    with RawClient(bootstrap) as c:
        topic = CreateTopicsRequest.CreatableTopic(
            name=TOPIC, num_partitions=2, replication_factor=1
        )
        created = c.call(CreateTopicsRequest(topics=[topic], timeout_ms=10_000), 5)
        assert created.topics[0].error_code == 0
        for _ in range(100):  # the first FindCoordinator creates __consumer_offsets
            found = c.call(FindCoordinatorRequest(key=GROUP, key_type=0), 3)
            if found.error_code == 0:
                return
            trio.from_thread.check_cancelled()
        raise AssertionError(f"FindCoordinator kept answering error {found.error_code}")


def _txn_commit(bootstrap: str, epoch: int, offsets: dict[int, int], version: int = 3) -> list:
    request = TxnOffsetCommitRequest(
        transactional_id="tx-1",
        group_id=GROUP,
        producer_id=PRODUCER_ID,
        producer_epoch=epoch,
        topics=[
            TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic(
                name=TOPIC,
                partitions=[
                    TxnOffsetCommitRequest.TxnOffsetCommitRequestPartition(
                        partition_index=p, committed_offset=o, committed_metadata="txn"
                    )
                    for p, o in offsets.items()
                ],
            )
        ],
    )
    with RawClient(bootstrap) as c:
        response = c.call(request, version)
    return [(p.partition_index, p.error_code) for t in response.topics for p in t.partitions]


def _abort_marker(bootstrap: str, index: int, epoch: int) -> list[tuple[str, int, int]]:
    """WriteTxnMarkers (v1) with the producer's ABORT marker for ``__consumer_offsets``
    partition ``index``: (topic, partition, error) of the answer."""
    marker = WriteTxnMarkersRequest.WritableTxnMarker(
        producer_id=PRODUCER_ID,
        producer_epoch=epoch,
        transaction_result=False,
        topics=[
            WriteTxnMarkersRequest.WritableTxnMarkerTopic(
                name=OFFSETS_TOPIC, partition_indexes=[index]
            )
        ],
        coordinator_epoch=0,
    )
    with RawClient(bootstrap) as c:
        response = c.call(WriteTxnMarkersRequest(markers=[marker]), 1)
    return [
        (t.name, p.partition_index, p.error_code)
        for m in response.markers
        for t in m.topics
        for p in t.partitions
    ]


def _fetch_codes(bootstrap: str, require_stable: bool) -> dict[int, tuple[int, int]]:
    """OffsetFetch v8 of both partitions: partition -> (offset, error)."""
    group = OffsetFetchRequest.OffsetFetchRequestGroup(
        group_id=GROUP,
        topics=[OffsetFetchRequest.OffsetFetchRequestTopics(name=TOPIC, partition_indexes=[0, 1])],
    )
    request = OffsetFetchRequest(groups=[group], require_stable=require_stable)
    with RawClient(bootstrap) as c:
        (result,) = c.call(request, 8).groups
    assert result.error_code == 0
    return {
        p.partition_index: (p.committed_offset, p.error_code)
        for t in result.topics
        for p in t.partitions
    }


def _committed(bootstrap: str, isolation: str, timeout_s: float) -> dict[int, int]:
    """confluent-kafka's committed() of both partitions (librdkafka sends require_stable under
    read_committed)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": GROUP,
            "isolation.level": isolation,
            "enable.auto.commit": False,
        }
    )
    try:
        parts = consumer.committed([TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)], timeout_s)
        return {tp.partition: tp.offset for tp in parts}
    finally:
        consumer.close()


def _describe(work_dir: Path, bootstrap: str) -> dict[int, str]:
    result = ks.run_kafka_tool(
        CONSUMER_GROUPS,
        ["--bootstrap-server", bootstrap, "--describe", "--group", GROUP],
        work_dir=work_dir,
    )
    offsets: dict[int, str] = {}
    for line in result.stdout.splitlines():
        cells = line.split()
        if len(cells) >= 4 and cells[0] == GROUP and cells[1] == TOPIC:
            offsets[int(cells[2])] = cells[3]
    return offsets


def test_offsets_appear_after_the_commit_marker(tmp_path: Path) -> None:
    ks.require_kafka()
    trio.run(_offsets_appear_after_the_commit_marker, tmp_path)


async def _offsets_appear_after_the_commit_marker(tmp_path: Path) -> None:
    overrides = {"offsets.topic.num.partitions": 3, **NO_VERIFICATION}
    with trio.fail_after(TEST_TIMEOUT_S):
        async with open_broker(tmp_path / "data", overrides) as running:
            bootstrap = running.bootstrap_servers
            coordinator = running.broker.node.group_coordinator
            assert isinstance(coordinator, GroupCoordinator)
            index = coordinator.partition_for(GROUP)
            run = trio.to_thread.run_sync
            await run(_setup, bootstrap)

            assert await run(_txn_commit, bootstrap, 0, {0: 42, 1: 43}) == [(0, 0), (1, 0)]
            # Pending: unstable with require_stable, no offset without.
            unstable = (-1, ec.UNSTABLE_OFFSET_COMMIT)
            assert await run(_fetch_codes, bootstrap, True) == {0: unstable, 1: unstable}
            assert await run(_fetch_codes, bootstrap, False) == {0: (-1, 0), 1: (-1, 0)}
            with pytest.raises(KafkaException) as raised:
                await run(_committed, bootstrap, "read_committed", UNSTABLE_WAIT_S)
            assert raised.value.args[0].code() in (
                KafkaError._TIMED_OUT,
                KafkaError.UNSTABLE_OFFSET_COMMIT,
            )
            no_offset = {0: -1001, 1: -1001}
            committed = await run(_committed, bootstrap, "read_uncommitted", COMMITTED_WAIT_S)
            assert committed == no_offset
            assert await run(_describe, tmp_path, bootstrap) == {}

            assert await coordinator.complete_transaction(index, PRODUCER_ID, 0, 0, True) == 0
            expected = {0: 42, 1: 43}
            for isolation in ("read_committed", "read_uncommitted"):
                got = await run(_committed, bootstrap, isolation, COMMITTED_WAIT_S)
                assert got == expected, isolation
            assert await run(_describe, tmp_path, bootstrap) == {0: "42", 1: "43"}

            # An aborted transaction (the producer's next epoch) changes nothing; its marker
            # comes as the transaction coordinator sends it, in WriteTxnMarkers.
            assert await run(_txn_commit, bootstrap, 1, {0: 99}) == [(0, 0)]
            assert await run(_abort_marker, bootstrap, index, 1) == [(OFFSETS_TOPIC, index, 0)]
            assert not coordinator.offsets.has_pending(GROUP, TOPIC, 0)
            got = await run(_committed, bootstrap, "read_committed", COMMITTED_WAIT_S)
            assert got == expected
