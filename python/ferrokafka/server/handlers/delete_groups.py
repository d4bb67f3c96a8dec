"""DeleteGroups (key 42, v0-3): an empty group and all its offsets go (tombstones on
``__consumer_offsets``, for pending transactional ones too); a group with members is
NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND. v3 (Kafka 4.4) adds a per-group error
message, which Kafka 4.4 fills only for a streams group's topology-description errors: for the
groups we have it stays null."""

from __future__ import annotations

from ferrokafka.groups.coordinator import GroupCoordinator
from ferrokafka.groups.offsets import offset_tombstone
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.delete_groups import DeleteGroupsRequest, DeleteGroupsResponse
from ferrokafka.server.dispatcher import RequestContext

GROUPS_MAX = 10_000


class DeleteGroupsHandler:
    def __init__(self, coordinator: GroupCoordinator) -> None:
        self.coordinator = coordinator

    async def __call__(
        self, ctx: RequestContext, request: DeleteGroupsRequest
    ) -> DeleteGroupsResponse:
        results = []
        for group_id in request.groups_names[:GROUPS_MAX]:
            code = await self._delete(group_id)
            results.append(
                DeleteGroupsResponse.DeletableGroupResult(group_id=group_id, error_code=code)
            )
        return DeleteGroupsResponse(results=results)

    async def _delete(self, group_id: str) -> int:
        code = self.coordinator.error_code(group_id or None)
        if code != ec.NONE:
            return code
        group = self.coordinator.get_group(group_id)
        if group is None:
            return ec.GROUP_ID_NOT_FOUND
        code = group.validate_delete()
        if code != ec.NONE:
            return code
        hook = self.coordinator.delete_hooks.get(group.kind)
        if hook is not None:
            code = await hook(group)
            if code != ec.NONE:
                return code
        # Kafka's deleteAllOffsets: a tombstone for each committed offset, and for each offset
        # an open transaction holds (its replay removes the pending one).
        store = self.coordinator.offsets
        partitions = list(store.of_group(group_id))
        partitions += sorted(store.pending.partitions_of(group_id) - set(partitions))
        records = [offset_tombstone(group_id, t, p) for t, p in partitions]
        records += group.tombstones()

        def apply() -> None:
            self.coordinator.offsets.remove_group(group_id)
            if self.coordinator.get_group(group_id) is group:
                self.coordinator.remove_group(group_id)
            group.on_deleted()

        write_code = await self.coordinator.write(group_id, records, apply)
        return ec.NONE if write_code == ec.NONE else ec.COORDINATOR_NOT_AVAILABLE
