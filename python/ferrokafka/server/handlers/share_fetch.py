"""ShareFetch (API key 78, KIP-932): a share group member's fetch. The share session (epoch 0
opens, -1 closes, else its next epoch) names the share-partitions; piggy-backed
acknowledgements are applied first (per partition ``acknowledge_error_code``), then each
partition acquires up to the request's ``max_records`` overall for the member from the first
available offset (:class:`~ferrokafka.share.manager.SharePartitionManager`), and a fetch that
acquired nothing waits up to ``max_wait_ms`` for an append or a release (the purgatory).

Authorization as Kafka's ``handleShareFetchRequest``: READ on the group (else the whole request
is GROUP_AUTHORIZATION_FAILED), READ on each topic (TOPIC_AUTHORIZATION_FAILED per partition).
As Kafka, the leader does not check that the member is in the group (see
:func:`valid_member_id`). A partition answered NOT_LEADER_OR_FOLLOWER carries its current
leader and that leader's endpoint (KIP-951, :mod:`.leader_hint`); the others keep the default
leader fields (0, 0), as Kafka's.
"""

from __future__ import annotations

import uuid

import trio

from ferrokafka.partition import Partition
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.share_fetch import ShareFetchRequest, ShareFetchResponse
from ferrokafka.server.authorize import AclOperation, ResourceType, authorized
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.handlers.leader_hint import HINTED_ERRORS, LeaderHints
from ferrokafka.server.handlers.share_settings import share_enabled, share_settings
from ferrokafka.server.node import Node
from ferrokafka.share.manager import SharePartitionManager
from ferrokafka.share.persister import SharePartitionKey
from ferrokafka.share.sessions import (
    FINAL_EPOCH,
    INITIAL_EPOCH,
    ShareSession,
    ShareSessionError,
    TopicIdPartition,
)

Response = ShareFetchResponse
MS = 1000.0
# A share session's partitions: as many as a fetch session may hold in Kafka's defaults.
SESSION_PARTITIONS_MAX = 10_000
MEMBER_ID_LENGTH_MAX = 36


