"""librdkafka (confluent-kafka) with ``group.protocol=consumer`` (KIP-848) against ferrokafka:
two consumers split the partitions, consume every record once and commit; when one closes the
other takes its partitions; a new member of the group resumes after the committed offsets; a
regex subscription is resolved by the coordinator, internal topics included."""

from __future__ import annotations

import time
from pathlib import Path

from cg_wire import Wire, create_topic
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions

from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.consumer_group_describe import ConsumerGroupDescribeRequest
from ferrokafka.protocol.messages.consumer_group_heartbeat import ConsumerGroupHeartbeatRequest
from ferrokafka.testing import run_broker

OVERRIDES = {"group.consumer.heartbeat.interval.ms": 1000}
WAIT_S = 60.0
POLL_S = 0.2
FLUSH_TIMEOUT_S = 30.0
PARTITIONS = 4


def consumer(bootstrap: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "rg",
            "group.protocol": "consumer",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )


def produce(bootstrap: str, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i, value in enumerate(values):
        producer.produce("rt", value=value, partition=i % PARTITIONS)
    assert producer.flush(FLUSH_TIMEOUT_S) == 0


def poll_until(consumers: list[Consumer], done, got: list[bytes], what: str) -> None:
    """Poll every consumer (committing what it read) until ``done()``, within WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while not done():
        assert time.monotonic() < deadline, f"no {what} within {WAIT_S}s"
        for c in consumers:
            message = c.poll(POLL_S)
            if message is None:
                continue
            assert message.error() is None, message.error()
            got.append(message.value())
            c.commit(message=message, asynchronous=False)


def parts(c: Consumer) -> set[int]:
    return {tp.partition for tp in c.assignment()}


def test_librdkafka_split_takeover_and_resume(tmp_path: Path) -> None:
    with run_broker(tmp_path / "b", OVERRIDES) as broker:
        bootstrap = broker.bootstrap_servers
        create_topic(bootstrap, "rt", PARTITIONS)
        first = [b"r-%d" % i for i in range(40)]
        produce(bootstrap, first)
        got: list[bytes] = []

        a = consumer(bootstrap)
        a.subscribe(["rt"])
        poll_until([a], lambda: parts(a) == set(range(PARTITIONS)), got, "first assignment")
        b = consumer(bootstrap)
        b.subscribe(["rt"])
        poll_until(
            [a, b],
            lambda: (
                len(parts(a)) == 2
                and len(parts(b)) == 2
                and parts(a) | parts(b) == set(range(PARTITIONS))
            ),
            got,
            "a 2/2 split",
        )
        poll_until([a, b], lambda: len(got) >= len(first), got, "every record")
        assert sorted(got) == sorted(first)  # each once: commits follow every record

        b.close()  # leaves the group
        poll_until([a], lambda: parts(a) == set(range(PARTITIONS)), got, "the takeover")
        a.close()

        new = [b"n-%d" % i for i in range(4)]
        produce(bootstrap, new)
        resumed: list[bytes] = []
        c = consumer(bootstrap)
        c.subscribe(["rt"])
        try:
            poll_until([c], lambda: len(resumed) >= len(new), resumed, "the new records")
            # Nothing more arrives: the old records stay behind the committed offsets.
            end = time.monotonic() + 3
            while time.monotonic() < end:
                message = c.poll(POLL_S)
                if message is not None and message.error() is None:
                    resumed.append(message.value())
            assert sorted(resumed) == sorted(new)
        finally:
            c.close()


def test_librdkafka_regex_subscription(tmp_path: Path) -> None:
    """librdkafka sends a "^..." subscription as SubscribedTopicRegex: the coordinator resolves
    it against the topics, including one created after the member joined."""
    with run_broker(tmp_path / "b", OVERRIDES) as broker:
        bootstrap = broker.bootstrap_servers
        create_topic(bootstrap, "rx-1", 2)
        create_topic(bootstrap, "other", 1)
        producer = Producer({"bootstrap.servers": bootstrap})
        for topic in ("rx-1", "other"):
            producer.produce(topic, value=topic.encode(), partition=0)
        assert producer.flush(FLUSH_TIMEOUT_S) == 0

        c = consumer(bootstrap)
        c.subscribe(["^rx-.*"])
        got: list[bytes] = []
        try:
            poll_until([c], lambda: got == [b"rx-1"], got, "the record of rx-1")
            create_topic(bootstrap, "rx-2", 1)
            producer.produce("rx-2", value=b"rx-2", partition=0)
            assert producer.flush(FLUSH_TIMEOUT_S) == 0
            poll_until([c], lambda: len(got) >= 2, got, "the record of rx-2")
            assert got == [b"rx-1", b"rx-2"]
            assert {tp.topic for tp in c.assignment()} == {"rx-1", "rx-2"}
            wire = Wire(bootstrap)
            try:
                [group] = wire.call(ConsumerGroupDescribeRequest(group_ids=["rg"]), 1).groups
            finally:
                wire.close()
            [member] = group.members
            # Resolved by the coordinator, not the client: the member sent the regex itself.
            assert (member.subscribed_topic_names, member.subscribed_topic_regex) == (
                [],
                "(^rx-.*)",
            )
        finally:
            c.close()


OFFSETS_TOPIC = "__consumer_offsets"
OFFSETS_PARTITIONS = 3


def test_librdkafka_regex_subscription_matches_an_internal_topic(tmp_path: Path) -> None:
    """Kafka's coordinator matches a subscribed regex against every topic name of its metadata
    image, internal topics included (only a client-side java.util.regex subscription filters
    them, by exclude.internal.topics): a member whose regex names ``__consumer_offsets`` is
    assigned its partitions."""
    overrides = {**OVERRIDES, "offsets.topic.num.partitions": OFFSETS_PARTITIONS}
    with run_broker(tmp_path / "b", overrides) as broker:
        bootstrap = broker.bootstrap_servers
        create_topic(bootstrap, "rt", 1)
        # An offset committed in another group creates __consumer_offsets before the member
        # joins, so the regex has it to match from the first heartbeat.
        committer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": "committer", "enable.auto.commit": False}
        )
        try:
            committer.commit(offsets=[TopicPartition("rt", 0, 1)], asynchronous=False)
        finally:
            committer.close()
        admin = AdminClient({"bootstrap.servers": bootstrap})
        listed = admin.list_topics(timeout=FLUSH_TIMEOUT_S).topics
        assert len(listed[OFFSETS_TOPIC].partitions) == OFFSETS_PARTITIONS

        expected = {(OFFSETS_TOPIC, p) for p in range(OFFSETS_PARTITIONS)}
        c = consumer(bootstrap)
        c.subscribe([f"^{OFFSETS_TOPIC}$"])
        try:
            deadline = time.monotonic() + WAIT_S
            while {(tp.topic, tp.partition) for tp in c.assignment()} != expected:
                assert time.monotonic() < deadline, (
                    f"assigned {c.assignment()}, not every {OFFSETS_TOPIC} partition, "
                    f"within {WAIT_S}s"
                )
                message = c.poll(POLL_S)  # the group's own records are there to read
                assert message is None or message.error() is None, message.error()
            wire = Wire(bootstrap)
            try:
                [group] = wire.call(ConsumerGroupDescribeRequest(group_ids=["rg"]), 1).groups
            finally:
                wire.close()
            [member] = group.members
            assert member.subscribed_topic_regex == f"(^{OFFSETS_TOPIC}$)"
            assert {
                (t.topic_name, p) for t in member.assignment.topic_partitions for p in t.partitions
            } == expected
        finally:
            c.close()


def test_classic_group_becomes_consumer_group_when_empty(tmp_path: Path) -> None:
    """A classic group with members refuses a KIP-848 member (GROUP_ID_NOT_FOUND: Kafka's
    answer with group.consumer.migration.policy=disabled; online migration is not implemented);
    once empty, the first KIP-848 member turns it into a consumer group that resumes after the
    classic group's committed offsets."""
    with run_broker(tmp_path / "b", OVERRIDES) as broker:
        bootstrap = broker.bootstrap_servers
        create_topic(bootstrap, "rt", PARTITIONS)
        old = [b"old-%d" % i for i in range(8)]
        produce(bootstrap, old)
        classic = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "rg",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        classic.subscribe(["rt"])
        got: list[bytes] = []
        try:
            poll_until([classic], lambda: len(got) >= len(old), got, "the classic group's reads")
            assert sorted(got) == sorted(old)
            wire = Wire(bootstrap)
            try:
                refused = wire.call(
                    ConsumerGroupHeartbeatRequest(
                        group_id="rg",
                        member_id="kip848",
                        member_epoch=0,
                        rebalance_timeout_ms=30_000,
                        subscribed_topic_names=["rt"],
                        topic_partitions=[],
                    ),
                    1,
                )
                [described] = wire.call(ConsumerGroupDescribeRequest(group_ids=["rg"]), 1).groups
            finally:
                wire.close()
            assert (described.error_code, described.error_message) == (
                ec.GROUP_ID_NOT_FOUND,
                "Group rg is not a consumer group.",
            )
            assert (refused.error_code, refused.error_message) == (
                ec.GROUP_ID_NOT_FOUND,
                "Group rg is not a consumer group",
            )
        finally:
            classic.close()

        new = [b"new-%d" % i for i in range(4)]
        produce(bootstrap, new)
        c = consumer(bootstrap)
        c.subscribe(["rt"])
        resumed: list[bytes] = []
        try:
            poll_until([c], lambda: len(resumed) >= len(new), resumed, "the new records")
            assert sorted(resumed) == sorted(new)
        finally:
            c.close()
        wire = Wire(bootstrap)
        try:
            [group] = wire.call(ConsumerGroupDescribeRequest(group_ids=["rg"]), 1).groups
        finally:
            wire.close()
        assert (group.error_code, group.group_state) == (ec.NONE, "Empty")


def test_librdkafka_gets_partitions_added_to_its_topic(tmp_path: Path) -> None:
    """CreatePartitions on a subscribed topic: the next heartbeat sees the new partition count,
    the group epoch goes up, and the member is assigned the new partitions and reads them."""
    with run_broker(tmp_path / "b", OVERRIDES) as broker:
        bootstrap = broker.bootstrap_servers
        create_topic(bootstrap, "rt", 2)
        c = consumer(bootstrap)
        c.subscribe(["rt"])
        got: list[bytes] = []
        try:
            poll_until([c], lambda: parts(c) == {0, 1}, got, "the first assignment")
            admin = AdminClient({"bootstrap.servers": bootstrap})
            admin.create_partitions([NewPartitions("rt", 4)])["rt"].result(FLUSH_TIMEOUT_S)
            poll_until([c], lambda: parts(c) == {0, 1, 2, 3}, got, "the new partitions")
            producer = Producer({"bootstrap.servers": bootstrap})
            producer.produce("rt", value=b"p3", partition=3)
            assert producer.flush(FLUSH_TIMEOUT_S) == 0
            poll_until([c], lambda: b"p3" in got, got, "the record of partition 3")
        finally:
            c.close()
