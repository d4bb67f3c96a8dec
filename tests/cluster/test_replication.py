"""Replication across the brokers of an in-process cluster (run_cluster(3)): a real client
(confluent-kafka) produces with acks=all to a topic of replication factor 3; every broker's log
then holds the same batches byte for byte and the same high watermark. A follower whose fetches
stop leaves the ISR after replica.lag.time.max.ms (the metadata shows it, through
AlterPartition to the controller) and joins it again once it fetches and catches up; an ISR
below min.insync.replicas refuses acks=all with NOT_ENOUGH_REPLICAS. On the wire, a leader
refuses a follower fetch from an unknown replica or a stale broker epoch, and answers a
diverging one with the diverging epoch."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from server_wire import RawClient

from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.delete_records import DeleteRecordsRequest
from ferrokafka.protocol.messages.fetch import FetchRequest, FetchResponse
from ferrokafka.protocol.messages.produce import ProduceRequest
from ferrokafka.storage import BatchBuilder
from ferrokafka.testing.cluster import RunningCluster, run_cluster, wait_for

TOPIC = "replicated"
PARTITIONS = 3
RECORDS_PER_PARTITION = 50
DEADLINE_S = 30.0
LAG_MAX_MS = 1500
PRODUCE_V = 9
# Above replica.fetch.wait.max.ms (500): a follower fetch parked at the leader has ended.
FETCH_WAIT_S = 1.0
FETCH_V = 17


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    overrides = {
        "offsets.topic.replication.factor": 1,
        "offsets.topic.num.partitions": 3,
        "replica.lag.time.max.ms": LAG_MAX_MS,
        "replica.fetch.backoff.ms": 100,
    }
    with run_cluster(3, tmp_path_factory.mktemp("cluster"), overrides) as running:
        admin = AdminClient({"bootstrap.servers": running.bootstrap_servers})
        topic = NewTopic(TOPIC, PARTITIONS, 3, config={"min.insync.replicas": "2"})
        admin.create_topics([topic], operation_timeout=10)[TOPIC].result(timeout=DEADLINE_S)
        yield running


def isr(cluster: RunningCluster, index: int) -> tuple[int, ...]:
    topic = cluster.controller.image.topic(TOPIC)
    assert topic is not None
    return topic.partitions[index].isr


def produce(cluster: RunningCluster, count: int, tag: str) -> None:
    producer = Producer(
        {"bootstrap.servers": cluster.bootstrap_servers, "acks": "all", "linger.ms": 5}
    )
    failures: list[KafkaError] = []
    for partition in range(PARTITIONS):
        for i in range(count):
            producer.produce(
                TOPIC,
                value=b"%s-%d-%d" % (tag.encode(), partition, i),
                partition=partition,
                on_delivery=lambda err, _msg: err and failures.append(err),
            )
    assert producer.flush(DEADLINE_S) == 0
    assert failures == []


def log_bytes(cluster: RunningCluster, node_id: int, index: int) -> bytes:
    partition = cluster.broker(node_id).partition(TOPIC, index)
    assert partition is not None
    batches = partition.log.read_batches(0, 64 << 20)
    return b"".join(bytes(b.to_bytes()) for b in batches)


def offsets(cluster: RunningCluster, index: int) -> set[tuple[int, int]]:
    found = set()
    for broker in cluster.brokers:
        partition = broker.partition(TOPIC, index)
        assert partition is not None
        found.add((partition.log_end_offset, partition.high_watermark))
    return found


def test_acks_all_records_reach_every_replica_byte_for_byte(cluster: RunningCluster) -> None:
    produce(cluster, RECORDS_PER_PARTITION, "a")
    for index in range(PARTITIONS):
        assert isr(cluster, index) and len(isr(cluster, index)) == 3
        wait_for(
            lambda index=index: offsets(cluster, index) == {(RECORDS_PER_PARTITION,) * 2},
            f"partition {index}: the same log end and high watermark on every broker",
        )
        logs = {log_bytes(cluster, b.config.node_id, index) for b in cluster.brokers}
        assert len(logs) == 1 and len(next(iter(logs))) > 0


def set_fetching(cluster: RunningCluster, node_id: int, fetching: bool) -> None:
    cluster.set_fetching(node_id, fetching)


def test_isr_shrinks_when_a_follower_stops_fetching_and_expands_when_it_is_back(
    cluster: RunningCluster,
) -> None:
    topic = cluster.controller.image.topic(TOPIC)
    assert topic is not None
    # A partition that broker 3 follows (does not lead).
    index = next(i for i, p in topic.partitions.items() if p.leader != 3)
    set_fetching(cluster, 3, False)
    try:
        produce(cluster, 5, "b")  # acks=all still answered: ISR 3 -> 2, min.insync 2
        wait_for(lambda: 3 not in isr(cluster, index), "broker 3 to leave the ISR")
    finally:
        set_fetching(cluster, 3, True)
    wait_for(lambda: 3 in isr(cluster, index), "broker 3 to rejoin the ISR")
    wait_for(lambda: len(offsets(cluster, index)) == 1, "the same log end and HW on every broker")
    assert len({log_bytes(cluster, b.config.node_id, index) for b in cluster.brokers}) == 1


def produce_raw(cluster: RunningCluster, leader: int, index: int) -> int:
    """One acks=all batch to ``leader``: the partition's error code."""
    builder = BatchBuilder()
    builder.append(b"x", key=b"k")
    request = ProduceRequest(
        acks=-1,
        timeout_ms=5_000,
        topic_data=[
            ProduceRequest.TopicProduceData(
                name=TOPIC,
                topic_id=uuid.UUID(int=0),
                partition_data=[
                    ProduceRequest.PartitionProduceData(index=index, records=builder.build())
                ],
            )
        ],
    )
    with RawClient(cluster.broker(leader).bootstrap_servers) as client:
        answer = client.call(request, PRODUCE_V)
    return int(answer.responses[0].partition_responses[0].error_code)


