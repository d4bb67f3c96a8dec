"""TxnOffsetCommit (key 28, v0-6): a transactional producer's offset commit
(``sendOffsetsToTransaction``). The offsets are written to ``__consumer_offsets`` in a
transactional batch of the producer and stay pending until the transaction coordinator's marker
(:meth:`GroupCoordinator.complete_transaction`) commits or aborts them.

Kafka's order (KafkaApis.handleTxnOffsetCommitRequest, GroupCoordinatorService and
OffsetMetadataManager.commitTransactionalOffset):

- unknown topics and partitions get UNKNOWN_TOPIC_OR_PARTITION (v6 names topics by id:
  UNKNOWN_TOPIC_ID), the rest go to the coordinator;
- coordinator errors (not here, loading, no ``__consumer_offsets``), an empty group id
  (INVALID_GROUP_ID);
- the partition of ``__consumer_offsets`` is verified with the transaction coordinator
  (KIP-890, :class:`~ferrokafka.txn.verification.TxnPartitionVerifier`) unless the producer's
  transaction already wrote there: v5+ (transaction version 2) adds it to the transaction, as
  AddOffsetsToTxn did; older versions only verify that it was added;
- the group: unknown with a generation below zero makes a simple group, else ILLEGAL_GENERATION
  (v6: GROUP_ID_NOT_FOUND); a known one checks member, instance and generation
  (``validate_offset_commit`` of an ``OffsetCommitter(..., transactional=True)``);
- per partition OFFSET_METADATA_TOO_LARGE; the rest are written and pending.

Errors of the verification and the write reach every partition that was written, mapped as
Kafka's CoordinatorOperationExceptionHelper maps them; v0-1 clients get
COORDINATOR_NOT_AVAILABLE for COORDINATOR_LOAD_IN_PROGRESS (KAFKA-7296).
"""

from __future__ import annotations

import uuid

