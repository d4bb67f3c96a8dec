"""Group administration over the wire, for `ferrokafka groups`: list, describe, fetch and commit
offsets, delete — each request sent to the group's coordinator (FindCoordinator first), as
Kafka's admin client does. Answers come back as plain dataclasses with Kafka's names for
states and errors; the command module only formats them.

Two describe APIs exist: DescribeGroups for classic groups (members' assignments are opaque
ConsumerProtocol bytes, decoded here) and ConsumerGroupDescribe for KIP-848 consumer groups.
Like Kafka's admin client we ask ConsumerGroupDescribe first when the broker has it and fall back
to DescribeGroups when the group is not a consumer group (GROUP_ID_NOT_FOUND) or the API is
missing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ferrokafka.protocol import ProtocolError
from ferrokafka.protocol.error_codes import GROUP_ID_NOT_FOUND, NONE, UNSUPPORTED_VERSION
from ferrokafka.protocol.messages.consumer_group_describe import ConsumerGroupDescribeRequest
from ferrokafka.protocol.messages.consumer_protocol_assignment import ConsumerProtocolAssignment
from ferrokafka.protocol.messages.delete_groups import DeleteGroupsRequest
from ferrokafka.protocol.messages.describe_groups import DescribeGroupsRequest
from ferrokafka.protocol.messages.list_groups import ListGroupsRequest
from ferrokafka.protocol.messages.offset_commit import OffsetCommitRequest
from ferrokafka.protocol.messages.offset_fetch import OffsetFetchRequest
from ferrokafka.protocol.schema import decode_struct
from ferrokafka.protocol.wire import Reader

from .client import (
    COORDINATOR_RETRY_S,
    COORDINATOR_TYPE_GROUP,
    RETRIABLE_COORDINATOR_ERRORS,
    ClientError,
    Connection,
    KafkaApiError,
    KafkaClient,
    TopicInfo,
    check,
)

T = TypeVar("T")

# OffsetFetch v8 batched groups (request.groups, response.groups).
OFFSET_FETCH_BATCH_VERSION = 8
# A committed offset of -1 means "none committed" in OffsetFetch answers.
NO_OFFSET = -1
# Kafka's admin commits with no generation and no member: allowed only while the group has no
# members (Empty) or does not exist yet, which is why reset-offsets checks the state first.
ADMIN_GENERATION = -1
ADMIN_MEMBER_ID = ""
# DescribeGroups answers a group the coordinator does not know as state Dead.
STATE_DEAD = "Dead"
# The newest ConsumerProtocolAssignment version we decode; newer ones keep the fields of the
# older (Kafka's ConsumerProtocol reads a newer version with the newest schema it knows).
ASSIGNMENT_MAX_VERSION = 3
CONSUMER_PROTOCOL_TYPE = "consumer"


@dataclass
class ListedGroup:
    group_id: str
    state: str
    group_type: str  # "classic", "consumer", ... ("" from brokers before ListGroups v5)
    protocol_type: str  # "consumer" for consumer groups, "" for offset-only (simple) groups


@dataclass
class Assignment:
    version: int
    partitions: dict[str, list[int]]
    user_data: bytes | None


@dataclass
class Member:
    member_id: str
    instance_id: str | None
    client_id: str
    host: str
    assignment: dict[str, list[int]]
    # Only for classic members: the decoded ConsumerProtocol assignment.
    raw_assignment: Assignment | None = None


@dataclass
class GroupDescription:
    group_id: str
    state: str
    group_type: str  # "classic" (DescribeGroups) or "consumer" (ConsumerGroupDescribe)
    protocol_type: str
    protocol: str  # classic: the chosen assignor; consumer groups: the server assignor
    members: list[Member] = field(default_factory=list)

    @property
    def exists(self) -> bool:
        return self.state != STATE_DEAD


def decode_assignment(data: bytes) -> Assignment:
    """A classic consumer's assignment: int16 version, then ConsumerProtocolAssignment."""
    if len(data) < 2:
        raise ClientError(f"member assignment of {len(data)} bytes is too short")
    version = int.from_bytes(data[:2], "big", signed=True)
    if version < 0:
        raise ClientError(f"member assignment has version {version}")
    reader = Reader(memoryview(data), 2)
    try:
        body = decode_struct(
            ConsumerProtocolAssignment, reader, min(version, ASSIGNMENT_MAX_VERSION)
        )
    except ProtocolError as exc:
        raise ClientError(f"cannot decode a member assignment: {exc}") from exc
    partitions: dict[str, list[int]] = {}
    for tp in body.assigned_partitions:
        partitions.setdefault(tp.topic, []).extend(tp.partitions)
    user_data = None if body.user_data is None else bytes(body.user_data)
    return Assignment(version, partitions, user_data)


