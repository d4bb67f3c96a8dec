"""ShareAcknowledge (API key 79, KIP-932): a member's acknowledgements (ACCEPT, RELEASE,
REJECT, RENEW; GAP) outside a fetch, in its share session (epoch 0 is refused: a session is
opened by ShareFetch; -1 acknowledges, closes the session and releases what the member still
holds). Authorization as ShareFetch: READ on the group and on each topic. As Kafka's, a
share-partition not loaded on this broker (never fetched here, or dropped when the partition's
leadership moved) is UNKNOWN_TOPIC_OR_PARTITION; a partition answered NOT_LEADER_OR_FOLLOWER
carries its current leader and its endpoint (KIP-951, :mod:`.leader_hint`), the others the
default leader fields."""

from __future__ import annotations

import uuid

from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.share_acknowledge import (
    ShareAcknowledgeRequest,
    ShareAcknowledgeResponse,
)
from ferrokafka.server.authorize import AclOperation, ResourceType, authorized
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.handlers.leader_hint import HINTED_ERRORS, LeaderHints
from ferrokafka.server.handlers.share_fetch import valid_member_id
from ferrokafka.server.handlers.share_settings import share_enabled, share_settings
from ferrokafka.server.node import Node
from ferrokafka.share.manager import SharePartitionManager
from ferrokafka.share.persister import SharePartitionKey
from ferrokafka.share.sessions import FINAL_EPOCH, INITIAL_EPOCH, ShareSessionError

Response = ShareAcknowledgeResponse


class ShareAcknowledgeHandler:
    def __init__(self, node: Node, manager: SharePartitionManager) -> None:
        self.node = node
        self.manager = manager

    async def __call__(
        self, ctx: RequestContext, request: ShareAcknowledgeRequest
    ) -> ShareAcknowledgeResponse:
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
        epoch = request.share_session_epoch
        sessions = self.manager.sessions
        try:
            if epoch == INITIAL_EPOCH:
                raise ShareSessionError(
                    ec.INVALID_SHARE_SESSION_EPOCH,
                    "A share session cannot be opened by ShareAcknowledge.",
                )
            if epoch == FINAL_EPOCH:
                sessions.close(group_id, member_id)
            else:
                sessions.advance(group_id, member_id, epoch)
        except ShareSessionError as err:
            # Kafka's getErrorResponse: the code, no message.
            return Response(error_code=err.code)
        topics = []
        hints = LeaderHints(self.node, ctx.listener_name, Response)
        for topic in request.topics:
            parts = []
            for p in topic.partitions:
                batches = [
                    (b.first_offset, b.last_offset, list(b.acknowledge_types))
                    for b in p.acknowledgement_batches
                ]
                code = await self._acknowledge(
                    ctx, group_id, member_id, topic.topic_id, p.partition_index, batches
                )
                part = Response.PartitionData(partition_index=p.partition_index, error_code=code)
                if code in HINTED_ERRORS:
                    hints.hint(part, topic.topic_id, p.partition_index)
                parts.append(part)
            topics.append(
                Response.ShareAcknowledgeTopicResponse(topic_id=topic.topic_id, partitions=parts)
            )
        if epoch == FINAL_EPOCH:
            await self.manager.release_member(group_id, member_id)
        return Response(
            acquisition_lock_timeout_ms=share_settings(
                self.node, group_id
            ).config.record_lock_duration_ms,
            responses=topics,
            node_endpoints=hints.node_endpoints(),
        )

    async def _acknowledge(
        self,
        ctx: RequestContext,
        group_id: str,
        member_id: str,
        topic_id: uuid.UUID,
        index: int,
        batches: list[tuple[int, int, list[int]]],
    ) -> int:
        topic = self.node.image.topics_by_id.get(topic_id)
        if topic is not None and not authorized(
            self.node, ctx, AclOperation.READ, ResourceType.TOPIC, topic.name
        ):
            return ec.TOPIC_AUTHORIZATION_FAILED
        handle = self.node.replicas.leader_partition_by_id_or_error(topic_id, index)
        return await self.manager.acknowledge(
            SharePartitionKey(group_id, topic_id, index), handle, member_id, batches
        )