class ShareFetchHandler:
    def __init__(self, node: Node, manager: SharePartitionManager) -> None:
        self.node = node
        self.manager = manager

    async def __call__(self, ctx: RequestContext, request: ShareFetchRequest) -> ShareFetchResponse:
        if not share_enabled(self.node):
            return Response(error_code=ec.UNSUPPORTED_VERSION)
        if request.group_id is None:  # Kafka refuses a null group id only
            return Response(error_code=ec.INVALID_REQUEST)  # "Invalid group id", not sent
        group_id = request.group_id
        member_id = request.member_id or ""
        if not authorized(self.node, ctx, AclOperation.READ, ResourceType.GROUP, group_id):
            return Response(error_code=ec.GROUP_AUTHORIZATION_FAILED)
        if not valid_member_id(member_id):
            return Response(error_code=ec.INVALID_REQUEST)  # "Invalid member id", not sent
        renew_invalid = _renew_invalid(request)
        if renew_invalid is not None:
            return Response(error_code=ec.INVALID_REQUEST, error_message=renew_invalid)
        acks = _acks(request)
        epoch = request.share_session_epoch
        try:
            session = self._session(request, group_id, member_id, bool(acks), ctx.connection_id)
        except ShareSessionError as err:
            # Kafka's getErrorResponse: the code, no message.
            return Response(error_code=err.code)
        lock_ms = share_settings(self.node, group_id).config.record_lock_duration_ms
        results: dict[TopicIdPartition, Response.PartitionData] = {}
        for tp, batches in acks.items():
            results[tp] = self._partition(tp)
            results[tp].acknowledge_error_code = await self._acknowledge(
                ctx, group_id, member_id, tp, batches
            )
        if epoch == FINAL_EPOCH:
            await self.manager.release_member(group_id, member_id)
            return self._response(ctx, results, lock_ms)
        assert session is not None
        if epoch == INITIAL_EPOCH:
            for tp in session.partitions:
                results.setdefault(tp, self._partition(tp))
        if not request.is_renew_ack:  # a renewal only acknowledges
            await self._fetch(ctx, request, session, results)
        return self._response(ctx, results, lock_ms)

    def _session(
        self,
        request: ShareFetchRequest,
        group_id: str,
        member_id: str,
        has_acks: bool,
        connection_id: int,
    ) -> ShareSession | None:
        epoch = request.share_session_epoch
        sessions = self.manager.sessions
        if epoch == FINAL_EPOCH:  # acknowledge, then close: no fetching
            sessions.close(group_id, member_id)
            return None
        if epoch == INITIAL_EPOCH:
            if has_acks:
                raise ShareSessionError(
                    ec.INVALID_REQUEST,
                    "Acknowledge data present on initial share fetch request.",
                )
            session, _ = sessions.open(group_id, member_id, connection_id)
        else:
            session = sessions.advance(group_id, member_id, epoch)
        for topic in request.topics:
            for p in topic.partitions:
                if len(session.partitions) >= SESSION_PARTITIONS_MAX:
                    break
                session.partitions[(topic.topic_id, p.partition_index)] = None
        for forgotten in request.forgotten_topics_data:
            for index in forgotten.partitions:
                session.partitions.pop((forgotten.topic_id, index), None)
        return session

    def _partition(self, tp: TopicIdPartition) -> Response.PartitionData:
        return Response.PartitionData(partition_index=tp[1], records=b"")

    def _response(
        self,
        ctx: RequestContext,
        results: dict[TopicIdPartition, Response.PartitionData],
        lock_ms: int,
    ) -> ShareFetchResponse:
        """The response, the partitions not led here hinted with their leader (KIP-951)."""
        hints = LeaderHints(self.node, ctx.listener_name, Response)
        for (topic_id, index), part in results.items():
            if part.error_code in HINTED_ERRORS:
                hints.hint(part, topic_id, index)
        by_topic: dict[uuid.UUID, list[Response.PartitionData]] = {}
        for (topic_id, _), part in results.items():
            by_topic.setdefault(topic_id, []).append(part)
        return Response(
            acquisition_lock_timeout_ms=lock_ms,
            responses=[
                Response.ShareFetchableTopicResponse(topic_id=t, partitions=parts)
                for t, parts in by_topic.items()
            ],
            node_endpoints=hints.node_endpoints(),
        )

    def _topic_allowed(self, ctx: RequestContext, topic_id: uuid.UUID) -> bool:
        topic = self.node.image.topics_by_id.get(topic_id)
        if topic is None:
            return True  # unknown: answered UNKNOWN_TOPIC_ID by the lookup
        return authorized(self.node, ctx, AclOperation.READ, ResourceType.TOPIC, topic.name)

    async def _acknowledge(
        self,
        ctx: RequestContext,
        group_id: str,
        member_id: str,
        tp: TopicIdPartition,
        batches: list[tuple[int, int, list[int]]],
    ) -> int:
        if not self._topic_allowed(ctx, tp[0]):
            return ec.TOPIC_AUTHORIZATION_FAILED
        handle = self.node.replicas.leader_partition_by_id_or_error(tp[0], tp[1])
        return await self.manager.acknowledge(
            SharePartitionKey(group_id, tp[0], tp[1]), handle, member_id, batches
        )

    async def _fetch(
        self,
        ctx: RequestContext,
        request: ShareFetchRequest,
        session: ShareSession,
        results: dict[TopicIdPartition, Response.PartitionData],
    ) -> None:
        group_id = session.group_id
        deadline = trio.current_time() + max(0, request.max_wait_ms) / MS
        max_records = request.max_records if request.max_records > 0 else 500
        while True:
            handles: list[tuple[TopicIdPartition, Partition]] = []
            for tp in list(session.partitions):
                if not self._topic_allowed(ctx, tp[0]):
                    results.setdefault(
                        tp, self._partition(tp)
                    ).error_code = ec.TOPIC_AUTHORIZATION_FAILED
                    continue
                found = self.node.replicas.leader_partition_by_id_or_error(tp[0], tp[1])
                if not isinstance(found, Partition):
                    results.setdefault(tp, self._partition(tp)).error_code = found
                    continue
                handles.append((tp, found))
            purgatory = self.node.replicas.purgatory
            with purgatory.watch(h.key for _, h in handles) as woken:
                got = False
                budget_records = max_records
                budget_bytes = max(0, request.max_bytes)
                for tp, handle in handles:
                    if budget_records <= 0:
                        break
                    result = await self.manager.fetch(
                        SharePartitionKey(group_id, tp[0], tp[1]),
                        handle,
                        session.member_id,
                        budget_bytes,
                        budget_records,
                    )
                    part = results.setdefault(tp, self._partition(tp))
                    if result.error:
                        part.error_code = result.error
                        got = True
                        continue
                    if result.acquired:
                        got = True
                        part.records = result.records
                        part.acquired_records = [
                            Response.AcquiredRecords(
                                first_offset=a.first_offset,
                                last_offset=a.last_offset,
                                delivery_count=a.delivery_count,
                            )
                            for a in result.acquired
                        ]
                        budget_records -= sum(
                            a.last_offset - a.first_offset + 1 for a in result.acquired
                        )
                        budget_bytes = max(0, budget_bytes - len(result.records))
                if got or not handles or trio.current_time() >= deadline:
                    return
                with trio.move_on_at(deadline):
                    await woken.wait()


def valid_member_id(member_id: str) -> bool:
    """Kafka's KafkaApis.isMemberIdValid: not empty, at most 36 characters (a UUID's string).
    The share-partition leader does not check that the member is in the group: the group may
    be coordinated elsewhere, and a session is what ties a member to its records."""
    return 0 < len(member_id) <= MEMBER_ID_LENGTH_MAX


def _renew_invalid(request: ShareFetchRequest) -> str | None:
    """A renewal (v2 ``is_renew_ack``) fetches nothing: Kafka's message when it would."""
    if not request.is_renew_ack:
        return None
    message = ""
    for name, value in (
        ("maxBytes", request.max_bytes),
        ("minBytes", request.min_bytes),
        ("maxRecords", request.max_records),
        ("maxWaitMs", request.max_wait_ms),
    ):
        if value != 0:
            message += f"{name} must be set to 0,"
    return message + "if isRenewAck is true." if message else None


def _acks(request: ShareFetchRequest) -> dict[TopicIdPartition, list[tuple[int, int, list[int]]]]:
    out: dict[TopicIdPartition, list[tuple[int, int, list[int]]]] = {}
    for topic in request.topics:
        for p in topic.partitions:
            if p.acknowledgement_batches:
                out[(topic.topic_id, p.partition_index)] = [
                    (b.first_offset, b.last_offset, list(b.acknowledge_types))
                    for b in p.acknowledgement_batches
                ]
    return out
