"""ConsumerGroupHeartbeat (API key 68, KIP-848): join, heartbeat and leave of a consumer group
of the new protocol (``group.protocol=consumer``). The group's rules live in
:mod:`ferrokafka.groups.consumer.group`; this module checks the request's shape as Kafka does
(INVALID_REQUEST with its messages) and hands it to
:class:`~ferrokafka.groups.consumer.service.ConsumerGroups`, which writes the change to
``__consumer_offsets`` before answering.
"""

from __future__ import annotations

import uuid

from ferrokafka.groups.consumer import member as m
from ferrokafka.groups.consumer.group import Heartbeat, HeartbeatError
from ferrokafka.groups.consumer.service import ConsumerGroups
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.consumer_group_heartbeat import (
    ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse,
)
from ferrokafka.server.dispatcher import RequestContext

Response = ConsumerGroupHeartbeatResponse
# Owned partitions a heartbeat may list: far above any real consumer, bounds the work.
OWNED_PARTITIONS_MAX = 1_000_000
_JAVA_WHITESPACE = "".join(map(chr, range(33)))


class ConsumerGroupHeartbeatHandler:
    """Answers ConsumerGroupHeartbeat with the node's consumer groups."""

    def __init__(self, groups: ConsumerGroups) -> None:
        self.groups = groups

    async def __call__(
        self, ctx: RequestContext, request: ConsumerGroupHeartbeatRequest
    ) -> ConsumerGroupHeartbeatResponse:
        try:
            invalid = _invalid(request, ctx.api_version)
            if invalid is not None:
                raise HeartbeatError(ec.INVALID_REQUEST, invalid)
            code = self.groups.coordinator.error_code(request.group_id or None)
            if code:
                raise HeartbeatError(code)
            result = await self.groups.heartbeat(request.group_id, _heartbeat(request, ctx))
        except HeartbeatError as err:
            return Response(error_code=err.code, error_message=err.message)
        assignment = None
        if result.assignment is not None:
            assignment = Response.Assignment(
                topic_partitions=[
                    Response.TopicPartitions(topic_id=topic_id, partitions=sorted(parts))
                    for topic_id, parts in sorted(result.assignment.items(), key=str)
                ]
            )
        return Response(
            member_id=result.member_id,
            member_epoch=result.member_epoch,
            heartbeat_interval_ms=result.heartbeat_interval_ms,
            assignment=assignment,
        )


def _invalid(request: ConsumerGroupHeartbeatRequest, api_version: int) -> str | None:
    """Kafka's request checks, in its order, with its messages (INVALID_REQUEST)."""
    epoch = request.member_epoch
    if api_version >= 1 or epoch > 0 or epoch == m.LEAVE_EPOCH:
        if _blank(request.member_id):
            return "MemberId can't be empty."
    if _blank(request.group_id):
        return "GroupId can't be empty."
    if _blank(request.instance_id):
        return "InstanceId can't be empty."
    if _blank(request.rack_id):
        return "RackId can't be empty."
    if epoch == m.JOIN_EPOCH:
        if request.rebalance_timeout_ms == -1:
            return "RebalanceTimeoutMs must be provided in first request."
        if request.topic_partitions is None or request.topic_partitions:
            return "TopicPartitions must be empty when (re-)joining."
        if not request.subscribed_topic_names and not request.subscribed_topic_regex:
            return "SubscribedTopicNames or SubscribedTopicRegex must be set in first request."
    elif epoch == m.LEAVE_STATIC_EPOCH:
        if request.instance_id is None:
            return "InstanceId can't be null."
    elif epoch < m.LEAVE_STATIC_EPOCH:
        return "MemberEpoch is invalid."
    owned = sum(len(tp.partitions) for tp in request.topic_partitions or ())
    if owned > OWNED_PARTITIONS_MAX:
        return f"More than {OWNED_PARTITIONS_MAX} owned partitions."
    return None


def _blank(value: str | None) -> bool:
    """Java's ``value.trim().isEmpty()`` for a non-null value (trim drops chars <= ' ')."""
    return value is not None and not value.strip(_JAVA_WHITESPACE)


def _heartbeat(request: ConsumerGroupHeartbeatRequest, ctx: RequestContext) -> Heartbeat:
    owned: dict[uuid.UUID, frozenset[int]] | None = None
    if request.topic_partitions is not None:
        owned = {}
        for tp in request.topic_partitions:
            owned[tp.topic_id] = owned.get(tp.topic_id, frozenset()) | frozenset(tp.partitions)
    return Heartbeat(
        # Empty only in v0 when joining: the coordinator chooses it.
        member_id=request.member_id,
        member_epoch=request.member_epoch,
        instance_id=request.instance_id,
        rack_id=request.rack_id,
        rebalance_timeout_ms=request.rebalance_timeout_ms,
        subscribed_topic_names=request.subscribed_topic_names,
        subscribed_topic_regex=request.subscribed_topic_regex,
        server_assignor=request.server_assignor,
        owned=owned,
        client_id=ctx.client_id or "",
        client_host="/" + str(ctx.client_address[0]) if ctx.client_address else "",
    )