def list_groups(client: KafkaClient) -> list[ListedGroup]:
    """Every group on every broker (each broker answers for the groups it coordinates)."""
    client.metadata([])  # learns the brokers
    groups: dict[str, ListedGroup] = {}
    for node_id in sorted(client.brokers):
        conn = client.node(node_id)
        version = conn.versions.get(ListGroupsRequest.API_KEY)
        if version is None:
            raise ClientError("the broker does not support ListGroups")
        response = conn.call(ListGroupsRequest(), version)
        check(response.error_code)
        for g in response.groups:
            groups[g.group_id] = ListedGroup(
                g.group_id, g.group_state, g.group_type, g.protocol_type
            )
    return sorted(groups.values(), key=lambda g: g.group_id)


def at_coordinator(
    client: KafkaClient,
    key: str,
    attempt: Callable[[Connection], T],
    key_type: int = COORDINATOR_TYPE_GROUP,
) -> T:
    """``attempt`` at the coordinator of ``key`` (a group id by default), found again and
    retried while the answer is that the coordinator is loading or has moved (as Kafka's admin
    client retries), up to the client timeout."""
    deadline = time.monotonic() + client.timeout_s
    while True:
        conn = client.coordinator(key, key_type)
        try:
            return attempt(conn)
        except KafkaApiError as exc:
            if exc.code not in RETRIABLE_COORDINATOR_ERRORS or time.monotonic() >= deadline:
                raise
        time.sleep(COORDINATOR_RETRY_S)


def describe_group(client: KafkaClient, group_id: str) -> GroupDescription:
    return at_coordinator(client, group_id, lambda conn: _describe_group(conn, group_id))


def _describe_group(conn: Connection, group_id: str) -> GroupDescription:
    if ConsumerGroupDescribeRequest.API_KEY in conn.versions:
        response = conn.call(ConsumerGroupDescribeRequest(group_ids=[group_id]))
        [g] = response.groups
        if g.error_code == NONE:
            members = [
                Member(
                    m.member_id,
                    m.instance_id,
                    m.client_id,
                    m.client_host,
                    {tp.topic_name: sorted(tp.partitions) for tp in m.assignment.topic_partitions},
                )
                for m in g.members
            ]
            return GroupDescription(
                group_id,
                g.group_state,
                "consumer",
                CONSUMER_PROTOCOL_TYPE,
                g.assignor_name,
                members,
            )
        if g.error_code not in (GROUP_ID_NOT_FOUND, UNSUPPORTED_VERSION):
            raise KafkaApiError(g.error_code, g.error_message)
    response = conn.call(DescribeGroupsRequest(groups=[group_id]))
    [g] = response.groups
    if g.error_code == GROUP_ID_NOT_FOUND:
        return GroupDescription(group_id, STATE_DEAD, "classic", "", "")
    check(g.error_code, g.error_message)
    members = []
    for m in g.members:
        raw = None
        assignment: dict[str, list[int]] = {}
        if g.protocol_type == CONSUMER_PROTOCOL_TYPE and m.member_assignment:
            raw = decode_assignment(bytes(m.member_assignment))
            assignment = {t: sorted(ps) for t, ps in raw.partitions.items()}
        members.append(
            Member(m.member_id, m.group_instance_id, m.client_id, m.client_host, assignment, raw)
        )
    return GroupDescription(
        group_id, g.group_state, "classic", g.protocol_type, g.protocol_data, members
    )


def fetch_offsets(
    client: KafkaClient, group_id: str, topics_by_id: dict[uuid.UUID, str]
) -> dict[tuple[str, int], int]:
    """Every committed offset of ``group_id``: (topic, partition) -> offset. ``topics_by_id``
    names topics in answers that carry only a topic id (OffsetFetch v10)."""
    return at_coordinator(
        client, group_id, lambda conn: _fetch_offsets(conn, group_id, topics_by_id)
    )


