"""kafka-python's KafkaConsumer and aiokafka's AIOKafkaConsumer in a group with commits: a
first consumer reads part of a topic and commits, a second one of the same group resumes at
the committed offsets; the admin clients list, describe and delete the group."""

from __future__ import annotations

import asyncio
import time

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from ferrokafka.testing import RunningBroker, run_broker

PARTITIONS = 3
RECORDS = 90
TIMEOUT_S = 60
POLL_MS = 2000  # see test_two_kafka_python_consumers_share_the_partitions
OVERRIDES = {"group.initial.rebalance.delay.ms": 0, "offsets.topic.num.partitions": 4}


@pytest.fixture
def broker() -> RunningBroker:
    with run_broker(None, OVERRIDES) as running:
        admin = AdminClient({"bootstrap.servers": running.bootstrap_servers})
        admin.create_topics([NewTopic("t", PARTITIONS, 1)])["t"].result(30)
        producer = Producer({"bootstrap.servers": running.bootstrap_servers})
        for i in range(RECORDS):
            producer.produce("t", str(i).encode(), partition=i % PARTITIONS)
        assert producer.flush(30) == 0
        yield running


def _kafka_python_read(bootstrap: str, group: str, limit: int) -> list[tuple[int, int]]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        "t",
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    got: list[tuple[int, int]] = []
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while len(got) < limit and time.monotonic() < deadline:
            for _, records in consumer.poll(timeout_ms=500, max_records=limit - len(got)).items():
                got += [(r.partition, r.offset) for r in records]
        consumer.commit()
    finally:
        consumer.close()
    return got


def test_kafka_python_group_commits_and_resumes(broker: RunningBroker) -> None:
    first = _kafka_python_read(broker.bootstrap_servers, "kp", 40)
    assert len(first) == 40
    second = _kafka_python_read(broker.bootstrap_servers, "kp", RECORDS - 40)
    assert len(second) == RECORDS - 40
    assert sorted(first + second) == sorted(
        (i % PARTITIONS, i // PARTITIONS) for i in range(RECORDS)
    )

    from kafka import KafkaAdminClient, TopicPartition

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers)
    try:
        offsets = admin.list_group_offsets({"kp": None})["kp"]  # OffsetFetch, topics null
        assert {tp: meta.offset for tp, meta in offsets.items()} == {
            TopicPartition("t", p): RECORDS // PARTITIONS for p in range(PARTITIONS)
        }
        listed = admin.list_groups()
        assert {
            "group_id": "kp",
            "protocol_type": "consumer",
            "group_state": "Empty",
            "group_type": "classic",
        } in listed
        described = admin.describe_groups(["kp"])["kp"]
        assert (described["group_state"], described["members"]) == ("Empty", [])
        deleted = admin.delete_group_offsets(  # OffsetDelete
            "kp", [TopicPartition("t", 0), TopicPartition("missing", 0)]
        )
        assert deleted[TopicPartition("t", 0)].__name__ == "NoError"
        assert deleted[TopicPartition("missing", 0)].__name__ == "UnknownTopicOrPartitionError"
        left = admin.list_group_offsets({"kp": None})["kp"]
        assert set(left) == {TopicPartition("t", 1), TopicPartition("t", 2)}
        assert admin.delete_groups(["kp", "nobody"]) == {
            "kp": "OK",
            "nobody": "GroupIdNotFoundError",
        }
        assert admin.list_group_offsets({"kp": None})["kp"] == {}
    finally:
        admin.close()


async def _aiokafka_read(bootstrap: str, group: str, limit: int) -> list[tuple[int, int]]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        "t",
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    await consumer.start()
    got: list[tuple[int, int]] = []
    try:
        async with asyncio.timeout(TIMEOUT_S):
            while len(got) < limit:
                batches = await consumer.getmany(timeout_ms=500, max_records=limit - len(got))
                for records in batches.values():
                    got += [(r.partition, r.offset) for r in records]
        await consumer.commit()
    finally:
        await consumer.stop()
    return got


def test_aiokafka_group_commits_and_resumes(broker: RunningBroker) -> None:
    first = asyncio.run(_aiokafka_read(broker.bootstrap_servers, "aio", 30))
    second = asyncio.run(_aiokafka_read(broker.bootstrap_servers, "aio", RECORDS - 30))
    assert sorted(first + second) == sorted(
        (i % PARTITIONS, i // PARTITIONS) for i in range(RECORDS)
    )


def test_confluent_admin_lists_describes_and_deletes(broker: RunningBroker) -> None:
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    _kafka_python_read(broker.bootstrap_servers, "adm", 10)
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    listed = admin.list_consumer_groups(request_timeout=30).result(30)
    assert "adm" in {g.group_id for g in listed.valid}
    described = admin.describe_consumer_groups(["adm"], request_timeout=30)["adm"].result(30)
    assert str(described.state).endswith("EMPTY")
    request = ConsumerGroupTopicPartitions("adm", [TopicPartition("t", p) for p in range(3)])
    offsets = admin.list_consumer_group_offsets([request])["adm"].result(30)
    assert sum(tp.offset for tp in offsets.topic_partitions) == 10
    admin.delete_consumer_groups(["adm"], request_timeout=30)["adm"].result(30)
    with pytest.raises(Exception, match="GROUP_ID_NOT_FOUND|does not exist|not found"):
        admin.delete_consumer_groups(["adm"], request_timeout=30)["adm"].result(30)
    after = admin.list_consumer_group_offsets([request])["adm"].result(30)
    assert all(tp.offset < 0 for tp in after.topic_partitions)


def test_two_kafka_python_consumers_share_the_partitions(broker: RunningBroker) -> None:
    """kafka-python's own group client (not librdkafka): two members split the partitions,
    and when one closes (LeaveGroup) the other owns them all."""
    import threading

    from kafka import KafkaConsumer

    def make() -> KafkaConsumer:
        return KafkaConsumer(
            "t",
            bootstrap_servers=broker.bootstrap_servers,
            group_id="pair",
            auto_offset_reset="earliest",
            session_timeout_ms=6000,
            heartbeat_interval_ms=300,
        )

    consumers = [make(), make()]
    stop = [threading.Event(), threading.Event()]

    def run(i: int) -> None:
        while not stop[i].is_set():
            # Longer than a rebalance takes here (the follower hears of it by heartbeat, 300 ms):
            # kafka-python 3.0.12 loses a JoinGroup/SyncGroup that completes after a poll timed
            # out while waiting for it, if the leader's metadata changed meanwhile (its
            # join loop then sees no need to rejoin, never applies the assignment nor
            # re-enables its heartbeat, and the coordinator expires it) -- a client bug.
            consumers[i].poll(timeout_ms=POLL_MS)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(2)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            owned = [{tp.partition for tp in c.assignment()} for c in consumers]
            if (
                all(owned)
                and owned[0] | owned[1] == set(range(PARTITIONS))
                and not (owned[0] & owned[1])
            ):
                break
            assert time.monotonic() < deadline, owned
            time.sleep(0.2)
        stop[1].set()
        threads[1].join(30)
        consumers[1].close()
        while {tp.partition for tp in consumers[0].assignment()} != set(range(PARTITIONS)):
            assert time.monotonic() < deadline, consumers[0].assignment()
            time.sleep(0.2)
    finally:
        for event in stop:
            event.set()
        for thread in threads:
            thread.join(30)
        consumers[0].close()
