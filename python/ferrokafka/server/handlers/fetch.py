"""Fetch (API key 1) for consumers: record batches from each partition up to the high
watermark (or the last stable offset for read_committed), with Kafka's byte limits (KIP-74),
the min_bytes / max_wait_ms long-poll, and incremental fetch sessions (KIP-227, see
:mod:`fetch_session`).

A fetch that needs no wait (its data is there, or it may not wait) and no worker thread is
answered by ``answer_now`` in the connection's own task (see the dispatcher), the rest by the
coroutine, which long-polls.

Records are never read into memory: each partition's answer is a FileRecords of the segment
regions the log read returned, which the connection sends with sendfile.

Follower fetches (``replica_state.replica_id`` >= 0, ``replica_id`` before v15) use the same
sessions (privileged ones, as Kafka's) and are subject to
the leader's replication throttle (:mod:`ferrokafka.partition.replication_quota`), read up to
the log end rather than the high watermark, record the follower's position with the partition
(which may move the high watermark and the ISR), and answer a ``last_fetched_epoch`` that
diverges from the leader's log with the diverging epoch (KIP-320/KIP-595's in-fetch
truncation). A fetch from a replica the partition does not have, or with a broker epoch older
than the follower's registration, is refused NOT_LEADER_OR_FOLLOWER, as Kafka's
``Replica.updateFetchStateOrThrow``. A follower that tells the high watermark it knows (Fetch
v18's HighWatermark, KIP-1166; ferrokafka's fetchers do, Kafka 4.4's send "not supported") is
answered without waiting when this leader has a higher one for it, so followers learn the HW
as soon as it moves instead of up to ``replica.fetch.wait.max.ms`` later.

Fetch from the closest replica (KIP-392): a consumer's Fetch v11+ carries its ``client.rack``
(``rack_id``); such a fetch may be served by a follower (up to the follower's high watermark),
and a leader whose ``replica.selector.class`` picks a follower answers that partition with no
records and the follower as ``preferred_read_replica`` (``partition/replica_selector.py``).
Older consumer fetches are served by leaders only.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import trio

from ferrokafka.partition import Partition
from ferrokafka.partition.errors import leader_epoch_error
from ferrokafka.partition.isr import stale_broker_epoch
from ferrokafka.partition.partition import monotonic_ms
from ferrokafka.partition.replica_selector import NO_PREFERRED_REPLICA, preferred_read_replica
from ferrokafka.protocol import FileRecords
from ferrokafka.protocol.messages.fetch import FetchRequest, FetchResponse
from ferrokafka.server import errors
from ferrokafka.server.authorize import (
    AclOperation,
    ResourceType,
    authorized,
    authorized_cluster,
)
from ferrokafka.server.dispatcher import Later, RequestContext
from ferrokafka.server.handlers.fetch_session import (
    FINAL_EPOCH,
    INITIAL_EPOCH,
    INVALID_SESSION_ID,
    CachedPartition,
    FetchSession,
    FetchSessionCache,
    PartitionKey,
    next_epoch,
    partition_key,
)
from ferrokafka.server.handlers.leader_hint import HINTED_ERRORS, LeaderHints
from ferrokafka.server.node import Node

log = logging.getLogger(__name__)

# Fetch v13 names topics by id instead of by name.
TOPIC_ID_VERSION = 13
# Fetch v15 moved the follower's id into replica_state (with its broker epoch).
REPLICA_STATE_VERSION = 15
# Fetch v16 answers a partition not led here with its current leader (KIP-951).
LEADER_HINT_VERSION = 16
# Fetch v11 carries the consumer's rack: from then on a follower may serve it (KIP-392).
CLIENT_RACK_VERSION = 11
CONSUMER_REPLICA_ID = -1
READ_COMMITTED = 1
MS = 1000.0
# Fetches are read inline in the trio thread from the page cache only (Log.read's nowait):
# an index lookup and a few batch headers, ~10 us a partition, far below the ~150 us of a
# worker-thread hop (more on a loaded box), which also delayed each answer to a consumer
# reading history from the cache by 100-500 us. Only a read that would wait for the disk
# (BlockingIOError) goes to a worker thread, read again there.


@dataclass(slots=True)
class _Read:
    """One partition's answer before it becomes a PartitionData."""

    error: int
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = -1
    # Regions of segment files (they hold the files open until sent), or b"" for none.
    records: FileRecords | bytes = b""
    diverging_epoch: int = -1
    diverging_end_offset: int = -1
    preferred_read_replica: int = NO_PREFERRED_REPLICA
    # read_committed: (producer id, first offset) of the aborted transactions in the range.
    aborted: list[tuple[int, int]] | None = None
    # A follower fetch whose follower knows a lower high watermark than it could take from
    # this answer (KIP-1166): answered without waiting, so followers learn the HW promptly.
    hw_news: bool = False


