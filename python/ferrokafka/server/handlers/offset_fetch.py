"""OffsetFetch (key 9, v1-10): committed offsets of one group (v1-7) or several (v8+), of the
named partitions or of every partition the group has offsets for (topics null, v2+).

``require_stable`` (v7+) asks for UNSTABLE_OFFSET_COMMIT, per partition, where an open
transaction holds a pending offset commit (TxnOffsetCommit before its marker), as Kafka's
OffsetMetadataManager.fetchOffsets answers; without it the committed offset is answered.
Asking for all partitions lists those with a committed offset only (Kafka's fetchAllOffsets).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from ferrokafka.groups.coordinator import GroupCoordinator
from ferrokafka.groups.offsets import CommittedOffset
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.offset_fetch import OffsetFetchRequest, OffsetFetchResponse
from ferrokafka.server.authorize import AclOperation, ResourceType, authorized
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node

GROUPS_VERSION = 8
MEMBER_VERSION = 9
TOPIC_ID_VERSION = 10
# v2+ report a group-level error at the top too (v1 only per partition).
TOP_ERROR_VERSION = 2
# Groups in one v8+ request (Kafka: the request size only).
GROUPS_MAX = 10_000

# (name or None, topic id, [(partition, offset, leader epoch, metadata, error)])
_Topic = tuple[str | None, uuid.UUID, list[tuple[int, int, int, str | None, int]]]


class OffsetFetchHandler:
    def __init__(self, node: Node, coordinator: GroupCoordinator) -> None:
        self.node = node
        self.coordinator = coordinator

    async def __call__(
        self, ctx: RequestContext, request: OffsetFetchRequest
    ) -> OffsetFetchResponse:
        version = ctx.api_version
        if version < GROUPS_VERSION:
            wanted = None
            if request.topics is not None:
                wanted = [
                    (t.name, uuid.UUID(int=0), list(t.partition_indexes)) for t in request.topics
                ]
            stable = request.require_stable
            code, topics = self._fetch(ctx, request.group_id, None, -1, wanted, version, stable)
            if code != ec.NONE and version < TOP_ERROR_VERSION:
                topics = [
                    (n, i, [(p, -1, -1, "", code) for p, *_ in parts]) for n, i, parts in topics
                ]
            return OffsetFetchResponse(
                error_code=code,
                topics=[
                    OffsetFetchResponse.OffsetFetchResponseTopic(
                        name=name or "",
                        partitions=[
                            OffsetFetchResponse.OffsetFetchResponsePartition(
                                partition_index=p,
                                committed_offset=offset,
                                committed_leader_epoch=epoch,
                                metadata=metadata,
                                error_code=err,
                            )
                            for p, offset, epoch, metadata, err in parts
                        ],
                    )
                    for name, _, parts in topics
                ],
            )
        groups = []
        for group in request.groups[:GROUPS_MAX]:
            wanted = None
            if group.topics is not None:
                wanted = [(t.name, t.topic_id, list(t.partition_indexes)) for t in group.topics]
            member_id = group.member_id if version >= MEMBER_VERSION else None
            code, topics = self._fetch(
                ctx,
                group.group_id,
                member_id,
                group.member_epoch,
                wanted,
                version,
                request.require_stable,
            )
            groups.append(
                OffsetFetchResponse.OffsetFetchResponseGroup(
                    group_id=group.group_id,
                    error_code=code,
                    topics=[
                        OffsetFetchResponse.OffsetFetchResponseTopics(
                            name=name or "",
                            topic_id=topic_id,
                            partitions=[
                                OffsetFetchResponse.OffsetFetchResponsePartitions(
                                    partition_index=p,
                                    committed_offset=offset,
                                    committed_leader_epoch=epoch,
                                    metadata=metadata,
                                    error_code=err,
                                )
                                for p, offset, epoch, metadata, err in parts
                            ],
                        )
                        for name, topic_id, parts in topics
                    ],
                )
            )
        return OffsetFetchResponse(groups=groups)

    def _fetch(
        self,
        ctx: RequestContext,
        group_id: str,
        member_id: str | None,
        member_epoch: int,
        wanted: list[tuple[str, uuid.UUID, list[int]]] | None,
        version: int,
        require_stable: bool = False,
    ) -> tuple[int, list[_Topic]]:
        code = self.coordinator.error_code(group_id or None)
        if not authorized(self.node, ctx, AclOperation.DESCRIBE, ResourceType.GROUP, group_id):
            code = ec.GROUP_AUTHORIZATION_FAILED
        if code == ec.NONE:
            group = self.coordinator.get_group(group_id)
            if group is not None and member_id is not None:
                code = group.validate_offset_fetch(member_id, member_epoch)
        if code != ec.NONE:
            if wanted is None:
                return code, []
            return code, [(n, i, [(p, -1, -1, "", ec.NONE) for p in ps]) for n, i, ps in wanted]
        store = self.coordinator.offsets
        offsets = store.of_group(group_id)

        def unstable(name: str | None, p: int) -> bool:
            return require_stable and name is not None and store.has_pending(group_id, name, p)

        if wanted is None:
            return ec.NONE, self._all(ctx, offsets, version, unstable)
        topics: list[_Topic] = []
        for name, topic_id, partitions in wanted:
            topic_code = ec.NONE
            if version >= TOPIC_ID_VERSION:
                image_topic = self.node.image.topics_by_id.get(topic_id)
                name = image_topic.name if image_topic is not None else None
                if name is None:
                    topic_code = ec.UNKNOWN_TOPIC_ID
            if name is not None and not authorized(
                self.node, ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, name
            ):
                topics.append(
                    (
                        name,
                        topic_id,
                        [_partition(p, None, ec.TOPIC_AUTHORIZATION_FAILED) for p in partitions],
                    )
                )
                continue
            parts = []
            for p in partitions:
                if unstable(name, p):
                    parts.append(_partition(p, None, ec.UNSTABLE_OFFSET_COMMIT))
                    continue
                committed = offsets.get((name, p)) if name is not None else None
                parts.append(_partition(p, committed, topic_code))
            topics.append((name, topic_id, parts))
        return ec.NONE, topics

    def _all(
        self,
        ctx: RequestContext,
        offsets: dict[tuple[str, int], CommittedOffset],
        version: int,
        unstable: Callable[[str, int], bool],
    ) -> list[_Topic]:
        by_topic: dict[str, list[tuple[int, int, int, str | None, int]]] = {}
        for (name, p), committed in sorted(offsets.items()):
            if unstable(name, p):
                by_topic.setdefault(name, []).append(_partition(p, None, ec.UNSTABLE_OFFSET_COMMIT))
                continue
            by_topic.setdefault(name, []).append(_partition(p, committed, ec.NONE))
        topics: list[_Topic] = []
        for name, parts in by_topic.items():
            if not authorized(self.node, ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, name):
                continue  # Kafka leaves out the topics the principal may not describe
            image_topic = self.node.image.topics_by_name.get(name)
            if version >= TOPIC_ID_VERSION and image_topic is None:
                continue  # a deleted topic has no id to name it by
            topic_id = image_topic.topic_id if image_topic is not None else uuid.UUID(int=0)
            topics.append((name, topic_id, parts))
        return topics


def _partition(
    index: int, committed: CommittedOffset | None, code: int
) -> tuple[int, int, int, str | None, int]:
    if committed is None:
        return index, -1, -1, "", code
    return index, committed.offset, committed.leader_epoch, committed.metadata, code