def test_acks_all_is_refused_when_the_isr_is_below_min_insync(cluster: RunningCluster) -> None:
    topic = cluster.controller.image.topic(TOPIC)
    assert topic is not None
    index, part = next(iter(sorted(topic.partitions.items())))
    followers = [r for r in part.replicas if r != part.leader]
    for node_id in followers:
        set_fetching(cluster, node_id, False)
    try:
        # Caught-up idle followers stay in the ISR (Kafka's isCaughtUp); this batch leaves
        # them behind: the ISR shrinks to the leader while the produce waits, so the batch is
        # committed with an ISR below min.insync.replicas.
        assert produce_raw(cluster, part.leader, index) == ec.NOT_ENOUGH_REPLICAS_AFTER_APPEND
        wait_for(lambda: isr(cluster, index) == (part.leader,), "the ISR to be the leader alone")
        assert produce_raw(cluster, part.leader, index) == ec.NOT_ENOUGH_REPLICAS
    finally:
        for node_id in followers:
            set_fetching(cluster, node_id, True)
    wait_for(lambda: len(isr(cluster, index)) == 3, "the followers to rejoin the ISR")
    assert produce_raw(cluster, part.leader, index) == ec.NONE


def follower_fetch(
    cluster: RunningCluster, leader: int, index: int, replica: int, broker_epoch: int, **part: int
) -> FetchResponse.PartitionData:
    topic = cluster.controller.image.topic(TOPIC)
    assert topic is not None
    request = FetchRequest(
        replica_state=FetchRequest.ReplicaState(replica_id=replica, replica_epoch=broker_epoch),
        max_wait_ms=0,
        session_epoch=-1,
        topics=[
            FetchRequest.FetchTopic(
                topic_id=topic.topic_id,
                partitions=[
                    FetchRequest.FetchPartition(
                        partition=index, partition_max_bytes=1 << 20, **part
                    )
                ],
            )
        ],
    )
    with RawClient(cluster.broker(leader).bootstrap_servers) as client:
        answer = client.call(request, FETCH_V)
    return answer.responses[0].partitions[0]


