"""The share coordinator's state RPCs on the wire, one node: initialize -> write -> read ->
summary -> delete, Kafka 4.4's fencing and errors, FindCoordinator key type SHARE, the state
surviving a restart, and the ``__share_group_state`` records decoded by Apache Kafka's own
DumpLogSegments (``--share-group-state-decoder``)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import trio

from ferrokafka.cluster.node_client import NodeClient
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.delete_share_group_state import DeleteShareGroupStateRequest
from ferrokafka.protocol.messages.find_coordinator import FindCoordinatorRequest
from ferrokafka.protocol.messages.initialize_share_group_state import (
    InitializeShareGroupStateRequest,
)
from ferrokafka.protocol.messages.read_share_group_state import ReadShareGroupStateRequest
from ferrokafka.protocol.messages.read_share_group_state_summary import (
    ReadShareGroupStateSummaryRequest,
)
from ferrokafka.protocol.messages.write_share_group_state import WriteShareGroupStateRequest
from ferrokafka.share.coordinator import SHARE_STATE_TOPIC
from ferrokafka.share.persister import ACKNOWLEDGED, ARCHIVED, AVAILABLE, SharePartitionKey
from ferrokafka.testing import RunningBroker, open_broker

OVERRIDES = {
    "share.coordinator.state.topic.num.partitions": 3,
    # A snapshot after every two updates: both record kinds reach the log.
    "share.coordinator.snapshot.update.records.per.snapshot": 2,
}
GROUP = "sg"
TIMEOUT_S = 60


def host_port(broker: RunningBroker) -> tuple[str, int]:
    host, port = broker.bootstrap_servers.rsplit(":", 1)
    return host, int(port)


async def create_topic(client: NodeClient, name: str) -> uuid.UUID:
    response = await client.call(
        CreateTopicsRequest(
            topics=[
                CreateTopicsRequest.CreatableTopic(
                    name=name, num_partitions=2, replication_factor=1
                )
            ],
            timeout_ms=10_000,
        )
    )
    assert response.topics[0].error_code == ec.NONE
    return response.topics[0].topic_id


def only(response: Any) -> Any:
    assert len(response.results) == 1 and len(response.results[0].partitions) == 1
    return response.results[0].partitions[0]


async def initialize(client: NodeClient, topic_id: uuid.UUID, state_epoch: int, start: int) -> int:
    R = InitializeShareGroupStateRequest
    part = R.PartitionData(partition=0, state_epoch=state_epoch, start_offset=start)
    request = R(
        group_id=GROUP, topics=[R.InitializeStateData(topic_id=topic_id, partitions=[part])]
    )
    return only(await client.call(request)).error_code


async def write(
    client: NodeClient,
    topic_id: uuid.UUID,
    state_epoch: int,
    leader_epoch: int,
    start: int,
    batches: list[tuple[int, int, int, int]],
) -> int:
    R = WriteShareGroupStateRequest
    part = R.PartitionData(
        partition=0,
        state_epoch=state_epoch,
        leader_epoch=leader_epoch,
        start_offset=start,
        state_batches=[
            R.StateBatch(first_offset=f, last_offset=la, delivery_state=s, delivery_count=c)
            for f, la, s, c in batches
        ],
    )
    request = R(group_id=GROUP, topics=[R.WriteStateData(topic_id=topic_id, partitions=[part])])
    return only(await client.call(request)).error_code


async def read(client: NodeClient, topic_id: uuid.UUID, leader_epoch: int) -> Any:
    R = ReadShareGroupStateRequest
    part = R.PartitionData(partition=0, leader_epoch=leader_epoch)
    request = R(group_id=GROUP, topics=[R.ReadStateData(topic_id=topic_id, partitions=[part])])
    return only(await client.call(request))


async def summary(client: NodeClient, topic_id: uuid.UUID) -> Any:
    R = ReadShareGroupStateSummaryRequest
    part = R.PartitionData(partition=0, leader_epoch=0)
    request = R(
        group_id=GROUP, topics=[R.ReadStateSummaryData(topic_id=topic_id, partitions=[part])]
    )
    return only(await client.call(request))


def batches(result: Any) -> list[tuple[int, int, int, int]]:
    return [
        (b.first_offset, b.last_offset, b.delivery_state, b.delivery_count)
        for b in result.state_batches
    ]


EXPECTED = [(10, 11, AVAILABLE, 1), (12, 14, ACKNOWLEDGED, 1), (15, 19, ARCHIVED, 2)]


async def first_life(data_dir: Path) -> tuple[uuid.UUID, int]:
    """Initialize, write, read, fence; returns the topic id and the state partition."""
    async with open_broker(data_dir, OVERRIDES) as broker:
        client = NodeClient(host_port(broker), client_id="share-state-test")
        try:
            topic_id = await create_topic(client, "queue")
            key = SharePartitionKey(GROUP, topic_id, 0).coordinator_key()
            # FindCoordinator key type SHARE (v6): this node, once the topic exists.
            found = await client.call(
                FindCoordinatorRequest(key_type=2, coordinator_keys=[key, "no-key"]), version=6
            )
            codes = {c.key: (c.error_code, c.node_id) for c in found.coordinators}
            assert codes[key] == (ec.NONE, broker.config.node_id)
            assert codes["no-key"][0] == ec.INVALID_REQUEST
            old = await client.call(
                FindCoordinatorRequest(key_type=2, coordinator_keys=[key]), version=5
            )
            assert old.coordinators[0].error_code == ec.INVALID_REQUEST
            # Read or write before initialize: Kafka's shard refuses both.
            assert (await read(client, topic_id, 1)).error_code == ec.INVALID_REQUEST
            assert await write(client, topic_id, 1, 1, 10, []) == ec.INVALID_REQUEST
            assert await initialize(client, uuid.uuid4(), 1, 0) == ec.UNKNOWN_TOPIC_OR_PARTITION
            assert (await summary(client, topic_id)).start_offset == -1
            assert await initialize(client, topic_id, 1, 10) == ec.NONE
            first = await read(client, topic_id, 1)
            assert (first.error_code, first.start_offset, first.state_epoch) == (ec.NONE, 10, 1)
            # Four writes: updates and snapshots; the higher delivery count wins overlaps.
            assert await write(client, topic_id, 1, 1, 10, [(10, 19, AVAILABLE, 1)]) == ec.NONE
            assert await write(client, topic_id, 1, 1, 10, [(12, 14, ACKNOWLEDGED, 1)]) == 0
            assert await write(client, topic_id, 1, 1, 10, [(15, 19, ARCHIVED, 2)]) == ec.NONE
            assert await write(client, topic_id, 1, 1, 10, [(15, 19, AVAILABLE, 1)]) == ec.NONE
            state = await read(client, topic_id, 2)
            assert (state.error_code, state.start_offset, batches(state)) == (0, 10, EXPECTED)
            # Fencing: an older leader epoch (recorded by the read), an older state epoch.
            assert await write(client, topic_id, 1, 1, 10, []) == ec.FENCED_LEADER_EPOCH
            assert (await read(client, topic_id, 1)).error_code == ec.FENCED_LEADER_EPOCH
            assert await write(client, topic_id, 0, 2, 10, []) == ec.FENCED_STATE_EPOCH
            assert await initialize(client, topic_id, 0, 0) == ec.FENCED_STATE_EPOCH
            assert await write(client, topic_id, 1, -1, 10, []) == ec.INVALID_REQUEST
            s = await summary(client, topic_id)
            assert (s.error_code, s.start_offset, s.state_epoch, s.leader_epoch) == (0, 10, 1, 2)
            coordinator = broker.broker.node.share_coordinator
            assert coordinator is not None
            index = coordinator.partition_for(SharePartitionKey(GROUP, topic_id, 0))
        finally:
            await client.aclose()
    return topic_id, index


async def second_life(data_dir: Path, topic_id: uuid.UUID) -> None:
    """After a restart the state is read back from the log; then it is deleted."""
    async with open_broker(data_dir, OVERRIDES) as broker:
        client = NodeClient(host_port(broker), client_id="share-state-test")
        try:
            with trio.fail_after(TIMEOUT_S):
                while (state := await read(client, topic_id, 2)).error_code in (
                    ec.COORDINATOR_LOAD_IN_PROGRESS,
                    ec.NOT_COORDINATOR,
                ):
                    await trio.sleep(0.1)
            assert (state.error_code, state.start_offset, batches(state)) == (0, 10, EXPECTED)
            assert (await read(client, topic_id, 1)).error_code == ec.FENCED_LEADER_EPOCH
            R = DeleteShareGroupStateRequest
            request = R(
                group_id=GROUP,
                topics=[R.DeleteStateData(topic_id=topic_id, partitions=[R.PartitionData()])],
            )
            assert only(await client.call(request)).error_code == ec.NONE
            assert (await summary(client, topic_id)).start_offset == -1
            assert (await read(client, topic_id, 3)).error_code == ec.INVALID_REQUEST
        finally:
            await client.aclose()


def test_state_rpcs_survive_a_restart_and_decode_with_kafka(tmp_path: Path) -> None:
    data_dir = tmp_path / "broker"

    async def main() -> tuple[uuid.UUID, int]:
        with trio.fail_after(TIMEOUT_S):
            topic_id, index = await first_life(data_dir)
        with trio.fail_after(TIMEOUT_S):
            await second_life(data_dir, topic_id)
        return topic_id, index

    topic_id, index = trio.run(main)
    segment = data_dir / "logs" / f"{SHARE_STATE_TOPIC}-{index}" / f"{0:020d}.log"
    assert segment.exists()
    dumped = dump_share_state(segment, tmp_path)
    # Kafka's decoder prints each record's key and value as JSON: snapshots (type 0) and
    # updates (type 1) of our share-partition, the batches we wrote, and the tombstone last.
    records = [line for line in dumped.splitlines() if line.startswith("| offset:")]
    assert all(f'"groupId":"{GROUP}"' in line for line in records)
    assert any('key: {"type":"0"' in line for line in records[1:-1])  # a later snapshot
    assert any('key: {"type":"1"' in line for line in records)
    assert '{"firstOffset":12,"lastOffset":14,"deliveryState":2,"deliveryCount":1}' in dumped
    assert records[-1].endswith("payload: <DELETE>")


def dump_share_state(segment: Path, work_dir: Path) -> str:
    import kafka_support.jars as ks

    # Missing jars fail (KafkaNotFetchedError), as everywhere else in the suite.
    main_class = ks.dump_log_segments_class(ks.kafka_classpath())
    result = ks.run_kafka_tool(
        main_class,
        ["--files", str(segment), "--print-data-log", "--share-group-state-decoder"],
        work_dir=work_dir,
    )
    assert "Could not deserialize" not in result.stdout, result.stdout
    return str(result.stdout)
