"""OffsetCommit (key 8, v2-10): committed offsets go to ``__consumer_offsets`` (one batch per
request) and into the coordinator's store once appended.

The group decides whether the committer may commit (``Group.validate_offset_commit``:
generation or member epoch, member id, fenced static instance); a commit with a negative
generation to an unknown group is a simple commit from outside any group, and makes an empty
classic group, as in Kafka. v10 names topics by id.
"""

from __future__ import annotations

import uuid

from ferrokafka.groups.base import OffsetCommitter
from ferrokafka.groups.classic.protocol import ClassicGroups
from ferrokafka.groups.coordinator import GroupCoordinator
from ferrokafka.groups.offsets import CommittedOffset, offset_record
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.offset_commit import OffsetCommitRequest, OffsetCommitResponse
from ferrokafka.server.authorize import AclOperation, ResourceType, authorized
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node

TOPIC_ID_VERSION = 10
# v9+ talks to consumer groups too: an unknown group is GROUP_ID_NOT_FOUND, not a stale member.
GROUP_NOT_FOUND_VERSION = 9
# v2-4 carry a retention time; -1 means the broker's default (no expire timestamp).
RETENTION_VERSIONS = range(2, 5)
# One request commits at most this many partitions (Kafka: the request size only).
PARTITIONS_MAX = 100_000
# Append errors as Kafka's coordinator reports them to a committer.
_WRITE_ERRORS = {
    ec.UNKNOWN_TOPIC_OR_PARTITION: ec.COORDINATOR_NOT_AVAILABLE,
    ec.NOT_ENOUGH_REPLICAS: ec.COORDINATOR_NOT_AVAILABLE,
    ec.REQUEST_TIMED_OUT: ec.COORDINATOR_NOT_AVAILABLE,
    ec.NOT_LEADER_OR_FOLLOWER: ec.NOT_COORDINATOR,
    ec.KAFKA_STORAGE_ERROR: ec.NOT_COORDINATOR,
    ec.MESSAGE_TOO_LARGE: ec.INVALID_COMMIT_OFFSET_SIZE,
    ec.RECORD_LIST_TOO_LARGE: ec.INVALID_COMMIT_OFFSET_SIZE,
}