def test_the_leader_refuses_unknown_replicas_and_stale_broker_epochs(
    cluster: RunningCluster,
) -> None:
    topic = cluster.controller.image.topic(TOPIC)
    assert topic is not None
    index, part = next(iter(sorted(topic.partitions.items())))
    follower = next(r for r in part.replicas if r != part.leader)
    registration = cluster.controller.image.broker(follower)
    assert registration is not None
    epoch = registration.broker_epoch
    leader = cluster.broker(part.leader).partition(TOPIC, index)
    assert leader is not None
    end = leader.log_end_offset
    ok = follower_fetch(cluster, part.leader, index, follower, epoch, fetch_offset=end)
    assert (ok.error_code, ok.high_watermark) == (ec.NONE, leader.high_watermark)
    stale = follower_fetch(cluster, part.leader, index, follower, epoch - 1, fetch_offset=end)
    assert stale.error_code == ec.NOT_LEADER_OR_FOLLOWER
    unknown = follower_fetch(cluster, part.leader, index, 9, -1, fetch_offset=end)
    assert unknown.error_code == ec.NOT_LEADER_OR_FOLLOWER
    # A follower whose log runs past the leader's in the same epoch is told where the epoch
    # ends on the leader (it truncates there), with no records.
    diverged = follower_fetch(
        cluster,
        part.leader,
        index,
        follower,
        epoch,
        fetch_offset=end + 5,
        last_fetched_epoch=part.leader_epoch,
        current_leader_epoch=part.leader_epoch,
    )
    assert diverged.error_code == ec.NONE and not diverged.records
    assert (diverged.diverging_epoch.epoch, diverged.diverging_epoch.end_offset) == (
        part.leader_epoch,
        end,
    )


def delete_records(cluster: RunningCluster, leader: int, index: int, offset: int) -> None:
    request = DeleteRecordsRequest(
        topics=[
            DeleteRecordsRequest.DeleteRecordsTopic(
                name=TOPIC,
                partitions=[
                    DeleteRecordsRequest.DeleteRecordsPartition(
                        partition_index=index, offset=offset
                    )
                ],
            )
        ],
        timeout_ms=100,  # the low watermark waits for the stopped follower: not waited for
    )
    with RawClient(cluster.broker(leader).bootstrap_servers) as client:
        client.call(request, 2)


def test_a_follower_behind_the_leaders_log_start_restarts_there(cluster: RunningCluster) -> None:
    topic = cluster.controller.image.topic(TOPIC)
    assert topic is not None
    index, part = sorted(topic.partitions.items())[-1]
    follower_id = next(r for r in part.replicas if r != part.leader)
    leader = cluster.broker(part.leader).partition(TOPIC, index)
    follower = cluster.broker(follower_id).partition(TOPIC, index)
    assert leader is not None and follower is not None
    wait_for(lambda: len(isr(cluster, index)) == 3, "a full ISR")
    set_fetching(cluster, follower_id, False)
    try:
        time.sleep(FETCH_WAIT_S)  # a fetch already parked at the leader ends
        stopped_at = follower.log_end_offset
        produce(cluster, 20, "c")  # acks=all: answered once the follower left the ISR
        new_start = leader.high_watermark
        assert new_start > stopped_at
        delete_records(cluster, part.leader, index, new_start)
        wait_for(lambda: leader.log_start_offset == new_start, "the leader's new log start")
        assert follower.log_end_offset == stopped_at  # behind the leader's log start
    finally:
        set_fetching(cluster, follower_id, True)
    # Its fetch offset is below the leader's log start: OFFSET_OUT_OF_RANGE, then it restarts
    # empty at the leader's log start and catches up.
    wait_for(
        lambda: (
            (follower.log_start_offset, follower.log_end_offset)
            == (new_start, leader.log_end_offset)
        ),
        "the follower to restart at the leader's log start and catch up",
    )
    wait_for(lambda: len(isr(cluster, index)) == 3, "the follower back in the ISR")
