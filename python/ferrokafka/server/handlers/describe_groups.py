"""DescribeGroups (key 15, v0-6): state, protocol and members of classic groups.

As in Kafka, members' metadata and assignment are given only while the group is Stable, and
the protocol name only then. An unknown group is reported Dead, with GROUP_ID_NOT_FOUND from
v6 on (KIP-1043); so is a group of another kind (KIP-848 consumer groups, described by
ConsumerGroupDescribe), as Kafka 4.3 answers.
"""

from __future__ import annotations

from ferrokafka.groups.classic.group import STABLE, ClassicGroup
from ferrokafka.groups.coordinator import GroupCoordinator
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.describe_groups import (
    DescribeGroupsRequest,
    DescribeGroupsResponse,
)
from ferrokafka.server.dispatcher import RequestContext

NOT_FOUND_VERSION = 6
# Kafka's AclOperation codes a group supports, as a bit set: READ(3), DELETE(6), DESCRIBE(8).
# With no authorizer every operation is allowed.
GROUP_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8)
OPERATIONS_OMITTED = -(2**31)
GROUPS_MAX = 10_000

_Group = DescribeGroupsResponse.DescribedGroup
_Member = DescribeGroupsResponse.DescribedGroupMember


class DescribeGroupsHandler:
    def __init__(self, coordinator: GroupCoordinator) -> None:
        self.coordinator = coordinator

    async def __call__(
        self, ctx: RequestContext, request: DescribeGroupsRequest
    ) -> DescribeGroupsResponse:
        operations = (
            GROUP_OPERATIONS if request.include_authorized_operations else OPERATIONS_OMITTED
        )
        return DescribeGroupsResponse(
            groups=[
                self._describe(group_id, ctx.api_version, operations)
                for group_id in request.groups[:GROUPS_MAX]
            ]
        )

    def _describe(self, group_id: str, version: int, operations: int) -> _Group:
        code = self.coordinator.error_code(group_id or None)
        if code != ec.NONE:
            return _Group(error_code=code, group_id=group_id, authorized_operations=operations)
        group = self.coordinator.get_group(group_id)
        if group is None:
            missing = ec.GROUP_ID_NOT_FOUND if version >= NOT_FOUND_VERSION else ec.NONE
            return _Group(
                error_code=missing,
                error_message=f"Group {group_id} not found." if missing else None,
                group_id=group_id,
                group_state="Dead",
                authorized_operations=operations,
            )
        if not isinstance(group, ClassicGroup):
            # Kafka 4.3 describes only classic groups here: another kind is Dead, with
            # GROUP_ID_NOT_FOUND from v6 on (ConsumerGroupDescribe describes it).
            missing = ec.GROUP_ID_NOT_FOUND if version >= NOT_FOUND_VERSION else ec.NONE
            return _Group(
                error_code=missing,
                error_message=f"Group {group_id} is not a classic group." if missing else None,
                group_id=group_id,
                group_state="Dead",
                authorized_operations=operations,
            )
        stable = group.state == STABLE
        return _Group(
            group_id=group_id,
            group_state=group.state,
            protocol_type=group.protocol_type,
            protocol_data=(group.protocol_name or "") if stable else "",
            members=[
                _Member(
                    member_id=m.member_id,
                    group_instance_id=m.group_instance_id,
                    client_id=m.client_id,
                    client_host=m.client_host,
                    member_metadata=m.metadata(group.protocol_name) if stable else b"",
                    member_assignment=m.assignment if stable else b"",
                )
                for m in group.members.values()
            ],
            authorized_operations=operations,
        )
