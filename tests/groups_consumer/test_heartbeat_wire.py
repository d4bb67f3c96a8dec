"""ConsumerGroupHeartbeat and ConsumerGroupDescribe on the wire: Kafka's request checks and
error codes, a v0 member id chosen by the coordinator, the description of a group, and the
group's state surviving a restart (its records on __consumer_offsets)."""

from __future__ import annotations

import time
from pathlib import Path

from cg_wire import create_topic

from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.consumer_group_describe import ConsumerGroupDescribeRequest
from ferrokafka.protocol.messages.consumer_group_heartbeat import ConsumerGroupHeartbeatRequest
from ferrokafka.testing import run_broker

HB = ConsumerGroupHeartbeatRequest


def join(member_id: str = "m1", group_id: str = "g", **fields) -> HB:
    base = dict(
        group_id=group_id,
        member_id=member_id,
        member_epoch=0,
        rebalance_timeout_ms=30_000,
        subscribed_topic_names=["t"],
        topic_partitions=[],
    )
    return HB(**{**base, **fields})


def test_request_checks(tmp_path: Path, wire_to) -> None:
    with run_broker(tmp_path / "b") as broker:
        wire = wire_to(broker.bootstrap_servers)
        wire.wait_coordinator("g")
        cases = [
            (join(group_id=""), 1, "GroupId can't be empty."),
            (join(member_id=""), 1, "MemberId can't be empty."),
            (
                join(rebalance_timeout_ms=-1),
                1,
                "RebalanceTimeoutMs must be provided in first request.",
            ),
            (join(topic_partitions=None), 1, "TopicPartitions must be empty when (re-)joining."),
            (
                join(subscribed_topic_names=None),
                1,
                "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.",
            ),
            (join(instance_id=""), 1, "InstanceId can't be empty."),
            (HB(group_id="g", member_id="m1", member_epoch=-2), 1, "InstanceId can't be null."),
            (HB(group_id="g", member_id="m1", member_epoch=-3), 1, "MemberEpoch is invalid."),
            (
                join(subscribed_topic_names=[]),
                1,
                "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.",
            ),
            (join(member_id=" "), 1, "MemberId can't be empty."),
            (HB(group_id="g", member_id="", member_epoch=-1), 0, "MemberId can't be empty."),
            (join(rack_id=" \t"), 1, "RackId can't be empty."),
        ]
        for request, version, message in cases:
            response = wire.call(request, version)
            assert (response.error_code, response.error_message) == (ec.INVALID_REQUEST, message)


