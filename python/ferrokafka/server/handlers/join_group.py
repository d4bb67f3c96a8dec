"""JoinGroup (key 11, v0-9): the classic protocol's join barrier (see
:mod:`ferrokafka.groups.classic.protocol`). The handler waits until the rebalance completes."""

from __future__ import annotations

from ferrokafka.groups.classic.protocol import ClassicGroups, JoinArgs, JoinResult
from ferrokafka.protocol.messages.join_group import JoinGroupRequest, JoinGroupResponse
from ferrokafka.server.dispatcher import RequestContext

# JoinGroup v0 has no rebalance timeout: Kafka uses the session timeout.
REBALANCE_TIMEOUT_VERSION = 1
# protocol_name is nullable from v7 on; before, "" stands for none.
NULLABLE_PROTOCOL_VERSION = 7


def client_host(ctx: RequestContext) -> str:
    """Kafka's member client host: the address with a leading slash (InetAddress.toString)."""
    return "/" + str(ctx.client_address[0]) if ctx.client_address else ""


class JoinGroupHandler:
    def __init__(self, classic: ClassicGroups) -> None:
        self.classic = classic

    async def __call__(self, ctx: RequestContext, request: JoinGroupRequest) -> JoinGroupResponse:
        version = ctx.api_version
        rebalance_timeout_ms = (
            request.rebalance_timeout_ms
            if version >= REBALANCE_TIMEOUT_VERSION
            else request.session_timeout_ms
        )
        result = await self.classic.join(
            JoinArgs(
                group_id=request.group_id,
                member_id=request.member_id,
                group_instance_id=request.group_instance_id,
                protocol_type=request.protocol_type,
                protocols=[(p.name, bytes(p.metadata)) for p in request.protocols],
                session_timeout_ms=request.session_timeout_ms,
                rebalance_timeout_ms=rebalance_timeout_ms,
                client_id=ctx.client_id or "",
                client_host=client_host(ctx),
                api_version=version,
            )
        )
        return to_response(result, version)


def to_response(result: JoinResult, version: int) -> JoinGroupResponse:
    protocol_name = result.protocol_name
    if protocol_name is None and version < NULLABLE_PROTOCOL_VERSION:
        protocol_name = ""
    return JoinGroupResponse(
        error_code=result.error_code,
        generation_id=result.generation_id,
        protocol_type=result.protocol_type,
        protocol_name=protocol_name,
        leader=result.leader,
        skip_assignment=result.skip_assignment,
        member_id=result.member_id,
        members=[
            JoinGroupResponse.JoinGroupResponseMember(
                member_id=member_id, group_instance_id=instance, metadata=metadata
            )
            for member_id, instance, metadata in result.members
        ],
    )
