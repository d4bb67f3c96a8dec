"""OffsetForLeaderEpoch and DescribeProducers on the wire with our raw client, at every
version, and the leader epoch cache behind the first: its checkpoint, its rebuild from batch
headers, and its trimming by DeleteRecords."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from data_broker import Client, DataBroker, data_broker

from ferrokafka._ferrokafka import BatchBuilder, Log
from ferrokafka.partition.leader_epochs import load_leader_epoch_cache
from ferrokafka.protocol.messages.delete_records import DeleteRecordsRequest
from ferrokafka.protocol.messages.describe_producers import DescribeProducersRequest
from ferrokafka.protocol.messages.init_producer_id import InitProducerIdRequest
from ferrokafka.protocol.messages.offset_for_leader_epoch import OffsetForLeaderEpochRequest
from ferrokafka.protocol.messages.produce import ProduceRequest
from ferrokafka.storage import checkpoints as ckpt

TOPIC = "epochs"
EPOCH_VERSIONS = (2, 3, 4)
PRODUCE_V = 11
UNKNOWN_TOPIC_OR_PARTITION = 3
FENCED_LEADER_EPOCH = 74
UNKNOWN_LEADER_EPOCH = 75


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[DataBroker]:
    with data_broker(tmp_path / "b") as b:
        b.create_topic(TOPIC, partitions=2)
        yield b


@pytest.fixture
def client(broker: DataBroker) -> Iterator[Client]:
    with Client(broker.bootstrap_servers) as c:
        yield c


def records(count: int, **kw: Any) -> bytes:
    builder = BatchBuilder(**kw)
    for i in range(count):
        builder.append(b"v%d" % i, key=b"k")
    return builder.build()


def produce(client: Client, data: bytes, partition: int = 0) -> int:
    request = ProduceRequest(
        acks=-1,
        timeout_ms=5_000,
        topic_data=[
            ProduceRequest.TopicProduceData(
                name=TOPIC,
                topic_id=uuid.UUID(int=0),
                partition_data=[ProduceRequest.PartitionProduceData(index=partition, records=data)],
            )
        ],
    )
    answer = client.call(request, PRODUCE_V).responses[0].partition_responses[0]
    assert answer.error_code == 0, answer
    return answer.base_offset


def epoch_end(
    client: Client,
    leader_epoch: int,
    *,
    version: int,
    current: int = -1,
    topic: str = TOPIC,
    partition: int = 0,
    replica_id: int = -1,
) -> tuple[int, int, int]:
    """(error code, leader epoch, end offset) of one partition."""
    request = OffsetForLeaderEpochRequest(
        replica_id=replica_id,
        topics=[
            OffsetForLeaderEpochRequest.OffsetForLeaderTopic(
                topic=topic,
                partitions=[
                    OffsetForLeaderEpochRequest.OffsetForLeaderPartition(
                        partition=partition, current_leader_epoch=current, leader_epoch=leader_epoch
                    )
                ],
            )
        ],
    )
    response = client.call(request, version)
    [answer] = response.topics[0].partitions
    assert answer.partition == partition
    return answer.error_code, answer.leader_epoch, answer.end_offset


def new_leader_epoch(broker: DataBroker, epoch: int, partition: int = 0) -> None:
    """Make this node lead ``partition`` in ``epoch`` as a leader change would (the single-node
    controller never moves leadership, so the test does what _sync_partitions does)."""
    handle = broker.partition(TOPIC, partition)

    async def change() -> None:
        handle.leader_epoch = epoch
        await trio.to_thread.run_sync(handle.epochs.assign, epoch, handle.log.log_end_offset)

    trio.from_thread.run(change, trio_token=broker.token)


@pytest.mark.parametrize("version", EPOCH_VERSIONS)
def test_epoch_end_offsets(broker: DataBroker, client: Client, version: int) -> None:
    # A new leader records its epoch at once: epoch 0 is known before any record.
    assert epoch_end(client, 0, version=version) == (0, 0, 0)
    produce(client, records(3))
    assert epoch_end(client, 0, version=version) == (0, 0, 3)
    assert epoch_end(client, 0, version=version, current=0) == (0, 0, 3)
    new_leader_epoch(broker, 2)
    produce(client, records(2))
    produce(client, records(1))
    # Epoch 0 ended where epoch 2 started; epoch 1 never led, so its answer is epoch 0's.
    assert epoch_end(client, 0, version=version) == (0, 0, 3)
    assert epoch_end(client, 1, version=version) == (0, 0, 3)
    assert epoch_end(client, 2, version=version, current=2) == (0, 2, 6)
    # Newer than any epoch, or none asked: nothing is known.
    assert epoch_end(client, 3, version=version) == (0, -1, -1)
    assert epoch_end(client, -1, version=version) == (0, -1, -1)
    # Followers (replica ids) get the same answer with no authorizer.
    if version >= 3:
        assert epoch_end(client, 0, version=version, replica_id=1) == (0, 0, 3)
    # current_leader_epoch fences old metadata and flags metadata ahead of ours.
    assert epoch_end(client, 0, version=version, current=1)[0] == FENCED_LEADER_EPOCH
    assert epoch_end(client, 0, version=version, current=3)[0] == UNKNOWN_LEADER_EPOCH
    for topic, partition in (("nope", 0), (TOPIC, 7)):
        assert epoch_end(client, 0, version=version, topic=topic, partition=partition) == (
            UNKNOWN_TOPIC_OR_PARTITION,
            -1,
            -1,
        )
    path = Path(broker.partition(TOPIC, 0).log.dir) / ckpt.LEADER_EPOCH_CHECKPOINT
    assert ckpt.read_leader_epoch_checkpoint(path) == [(0, 0), (2, 3)]


def test_delete_records_trims_the_cache(broker: DataBroker, client: Client) -> None:
    produce(client, records(3))
    new_leader_epoch(broker, 2)
    produce(client, records(3))
    request = DeleteRecordsRequest(
        topics=[
            DeleteRecordsRequest.DeleteRecordsTopic(
                name=TOPIC,
                partitions=[
                    DeleteRecordsRequest.DeleteRecordsPartition(partition_index=0, offset=4)
                ],
            )
        ],
        timeout_ms=5_000,
    )
    assert client.call(request, 2).topics[0].partitions[0].error_code == 0
    assert broker.partition(TOPIC, 0).epochs.entries == [(2, 4)]
    # Epoch 0's records are gone: Kafka answers the requested epoch with the first start.
    assert epoch_end(client, 0, version=4) == (0, 0, 4)
    assert epoch_end(client, 2, version=4) == (0, 2, 6)


def test_checkpoint_survives_restart_and_is_rebuilt(tmp_path: Path) -> None:
    with data_broker(tmp_path / "b") as b:
        b.create_topic(TOPIC)
        with Client(b.bootstrap_servers) as c:
            produce(c, records(3))
            new_leader_epoch(b, 4)
            produce(c, records(2))
        path = Path(b.partition(TOPIC, 0).log.dir) / ckpt.LEADER_EPOCH_CHECKPOINT
    assert ckpt.read_leader_epoch_checkpoint(path) == [(0, 0), (4, 3)]
    path.unlink()
    # The image still says epoch 0, so the rebuilt cache (from the headers: 0 at 0, 4 at 3)
    # ends with the restarted leader's epoch going back to 0 at the log end, as Kafka would.
    log = Log(str(path.parent))
    try:
        assert load_leader_epoch_cache(log).entries == [(0, 0), (4, 3)]
        assert ckpt.read_leader_epoch_checkpoint(path) == [(0, 0), (4, 3)]
    finally:
        log.close()
    with data_broker(tmp_path / "b") as b, Client(b.bootstrap_servers) as c:
        assert epoch_end(c, 0, version=4) == (0, 0, 5)


def test_rebuild_skips_batches_without_epoch(tmp_path: Path) -> None:
    log = Log(str(tmp_path / "t-0"))
    try:
        log.append(records(2), leader_epoch=-1)
        log.append(records(2), leader_epoch=1)
        log.append(records(1), leader_epoch=1)
        log.append(records(1), leader_epoch=3)
        log.advance_log_start_offset(3)
        assert load_leader_epoch_cache(log).entries == [(1, 3), (3, 5)]
    finally:
        log.close()


def test_describe_producers(broker: DataBroker, client: Client) -> None:
    init = client.call(
        InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=60_000), 5
    )
    pid, epoch = init.producer_id, init.producer_epoch
    produce(client, records(2, producer_id=pid, producer_epoch=epoch, base_sequence=0))
    produce(client, records(3, producer_id=pid, producer_epoch=epoch, base_sequence=2))
    request = DescribeProducersRequest(
        topics=[
            DescribeProducersRequest.TopicRequest(name=TOPIC, partition_indexes=[0, 1, 5]),
            DescribeProducersRequest.TopicRequest(name="nope", partition_indexes=[0]),
        ]
    )
    response = client.call(request, 0)
    p0, p1, p5 = response.topics[0].partitions
    assert (p0.partition_index, p0.error_code) == (0, 0)
    [state] = p0.active_producers
    assert (state.producer_id, state.producer_epoch, state.last_sequence) == (pid, epoch, 4)
    assert state.last_timestamp > 0
    assert (state.coordinator_epoch, state.current_txn_start_offset) == (-1, -1)
    assert (p1.error_code, p1.active_producers) == (0, [])
    assert p5.error_code == UNKNOWN_TOPIC_OR_PARTITION
    assert response.topics[1].partitions[0].error_code == UNKNOWN_TOPIC_OR_PARTITION
