"""LeaveGroup (key 13, v0-5): members leave at once instead of waiting for their session to
expire; v3+ names several members, by member id or group instance id (KIP-345)."""

from __future__ import annotations

from ferrokafka.groups.classic.protocol import ClassicGroups
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.leave_group import LeaveGroupRequest, LeaveGroupResponse
from ferrokafka.server.dispatcher import RequestContext

BATCHED_VERSION = 3
# Kafka bounds the batch by the request size only; a group never has more members than this.
MEMBERS_MAX = 100_000


class LeaveGroupHandler:
    def __init__(self, classic: ClassicGroups) -> None:
        self.classic = classic

    async def __call__(self, ctx: RequestContext, request: LeaveGroupRequest) -> LeaveGroupResponse:
        if ctx.api_version < BATCHED_VERSION:
            top, codes = self.classic.leave(request.group_id, [(request.member_id, None)])
            return LeaveGroupResponse(error_code=top if top != ec.NONE else codes[0])
        members = request.members[:MEMBERS_MAX]
        top, codes = self.classic.leave(
            request.group_id, [(m.member_id, m.group_instance_id) for m in members]
        )
        return LeaveGroupResponse(
            error_code=top,
            members=[]
            if top != ec.NONE
            else [
                LeaveGroupResponse.MemberResponse(
                    member_id=m.member_id, group_instance_id=m.group_instance_id, error_code=code
                )
                for m, code in zip(members, codes, strict=True)
            ],
        )
