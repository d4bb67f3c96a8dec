"""The classic group APIs over the wire (our protocol codecs against the in-process broker):
the join/sync/heartbeat cycle, and bad input getting Kafka's error codes without hurting the
group: stale generations, unknown members, oversized metadata, unknown groups, heartbeats
during a rebalance, session timeouts out of range, group.max.size, static member fencing,
inconsistent protocols. After each bad request a good commit still works."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator

import pytest
from server_wire import RawClient

from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.delete_groups import DeleteGroupsRequest
from ferrokafka.protocol.messages.describe_groups import DescribeGroupsRequest
from ferrokafka.protocol.messages.find_coordinator import FindCoordinatorRequest
from ferrokafka.protocol.messages.heartbeat import HeartbeatRequest
from ferrokafka.protocol.messages.join_group import JoinGroupRequest
from ferrokafka.protocol.messages.leave_group import LeaveGroupRequest
from ferrokafka.protocol.messages.list_groups import ListGroupsRequest
from ferrokafka.protocol.messages.offset_commit import OffsetCommitRequest
from ferrokafka.protocol.messages.offset_fetch import OffsetFetchRequest
from ferrokafka.protocol.messages.sync_group import SyncGroupRequest
from ferrokafka.testing import RunningBroker, run_broker

OVERRIDES = {
    "group.initial.rebalance.delay.ms": 0,
    "offsets.topic.num.partitions": 2,
    "group.max.size": 2,
}
JOIN_TIMEOUT_S = 30


Client = RawClient


@pytest.fixture(scope="module")
def broker() -> Iterator[RunningBroker]:
    with run_broker(None, OVERRIDES) as running:
        with Client(running.bootstrap_servers) as c:
            created = c.call(
                CreateTopicsRequest(
                    topics=[
                        CreateTopicsRequest.CreatableTopic(
                            name="t", num_partitions=2, replication_factor=1
                        )
                    ],
                    timeout_ms=10_000,
                ),
                5,
            )
            assert created.topics[0].error_code == 0
            found = c.call(FindCoordinatorRequest(key="wg", key_type=0), 3)
            assert found.error_code == 0
            assert f"{found.host}:{found.port}" == running.bootstrap_servers
        yield running


def join(broker: RunningBroker, group: str, member_id: str = "", **kw: object):
    request = JoinGroupRequest(
        group_id=group,
        session_timeout_ms=kw.pop("session_timeout_ms", 10_000),
        rebalance_timeout_ms=kw.pop("rebalance_timeout_ms", 10_000),
        member_id=member_id,
        group_instance_id=kw.pop("group_instance_id", None),
        protocol_type=kw.pop("protocol_type", "consumer"),
        protocols=[
            JoinGroupRequest.JoinGroupRequestProtocol(
                name="range", metadata=kw.pop("metadata", b"m")
            )
        ],
    )
    with Client(broker.bootstrap_servers, timeout_s=JOIN_TIMEOUT_S) as c:
        return c.call(request, kw.pop("version", 7))


def join_with_id(broker: RunningBroker, group: str):
    first = join(broker, group)
    assert first.error_code == ec.MEMBER_ID_REQUIRED
    assert first.member_id
    return join(broker, group, first.member_id)


def sync(c: Client, group: str, generation: int, member_id: str, assignment: bytes = b""):
    request = SyncGroupRequest(
        group_id=group,
        generation_id=generation,
        member_id=member_id,
        protocol_type="consumer",
        protocol_name="range",
        assignments=[
            SyncGroupRequest.SyncGroupRequestAssignment(member_id=member_id, assignment=assignment)
        ]
        if assignment
        else [],
    )
    return c.call(request, 5)


def heartbeat(c: Client, group: str, generation: int, member_id: str, instance=None) -> int:
    request = HeartbeatRequest(
        group_id=group, generation_id=generation, member_id=member_id, group_instance_id=instance
    )
    return c.call(request, 4).error_code


def commit(c: Client, group: str, generation: int, member_id: str, **kw: object) -> int:
    request = OffsetCommitRequest(
        group_id=group,
        generation_id_or_member_epoch=generation,
        member_id=member_id,
        topics=[
            OffsetCommitRequest.OffsetCommitRequestTopic(
                name=kw.pop("topic", "t"),
                partitions=[
                    OffsetCommitRequest.OffsetCommitRequestPartition(
                        partition_index=kw.pop("partition", 0),
                        committed_offset=kw.pop("offset", 5),
                        committed_metadata=kw.pop("metadata", "meta"),
                    )
                ],
            )
        ],
    )
    return c.call(request, 8).topics[0].partitions[0].error_code


def fetched(c: Client, group: str) -> dict[tuple[str, int], int]:
    request = OffsetFetchRequest(
        groups=[OffsetFetchRequest.OffsetFetchRequestGroup(group_id=group, topics=None)]
    )
    (result,) = c.call(request, 8).groups
    assert result.error_code == 0
    return {
        (t.name, p.partition_index): p.committed_offset for t in result.topics for p in t.partitions
    }


def test_join_sync_heartbeat_and_bad_input(broker: RunningBroker) -> None:
    a = join_with_id(broker, "wg")
    assert (a.error_code, a.generation_id, a.leader) == (0, 1, a.member_id)
    assert [m.member_id for m in a.members] == [a.member_id]
    with Client(broker.bootstrap_servers) as c:
        assert sync(c, "wg", 1, a.member_id, b"plan").assignment == b"plan"
        assert heartbeat(c, "wg", 1, a.member_id) == ec.NONE
        assert heartbeat(c, "wg", 0, a.member_id) == ec.ILLEGAL_GENERATION
        assert heartbeat(c, "wg", 1, "nobody") == ec.UNKNOWN_MEMBER_ID
        assert heartbeat(c, "nogroup", 1, a.member_id) == ec.UNKNOWN_MEMBER_ID
        assert commit(c, "wg", 0, a.member_id) == ec.ILLEGAL_GENERATION
        assert commit(c, "wg", 1, "nobody") == ec.UNKNOWN_MEMBER_ID
        assert commit(c, "wg", 1, a.member_id, metadata="x" * 4097) == ec.OFFSET_METADATA_TOO_LARGE
        assert commit(c, "wg", 1, a.member_id, topic="nope") == ec.UNKNOWN_TOPIC_OR_PARTITION
        assert commit(c, "wg", 1, a.member_id, partition=7) == ec.UNKNOWN_TOPIC_OR_PARTITION
        assert commit(c, "wg", -1, "") == ec.UNKNOWN_MEMBER_ID  # not empty: no simple commit
        assert fetched(c, "wg") == {}  # nothing bad was stored
        assert commit(c, "wg", 1, a.member_id, metadata="x" * 4096) == ec.NONE
        assert fetched(c, "wg") == {("t", 0): 5}

        described = c.call(DescribeGroupsRequest(groups=["wg", "unknown"]), 5).groups
        assert (described[0].group_state, described[0].protocol_data) == ("Stable", "range")
        assert described[0].members[0].member_assignment == b"plan"
        assert (described[1].error_code, described[1].group_state) == (0, "Dead")
        missing = c.call(DescribeGroupsRequest(groups=["unknown"]), 6).groups[0]
        assert missing.error_code == ec.GROUP_ID_NOT_FOUND
        deleted = c.call(DeleteGroupsRequest(groups_names=["unknown", "wg"]), 2).results
        assert [r.error_code for r in deleted] == [ec.GROUP_ID_NOT_FOUND, ec.NON_EMPTY_GROUP]

        assert join(broker, "wg", session_timeout_ms=1000).error_code == ec.INVALID_SESSION_TIMEOUT
        assert join(broker, "wg", protocol_type="connect").error_code == (
            ec.INCONSISTENT_GROUP_PROTOCOL
        )

        # A second member starts a rebalance: the first one's heartbeat says so.
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            b_join = pool.submit(join, broker, "wg", "", version=3)  # v3: no MEMBER_ID_REQUIRED
            for _ in range(100):
                code = heartbeat(c, "wg", 1, a.member_id)
                if code == ec.REBALANCE_IN_PROGRESS:
                    break
            assert code == ec.REBALANCE_IN_PROGRESS
            # Commits stay allowed while the group prepares the rebalance (Kafka does the same).
            assert commit(c, "wg", 1, a.member_id, offset=6) == ec.NONE
            # group.max.size is 2: a third member is refused while the group rebalances.
            assert join(broker, "wg", version=3).error_code == ec.GROUP_MAX_SIZE_REACHED
            a_join = pool.submit(join, broker, "wg", a.member_id)
            a2, b2 = a_join.result(JOIN_TIMEOUT_S), b_join.result(JOIN_TIMEOUT_S)
        assert (a2.error_code, b2.error_code) == (0, 0)
        assert a2.generation_id == b2.generation_id == 2
        assert len([r for r in (a2, b2) if r.members]) == 1  # only the leader sees the members
        assert commit(c, "wg", 1, a.member_id) == ec.ILLEGAL_GENERATION
        assert commit(c, "wg", 2, a.member_id) == ec.REBALANCE_IN_PROGRESS  # not synced yet

        leave = c.call(
            LeaveGroupRequest(
                group_id="wg",
                members=[
                    LeaveGroupRequest.MemberIdentity(member_id="ghost"),
                    LeaveGroupRequest.MemberIdentity(member_id=a.member_id),
                    LeaveGroupRequest.MemberIdentity(member_id=b2.member_id),
                ],
            ),
            4,
        )
        assert [m.error_code for m in leave.members] == [ec.UNKNOWN_MEMBER_ID, 0, 0]
        for _ in range(50):  # emptied by the rebalance the leave starts (a timer)
            listed = c.call(ListGroupsRequest(states_filter=["empty"]), 4).groups
            if listed:
                break
            time.sleep(0.05)
        assert [(g.group_id, g.group_state) for g in listed] == [("wg", "Empty")]
        assert commit(c, "wg", -1, "", offset=9) == ec.NONE  # an empty group takes simple commits
        assert fetched(c, "wg") == {("t", 0): 9}
        deleted = c.call(DeleteGroupsRequest(groups_names=["wg"]), 2).results
        assert deleted[0].error_code == ec.NONE
        assert fetched(c, "wg") == {}


def test_static_member_rejoin_replaces_the_old_id(broker: RunningBroker) -> None:
    first = join(broker, "sg", group_instance_id="i1")
    assert first.error_code == 0  # static members never get MEMBER_ID_REQUIRED
    with Client(broker.bootstrap_servers) as c:
        assert sync(c, "sg", 1, first.member_id, b"asg").error_code == 0
        again = join(broker, "sg", group_instance_id="i1")  # restarted, same metadata
        assert again.error_code == 0
        assert again.member_id != first.member_id
        assert again.generation_id == 1  # no rebalance
        assert heartbeat(c, "sg", 1, first.member_id, "i1") == ec.FENCED_INSTANCE_ID
        assert commit(c, "sg", 1, first.member_id) == ec.UNKNOWN_MEMBER_ID
        assert heartbeat(c, "sg", 1, again.member_id, "i1") == ec.NONE
        assert sync(c, "sg", 1, again.member_id).assignment == b"asg"
        changed = join(broker, "sg", group_instance_id="i1", metadata=b"other")
        assert (changed.error_code, changed.generation_id) == (0, 2)  # new metadata: rebalance

        def leave(member_id: str, instance: str | None) -> int:
            identity = LeaveGroupRequest.MemberIdentity(
                member_id=member_id, group_instance_id=instance
            )
            response = c.call(LeaveGroupRequest(group_id="sg", members=[identity]), 5)
            return response.members[0].error_code

        assert leave(again.member_id, "i1") == ec.FENCED_INSTANCE_ID  # an older id of i1
        assert leave("", "i9") == ec.UNKNOWN_MEMBER_ID
        assert leave("", "i1") == ec.NONE  # by instance id alone (admin removal)
        for _ in range(50):  # the last member left: the rebalance that empties it is a timer
            (described,) = c.call(DescribeGroupsRequest(groups=["sg"]), 5).groups
            if described.group_state == "Empty":
                break
            time.sleep(0.05)
        assert (described.group_state, described.members) == ("Empty", [])


def test_initial_rebalance_delay_gathers_members() -> None:
    """A new group waits group.initial.rebalance.delay.ms for more members: two joins 0.5 s
    apart make one generation with both, not two generations."""
    overrides = {**OVERRIDES, "group.initial.rebalance.delay.ms": 1500}
    with run_broker(None, overrides) as running:
        with Client(running.bootstrap_servers) as c:  # creates __consumer_offsets
            assert c.call(FindCoordinatorRequest(key="late", key_type=0), 3).error_code == 0
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            first = pool.submit(join, running, "late", "", version=3)
            time.sleep(0.5)
            second = pool.submit(join, running, "late", "", version=3)
            a, b = first.result(JOIN_TIMEOUT_S), second.result(JOIN_TIMEOUT_S)
    assert (a.error_code, b.error_code) == (0, 0)
    assert a.generation_id == b.generation_id == 1
    leader = a if a.members else b
    assert sorted(m.member_id for m in leader.members) == sorted([a.member_id, b.member_id])


def test_static_leader_that_does_not_rejoin_is_replaced_as_leader(broker: RunningBroker) -> None:
    """A static member stays through a rebalance it misses (KIP-345), but the leader that
    computes the assignment must be a member that rejoined."""
    timeouts = {"rebalance_timeout_ms": 1500, "session_timeout_ms": 20_000}
    first = join(broker, "lead", group_instance_id="s1", version=5, **timeouts)
    assert (first.error_code, first.leader) == (0, first.member_id)
    with Client(broker.bootstrap_servers) as c:
        assert sync(c, "lead", 1, first.member_id, b"x").error_code == 0
    second = join(broker, "lead", version=3, **timeouts)  # waits out the rebalance timeout
    assert (second.error_code, second.generation_id) == (0, 2)
    assert second.leader == second.member_id
    assert sorted(m.member_id for m in second.members) == sorted(
        [first.member_id, second.member_id]
    )


def test_describe_groups_on_a_consumer_group(broker: RunningBroker) -> None:
    """A KIP-848 group (made by librdkafka with group.protocol=consumer) is not a classic
    group: DescribeGroups says Dead, with GROUP_ID_NOT_FOUND from v6 on, as Kafka 4.3 does."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap_servers,
            "group.id": "kip848",
            "group.protocol": "consumer",
        }
    )
    try:
        consumer.subscribe(["t"])
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        while not consumer.assignment():
            assert time.monotonic() < deadline, "no assignment from the consumer group"
            consumer.poll(0.2)
        with Client(broker.bootstrap_servers) as c:
            (v6,) = c.call(DescribeGroupsRequest(groups=["kip848"]), 6).groups
            assert (v6.error_code, v6.error_message, v6.group_state) == (
                ec.GROUP_ID_NOT_FOUND,
                "Group kip848 is not a classic group.",
                "Dead",
            )
            (v5,) = c.call(DescribeGroupsRequest(groups=["kip848"]), 5).groups
            assert (v5.error_code, v5.group_state, v5.members) == (0, "Dead", [])
            listed = c.call(ListGroupsRequest(types_filter=["consumer"]), 5).groups
            assert [(g.group_id, g.group_type) for g in listed] == [("kip848", "consumer")]
    finally:
        consumer.close()


def test_many_members_join_at_once() -> None:
    """Ten members join a new group at once (v4+: each with its MEMBER_ID_REQUIRED round
    trip): one generation, one leader that sees all ten, every member answered."""
    overrides = {**OVERRIDES, "group.initial.rebalance.delay.ms": 1500, "group.max.size": 10}
    with run_broker(None, overrides) as running:
        with Client(running.bootstrap_servers) as c:
            assert c.call(FindCoordinatorRequest(key="many", key_type=0), 3).error_code == 0
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            results = list(pool.map(lambda _: join_with_id(running, "many"), range(10)))
        assert [r.error_code for r in results] == [0] * 10
        assert {r.generation_id for r in results} == {1}
        leaders = [r for r in results if r.members]
        assert len(leaders) == 1 and leaders[0].leader == leaders[0].member_id
        assert sorted(m.member_id for m in leaders[0].members) == sorted(
            r.member_id for r in results
        )
        # An eleventh member is over group.max.size.
        assert join(running, "many", version=3).error_code == ec.GROUP_MAX_SIZE_REACHED