# (partition, its handle or None, the error when the handle is None, the replica the consumer
# should fetch from instead: -1 for this one)
_Work = tuple[CachedPartition, Partition | None, int, int]


def read_partitions(
    work: list[_Work],
    max_bytes: int,
    read_committed: bool,
    *,
    nowait: bool = False,
    follower: bool = False,
) -> list[_Read]:
    """Read every partition in order within ``max_bytes`` overall: blocking I/O (run in a
    worker thread), or with ``nowait`` from the page cache only, raising BlockingIOError
    where the disk would be waited for. Kafka's rule (KIP-74): until some partition returned
    data, a partition returns at least one whole batch even above the limits, so a consumer
    always progresses."""
    limit = max(0, max_bytes)
    min_one_batch = True
    reads = []
    for part, handle, missing, preferred in work:
        if handle is not None and preferred != NO_PREFERRED_REPLICA:
            reads.append(_redirect(part, handle, preferred))
            continue
        read = _read_one(
            part, handle, missing, limit, min_one_batch, read_committed, nowait, follower
        )
        if read.records:
            min_one_batch = False
            limit = max(0, limit - len(read.records))
        reads.append(read)
    return reads


def _redirect(part: CachedPartition, handle: Partition, preferred: int) -> _Read:
    """No records, the offsets, and the replica to fetch from (Kafka skips the read)."""
    code = leader_epoch_error(part.current_leader_epoch, handle.leader_epoch)
    if code:
        return _Read(code)
    return _Read(
        errors.NONE,
        handle.high_watermark,
        handle.last_stable_offset,
        handle.log_start_offset,
        preferred_read_replica=preferred,
    )


def _read_one(
    part: CachedPartition,
    handle: Partition | None,
    missing: int,
    limit: int,
    min_one_batch: bool,
    read_committed: bool,
    nowait: bool,
    follower: bool,
) -> _Read:
    if handle is None:
        return _Read(missing)
    read = handle.read(
        part.fetch_offset,
        min(max(0, part.max_bytes), limit),
        current_leader_epoch=part.current_leader_epoch,
        read_committed=read_committed,
        min_one_batch=min_one_batch,
        nowait=nowait,
        follower=follower,
        last_fetched_epoch=part.last_fetched_epoch,
    )
    if read.code:
        return _Read(read.code)
    info = read.info
    records: FileRecords | bytes = (
        FileRecords(info.regions) if info is not None and info.size_in_bytes else b""
    )
    # A follower takes min(this HW, its log end) (without records, its log end is the fetch
    # offset): news only when that is above what it said it knows.
    hw_news = follower and (
        min(read.high_watermark, part.fetch_offset) > part.replica_high_watermark
    )
    return _Read(
        errors.NONE,
        read.high_watermark,
        read.last_stable_offset,
        read.log_start_offset,
        records,
        read.diverging_epoch,
        read.diverging_end_offset,
        aborted=read.aborted_transactions,
        hw_news=hw_news,
    )


@dataclass(slots=True)
class _Prepared:
    """A request past its session checks (the session's epoch already advanced), to be read
    and answered."""

    parts: OrderedDict[PartitionKey, CachedPartition]
    session: FetchSession | None
    by_id: bool
    # The follower's broker id for a replica fetch, None for a consumer's.
    replica_id: int | None = None
    # Partitions refused to this follower (unknown replica, stale broker epoch).
    refused: frozenset[PartitionKey] = frozenset()
    # Partitions the principal may not read (TOPIC_AUTHORIZATION_FAILED): topics without READ,
    # or every partition of a follower fetch without CLUSTER_ACTION on the cluster.
    unauthorized: frozenset[PartitionKey] = frozenset()
    # A consumer's rack from Fetch v11+ ("" when it has none); None: a follower's fetch or an
    # older consumer's, served by leaders only.
    client_rack: str | None = None
    # Fetch v16+: the listener the request came in on, for leader hints (KIP-951).
    hint_listener: str | None = None