def test_join_heartbeat_describe_and_errors(tmp_path: Path, wire_to) -> None:
    with run_broker(tmp_path / "b") as broker:
        create_topic(broker.bootstrap_servers, "t", 3)
        wire = wire_to(broker.bootstrap_servers)
        wire.wait_coordinator("g")

        # v0: the coordinator chooses the member id (Kafka's Uuid string, 22 characters).
        first = wire.call(join(member_id=""), 0)
        assert first.error_code == ec.NONE, first
        assert len(first.member_id) == 22 and first.member_epoch == 1
        assert first.heartbeat_interval_ms == 5000
        [assigned] = first.assignment.topic_partitions
        assert sorted(assigned.partitions) == [0, 1, 2]

        # A plain heartbeat with nothing new carries no assignment.
        again = wire.call(HB(group_id="g", member_id=first.member_id, member_epoch=1), 1)
        assert (again.error_code, again.member_epoch, again.assignment) == (ec.NONE, 1, None)

        errors = [
            (HB(group_id="g", member_id=first.member_id, member_epoch=7), ec.FENCED_MEMBER_EPOCH),
            (HB(group_id="g", member_id="nobody", member_epoch=1), ec.UNKNOWN_MEMBER_ID),
            (HB(group_id="other", member_id="x", member_epoch=3), ec.GROUP_ID_NOT_FOUND),
            (join(member_id="m2", server_assignor="sticky"), ec.UNSUPPORTED_ASSIGNOR),
            (
                join(member_id="m2", subscribed_topic_names=None, subscribed_topic_regex="t["),
                ec.INVALID_REGULAR_EXPRESSION,
            ),
        ]
        for request, code in errors:
            assert wire.call(request, 1).error_code == code, request

        second = wire.call(join(member_id="m2", server_assignor="range"), 1)
        assert second.error_code == ec.NONE and second.member_epoch == 2
        assert second.assignment.topic_partitions == []  # still owned by the first member

        described = wire.call(
            ConsumerGroupDescribeRequest(group_ids=["g", "missing", ""]), 1
        ).groups
        group, missing, empty = described
        assert (group.error_code, group.group_state) == (ec.NONE, "Reconciling")
        assert (group.group_epoch, group.assignment_epoch, group.assignor_name) == (2, 2, "range")
        members = {member.member_id: member for member in group.members}
        assert set(members) == {first.member_id, "m2"}
        target = {
            member_id: sorted(
                p for tp in member.target_assignment.topic_partitions for p in tp.partitions
            )
            for member_id, member in members.items()
        }
        # range: members in member id order get consecutive ranges, the first one more
        low, high = sorted([first.member_id, "m2"])
        assert target == {low: [0, 1], high: [2]}
        current = members[first.member_id].assignment.topic_partitions
        assert [(tp.topic_name, sorted(tp.partitions)) for tp in current] == [("t", [0, 1, 2])]
        assert members["m2"].member_type == 1 and members["m2"].client_id == "cg-wire-test"
        assert missing.error_code == ec.GROUP_ID_NOT_FOUND
        assert empty.error_code == ec.INVALID_GROUP_ID

        # Leaving: the member epoch -1 comes back and the group forgets the member.
        left = wire.call(HB(group_id="g", member_id="m2", member_epoch=-1), 1)
        assert (left.error_code, left.member_epoch) == (ec.NONE, -1)


def test_group_survives_restart(tmp_path: Path, wire_to) -> None:
    data = tmp_path / "b"
    with run_broker(data) as broker:
        create_topic(broker.bootstrap_servers, "t", 2)
        wire = wire_to(broker.bootstrap_servers)
        wire.wait_coordinator("g")
        joined = wire.call(join(member_id="m1", instance_id="i1"), 1)
        assert joined.error_code == ec.NONE
        before = wire.call(ConsumerGroupDescribeRequest(group_ids=["g"]), 1).groups[0]
    with run_broker(data) as broker:
        wire = wire_to(broker.bootstrap_servers)
        wire.wait_coordinator("g")
        after = wire.call(ConsumerGroupDescribeRequest(group_ids=["g"]), 1).groups[0]
        assert after.error_code == ec.NONE
        assert (after.group_epoch, after.assignment_epoch, after.group_state) == (
            before.group_epoch,
            before.assignment_epoch,
            "Stable",
        )
        assert after.members == before.members
        # The member goes on heartbeating at its epoch, without a rebalance.
        beat = wire.call(HB(group_id="g", member_id="m1", member_epoch=joined.member_epoch), 1)
        assert (beat.error_code, beat.member_epoch) == (ec.NONE, joined.member_epoch)
        # A static member must be released before another member takes its instance id.
        other = wire.call(join(member_id="m9", instance_id="i1"), 1)
        assert other.error_code == ec.UNRELEASED_INSTANCE_ID


def test_session_timeout_fences(tmp_path: Path, wire_to) -> None:
    overrides = {"group.consumer.session.timeout.ms": 1500}
    with run_broker(tmp_path / "b", overrides) as broker:
        create_topic(broker.bootstrap_servers, "t", 2)
        wire = wire_to(broker.bootstrap_servers)
        wire.wait_coordinator("g")
        joined = wire.call(join(member_id="m1"), 1)
        assert joined.error_code == ec.NONE
        deadline = time.monotonic() + 15
        while True:
            group = wire.call(ConsumerGroupDescribeRequest(group_ids=["g"]), 1).groups[0]
            if group.group_state == "Empty":
                break
            assert time.monotonic() < deadline, group
            time.sleep(0.2)
        beat = wire.call(HB(group_id="g", member_id="m1", member_epoch=joined.member_epoch), 1)
        assert beat.error_code == ec.UNKNOWN_MEMBER_ID
