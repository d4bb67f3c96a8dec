"""The share-group offset admin operations of the group coordinator (Kafka 4.4's
GroupCoordinatorService / GroupMetadataManager): DescribeShareGroupOffsets,
AlterShareGroupOffsets and DeleteShareGroupOffsets, in domain terms (the handlers translate).

A share group's "offsets" are its share-partitions' start offsets, kept by the share
coordinator; the group coordinator only knows which share-partitions it initialized
(ShareGroupStatePartitionMetadata). So:

- describe reads each share-partition's state summary through the persister
  (ReadShareGroupStateSummary) and computes the lag as Kafka 4.4 does: the partition's latest
  offset minus the start offset minus the records already delivered-complete above it, when
  the state is initialized and the count known; -1 otherwise. Without topics it describes
  every initialized share-partition of the group (none for an unknown group, without error).
- alter (only an EMPTY group; a missing group is created, as Kafka does so that offsets can be
  set before the first consumer) initializes each named share-partition's state at the given
  start offset (InitializeShareGroupState), then records it as initialized.
- delete (only an existing EMPTY group) deletes the state of every initialized
  share-partition of each named topic (DeleteShareGroupState) and forgets it, so the next
  member starts from ``share.auto.offset.reset`` again.

The persister is reached through callables (``ferrokafka.share`` is a sibling layer).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ferrokafka.groups.share.group import ShareGroup, Topics
from ferrokafka.groups.share.records import changes, snapshot, state_metadata
from ferrokafka.protocol import error_codes as ec

if TYPE_CHECKING:
    from ferrokafka.groups.share.service import ShareGroups

ZERO_UUID = uuid.UUID(int=0)
NOT_INITIALIZED = -1
# Kafka's Errors.X.message() texts, which its coordinator puts in these answers.
UNKNOWN_TOPIC_MESSAGE = "This server does not host this topic-partition."
NON_EMPTY_MESSAGE = "The group is not empty."
NO_OFFSETS_MESSAGE = "There is no offset information to delete."
# Kafka's Errors.X.message() of the codes these answers carry with a message.
_MESSAGES = {
    ec.UNKNOWN_TOPIC_OR_PARTITION: UNKNOWN_TOPIC_MESSAGE,
    ec.NON_EMPTY_GROUP: NON_EMPTY_MESSAGE,
    ec.INVALID_GROUP_ID: "The configured groupId is invalid.",
    ec.NOT_COORDINATOR: "This is not the correct coordinator.",
    ec.COORDINATOR_NOT_AVAILABLE: "The coordinator is not available.",
    ec.COORDINATOR_LOAD_IN_PROGRESS: "The coordinator is loading and hence can't process requests.",
}
# Share-partitions one request may touch: each costs a persister call.
PARTITIONS_MAX = 10_000


@dataclass(frozen=True)
class StateSummary:
    """What describe needs of ReadShareGroupStateSummary's answer for one share-partition."""

    error_code: int
    start_offset: int = NOT_INITIALIZED
    leader_epoch: int = 0
    state_epoch: int = 0
    delivery_complete_count: int = -1


# (group id, topic id, partition) -> the state summary.
ReadSummary = Callable[[str, uuid.UUID, int], Awaitable[StateSummary]]
# (group id, topic id, partition, state epoch, start offset) -> error code.
InitializeAt = Callable[[str, uuid.UUID, int, int, int], Awaitable[int]]
# (group id, topic id, partition) -> error code.
DeleteState = Callable[[str, uuid.UUID, int], Awaitable[int]]
# (topic id, partition) -> (error code, latest offset): what Kafka's PartitionMetadataClient
# answers for ListOffsets LATEST.
LatestOffset = Callable[[uuid.UUID, int], Awaitable[tuple[int, int]]]


@dataclass(frozen=True)
class PartitionResult:
    partition: int
    error_code: int = ec.NONE
    error_message: str | None = None
    start_offset: int = NOT_INITIALIZED
    leader_epoch: int = 0
    lag: int = -1


@dataclass
class TopicResult:
    name: str
    topic_id: uuid.UUID = ZERO_UUID
    partitions: list[PartitionResult] = field(default_factory=list)
    error_code: int = ec.NONE  # delete answers per topic
    error_message: str | None = None


