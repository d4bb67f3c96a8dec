"""SyncGroup (key 14, v0-5): the leader hands out the assignment; every member waits for its
share (see :mod:`ferrokafka.groups.classic.protocol`)."""

from __future__ import annotations

from ferrokafka.groups.classic.protocol import ClassicGroups
from ferrokafka.protocol.messages.sync_group import SyncGroupRequest, SyncGroupResponse
from ferrokafka.server.dispatcher import RequestContext

# v5 carries the protocol type and name both ways (KIP-559).
PROTOCOL_FIELDS_VERSION = 5


class SyncGroupHandler:
    def __init__(self, classic: ClassicGroups) -> None:
        self.classic = classic

    async def __call__(self, ctx: RequestContext, request: SyncGroupRequest) -> SyncGroupResponse:
        with_protocol = ctx.api_version >= PROTOCOL_FIELDS_VERSION
        result = await self.classic.sync(
            request.group_id,
            request.generation_id,
            request.member_id,
            request.group_instance_id,
            request.protocol_type if with_protocol else None,
            request.protocol_name if with_protocol else None,
            {a.member_id: bytes(a.assignment) for a in request.assignments},
        )
        return SyncGroupResponse(
            error_code=result.error_code,
            protocol_type=result.protocol_type,
            protocol_name=result.protocol_name,
            assignment=result.assignment,
        )