class FetchHandler:
    """Answers Fetch for one node; owns the node's fetch session cache."""

    def __init__(self, node: Node, sessions: FetchSessionCache | None = None) -> None:
        self.node = node
        self.sessions = sessions if sessions is not None else FetchSessionCache()

    def answer_now(self, ctx: RequestContext, request: FetchRequest) -> FetchResponse | Later:
        """The answer, when no wait and no worker thread is needed: errors, a fetch that found
        min_bytes, or one that may not wait (max_wait_ms 0, as Kafka's EndToEndLatency
        consumer sends). A consumer at the tail is answered without a task of its own, so a
        Fetch costs no extra trio scheduling pass. Else ``Later`` with the rest of the work:
        the session rules were applied (its epoch advanced), and must not be applied twice."""
        prepared = self._admit(ctx, request)
        if isinstance(prepared, FetchResponse):
            return prepared
        read_committed = request.isolation_level == READ_COMMITTED
        work = self._work(list(prepared.parts.values()), prepared)
        reads = _cached_reads(
            work, request.max_bytes, read_committed, prepared.replica_id is not None
        )
        if reads is not None:
            self._throttle(prepared, work, reads)
        if reads is not None and _enough(
            reads, request, waitable=any(h is not None for _, h, _, _ in work)
        ):
            return self._answer(prepared, request, reads)
        return Later(self._finish(prepared, request))

    async def __call__(self, ctx: RequestContext, request: FetchRequest) -> FetchResponse:
        prepared = self._admit(ctx, request)
        if isinstance(prepared, FetchResponse):
            return prepared
        return await self._finish(prepared, request)

    def _admit(self, ctx: RequestContext, request: FetchRequest) -> _Prepared | FetchResponse:
        """The request past its session rules, follower and client notes and authorization,
        or the session error that answers it."""
        prepared = self._prepare(ctx, request)
        if isinstance(prepared, FetchResponse):
            return prepared
        self._note_follower(ctx, request, prepared)
        _note_client(ctx, request, prepared)
        if self.node.authorizer is not None:
            self._authorize(ctx, prepared)
        if ctx.api_version >= LEADER_HINT_VERSION:
            prepared.hint_listener = ctx.listener_name
        return prepared

    async def _finish(self, prepared: _Prepared, request: FetchRequest) -> FetchResponse:
        """Read, long-polling as the request allows, and answer."""
        reads = await self._long_poll(list(prepared.parts.values()), request, prepared)
        return self._answer(prepared, request, reads)

    def _authorize(self, ctx: RequestContext, prepared: _Prepared) -> None:
        """Kafka's handleFetchRequest checks: a follower needs CLUSTER_ACTION on the cluster
        (else every partition is refused), a consumer READ on each topic."""
        if prepared.replica_id is not None:
            if not authorized_cluster(self.node, ctx, AclOperation.CLUSTER_ACTION):
                prepared.unauthorized = frozenset(prepared.parts)
            return
        verdicts: dict[str, bool] = {}
        denied = set()
        for key, part in prepared.parts.items():
            if not part.topic:
                continue  # an unknown topic id: UNKNOWN_TOPIC_ID from the read
            allowed = verdicts.get(part.topic)
            if allowed is None:
                allowed = verdicts[part.topic] = authorized(
                    self.node, ctx, AclOperation.READ, ResourceType.TOPIC, part.topic
                )
            if not allowed:
                denied.add(key)
        prepared.unauthorized = frozenset(denied)

    def _note_follower(
        self, ctx: RequestContext, request: FetchRequest, prepared: _Prepared
    ) -> None:
        """A follower's fetch: record its position with each partition it fetches (Kafka's
        ``updateFollowerFetchState``, before the read), refuse the partitions it may not
        fetch. A consumer's fetch is left as it is."""
        if ctx.api_version >= REPLICA_STATE_VERSION:
            replica_id = request.replica_state.replica_id
            broker_epoch = request.replica_state.replica_epoch
        else:
            replica_id, broker_epoch = request.replica_id, -1
        if replica_id < 0:
            return
        prepared.replica_id = replica_id
        registration = self.node.image.broker(replica_id)
        registered_epoch = registration.broker_epoch if registration is not None else None
        stale = stale_broker_epoch(broker_epoch, registered_epoch)
        refused = set()
        now = monotonic_ms()
        for key, part in prepared.parts.items():
            handle = self._handle(part, prepared.by_id)
            if isinstance(handle, int):
                continue  # answered with its error by the read
            if stale or replica_id not in handle.replicas:
                refused.add(key)
                continue
            handle.update_follower_fetch_state(
                replica_id,
                part.fetch_offset,
                part.replica_log_start_offset,
                now_ms=now,
                broker_epoch=broker_epoch,
                current_leader_epoch=part.current_leader_epoch,
                last_fetched_epoch=part.last_fetched_epoch,
            )
        prepared.refused = frozenset(refused)

    def _prepare(self, ctx: RequestContext, request: FetchRequest) -> _Prepared | FetchResponse:
        """The partitions to read, after the session rules (KIP-227); a session error is the
        answer itself."""
        by_id = ctx.api_version >= TOPIC_ID_VERSION
        requested = self._requested(request, by_id)
        session_id, epoch = request.session_id, request.session_epoch
        if epoch in (INITIAL_EPOCH, FINAL_EPOCH):
            if session_id != INVALID_SESSION_ID:
                self.sessions.remove(session_id)
            return _Prepared(_keyed(requested, by_id), None, by_id)
        session = self.sessions.get(session_id)
        if session is None:
            return FetchResponse(error_code=errors.FETCH_SESSION_ID_NOT_FOUND)
        if session.epoch != epoch:
            return FetchResponse(error_code=errors.INVALID_FETCH_SESSION_EPOCH)
        if session.uses_topic_ids != by_id:
            return FetchResponse(error_code=errors.FETCH_SESSION_TOPIC_ID_ERROR)
        session.update(requested, self._forgotten(request, by_id), by_id)
        if not session.partitions:
            # everything forgotten: Kafka drops the session and answers without one
            self.sessions.remove(session_id)
            return _Prepared(_keyed(requested, by_id), None, by_id)
        self.sessions.touch(session)
        session.epoch = next_epoch(epoch)
        return _Prepared(session.partitions, session, by_id)

    def _throttle(self, prepared: _Prepared, work: list[_Work], reads: list[_Read]) -> None:
        """The leader's replication throttle (KIP-73, Kafka's ``shouldLeaderThrottle``): while
        the throttled partitions' bytes exceed ``leader.replication.throttled.rate``, a
        follower outside the ISR reads none of them (an empty answer; the fetch waits on)."""
        replica = prepared.replica_id
        quota = self.node.replicas.leader_quota
        if replica is None or not quota.exceeded():
            return
        for (part, handle, _, _), read in zip(work, reads, strict=True):
            if (
                read.records
                and handle is not None
                and replica not in handle.isr
                and quota.is_throttled(part.topic, part.partition)
            ):
                read.records = b""

    def _answer(
        self, prepared: _Prepared, request: FetchRequest, reads: list[_Read]
    ) -> FetchResponse:
        parts, session, by_id = prepared.parts, prepared.session, prepared.by_id
        if prepared.replica_id is not None:  # what a throttled partition sent counts
            quota = self.node.replicas.leader_quota
            quota.record(
                sum(
                    len(read.records)
                    for part, read in zip(parts.values(), reads, strict=True)
                    if read.records and quota.is_throttled(part.topic, part.partition)
                )
            )
        answered = list(zip(parts.values(), reads, strict=True))
        if session is not None:  # incremental: only what changed
            answered = [(p, r) for p, r in answered if _must_respond(p, r)]
            session.rotate([partition_key(p, by_id) for p, r in answered if r.records])
            out_id = session.id
        else:
            for part, read in answered:
                _must_respond(part, read)  # remember what the client was told
            opens = request.session_epoch == INITIAL_EPOCH and parts
            privileged = prepared.replica_id is not None
            created = self.sessions.create(parts, by_id, privileged) if opens else None
            out_id = created.id if created is not None else INVALID_SESSION_ID
            if created is not None and privileged:
                log.info(
                    "fetch session %d opened for replica %d (%d partitions)",
                    out_id,
                    prepared.replica_id,
                    len(parts),
                )
        hinted: list[tuple[uuid.UUID, FetchResponse.PartitionData]] = []
        responses = _responses(answered, by_id, request.isolation_level == READ_COMMITTED, hinted)
        return FetchResponse(
            session_id=out_id,
            responses=responses,
            node_endpoints=self._hint_leaders(prepared, hinted) if hinted else [],
        )

    def _hint_leaders(
        self, prepared: _Prepared, hinted: list[tuple[uuid.UUID, FetchResponse.PartitionData]]
    ) -> list[FetchResponse.NodeEndpoint]:
        """Sets the current leader of each partition answered NOT_LEADER_OR_FOLLOWER or
        FENCED_LEADER_EPOCH (v16+, as Kafka's handleFetchRequest); the leaders' endpoints."""
        if prepared.hint_listener is None:
            return []
        hints = LeaderHints(self.node, prepared.hint_listener, FetchResponse)
        for topic_id, part in hinted:
            hints.hint(part, topic_id, part.partition_index)
        return hints.node_endpoints()

    def _requested(self, request: FetchRequest, by_id: bool) -> list[CachedPartition]:
        image = self.node.image
        parts: list[CachedPartition] = []
        for topic in request.topics:
            if by_id:
                found = image.topic_by_id(topic.topic_id)
                name, topic_id = (found.name if found else ""), topic.topic_id
            else:
                found = image.topic(topic.topic)
                name = topic.topic
                topic_id = found.topic_id if found else uuid.UUID(int=0)
            parts.extend(
                CachedPartition(
                    name,
                    topic_id,
                    p.partition,
                    p.fetch_offset,
                    p.partition_max_bytes,
                    p.current_leader_epoch,
                    last_fetched_epoch=p.last_fetched_epoch,
                    replica_log_start_offset=p.log_start_offset,
                    replica_high_watermark=p.high_watermark,
                )
                for p in topic.partitions
            )
        return parts

    def _forgotten(self, request: FetchRequest, by_id: bool) -> list[PartitionKey]:
        return [
            (topic.topic_id if by_id else topic.topic, index)
            for topic in request.forgotten_topics_data
            for index in topic.partitions
        ]

    def _handle(
        self, part: CachedPartition, by_id: bool, leader_only: bool = True
    ) -> Partition | int:
        replicas = self.node.replicas
        if by_id:
            return replicas.leader_partition_by_id_or_error(
                part.topic_id, part.partition, leader_only=leader_only
            )
        return replicas.leader_partition_or_error(
            part.topic, part.partition, leader_only=leader_only
        )

    def _preferred(self, part: CachedPartition, handle: Partition, client_rack: str) -> int:
        """The follower this consumer should fetch ``part`` from, or -1 (KIP-392)."""
        selector = self.node.config["replica.selector.class"]
        if selector is None or not handle.is_leader:
            return NO_PREFERRED_REPLICA
        image = self.node.image

        def rack_of(broker_id: int) -> str | None:
            registration = image.broker(broker_id)
            return registration.rack if registration is not None else None

        def live(broker_id: int) -> bool:
            registration = image.broker(broker_id)
            return registration is not None and not registration.fenced

        replicas = handle.replicas
        return preferred_read_replica(
            selector,
            client_rack=client_rack,
            leader_id=handle.local_broker_id,
            leader_end_offset=handle.log_end_offset,
            isr=handle.isr,
            followers=handle.followers,
            fetch_offset=part.fetch_offset,
            now_ms=monotonic_ms(),
            rack_of={r: rack_of(r) for r in replicas},
            is_live=live,
        )

    def _work(self, parts: list[CachedPartition], prepared: _Prepared) -> list[_Work]:
        """Each partition with its handle, looked up afresh (a topic may go while waiting)."""
        work: list[_Work] = []
        refused, unauthorized = prepared.refused, prepared.unauthorized
        rack = prepared.client_rack
        for part in parts:
            found = self._handle(part, prepared.by_id, leader_only=rack is None)
            if refused and partition_key(part, prepared.by_id) in refused:
                found = errors.NOT_LEADER_OR_FOLLOWER
            if unauthorized and partition_key(part, prepared.by_id) in unauthorized:
                found = errors.TOPIC_AUTHORIZATION_FAILED
            if isinstance(found, int):
                work.append((part, None, found, NO_PREFERRED_REPLICA))
            elif rack is not None and found.is_leader:
                work.append((part, found, errors.NONE, self._preferred(part, found, rack)))
            else:
                work.append((part, found, errors.NONE, NO_PREFERRED_REPLICA))
        return work

    async def _long_poll(
        self, parts: list[CachedPartition], request: FetchRequest, prepared: _Prepared
    ) -> list[_Read]:
        """Read; while fewer than min_bytes are there, wait for an append to any of the
        partitions (or max_wait_ms) and read again. Errors answer at once, as in Kafka."""
        deadline = trio.current_time() + max(0, request.max_wait_ms) / MS
        read_committed = request.isolation_level == READ_COMMITTED
        purgatory = self.node.replicas.purgatory
        follower = prepared.replica_id is not None
        while True:
            work = self._work(parts, prepared)
            # Watch before reading: an append after the read wakes us.
            with purgatory.watch(
                handle.key for _, handle, _, _ in work if handle is not None
            ) as woken:
                reads = _cached_reads(work, request.max_bytes, read_committed, follower)
                if reads is None:  # the disk would be waited for: a worker thread does
                    reads = await trio.to_thread.run_sync(
                        functools.partial(
                            read_partitions,
                            work,
                            request.max_bytes,
                            read_committed,
                            follower=follower,
                        )
                    )
                self._throttle(prepared, work, reads)
                waitable = any(handle is not None for _, handle, _, _ in work)
                if _enough(reads, request, waitable=waitable) or trio.current_time() >= deadline:
                    return reads
                with trio.move_on_at(deadline):
                    await woken.wait()