class OffsetCommitHandler:
    def __init__(self, node: Node, coordinator: GroupCoordinator, classic: ClassicGroups) -> None:
        self.node = node
        self.coordinator = coordinator
        self.classic = classic

    async def __call__(
        self, ctx: RequestContext, request: OffsetCommitRequest
    ) -> OffsetCommitResponse:
        version = ctx.api_version
        group_code, new_group = self._validate(ctx, request, version)
        codes: dict[tuple[int, int], int] = {}  # (topic position, partition position) -> code
        names: list[str | None] = []
        records = []
        accepted: list[tuple[str, int, CommittedOffset]] = []
        now = self.coordinator.now_ms()
        expire = -1
        if version in RETENTION_VERSIONS and request.retention_time_ms >= 0:
            expire = now + request.retention_time_ms
        metadata_max = int(self.coordinator.config("offset.metadata.max.bytes"))
        count = 0
        for t, topic in enumerate(request.topics):
            name, topic_code = self._topic_name(topic, version)
            if (
                topic_code == ec.NONE
                and name is not None
                and not authorized(self.node, ctx, AclOperation.READ, ResourceType.TOPIC, name)
            ):
                topic_code = ec.TOPIC_AUTHORIZATION_FAILED
            names.append(name)
            for p, part in enumerate(topic.partitions):
                count += 1
                code = group_code or topic_code
                if code == ec.NONE and count > PARTITIONS_MAX:
                    code = ec.INVALID_REQUEST
                if code == ec.NONE and not self._partition_exists(name, part.partition_index):
                    code = ec.UNKNOWN_TOPIC_OR_PARTITION
                metadata = part.committed_metadata or ""
                # Kafka compares String.length(): UTF-16 code units, not bytes.
                if code == ec.NONE and len(metadata.encode("utf-16-le")) // 2 > metadata_max:
                    code = ec.OFFSET_METADATA_TOO_LARGE
                codes[(t, p)] = code
                if code == ec.NONE:
                    assert name is not None
                    committed = CommittedOffset(
                        offset=part.committed_offset,
                        leader_epoch=part.committed_leader_epoch,
                        metadata=metadata,
                        commit_timestamp_ms=now,
                        expire_timestamp_ms=expire,
                        topic_id=self._topic_id(name),
                    )
                    accepted.append((name, part.partition_index, committed))
                    records.append(
                        offset_record(request.group_id, name, part.partition_index, committed)
                    )
        if records:
            write_code = await self.coordinator.write(
                request.group_id, records, lambda: self._apply(request, accepted, new_group)
            )
            if write_code != ec.NONE:
                failed = _WRITE_ERRORS.get(write_code, write_code)
                codes = {key: failed if code == ec.NONE else code for key, code in codes.items()}
            elif request.member_id:
                self.classic.touch(request.group_id, request.member_id)
        return OffsetCommitResponse(
            topics=[
                OffsetCommitResponse.OffsetCommitResponseTopic(
                    name=names[t] or "",
                    topic_id=topic.topic_id,
                    partitions=[
                        OffsetCommitResponse.OffsetCommitResponsePartition(
                            partition_index=part.partition_index, error_code=codes[(t, p)]
                        )
                        for p, part in enumerate(topic.partitions)
                    ],
                )
                for t, topic in enumerate(request.topics)
            ]
        )

    def _validate(
        self, ctx: RequestContext, request: OffsetCommitRequest, version: int
    ) -> tuple[int, bool]:
        """The error every partition gets (0: none), and whether the commit makes a group."""
        if not authorized(self.node, ctx, AclOperation.READ, ResourceType.GROUP, request.group_id):
            return ec.GROUP_AUTHORIZATION_FAILED, False
        code = self.coordinator.error_code(request.group_id or None)
        if code != ec.NONE:
            return code, False
        if not request.group_id:
            return ec.INVALID_GROUP_ID, False
        generation = request.generation_id_or_member_epoch
        group = self.coordinator.get_group(request.group_id)
        if group is None:
            if generation < 0:
                return ec.NONE, True
            if version >= GROUP_NOT_FOUND_VERSION:
                return ec.GROUP_ID_NOT_FOUND, False
            return ec.ILLEGAL_GENERATION, False
        code = group.validate_offset_commit(
            OffsetCommitter(request.member_id, request.group_instance_id, generation, version)
        )
        return code, False

    def _apply(
        self,
        request: OffsetCommitRequest,
        accepted: list[tuple[str, int, CommittedOffset]],
        new_group: bool,
    ) -> None:
        group_id = request.group_id
        if new_group and self.coordinator.get_group(group_id) is None:
            self.coordinator.add_group(self.classic.simple_group(group_id))
        for name, partition, committed in accepted:
            self.coordinator.offsets.put(group_id, name, partition, committed)

    def _topic_name(
        self, topic: OffsetCommitRequest.OffsetCommitRequestTopic, version: int
    ) -> tuple[str | None, int]:
        if version < TOPIC_ID_VERSION:
            return topic.name, ec.NONE
        image_topic = self.node.image.topics_by_id.get(topic.topic_id)
        if image_topic is None or topic.topic_id == uuid.UUID(int=0):
            return None, ec.UNKNOWN_TOPIC_ID
        return image_topic.name, ec.NONE

    def _topic_id(self, name: str) -> uuid.UUID:
        topic = self.node.image.topics_by_name.get(name)
        return topic.topic_id if topic is not None else uuid.UUID(int=0)

    def _partition_exists(self, name: str | None, partition: int) -> bool:
        if name is None:
            return False
        topic = self.node.image.topics_by_name.get(name)
        return topic is not None and partition in topic.partitions