from ferrokafka.groups.base import OffsetCommitter
from ferrokafka.groups.classic.protocol import ClassicGroups
from ferrokafka.groups.coordinator import OFFSETS_TOPIC, GroupCoordinator
from ferrokafka.groups.offsets import CommittedOffset, offset_record
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.txn_offset_commit import (
    TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node

# v0-1 clients (before KAFKA-7296) cannot retry COORDINATOR_LOAD_IN_PROGRESS.
LOAD_IN_PROGRESS_VERSION = 2
# v4+ understand TRANSACTION_ABORTABLE (KIP-890); older ones get INVALID_TXN_STATE.
ABORTABLE_VERSION = 4
# v5+ (transaction version 2) add the partition to the transaction themselves.
ADD_PARTITION_VERSION = 5
# v6 names topics by id, and may get GROUP_ID_NOT_FOUND and STALE_MEMBER_EPOCH (KIP-1319).
TOPIC_ID_VERSION = 6
# One request commits at most this many partitions (Kafka: the request size only).
PARTITIONS_MAX = 100_000
# Kafka's errors 90 and 121 (KIP-890), not in error_codes yet.
PRODUCER_FENCED = 90
TRANSACTION_ABORTABLE = 121
# Errors of the verification or the write, as Kafka's CoordinatorOperationExceptionHelper
# reports them.
_OPERATION_ERRORS = {
    ec.NETWORK_EXCEPTION: ec.COORDINATOR_LOAD_IN_PROGRESS,
    ec.UNKNOWN_TOPIC_OR_PARTITION: ec.COORDINATOR_NOT_AVAILABLE,
    ec.NOT_ENOUGH_REPLICAS: ec.COORDINATOR_NOT_AVAILABLE,
    ec.REQUEST_TIMED_OUT: ec.COORDINATOR_NOT_AVAILABLE,
    ec.NOT_LEADER_OR_FOLLOWER: ec.NOT_COORDINATOR,
    ec.KAFKA_STORAGE_ERROR: ec.NOT_COORDINATOR,
    ec.MESSAGE_TOO_LARGE: ec.UNKNOWN_SERVER_ERROR,
    ec.RECORD_LIST_TOO_LARGE: ec.UNKNOWN_SERVER_ERROR,
    ec.INVALID_FETCH_SIZE: ec.UNKNOWN_SERVER_ERROR,
}

_Key = tuple[int, int]  # (topic position, partition position) in the request


class TxnOffsetCommitHandler:
    def __init__(self, node: Node, coordinator: GroupCoordinator, classic: ClassicGroups) -> None:
        self.node = node
        self.coordinator = coordinator
        self.classic = classic

    async def __call__(
        self, ctx: RequestContext, request: TxnOffsetCommitRequest
    ) -> TxnOffsetCommitResponse:
        version = ctx.api_version
        codes: dict[_Key, int] = {}
        names: list[str | None] = []
        valid: list[tuple[_Key, str, TxnOffsetCommitRequest.TxnOffsetCommitRequestPartition]] = []
        count = 0
        for t, topic in enumerate(request.topics):
            name = self._topic_name(topic, version)
            names.append(name)
            for p, part in enumerate(topic.partitions):
                count += 1
                if name is None:
                    codes[(t, p)] = (
                        ec.UNKNOWN_TOPIC_ID
                        if version >= TOPIC_ID_VERSION
                        else ec.UNKNOWN_TOPIC_OR_PARTITION
                    )
                elif not self._partition_exists(name, part.partition_index):
                    codes[(t, p)] = ec.UNKNOWN_TOPIC_OR_PARTITION
                elif count > PARTITIONS_MAX:
                    codes[(t, p)] = ec.INVALID_REQUEST
                else:
                    valid.append(((t, p), name, part))
        if valid:
            codes.update(await self._commit(request, version, valid))
        if version < LOAD_IN_PROGRESS_VERSION:
            codes = {
                k: ec.COORDINATOR_NOT_AVAILABLE if c == ec.COORDINATOR_LOAD_IN_PROGRESS else c
                for k, c in codes.items()
            }
        return TxnOffsetCommitResponse(
            topics=[
                TxnOffsetCommitResponse.TxnOffsetCommitResponseTopic(
                    name=names[t] or topic.name,
                    topic_id=topic.topic_id,
                    partitions=[
                        TxnOffsetCommitResponse.TxnOffsetCommitResponsePartition(
                            partition_index=part.partition_index, error_code=codes[(t, p)]
                        )
                        for p, part in enumerate(topic.partitions)
                    ],
                )
                for t, topic in enumerate(request.topics)
            ]
        )

    async def _commit(
        self,
        request: TxnOffsetCommitRequest,
        version: int,
        valid: list[tuple[_Key, str, TxnOffsetCommitRequest.TxnOffsetCommitRequestPartition]],
    ) -> dict[_Key, int]:
        """The codes of the partitions that exist: written and pending, or why not."""
        code = self.coordinator.error_code(request.group_id or None)
        if code == ec.NONE and not request.group_id:
            code = ec.INVALID_GROUP_ID
        if code == ec.NONE:
            code = await self._verify(request, version)
        new_group = False
        if code == ec.NONE:
            code, new_group = self._validate_group(request, version)
        if code != ec.NONE:
            return {key: code for key, _, _ in valid}
        codes: dict[_Key, int] = {}
        metadata_max = int(self.coordinator.config("offset.metadata.max.bytes"))
        now = self.coordinator.now_ms()
        accepted: list[tuple[str, int, CommittedOffset]] = []
        for key, name, part in valid:
            metadata = part.committed_metadata or ""
            # Kafka compares String.length(): UTF-16 code units, not bytes.
            if len(metadata.encode("utf-16-le")) // 2 > metadata_max:
                codes[key] = ec.OFFSET_METADATA_TOO_LARGE
                continue
            codes[key] = ec.NONE
            committed = CommittedOffset(
                offset=part.committed_offset,
                leader_epoch=part.committed_leader_epoch,
                metadata=metadata,
                commit_timestamp_ms=now,
                topic_id=self._topic_id(name),
            )
            accepted.append((name, part.partition_index, committed))
        if not accepted:
            return codes
        records = [offset_record(request.group_id, n, p, c) for n, p, c in accepted]
        write_code = await self.coordinator.write(
            request.group_id,
            records,
            lambda: self._apply(request, accepted, new_group),
            producer_id=request.producer_id,
            producer_epoch=request.producer_epoch,
        )
        if write_code != ec.NONE:
            failed = self._operation_error(write_code, version)
            codes = {key: failed if c == ec.NONE else c for key, c in codes.items()}
        return codes

    async def _verify(self, request: TxnOffsetCommitRequest, version: int) -> int:
        """Kafka's verification of the ``__consumer_offsets`` partition with the transaction
        coordinator before the producer's first offset commit of a transaction there."""
        verifier = self.node.verifier()
        if verifier is None:
            return ec.NONE
        partition = self.coordinator.partition_for(request.group_id)
        txn = (partition, request.producer_id)
        if self.coordinator.offsets.pending.is_ongoing(txn, request.producer_epoch):
            return ec.NONE  # the transaction wrote here already: it holds the partition
        codes = await verifier.verify(
            request.transactional_id,
            request.producer_id,
            request.producer_epoch,
            [(OFFSETS_TOPIC, partition)],
            add=version >= ADD_PARTITION_VERSION,
        )
        code = codes.get((OFFSETS_TOPIC, partition), ec.NONE)
        return self._operation_error(code, version) if code != ec.NONE else ec.NONE

    def _operation_error(self, code: int, version: int) -> int:
        if code == PRODUCER_FENCED:
            code = ec.INVALID_PRODUCER_EPOCH  # AddPartitionsToTxnManager's mapping
        if code == TRANSACTION_ABORTABLE and version < ABORTABLE_VERSION:
            code = ec.INVALID_TXN_STATE
        return _OPERATION_ERRORS.get(code, code)

    def _validate_group(self, request: TxnOffsetCommitRequest, version: int) -> tuple[int, bool]:
        """The group's answer (Kafka's validateTransactionalOffsetCommit), and whether the
        commit makes a simple group."""
        generation = request.generation_id_or_member_epoch
        group = self.coordinator.get_group(request.group_id)
        if group is None:
            if generation < 0:
                return ec.NONE, True
            if version >= TOPIC_ID_VERSION:
                return ec.GROUP_ID_NOT_FOUND, False
            return ec.ILLEGAL_GENERATION, False
        code = group.validate_offset_commit(
            OffsetCommitter(
                request.member_id,
                request.group_instance_id,
                generation,
                version,
                transactional=True,
            )
        )
        if code == ec.STALE_MEMBER_EPOCH and version < TOPIC_ID_VERSION:
            code = ec.ILLEGAL_GENERATION
        return code, False

    def _apply(
        self,
        request: TxnOffsetCommitRequest,
        accepted: list[tuple[str, int, CommittedOffset]],
        new_group: bool,
    ) -> None:
        group_id = request.group_id
        if new_group and self.coordinator.get_group(group_id) is None:
            self.coordinator.add_group(self.classic.simple_group(group_id))
        txn = (self.coordinator.partition_for(group_id), request.producer_id)
        for name, partition, committed in accepted:
            self.coordinator.offsets.put_pending(
                txn, request.producer_epoch, group_id, name, partition, committed
            )

    def _topic_name(
        self, topic: TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic, version: int
    ) -> str | None:
        """The topic's name when it exists, else None."""
        if version >= TOPIC_ID_VERSION:
            found = self.node.image.topics_by_id.get(topic.topic_id)
            if found is None or topic.topic_id == uuid.UUID(int=0):
                return None
            return found.name
        return topic.name if topic.name in self.node.image.topics_by_name else None

    def _topic_id(self, name: str) -> uuid.UUID:
        topic = self.node.image.topics_by_name.get(name)
        return topic.topic_id if topic is not None else uuid.UUID(int=0)

    def _partition_exists(self, name: str, partition: int) -> bool:
        topic = self.node.image.topics_by_name.get(name)
        return topic is not None and partition in topic.partitions
