"""Every version of every group API this broker serves, over the wire: a one-member group
joins, syncs, heartbeats, commits, fetches, is listed and described, leaves and is deleted,
with the request and response at version N (fields a version lacks stay out)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from server_wire import RawClient as Client

from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages import APIS
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

OVERRIDES = {"group.initial.rebalance.delay.ms": 0, "offsets.topic.num.partitions": 2}


def versions(api_key: int) -> range:
    info = APIS[api_key]
    return range(info.min_version, info.max_stable_version + 1)


@pytest.fixture(scope="module")
def broker() -> Iterator[tuple[RunningBroker, uuid.UUID]]:
    with run_broker(None, OVERRIDES) as running, Client(running.bootstrap_servers) as c:
        created = c.call(
            CreateTopicsRequest(
                topics=[
                    CreateTopicsRequest.CreatableTopic(
                        name="t", num_partitions=1, replication_factor=1
                    )
                ],
                timeout_ms=10_000,
            ),
            7,
        )
        assert created.topics[0].error_code == 0
        yield running, created.topics[0].topic_id


def _find(c: Client, key: str, key_type: int, version: int) -> tuple[int, int]:
    """(error code, node id) for one key, at ``version`` (v4+ batches keys)."""
    if version < 4:
        found = c.call(FindCoordinatorRequest(key=key, key_type=key_type), version)
        return found.error_code, found.node_id
    request = FindCoordinatorRequest(key_type=key_type, coordinator_keys=[key, key + "2"])
    first, second = c.call(request, version).coordinators
    assert (first.key, second.key, second.error_code) == (key, key + "2", first.error_code)
    return first.error_code, first.node_id


@pytest.mark.parametrize("version", versions(FindCoordinatorRequest.API_KEY))
def test_find_coordinator(broker, version: int) -> None:
    running, _ = broker
    with Client(running.bootstrap_servers) as c:
        assert _find(c, "g", 0, version) == (0, 1)
        if version >= 1:  # key types: 1 transaction, anything else unknown
            assert _find(c, "tx", 1, version) == (0, 1)
            assert _find(c, "x", 9, version)[0] == ec.INVALID_REQUEST


@pytest.mark.parametrize("version", versions(JoinGroupRequest.API_KEY))
def test_group_lifecycle_at_join_version(broker, version: int) -> None:
    running, topic_id = broker
    group = f"life-{version}"
    with Client(running.bootstrap_servers, timeout_s=30) as c:
        join = JoinGroupRequest(
            group_id=group,
            session_timeout_ms=10_000,
            rebalance_timeout_ms=10_000,
            member_id="",
            protocol_type="consumer",
            protocols=[JoinGroupRequest.JoinGroupRequestProtocol(name="range", metadata=b"md")],
        )
        joined = c.call(join, version)
        if version >= 4:
            assert joined.error_code == ec.MEMBER_ID_REQUIRED
            join.member_id = joined.member_id
            joined = c.call(join, version)
        assert (joined.error_code, joined.generation_id, joined.protocol_name) == (0, 1, "range")
        assert [(m.member_id, bytes(m.metadata)) for m in joined.members] == [
            (joined.member_id, b"md")
        ]
        member = joined.member_id
        sync_version = min(version, SyncGroupRequest.valid_versions()[1])
        synced = c.call(
            SyncGroupRequest(
                group_id=group,
                generation_id=1,
                member_id=member,
                protocol_type="consumer",
                protocol_name="range",
                assignments=[
                    SyncGroupRequest.SyncGroupRequestAssignment(member_id=member, assignment=b"a")
                ],
            ),
            sync_version,
        )
        assert (synced.error_code, bytes(synced.assignment)) == (0, b"a")
        for hb_version in versions(HeartbeatRequest.API_KEY):
            hb = HeartbeatRequest(group_id=group, generation_id=1, member_id=member)
            assert c.call(hb, hb_version).error_code == 0
        for commit_version in versions(OffsetCommitRequest.API_KEY):
            commit = OffsetCommitRequest(
                group_id=group,
                generation_id_or_member_epoch=1,
                member_id=member,
                topics=[
                    OffsetCommitRequest.OffsetCommitRequestTopic(
                        name="t",
                        topic_id=topic_id,
                        partitions=[
                            OffsetCommitRequest.OffsetCommitRequestPartition(
                                partition_index=0,
                                committed_offset=commit_version,
                                committed_metadata="m",
                            )
                        ],
                    )
                ],
            )
            answer = c.call(commit, commit_version).topics[0]
            assert answer.partitions[0].error_code == 0, commit_version
        unknown_id = OffsetCommitRequest(
            group_id=group,
            generation_id_or_member_epoch=1,
            member_id=member,
            topics=[
                OffsetCommitRequest.OffsetCommitRequestTopic(
                    topic_id=uuid.uuid4(),
                    partitions=[
                        OffsetCommitRequest.OffsetCommitRequestPartition(
                            partition_index=0, committed_offset=99
                        )
                    ],
                )
            ],
        )
        answer = c.call(unknown_id, 10).topics[0]
        assert answer.partitions[0].error_code == ec.UNKNOWN_TOPIC_ID
        for fetch_version in versions(OffsetFetchRequest.API_KEY):
            assert _fetched(c, group, topic_id, fetch_version) == versions(8)[-1]
            assert _fetched_all(c, group, topic_id, fetch_version) == {("t", 0): versions(8)[-1]}
        for list_version in versions(ListGroupsRequest.API_KEY):
            listed = c.call(ListGroupsRequest(), list_version)
            assert group in [g.group_id for g in listed.groups]
        for describe_version in versions(DescribeGroupsRequest.API_KEY):
            (described,) = c.call(DescribeGroupsRequest(groups=[group]), describe_version).groups
            assert (described.group_state, described.members[0].member_id) == ("Stable", member)
        leave_version = min(version, LeaveGroupRequest.valid_versions()[1])
        if leave_version < 3:
            leave = LeaveGroupRequest(group_id=group, member_id=member)
        else:
            leave = LeaveGroupRequest(
                group_id=group, members=[LeaveGroupRequest.MemberIdentity(member_id=member)]
            )
        assert c.call(leave, leave_version).error_code == 0
        delete_version = version % (DeleteGroupsRequest.valid_versions()[1] + 1)
        deleted = c.call(DeleteGroupsRequest(groups_names=[group]), delete_version)
        assert deleted.results[0].error_code == 0


def _fetched(c: Client, group: str, topic_id: uuid.UUID, version: int) -> int:
    if version < 8:
        request = OffsetFetchRequest(
            group_id=group,
            topics=[OffsetFetchRequest.OffsetFetchRequestTopic(name="t", partition_indexes=[0])],
        )
        (topic,) = c.call(request, version).topics
        return topic.partitions[0].committed_offset
    request = OffsetFetchRequest(
        groups=[
            OffsetFetchRequest.OffsetFetchRequestGroup(
                group_id=group,
                topics=[
                    OffsetFetchRequest.OffsetFetchRequestTopics(
                        name="t", topic_id=topic_id, partition_indexes=[0]
                    )
                ],
            )
        ]
    )
    (result,) = c.call(request, version).groups
    assert result.error_code == 0
    if version >= 10:
        assert result.topics[0].topic_id == topic_id
    return result.topics[0].partitions[0].committed_offset


def _fetched_all(c: Client, group: str, topic_id: uuid.UUID, version: int) -> dict:
    """Every committed offset of the group (topics null; v1 cannot ask that, so it names t)."""
    if version < 8:
        topics = None
        if version < 2:
            topics = [OffsetFetchRequest.OffsetFetchRequestTopic(name="t", partition_indexes=[0])]
        response = c.call(OffsetFetchRequest(group_id=group, topics=topics), version)
        return {
            (t.name, p.partition_index): p.committed_offset
            for t in response.topics
            for p in t.partitions
        }
    request = OffsetFetchRequest(
        groups=[OffsetFetchRequest.OffsetFetchRequestGroup(group_id=group, topics=None)]
    )
    (result,) = c.call(request, version).groups
    if version >= 10:
        assert all(t.topic_id == topic_id for t in result.topics)
    return {
        (t.name if version < 10 else "t", p.partition_index): p.committed_offset
        for t in result.topics
        for p in t.partitions
    }