def _fetch_offsets(
    conn: Connection, group_id: str, topics_by_id: dict[uuid.UUID, str]
) -> dict[tuple[str, int], int]:
    version = conn.versions.get(OffsetFetchRequest.API_KEY)
    if version is None:
        raise ClientError("the broker does not support OffsetFetch")
    batch = version >= OFFSET_FETCH_BATCH_VERSION
    # topics=None asks for every topic the group has offsets for (v2+).
    if batch:
        request = OffsetFetchRequest(
            groups=[OffsetFetchRequest.OffsetFetchRequestGroup(group_id=group_id, topics=None)]
        )
    else:
        request = OffsetFetchRequest(group_id=group_id, topics=None)
    response = conn.call(request, version)
    if batch:
        [answer] = response.groups
        topics = answer.topics
    else:
        answer, topics = response, response.topics
    check(answer.error_code)
    out: dict[tuple[str, int], int] = {}
    for t in topics:
        name = t.name or topics_by_id.get(getattr(t, "topic_id", None), "")
        if not name:
            raise ClientError(f"OffsetFetch named topic id {t.topic_id}, unknown to Metadata")
        for p in t.partitions:
            check(p.error_code)
            if p.committed_offset != NO_OFFSET:
                out[(name, p.partition_index)] = int(p.committed_offset)
    return out


def commit_offsets(
    client: KafkaClient,
    group_id: str,
    offsets: dict[tuple[str, int], int],
    topics: dict[str, TopicInfo],
) -> dict[tuple[str, int], int]:
    """Commit ``offsets`` as an admin (no generation, no member): (topic, partition) -> error
    code per partition (NONE when it took)."""
    return at_coordinator(
        client, group_id, lambda conn: _commit_offsets(conn, group_id, offsets, topics)
    )


def _commit_offsets(
    conn: Connection,
    group_id: str,
    offsets: dict[tuple[str, int], int],
    topics: dict[str, TopicInfo],
) -> dict[tuple[str, int], int]:
    version = conn.versions.get(OffsetCommitRequest.API_KEY)
    if version is None:
        raise ClientError("the broker does not support OffsetCommit")
    by_topic: dict[str, list[tuple[int, int]]] = {}
    for (topic, partition), offset in sorted(offsets.items()):
        by_topic.setdefault(topic, []).append((partition, offset))
    request = OffsetCommitRequest(
        group_id=group_id,
        generation_id_or_member_epoch=ADMIN_GENERATION,
        member_id=ADMIN_MEMBER_ID,
        topics=[
            # Name and id both: versions up to 9 send the name, 10+ the id.
            OffsetCommitRequest.OffsetCommitRequestTopic(
                name=topic,
                topic_id=topics[topic].topic_id,
                partitions=[
                    OffsetCommitRequest.OffsetCommitRequestPartition(
                        partition_index=p, committed_offset=o, committed_metadata=""
                    )
                    for p, o in parts
                ],
            )
            for topic, parts in by_topic.items()
        ],
    )
    response = conn.call(request, version)
    names_by_id = {info.topic_id: name for name, info in topics.items()}
    out: dict[tuple[str, int], int] = {}
    for t in response.topics:
        name = t.name or names_by_id.get(t.topic_id, "")
        for p in t.partitions:
            out[(name, p.partition_index)] = p.error_code
    # The coordinator answers "not me / not ready" in every partition: retry it whole.
    codes = set(out.values())
    if len(codes) == 1 and (code := codes.pop()) in RETRIABLE_COORDINATOR_ERRORS:
        raise KafkaApiError(code)
    return out


def delete_group(client: KafkaClient, group_id: str) -> int:
    """DeleteGroups for one group at its coordinator: the error code (NONE when deleted)."""
    return at_coordinator(client, group_id, lambda conn: _delete_group(conn, group_id))


def _delete_group(conn: Connection, group_id: str) -> int:
    if DeleteGroupsRequest.API_KEY not in conn.versions:
        raise ClientError("the broker does not support DeleteGroups")
    [result] = conn.call(DeleteGroupsRequest(groups_names=[group_id])).results
    if result.error_code in RETRIABLE_COORDINATOR_ERRORS:
        raise KafkaApiError(result.error_code)
    return int(result.error_code)