def _enough(reads: list[_Read], request: FetchRequest, *, waitable: bool) -> bool:
    """Whether the reads are the answer without waiting for more: min_bytes found, an error
    (answered at once, as Kafka), nothing to wait on, or a request that may not wait."""
    return (
        request.max_wait_ms <= 0
        or not waitable
        or sum(len(r.records) for r in reads) >= request.min_bytes
        or any(
            r.error
            or r.hw_news
            or r.diverging_epoch >= 0
            or r.diverging_end_offset >= 0
            or r.preferred_read_replica != NO_PREFERRED_REPLICA
            for r in reads
        )
    )


def _keyed(parts: list[CachedPartition], by_id: bool) -> OrderedDict[PartitionKey, CachedPartition]:
    return OrderedDict((partition_key(p, by_id), p) for p in parts)


def _cached_reads(
    work: list[_Work], max_bytes: int, read_committed: bool, follower: bool = False
) -> list[_Read] | None:
    """The reads, from the page cache only; None where one would wait for the disk."""
    try:
        return read_partitions(work, max_bytes, read_committed, nowait=True, follower=follower)
    except BlockingIOError:
        return None


def _must_respond(part: CachedPartition, read: _Read) -> bool:
    return part.must_respond(
        read.error,
        len(read.records),
        read.high_watermark,
        read.last_stable_offset,
        read.log_start_offset,
        read.preferred_read_replica,
        read.diverging_epoch >= 0 or read.diverging_end_offset >= 0,
        read.hw_news,
    )


