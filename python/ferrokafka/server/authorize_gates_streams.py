"""The authorization gates of streams groups (KIP-1071, Kafka 4.4's ``KafkaApis``).

StreamsGroupHeartbeat: READ on the group (else GROUP_AUTHORIZATION_FAILED); with a topology,
DESCRIBE on every topic it reads or writes (source and repartition sink topics, else
TOPIC_AUTHORIZATION_FAILED naming them). The broker creates missing internal topics for the
group, so the member must also be allowed to create them (CREATE on the cluster or on each
internal topic): Kafka then answers the heartbeat and reports the topics as missing with an
authorization detail; this gate refuses the heartbeat with TOPIC_AUTHORIZATION_FAILED instead
(fail closed). StreamsGroupDescribe: DESCRIBE on each group, GROUP_AUTHORIZATION_FAILED for
the others, authorized operations when asked.
"""

from __future__ import annotations

from typing import Any

from ferrokafka.cluster.acls.model import AclOperation
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages import streams_group_describe, streams_group_heartbeat
from ferrokafka.server.authorize import StandardAuthorizer, authorized_operations
from ferrokafka.server.authorize_gate_kit import GROUP, TOPIC, Gate, Inner, allows, cluster_allows
from ferrokafka.server.dispatcher import RequestContext


async def _streams_group_heartbeat(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    R = streams_group_heartbeat.StreamsGroupHeartbeatResponse
    if not allows(auth, ctx, AclOperation.READ, GROUP, request.group_id):
        return R(error_code=ec.GROUP_AUTHORIZATION_FAILED, error_message=None)
    if request.topology is not None:
        read: set[str] = set()
        internal: set[str] = set()
        for s in request.topology.subtopologies:
            read.update(s.source_topics, s.repartition_sink_topics)
            internal.update(i.name for i in s.repartition_source_topics)
            internal.update(i.name for i in s.state_changelog_topics)
        undescribable = sorted(
            t for t in read - internal if not allows(auth, ctx, AclOperation.DESCRIBE, TOPIC, t)
        )
        if undescribable:
            return R(
                error_code=ec.TOPIC_AUTHORIZATION_FAILED,
                error_message="The client is not authorized to describe topics: "
                + ", ".join(undescribable),
            )
        if not cluster_allows(auth, ctx, AclOperation.CREATE):
            uncreatable = sorted(
                t for t in internal if not allows(auth, ctx, AclOperation.CREATE, TOPIC, t)
            )
            if uncreatable:
                return R(
                    error_code=ec.TOPIC_AUTHORIZATION_FAILED,
                    error_message="The client is not authorized to create internal topics: "
                    + ", ".join(uncreatable),
                )
    return await inner(ctx, request)


async def _streams_group_describe(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    denied = [
        g for g in request.group_ids if not allows(auth, ctx, AclOperation.DESCRIBE, GROUP, g)
    ]
    request.group_ids = [g for g in request.group_ids if g not in denied]
    response = await inner(ctx, request)
    if request.include_authorized_operations:
        for group in response.groups:
            if group.error_code == ec.NONE:
                group.authorized_operations = authorized_operations(
                    _Holder(auth), ctx, GROUP, group.group_id
                )
    response.groups.extend(
        streams_group_describe.StreamsGroupDescribeResponse.DescribedGroup(
            error_code=ec.GROUP_AUTHORIZATION_FAILED, group_id=g
        )
        for g in denied
    )
    return response


class _Holder:
    """An object with the ``authorizer`` attribute server/authorize.py's helpers read."""

    __slots__ = ("authorizer",)

    def __init__(self, authorizer: StandardAuthorizer) -> None:
        self.authorizer = authorizer


STREAMS_GATES: dict[type, Gate] = {
    streams_group_heartbeat.StreamsGroupHeartbeatRequest: _streams_group_heartbeat,
    streams_group_describe.StreamsGroupDescribeRequest: _streams_group_describe,
}
