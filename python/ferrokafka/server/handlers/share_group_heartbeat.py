"""ShareGroupHeartbeat (API key 76, KIP-932): join, heartbeat and leave of a share group.
Kafka's request checks (INVALID_REQUEST with its messages), then
:class:`~ferrokafka.groups.share.service.ShareGroups`, which writes the change to
``__consumer_offsets`` (and initializes new share-partitions' state) before answering."""

from __future__ import annotations

from ferrokafka.groups.share.group import JOIN_EPOCH, LEAVE_EPOCH, Heartbeat, HeartbeatError
from ferrokafka.groups.share.service import ShareGroups
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.share_group_heartbeat import (
    ShareGroupHeartbeatRequest,
    ShareGroupHeartbeatResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.handlers.share_fetch import valid_member_id
from ferrokafka.server.handlers.share_settings import share_enabled
from ferrokafka.server.node import Node

Response = ShareGroupHeartbeatResponse
_JAVA_WHITESPACE = "".join(map(chr, range(33)))
# Topics one member may subscribe to: bounds the work of one heartbeat.
SUBSCRIBED_TOPICS_MAX = 10_000


class ShareGroupHeartbeatHandler:
    def __init__(self, node: Node, groups: ShareGroups) -> None:
        self.node = node
        self.groups = groups

    async def __call__(
        self, ctx: RequestContext, request: ShareGroupHeartbeatRequest
    ) -> ShareGroupHeartbeatResponse:
        if not share_enabled(self.node):
            return Response(error_code=ec.UNSUPPORTED_VERSION)
        try:
            if not valid_member_id(request.member_id):
                # KafkaApis' own check: answered without its message, as Kafka 4.4 does.
                return Response(error_code=ec.INVALID_REQUEST)
            invalid = _invalid(request)
            if invalid is not None:
                raise HeartbeatError(ec.INVALID_REQUEST, invalid)
            code = self.groups.coordinator.error_code(request.group_id)
            if code:
                raise HeartbeatError(code)
            result = await self.groups.heartbeat(
                request.group_id,
                Heartbeat(
                    member_id=request.member_id,
                    member_epoch=request.member_epoch,
                    rack_id=request.rack_id,
                    subscribed_topic_names=request.subscribed_topic_names,
                    client_id=ctx.client_id or "",
                    client_host="/" + str(ctx.client_address[0]) if ctx.client_address else "",
                ),
            )
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


def _blank(value: str | None) -> bool:
    return value is not None and not value.strip(_JAVA_WHITESPACE)


def _invalid(request: ShareGroupHeartbeatRequest) -> str | None:
    """Kafka's checks, in its order (GroupCoordinatorService's
    throwIfShareGroupHeartbeatRequestIsInvalid); null strings pass, blank ones do not."""
    if _blank(request.member_id):
        return "MemberId can't be empty."
    if _blank(request.group_id):
        return "GroupId can't be empty."
    if _blank(request.rack_id):
        return "RackId can't be empty."
    if request.member_epoch == JOIN_EPOCH and not request.subscribed_topic_names:
        return "SubscribedTopicNames must be set in first request."
    if request.member_epoch < LEAVE_EPOCH:
        return "MemberEpoch is invalid."
    if len(request.subscribed_topic_names or ()) > SUBSCRIBED_TOPICS_MAX:
        return f"More than {SUBSCRIBED_TOPICS_MAX} subscribed topics."
    return None
