"""ListGroups (key 16, v0-5): every group this coordinator holds, filtered by state (v4+) and
type (v5+, "classic"/"consumer"); both filters compare case-insensitively, as Kafka does."""

from __future__ import annotations

from ferrokafka.groups.coordinator import GroupCoordinator
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.list_groups import ListGroupsRequest, ListGroupsResponse
from ferrokafka.server.dispatcher import RequestContext


class ListGroupsHandler:
    def __init__(self, coordinator: GroupCoordinator) -> None:
        self.coordinator = coordinator

    async def __call__(self, ctx: RequestContext, request: ListGroupsRequest) -> ListGroupsResponse:
        code = self.coordinator.error_code()
        if code == ec.COORDINATOR_LOAD_IN_PROGRESS:
            return ListGroupsResponse(error_code=code)
        states = {s.lower() for s in request.states_filter}
        types = {t.lower() for t in request.types_filter}
        listed = []
        for group in list(self.coordinator.groups.values()):
            if states and group.state.lower() not in states:
                continue
            if types and group.kind.lower() not in types:
                continue
            listed.append(
                ListGroupsResponse.ListedGroup(
                    group_id=group.group_id,
                    protocol_type=group.protocol_type,
                    group_state=group.state,
                    group_type=group.kind,
                )
            )
        return ListGroupsResponse(error_code=ec.NONE, groups=listed)
