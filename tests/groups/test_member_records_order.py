"""The order of the records a consumer or streams group writes (groups.member_records, shared
by both kinds): Kafka's order within one change (member metadata, group metadata and the
kind's own group records, targets, the assignment epoch, current assignments), and the order
of a removed member's and a deleted group's tombstones."""

from __future__ import annotations

import uuid

from ferrokafka.groups.consumer import records as consumer_records
from ferrokafka.groups.consumer.group import ConsumerGroup
from ferrokafka.groups.consumer.group import GroupConfig as ConsumerConfig
from ferrokafka.groups.consumer.group import Heartbeat as ConsumerHeartbeat
from ferrokafka.groups.serde import decode_record
from ferrokafka.groups.streams import records as streams_records
from ferrokafka.groups.streams import topology as t
from ferrokafka.groups.streams.group import GroupConfig as StreamsConfig
from ferrokafka.groups.streams.group import Heartbeat as StreamsHeartbeat
from ferrokafka.groups.streams.group import StreamsGroup


def names(records: list) -> list[tuple[str, bool]]:
    """Each record's key type (without its kind's prefix) and whether it is a tombstone."""
    out = []
    for key, value in records:
        name = type(decode_record(key, value).key).__name__
        out.append((name.removeprefix("ConsumerGroup").removeprefix("StreamsGroup"), value is None))
    return out


JOIN = [
    ("MemberMetadataKey", False),
    ("MetadataKey", False),
    ("TargetAssignmentMemberKey", False),
    ("TargetAssignmentMetadataKey", False),
    ("CurrentMemberAssignmentKey", False),
]
MEMBER_TOMBSTONES = [
    ("CurrentMemberAssignmentKey", True),
    ("TargetAssignmentMemberKey", True),
    ("MemberMetadataKey", True),
]


def test_consumer_group_record_order() -> None:
    topics = {"t": (uuid.UUID(int=1), 4)}
    group = ConsumerGroup("g", ConsumerConfig())
    before = consumer_records.snapshot(group, exists=False)
    hb = ConsumerHeartbeat("a", 0, rebalance_timeout_ms=100, subscribed_topic_names=["t"])
    group.heartbeat(hb, topics, 0)
    assert names(consumer_records.changes(before, group)) == JOIN
    before = consumer_records.snapshot(group)
    group.heartbeat(ConsumerHeartbeat("a", -1), topics, 1)
    assert names(consumer_records.changes(before, group)) == [
        *MEMBER_TOMBSTONES,
        ("MetadataKey", False),
    ]
    group.heartbeat(hb, topics, 2)
    assert names(consumer_records.group_tombstones(group)) == [
        *MEMBER_TOMBSTONES,
        ("TargetAssignmentMetadataKey", True),
        ("MetadataKey", True),
    ]


def test_streams_group_record_order() -> None:
    topology = t.Topology(0, (t.Subtopology("0", source_topics=("in",)),))
    group = StreamsGroup("s", StreamsConfig())
    before = streams_records.snapshot(group, exists=False)
    hb = StreamsHeartbeat("a", 0, rebalance_timeout_ms=100, topology=topology, process_id="p")
    group.heartbeat(hb, {"in": 2}, 0)
    # the topology record follows the group epoch's
    assert names(streams_records.changes(before, group)) == [
        *JOIN[:2],
        ("TopologyKey", False),
        *JOIN[2:],
    ]
    assert names(streams_records.group_tombstones(group)) == [
        *MEMBER_TOMBSTONES,
        ("TargetAssignmentMetadataKey", True),
        ("TopologyKey", True),
        ("MetadataKey", True),
    ]