def _note_client(ctx: RequestContext, request: FetchRequest, prepared: _Prepared) -> None:
    """A consumer's Fetch v11+ carries client metadata (its rack): any replica may serve it."""
    if prepared.replica_id is None and ctx.api_version >= CLIENT_RACK_VERSION:
        prepared.client_rack = request.rack_id or ""


def _responses(
    answered: list[tuple[CachedPartition, _Read]],
    by_id: bool,
    read_committed: bool,
    hinted: list[tuple[uuid.UUID, FetchResponse.PartitionData]],
) -> list[FetchResponse.FetchableTopicResponse]:
    """The topics' answers; the partitions with a leadership error go to ``hinted`` too."""
    topics: dict[str | uuid.UUID, FetchResponse.FetchableTopicResponse] = {}
    for part, read in answered:
        key = part.topic_id if by_id else part.topic
        topic = topics.get(key)
        if topic is None:
            topic = topics[key] = FetchResponse.FetchableTopicResponse(
                topic=part.topic, topic_id=part.topic_id
            )
        data = FetchResponse.PartitionData(
            partition_index=part.partition,
            error_code=read.error,
            high_watermark=read.high_watermark,
            last_stable_offset=read.last_stable_offset,
            log_start_offset=read.log_start_offset,
            # Null for read_uncommitted, a list (maybe empty) for read_committed, as Kafka.
            aborted_transactions=_aborted(read, read_committed),
            preferred_read_replica=read.preferred_read_replica,
            diverging_epoch=FetchResponse.EpochEndOffset(
                epoch=read.diverging_epoch, end_offset=read.diverging_end_offset
            ),
            records=read.records,
        )
        topic.partitions.append(data)
        if read.error in HINTED_ERRORS:
            hinted.append((part.topic_id, data))
    return list(topics.values())


def _aborted(read: _Read, read_committed: bool) -> list[FetchResponse.AbortedTransaction] | None:
    """Kafka's: null for read_uncommitted and for a partition's error, else the list."""
    if not read_committed or read.error:
        return None
    return [
        FetchResponse.AbortedTransaction(producer_id=pid, first_offset=first)
        for pid, first in read.aborted or ()
    ]