@dataclass
class GroupResult:
    error_code: int = ec.NONE
    error_message: str | None = None
    topics: list[TopicResult] = field(default_factory=list)


def _message(code: int) -> str | None:
    return _MESSAGES.get(code, ec.error_name(code) if code else None)


def _topic_ids(topics: Topics) -> dict[uuid.UUID, str]:
    return {topic_id: name for name, (topic_id, _) in topics.items()}


class ShareGroupOffsets:
    """The three operations, for one group coordinator's share groups."""

    def __init__(
        self,
        groups: ShareGroups,
        topics: Callable[[], Topics],
        read_summary: ReadSummary,
        initialize_at: InitializeAt,
        delete_state: DeleteState,
        latest_offset: LatestOffset,
    ) -> None:
        self.groups = groups
        self.topics = topics
        self.read_summary = read_summary
        self.initialize_at = initialize_at
        self.delete_state = delete_state
        self.latest_offset = latest_offset

    # -- describe ------------------------------------------------------------------------------

    async def describe(
        self, group_id: str, wanted: Sequence[tuple[str, Sequence[int]]] | None
    ) -> GroupResult:
        """``wanted`` None: every initialized share-partition of the group."""
        code = self.groups.error_code(group_id)
        if code:
            return GroupResult(code)
        topics = self.topics()
        result = GroupResult()
        asked: list[tuple[str, uuid.UUID, list[int]]] = []
        if wanted is None:
            group = self.groups.share_group(group_id)
            names = _topic_ids(topics)
            initialized = group.initialized if group is not None else {}
            for topic_id, done in sorted(initialized.items(), key=str):
                if topic_id in names:
                    asked.append((names[topic_id], topic_id, sorted(done)))
        else:
            for name, parts in wanted:
                found = topics.get(name)
                if found is None:
                    result.topics.append(
                        TopicResult(
                            name,
                            partitions=[
                                PartitionResult(
                                    p, ec.UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_MESSAGE
                                )
                                for p in parts
                            ],
                        )
                    )
                else:
                    asked.append((name, found[0], list(parts)))
        budget = PARTITIONS_MAX
        for name, topic_id, indexes in asked:
            topic = TopicResult(name, topic_id)
            for p in indexes[:budget]:
                topic.partitions.append(await self._describe_one(group_id, topic_id, p))
            budget -= len(topic.partitions)
            result.topics.append(topic)
        return result

    async def _describe_one(self, group_id: str, topic_id: uuid.UUID, p: int) -> PartitionResult:
        s = await self.read_summary(group_id, topic_id, p)
        if s.error_code or s.start_offset == NOT_INITIALIZED or s.delivery_complete_count == -1:
            # Kafka 4.4 drops the summary's error here: no start offset, epoch 0, no lag.
            if s.error_code:
                return PartitionResult(p)
            return PartitionResult(p, start_offset=s.start_offset, leader_epoch=s.leader_epoch)
        code, latest = await self.latest_offset(topic_id, p)
        if code:
            return PartitionResult(p, code, _message(code))
        if latest < 0:  # not known here
            return PartitionResult(p, start_offset=s.start_offset, leader_epoch=s.leader_epoch)
        return PartitionResult(
            p,
            start_offset=s.start_offset,
            leader_epoch=s.leader_epoch,
            lag=latest - s.start_offset - s.delivery_complete_count,
        )

    # -- alter ---------------------------------------------------------------------------------

    async def alter(
        self, group_id: str, wanted: Sequence[tuple[str, Sequence[tuple[int, int]]]]
    ) -> GroupResult:
        if not group_id:
            return GroupResult(ec.INVALID_GROUP_ID, _message(ec.INVALID_GROUP_ID))
        code = self.groups.error_code(group_id)
        if code:
            return GroupResult(code, _message(code))
        if not wanted:
            return GroupResult()
        async with self.groups.locked(group_id):
            current = self.groups.coordinator.get_group(group_id)
            if current is not None and not isinstance(current, ShareGroup):
                return GroupResult(ec.GROUP_ID_NOT_FOUND, f"Group {group_id} is not a share group.")
            if current is not None and not current.is_empty():
                return GroupResult(ec.NON_EMPTY_GROUP, NON_EMPTY_MESSAGE)
            work = (
                current.clone()
                if current is not None
                else ShareGroup(group_id, self.groups.group_config(group_id))
            )
            before = snapshot(work, exists=current is not None)
            result = await self._alter_partitions(work, wanted)
            records = changes(before, work)

            def adopt() -> None:
                if current is not None:
                    current.adopt(work)
                elif self.groups.coordinator.get_group(group_id) is None:
                    self.groups.coordinator.add_group(work)

            code = await self.groups.coordinator.write(group_id, records, adopt)
            if code:
                return GroupResult(code, _message(code))
            return result

    async def _alter_partitions(
        self, work: ShareGroup, wanted: Sequence[tuple[str, Sequence[tuple[int, int]]]]
    ) -> GroupResult:
        topics = self.topics()
        result = GroupResult()
        budget = PARTITIONS_MAX
        for name, parts in wanted:
            found = topics.get(name)
            if found is None:
                result.topics.append(
                    TopicResult(
                        name,
                        partitions=[
                            PartitionResult(p, ec.UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_MESSAGE)
                            for p, _ in parts
                        ],
                    )
                )
                continue
            topic_id, count = found
            topic = TopicResult(name, topic_id)
            done: set[int] = set()
            for p, start_offset in parts[:budget]:
                if p >= count:
                    topic.partitions.append(
                        PartitionResult(p, ec.UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_MESSAGE)
                    )
                    continue
                code = await self.initialize_at(
                    work.group_id, topic_id, p, work.group_epoch, start_offset
                )
                topic.partitions.append(PartitionResult(p, code, _message(code) if code else None))
                if not code:
                    done.add(p)
            budget -= len(topic.partitions)
            if done:
                work.topic_names[topic_id] = name
                work.initialized[topic_id] = work.initialized.get(
                    topic_id, frozenset()
                ) | frozenset(done)
            result.topics.append(topic)
        return result

    # -- delete --------------------------------------------------------------------------------

    async def delete(self, group_id: str, names: Sequence[str]) -> GroupResult:
        if not group_id:
            return GroupResult(ec.INVALID_GROUP_ID, _message(ec.INVALID_GROUP_ID))
        code = self.groups.error_code(group_id)
        if code:
            return GroupResult(code, _message(code))
        if not names:
            return GroupResult()
        async with self.groups.locked(group_id):
            current = self.groups.coordinator.get_group(group_id)
            if current is None:
                return GroupResult(ec.GROUP_ID_NOT_FOUND, f"Group {group_id} not found.")
            if not isinstance(current, ShareGroup):
                return GroupResult(ec.GROUP_ID_NOT_FOUND, f"Group {group_id} is not a share group.")
            if not current.is_empty():
                return GroupResult(ec.NON_EMPTY_GROUP, NON_EMPTY_MESSAGE)
            work = current.clone()
            deleted, errors = await self._delete_topics(work, names)
            if work.initialized != current.initialized:
                code = await self.groups.coordinator.write(
                    group_id, [state_metadata(work)], lambda: current.adopt(work)
                )
                if code:
                    return GroupResult(code, _message(code))
            return GroupResult(topics=deleted + errors)

    async def _delete_topics(
        self, work: ShareGroup, names: Sequence[str]
    ) -> tuple[list[TopicResult], list[TopicResult]]:
        topics = self.topics()
        deleted: list[TopicResult] = []
        errors: list[TopicResult] = []
        for name in names:
            found = topics.get(name)
            if found is None:
                errors.append(
                    TopicResult(
                        name,
                        error_code=ec.UNKNOWN_TOPIC_OR_PARTITION,
                        error_message=UNKNOWN_TOPIC_MESSAGE,
                    )
                )
                continue
            topic_id = found[0]
            parts = work.initialized.get(topic_id)
            if parts is None:
                errors.append(
                    TopicResult(
                        name,
                        error_code=ec.UNKNOWN_TOPIC_OR_PARTITION,
                        error_message=NO_OFFSETS_MESSAGE,
                    )
                )
                continue
            topic = TopicResult(name, topic_id)
            for p in sorted(parts):
                code = await self.delete_state(work.group_id, topic_id, p)
                if code and not topic.error_code:
                    topic.error_code, topic.error_message = code, _message(code)
            if not topic.error_code:
                del work.initialized[topic_id]
            deleted.append(topic)
        return deleted, errors
