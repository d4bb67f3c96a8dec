"""Produce (API key 0): check each partition's records as Kafka's ProduceRequest does (one
batch of magic 2, zstd from v7), find the partition this broker leads (or Kafka's error), and
append through :meth:`ferrokafka.partition.Partition.append_as_leader`, which does the rest of
Kafka's checks, the idempotent producer's sequence and epoch, the write, and the wake-ups.

Most appends need no wait and are answered inline (``answer_now``); the rest by the coroutine.

Transactional batches (KIP-98) need the request's transactional id. With a transaction
coordinator to ask (``node.txn_verifier``), the first batch of a producer's transaction on a
partition waits for its verification (KIP-890 part 1; with transaction.version 2 and Produce
v12+ the coordinator adds the partition: part 2), one call for all such partitions of the
request; the partition holds a verification guard meanwhile, so a marker written before the
append makes it fail (INVALID_TXN_STATE) instead of starting a transaction nobody will end.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import trio

from ferrokafka.partition import AppendOrigin, AppendResult, Partition
from ferrokafka.partition.appends import InflateInWorkerThread
from ferrokafka.partition.txn_state import SENTINEL, VerificationGuard
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.produce import ProduceRequest, ProduceResponse
from ferrokafka.protocol.wire import ZERO_UUID
from ferrokafka.server import errors
from ferrokafka.server.authorize import AclOperation, ResourceType, authorized
from ferrokafka.server.dispatcher import LATER, CloseConnection, Later, RequestContext
from ferrokafka.server.handlers.leader_hint import LeaderHints
from ferrokafka.server.node import Node
from ferrokafka.storage import BatchHeader, UnsupportedCompressionError, read_batch_header

log = logging.getLogger(__name__)

VALID_ACKS = (-1, 0, 1)
# Produce v13 names topics by id instead of by name.
TOPIC_ID_VERSION = 13
# Produce v10 answers NOT_LEADER_OR_FOLLOWER with the partition's current leader (KIP-951).
LEADER_HINT_VERSION = 10
# zstd is allowed from Produce v7 on (KIP-110).
ZSTD_MIN_VERSION = 7
# KIP-890 part 2: from Produce v12, with transaction.version 2, the leader adds the partition
# to the transaction itself.
ADD_PARTITIONS_VERSION = 12
TRANSACTION_VERSION_FEATURE = "transaction.version"
# Kafka's ReplicaManager: verification errors an older client may not retry properly become
# NOT_ENOUGH_REPLICAS (retried, no metadata refresh).
_RETRIABLE_VERIFICATION_ERRORS = frozenset(
    {
        ec.CONCURRENT_TRANSACTIONS,
        ec.NETWORK_EXCEPTION,
        ec.COORDINATOR_LOAD_IN_PROGRESS,
        ec.COORDINATOR_NOT_AVAILABLE,
        ec.NOT_COORDINATOR,
    }
)

# baseOffset and batchLength: the bytes of a batch its length does not count.
_LOG_OVERHEAD = 12
# Kafka's smallest legal batch length (LegacyRecord.RECORD_OVERHEAD_V0): below it, corrupt.
_MIN_BATCH_LENGTH = 14
_MAGIC_V2 = 2
_HEADER_SIZE = BatchHeader.SIZE


class AcksZeroProduceFailedError(CloseConnection):
    """A produce with acks=0 failed: Kafka closes the connection, the only way such a producer
    learns of it (it then refreshes its metadata)."""


def check_records(records: bytes | memoryview | None, version: int) -> AppendResult | BatchHeader:
    """Kafka's ProduceRequest.validateRecords: exactly one batch of magic 2 per partition, and
    no zstd before v7; the refusal, or the batch's header (read once here, and handed to the
    partition's append). The CRC and record-level checks are the log's (native append)."""
    if records is None:
        return AppendResult(errors.INVALID_RECORD, "Produce requests must carry records")
    view = memoryview(records)
    size = view.nbytes
    if size < _LOG_OVERHEAD:
        return _no_batch(version)
    # The header as stored, read in place by the native parser (nothing judged but its size).
    header = read_batch_header(view if size >= _HEADER_SIZE else _zero_filled(view))
    length = header.batch_length
    if length < _MIN_BATCH_LENGTH:
        return AppendResult(
            errors.CORRUPT_MESSAGE, f"Record size {length} is less than the minimum"
        )
    if size < _LOG_OVERHEAD + length:
        return _no_batch(version)
    if header.magic != _MAGIC_V2:
        return AppendResult(
            errors.INVALID_RECORD,
            f"Produce requests with version {version} are only allowed to contain record "
            "batches with magic version 2",
        )
    if version < ZSTD_MIN_VERSION and _is_zstd(header):
        return AppendResult(
            errors.UNSUPPORTED_COMPRESSION_TYPE,
            f"Produce requests with version {version} are not allowed to use ZStandard compression",
        )
    rest = size - _LOG_OVERHEAD - length
    # Kafka's batch iterator sees no further batch in fewer than 12 trailing bytes.
    if rest >= _LOG_OVERHEAD:
        return AppendResult(
            errors.INVALID_RECORD,
            f"Produce requests with version {version} are only allowed to contain exactly one "
            "record batch per partition",
        )
    return header


def _zero_filled(view: memoryview) -> bytes:
    """Records shorter than a batch header, zero-filled to one (rare: the log refuses them in
    any case). The checks above read no field these bytes do not hold: the length once 12
    bytes are there, magic and attributes only of a whole batch (at least 26 bytes)."""
    return bytes(view).ljust(_HEADER_SIZE, b"\0")


def _is_zstd(header: BatchHeader) -> bool:
    try:
        return header.compression == "zstd"
    except UnsupportedCompressionError:
        return False  # an unknown codec: the log answers CORRUPT_MESSAGE


def _no_batch(version: int) -> AppendResult:
    return AppendResult(
        errors.INVALID_RECORD,
        f"Produce requests with version {version} must have at least one record batch per "
        "partition",
    )


# A topic of a request: its data, and each partition's (index, the partition led here or the
# refusal of its append, its records, their batch header when they passed the checks).
_Partition = tuple[int, "Partition | AppendResult", Any, "BatchHeader | None"]
_Topic = tuple[ProduceRequest.TopicProduceData, list[_Partition]]


_TOPIC_DENIED = AppendResult(errors.TOPIC_AUTHORIZATION_FAILED)
# No authorizer: no topic is denied (shared, so an unauthorized broker allocates nothing).
_NO_DENIALS: frozenset[Any] = frozenset()


class ProduceHandler:
    """Answers Produce for one node."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def answer_now(self, ctx: RequestContext, request: ProduceRequest) -> Any:
        """The answer when every partition's append can run inline without waiting (the
        common case: small batches, no append under way in a worker thread, no producer
        snapshot due), else LATER having changed nothing."""
        acks = request.acks
        targets = self._targets(ctx, request)
        for _, partitions in targets:
            for _, found, records, header in partitions:
                if isinstance(found, Partition) and (
                    not found.appends_inline(records, header)
                    or (acks == -1 and not found.commits_on_append)
                    or self._needs_verification(found, header)
                ):
                    return LATER
        origin = AppendOrigin.CLIENT
        outcomes: list[list[AppendResult]] = []
        for t, (_, parts) in enumerate(targets):
            topic_outcomes: list[AppendResult] = []
            outcomes.append(topic_outcomes)
            for p, (_, found, records, header) in enumerate(parts):
                if not isinstance(found, Partition):
                    topic_outcomes.append(found)
                    continue
                try:
                    topic_outcomes.append(
                        found.append_as_leader_nowait(
                            records,
                            origin=origin,
                            required_acks=acks,
                            header=header,
                            verification=self._guard(header),
                        )
                    )
                except InflateInWorkerThread:
                    # Partitions before this one are appended: the rest is finished by a
                    # task, in order, and answered then.
                    return Later(self._finish(ctx, request, targets, outcomes, t, p))
        return self._response(ctx, request, targets, outcomes)

    async def _finish(
        self,
        ctx: RequestContext,
        request: ProduceRequest,
        targets: list[_Topic],
        outcomes: list[list[AppendResult]],
        topic_index: int,
        partition_index: int,
    ) -> ProduceResponse | None:
        """answer_now's rest from the partition whose batch must inflate in a worker thread:
        that one and every later one appended there, then the response."""
        acks = request.acks
        for t in range(topic_index, len(targets)):
            if t == len(outcomes):
                outcomes.append([])
            first = partition_index if t == topic_index else 0
            for _, found, records, header in targets[t][1][first:]:
                outcomes[t].append(
                    await found.append_as_leader(
                        records,
                        origin=AppendOrigin.CLIENT,
                        required_acks=acks,
                        header=header,
                        verification=self._guard(header),
                    )
                    if isinstance(found, Partition)
                    else found
                )
        if acks == -1:
            outcomes = await self._wait_for_replication(targets, outcomes, request.timeout_ms)
        return self._response(ctx, request, targets, outcomes)

    async def __call__(
        self, ctx: RequestContext, request: ProduceRequest
    ) -> ProduceResponse | None:
        acks = request.acks
        targets = self._targets(ctx, request)
        guards = await self._verify(request, targets, ctx.api_version)
        outcomes = [
            [
                await found.append_as_leader(
                    records,
                    origin=AppendOrigin.CLIENT,
                    required_acks=acks,
                    header=header,
                    verification=guards.get((t, p), self._guard(header)),
                )
                if isinstance(found, Partition)
                else found
                for p, (_, found, records, header) in enumerate(parts)
            ]
            for t, (_, parts) in enumerate(targets)
        ]
        if acks == -1:
            outcomes = await self._wait_for_replication(targets, outcomes, request.timeout_ms)
        return self._response(ctx, request, targets, outcomes)

    def _needs_verification(self, found: Partition, header: BatchHeader | None) -> bool:
        """A transactional batch that would start its producer's transaction on ``found``,
        with a coordinator to verify it with."""
        return (
            self.node.verifier() is not None
            and header is not None
            and header.is_transactional
            and not found.producers.has_ongoing_transaction(
                header.producer_id, header.producer_epoch
            )
        )

    def _guard(self, header: BatchHeader | None) -> VerificationGuard | None:
        """The guard of a batch not verified by this request: none when verification is off
        or the batch is not transactional, else the sentinel (it passes only while the
        producer's transaction is ongoing on the partition)."""
        if self.node.verifier() is None or header is None or not header.is_transactional:
            return None
        return SENTINEL

    async def _verify(
        self, request: ProduceRequest, targets: list[_Topic], version: int
    ) -> dict[tuple[int, int], VerificationGuard]:
        """KIP-890: ask the transaction coordinator, once per producer in the request,
        whether the partitions where a transaction starts are in it. A partition that is not
        is answered with the coordinator's error in ``targets`` (changed in place); the
        others' guards are returned by (topic index, partition index in the topic)."""
        verifier = self.node.verifier()
        transactional_id = request.transactional_id
        if verifier is None or transactional_id is None:
            return {}
        pending: dict[tuple[int, int], list[tuple[int, int, Partition, BatchHeader]]] = {}
        for t, (_, parts) in enumerate(targets):
            for p, (_, found, _, header) in enumerate(parts):
                if isinstance(found, Partition) and header is not None:
                    if self._needs_verification(found, header):
                        key = (header.producer_id, header.producer_epoch)
                        pending.setdefault(key, []).append((t, p, found, header))
        tv = self.node.image.features.get(TRANSACTION_VERSION_FEATURE, 0)
        add = version >= ADD_PARTITIONS_VERSION and tv >= 2
        guards: dict[tuple[int, int], VerificationGuard] = {}
        for (pid, epoch), items in pending.items():
            for t, p, found, header in items:
                guards[(t, p)] = found.producers.txns.start_verification(
                    pid, header.base_sequence, epoch
                )
            asked = [(found.topic, found.partition) for _, _, found, _ in items]
            codes = await verifier.verify(transactional_id, pid, epoch, asked, add=add)
            for t, p, found, _ in items:
                code = codes.get((found.topic, found.partition), errors.INVALID_TXN_STATE)
                if code:
                    index, _, records, _ = targets[t][1][p]
                    targets[t][1][p] = (index, _verification_refusal(code), records, None)
        return guards

    async def _wait_for_replication(
        self, targets: list[_Topic], outcomes: list[list[AppendResult]], timeout_ms: int
    ) -> list[list[AppendResult]]:
        """acks=all (Kafka's DelayedProduce): wait in the purgatory until each appended
        batch is below its partition's high watermark, at most ``timeout_ms``; a partition
        still short then is REQUEST_TIMED_OUT, one no longer led here NOT_LEADER_OR_FOLLOWER."""
        pending = [
            (found, _last_offset(outcome) + 1)
            for (_, parts), topic_outcomes in zip(targets, outcomes, strict=True)
            for (_, found, _, _), outcome in zip(parts, topic_outcomes, strict=True)
            if isinstance(found, Partition) and _last_offset(outcome) is not None
        ]

        def replicated() -> bool:
            return all(p.high_watermark >= end or not p.is_leader for p, end in pending)

        deadline = trio.current_time() + max(0, timeout_ms) / 1000
        if replicated() or await self.node.replicas.purgatory.wait_until(
            replicated, [p.key for p, _ in pending], deadline
        ):
            if all(p.is_leader and len(p.isr) >= p.min_insync_replicas for p, _ in pending):
                return outcomes
        return [
            [
                _after_wait(found, outcome)
                for (_, found, _, _), outcome in zip(parts, topic_outcomes, strict=True)
            ]
            for (_, parts), topic_outcomes in zip(targets, outcomes, strict=True)
        ]

    def _targets(self, ctx: RequestContext, request: ProduceRequest) -> list[_Topic]:
        """Each topic with its partitions' (index, the partition led here or the refusal,
        records, batch header)."""
        version = ctx.api_version
        replicas = self.node.replicas
        denied = self._denied_topics(ctx, request)
        by_id = version >= TOPIC_ID_VERSION
        acks_refused = (
            None if request.acks in VALID_ACKS else AppendResult(errors.INVALID_REQUIRED_ACKS)
        )
        topics: list[_Topic] = []
        for topic in request.topic_data:
            parts: list[_Partition] = []
            for data in topic.partition_data:
                records = data.records
                if denied and (topic.topic_id if by_id else topic.name) in denied:
                    parts.append((data.index, _TOPIC_DENIED, records, None))
                    continue
                if acks_refused is not None:
                    parts.append((data.index, acks_refused, records, None))
                    continue
                # The checks before the partition's own, in Kafka's order: acks, the
                # partition, the request's records.
                found = (
                    replicas.leader_partition_by_id_or_error(topic.topic_id, data.index)
                    if by_id
                    else replicas.leader_partition_or_error(topic.name, data.index)
                )
                if isinstance(found, int):
                    parts.append((data.index, AppendResult(found), records, None))
                    continue
                checked = check_records(records, version)
                if isinstance(checked, AppendResult):
                    parts.append((data.index, checked, records, None))
                else:
                    parts.append((data.index, found, records, checked))
            topics.append((topic, parts))
        if any(
            header is not None and header.is_transactional
            for _, parts in topics
            for _, _, _, header in parts
        ) and (
            request.transactional_id is None
            or not authorized(
                self.node,
                ctx,
                AclOperation.WRITE,
                ResourceType.TRANSACTIONAL_ID,
                request.transactional_id,
            )
        ):
            # Kafka's KafkaApis: transactional records need a transactional id the client may
            # write to; without one the whole request is refused.
            refused = AppendResult(errors.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
            return [
                (topic, [(index, refused, records, None) for index, _, records, _ in parts])
                for topic, parts in topics
            ]
        return topics

    def _denied_topics(self, ctx: RequestContext, request: ProduceRequest) -> frozenset[Any]:
        """The topics the principal may not WRITE to (none without an authorizer); a topic
        named by an unknown id is left to the partition lookup (UNKNOWN_TOPIC_ID)."""
        if self.node.authorizer is None:
            return _NO_DENIALS
        denied: set[Any] = set()
        image = self.node.image
        by_id = ctx.api_version >= TOPIC_ID_VERSION
        for topic in request.topic_data:
            name = topic.name
            if by_id:
                found = image.topic_by_id(topic.topic_id)
                if found is None:
                    continue
                name = found.name
            if not authorized(self.node, ctx, AclOperation.WRITE, ResourceType.TOPIC, name):
                denied.add(topic.topic_id if by_id else name)
        return frozenset(denied)

    def _response(
        self,
        ctx: RequestContext,
        request: ProduceRequest,
        targets: list[_Topic],
        outcomes: list[list[AppendResult]],
    ) -> ProduceResponse | None:
        """The answer (nothing for acks=0, whose failures close the connection)."""
        responses = []
        failed = []
        hints: LeaderHints | None = None
        for (topic, partitions), topic_outcomes in zip(targets, outcomes, strict=True):
            parts = []
            for (index, _, _, _), outcome in zip(partitions, topic_outcomes, strict=True):
                if outcome.code:
                    failed.append(outcome.code)
                part = _partition_response(index, outcome)
                if (
                    outcome.code == errors.NOT_LEADER_OR_FOLLOWER
                    and ctx.api_version >= LEADER_HINT_VERSION
                ):
                    if hints is None:
                        hints = LeaderHints(self.node, ctx.listener_name, ProduceResponse)
                    hints.hint(part, self._topic_id(ctx, topic), index)
                parts.append(part)
            responses.append(
                ProduceResponse.TopicProduceResponse(
                    name=topic.name, topic_id=topic.topic_id, partition_responses=parts
                )
            )
        if request.acks == 0:
            if failed:
                raise AcksZeroProduceFailedError(f"acks=0 produce failed with errors {failed}")
            return None
        return ProduceResponse(
            responses=responses,
            node_endpoints=hints.node_endpoints() if hints is not None else [],
        )

    def _topic_id(self, ctx: RequestContext, topic: ProduceRequest.TopicProduceData) -> uuid.UUID:
        """The topic's id: the request's from v13, else the image's (zero when unknown)."""
        if ctx.api_version >= TOPIC_ID_VERSION:
            return topic.topic_id
        found = self.node.image.topic(topic.name)
        return found.topic_id if found is not None else ZERO_UUID


def _verification_refusal(code: int) -> AppendResult:
    """Kafka's translation of a coordinator's verification error for the producer."""
    if code == errors.INVALID_TXN_STATE:
        return AppendResult(code, "Partition was not added to the transaction")
    if code in _RETRIABLE_VERIFICATION_ERRORS:
        return AppendResult(
            errors.NOT_ENOUGH_REPLICAS,
            "Unable to verify the partition has been added to the transaction. Underlying "
            f"error: {ec.error_name(code)}",
        )
    return AppendResult(code)


def _last_offset(outcome: AppendResult) -> int | None:
    """The last offset an acks=all answer waits for: the append's, or a retried batch's
    original (Kafka's DelayedProduce waits for a duplicate's offsets as for a new append:
    answered at once, a retry to a leader cut off since the first try would acknowledge
    records no other replica has, which the next leader then overwrites)."""
    if outcome.info is not None:
        return outcome.info.last_offset
    if outcome.duplicate is not None:
        return outcome.duplicate.last_offset
    return None


def _after_wait(found: Partition | AppendResult, outcome: AppendResult) -> AppendResult:
    """An appended partition's answer once the acks=all wait ended short of it (or with an
    ISR below min.insync.replicas)."""
    last = _last_offset(outcome)
    if not isinstance(found, Partition) or last is None:
        return outcome
    if not found.is_leader:
        return AppendResult(errors.NOT_LEADER_OR_FOLLOWER)
    if found.high_watermark <= last:
        return AppendResult(errors.REQUEST_TIMED_OUT)
    if len(found.isr) < found.min_insync_replicas:
        # Kafka's checkEnoughReplicasReachOffset: committed, but the ISR shrank below
        # min.insync.replicas meanwhile.
        return AppendResult(errors.NOT_ENOUGH_REPLICAS_AFTER_APPEND)
    return outcome


def _partition_response(
    index: int, outcome: AppendResult
) -> ProduceResponse.PartitionProduceResponse:
    info = outcome.info
    if outcome.duplicate is not None:
        return ProduceResponse.PartitionProduceResponse(
            index=index,
            error_code=errors.NONE,
            base_offset=outcome.duplicate.first_offset,
            log_append_time_ms=-1,
            log_start_offset=outcome.log_start_offset,
        )
    if info is None:
        return ProduceResponse.PartitionProduceResponse(
            index=index,
            error_code=outcome.code,
            base_offset=-1,
            log_append_time_ms=-1,
            log_start_offset=-1,
            error_message=outcome.message,
            record_errors=[
                ProduceResponse.BatchIndexAndErrorMessage(
                    batch_index=i, batch_index_error_message=m
                )
                for i, m in outcome.record_errors
            ],
        )
    return ProduceResponse.PartitionProduceResponse(
        index=index,
        error_code=errors.NONE,
        base_offset=info.first_offset,
        log_append_time_ms=info.log_append_time,
        log_start_offset=outcome.log_start_offset,
    )
