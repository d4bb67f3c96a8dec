"""Heartbeat (key 12, v0-4): keeps a classic member's session alive and tells it when a
rebalance started (REBALANCE_IN_PROGRESS)."""

from __future__ import annotations

from ferrokafka.groups.classic.protocol import ClassicGroups
from ferrokafka.protocol.messages.heartbeat import HeartbeatRequest, HeartbeatResponse
from ferrokafka.server.dispatcher import RequestContext


class HeartbeatHandler:
    def __init__(self, classic: ClassicGroups) -> None:
        self.classic = classic

    async def __call__(self, ctx: RequestContext, request: HeartbeatRequest) -> HeartbeatResponse:
        code = self.classic.heartbeat(
            request.group_id, request.generation_id, request.member_id, request.group_instance_id
        )
        return HeartbeatResponse(error_code=code)
