"""The share coordinator moves with its ``__share_group_state`` partition: in a KRaft cluster
of three ``ferrokafka serve`` processes (the state topic replicated three times) a
share-partition's state is written on its coordinator, the coordinator is killed (SIGKILL),
and the new leader of the partition answers FindCoordinator and reads the same state."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from server_wire import RawClient

from cluster.kraft_processes import KRaftCluster
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.find_coordinator import FindCoordinatorRequest
from ferrokafka.protocol.messages.initialize_share_group_state import (
    InitializeShareGroupStateRequest,
)
from ferrokafka.protocol.messages.read_share_group_state import ReadShareGroupStateRequest
from ferrokafka.protocol.messages.write_share_group_state import WriteShareGroupStateRequest
from ferrokafka.share.persister import ACKNOWLEDGED, ARCHIVED, SharePartitionKey

FAILOVER_TIMEOUT_S = 90.0
POLL_S = 0.2
OVERRIDES = {
    "share.coordinator.state.topic.num.partitions": "1",
    "share.coordinator.state.topic.replication.factor": "3",
    "share.coordinator.state.topic.min.isr": "2",
}
RETRIABLE = (ec.NOT_COORDINATOR, ec.COORDINATOR_LOAD_IN_PROGRESS, ec.COORDINATOR_NOT_AVAILABLE)
GROUP = "sg"
BATCHES = [(3, 5, ACKNOWLEDGED, 1), (6, 8, ARCHIVED, 3)]


def coordinator_of(cluster: KRaftCluster, key: str, exclude: int | None = None) -> int:
    deadline = time.monotonic() + FAILOVER_TIMEOUT_S
    request = FindCoordinatorRequest(key_type=2, coordinator_keys=[key])
    while True:
        for node in cluster.nodes.values():
            if node.node_id == exclude or not node.running():
                continue
            try:
                with RawClient(node.bootstrap) as client:
                    found = client.call(request, 6).coordinators[0]
            except OSError:
                continue
            if found.error_code == ec.NONE and found.node_id != exclude:
                return int(found.node_id)
        assert time.monotonic() < deadline, f"no coordinator for {key}"
        time.sleep(POLL_S)


def served(bootstrap: str, request: Any, version: int) -> Any:
    """The request's one partition result once it is not a coordinator error (nor, while the
    new topic reaches the coordinator's metadata, UNKNOWN_TOPIC_OR_PARTITION)."""
    deadline = time.monotonic() + FAILOVER_TIMEOUT_S
    while True:
        with RawClient(bootstrap) as client:
            got = client.call(request, version).results[0].partitions[0]
        retry = (*RETRIABLE, ec.UNKNOWN_TOPIC_OR_PARTITION)
        if got.error_code not in retry or time.monotonic() > deadline:
            return got
        time.sleep(POLL_S)


def read(topic_id: uuid.UUID, leader_epoch: int) -> ReadShareGroupStateRequest:
    R = ReadShareGroupStateRequest
    part = R.PartitionData(partition=0, leader_epoch=leader_epoch)
    return R(group_id=GROUP, topics=[R.ReadStateData(topic_id=topic_id, partitions=[part])])


def test_state_is_read_back_from_the_new_coordinator(tmp_path: Path) -> None:
    with KRaftCluster(tmp_path, size=3, overrides=OVERRIDES).running() as cluster:
        with RawClient(cluster.nodes[1].bootstrap) as client:
            created = client.call(
                CreateTopicsRequest(
                    topics=[
                        CreateTopicsRequest.CreatableTopic(
                            name="q", num_partitions=1, replication_factor=3
                        )
                    ],
                    timeout_ms=30_000,
                ),
                7,  # v7+ answers the topic id
            )
        assert created.topics[0].error_code == ec.NONE
        topic_id = created.topics[0].topic_id
        key = SharePartitionKey(GROUP, topic_id, 0).coordinator_key()
        first = coordinator_of(cluster, key)
        bootstrap = cluster.nodes[first].bootstrap
        Init = InitializeShareGroupStateRequest
        init = Init(
            group_id=GROUP,
            topics=[
                Init.InitializeStateData(
                    topic_id=topic_id,
                    partitions=[Init.PartitionData(partition=0, state_epoch=2, start_offset=3)],
                )
            ],
        )
        assert served(bootstrap, init, 0).error_code == ec.NONE
        W = WriteShareGroupStateRequest
        part = W.PartitionData(
            partition=0,
            state_epoch=2,
            leader_epoch=1,
            start_offset=3,
            state_batches=[
                W.StateBatch(first_offset=f, last_offset=la, delivery_state=s, delivery_count=c)
                for f, la, s, c in BATCHES
            ],
        )
        write = W(group_id=GROUP, topics=[W.WriteStateData(topic_id=topic_id, partitions=[part])])
        assert served(bootstrap, write, 1).error_code == ec.NONE
        assert served(bootstrap, read(topic_id, 1), 0).error_code == ec.NONE

        cluster.kill(first)
        second = coordinator_of(cluster, key, exclude=first)
        state = served(cluster.nodes[second].bootstrap, read(topic_id, 2), 0)
        got = [
            (b.first_offset, b.last_offset, b.delivery_state, b.delivery_count)
            for b in state.state_batches
        ]
        assert (state.error_code, state.state_epoch, state.start_offset, got) == (
            ec.NONE, 2, 3, BATCHES,
        )  # fmt: skip
        # The leader epoch recorded before the move still fences.
        stale = served(cluster.nodes[second].bootstrap, read(topic_id, 0), 0)
        assert stale.error_code == ec.FENCED_LEADER_EPOCH
