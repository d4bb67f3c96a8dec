"""The records of a KIP-848-style group on ``__consumer_offsets``, for any kind (consumer,
streams): what changed between two states of a group becomes records (:meth:`GroupRecords.changes`),
and the records read back at load rebuild the group (:class:`Replayer`).

Each kind has the same five records, in its own types: group metadata (group epoch), member
metadata (its client and what it asks for), target assignment metadata (assignment epoch), a
member's target assignment, and a member's current assignment (epochs, reconciliation state,
what it has). A removed member or group is a tombstone of each. A kind subclasses
:class:`GroupRecords` with its key types and the conversions between its members and values,
and may add records of its own at group level (streams: its topology).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from ferrokafka.groups.base import Record
from ferrokafka.groups.epoch_group import EpochGroup
from ferrokafka.groups.serde import encode_key, encode_value, record_type_of
from ferrokafka.protocol.schema import Message

G = TypeVar("G", bound=EpochGroup)

# One record's replay: its key and its value (None: a tombstone).
Replay = Callable[[Message, Message | None], None]


def record(key: Message, value: Message | None) -> Record:
    return encode_key(key), None if value is None else encode_value(value)


@dataclass(frozen=True)
class Snapshot:
    """What records are derived from, taken before a change (members are immutable, so
    copying the maps is a full copy)."""

    exists: bool
    group_epoch: int
    assignment_epoch: int
    members: Mapping[str, Any]
    target: Mapping[str, Any]
    # the kind's own group state its group records derive from (see GroupRecords.group_state)
    state: Any = None


class GroupRecords(Generic[G]):
    """The records of one kind of group. Subclasses name the key and value types and convert
    members and targets to values (for :meth:`changes`) and back (for the :class:`Replayer`)."""

    group_type: ClassVar[type]
    metadata_key: ClassVar[type]
    member_key: ClassVar[type]
    target_metadata_key: ClassVar[type]
    target_metadata_value: ClassVar[type]
    target_member_key: ClassVar[type]
    current_key: ClassVar[type]
    # group-level keys a deleted group's tombstones name after its members', in Kafka's order
    group_keys: ClassVar[tuple[type, ...]]

    # -- to records ------------------------------------------------------------------------

    def group_state(self, group: G) -> Any:
        """The kind's group state :meth:`group_records` compares before and after."""
        return None

    def group_records(self, before: Snapshot, group: G) -> list[Record]:
        """The group-level records (group metadata, and the kind's own) a change writes."""
        raise NotImplementedError

    def metadata_fields(self, member: Any) -> tuple:
        """The member's fields its member metadata record carries."""
        raise NotImplementedError

    def current_fields(self, member: Any) -> tuple:
        """The member's fields its current assignment record carries."""
        x = member
        return (x.member_epoch, x.previous_member_epoch, x.state, x.assigned, x.pending_revocation)

    def member_value(self, member: Any) -> Message:
        raise NotImplementedError

    def target_value(self, target: Any) -> Message:
        raise NotImplementedError

    def current_value(self, member: Any) -> Message:
        raise NotImplementedError

    def snapshot(self, group: G, exists: bool = True) -> Snapshot:
        return Snapshot(
            exists=exists,
            group_epoch=group.group_epoch,
            assignment_epoch=group.assignment_epoch,
            members=dict(group.members),
            target=dict(group.target),
            state=self.group_state(group),
        )

    def member_tombstones(self, group_id: str, member_id: str) -> list[Record]:
        return [
            record(self.current_key(group_id=group_id, member_id=member_id), None),
            record(self.target_member_key(group_id=group_id, member_id=member_id), None),
            record(self.member_key(group_id=group_id, member_id=member_id), None),
        ]

    def changes(self, before: Snapshot, group: G) -> list[Record]:
        """The records that take the log from ``before`` to the group's present state, in the
        order Kafka writes them (members, group records, targets, assignment epoch, current
        assignments)."""
        gid = group.group_id
        out: list[Record] = []
        for member_id in before.members.keys() - group.members.keys():
            out += self.member_tombstones(gid, member_id)
        # Members are immutable: one that is the same object as before has not changed.
        for x in group.members.values():
            old = before.members.get(x.member_id)
            if old is x:
                continue
            if old is None or self.metadata_fields(old) != self.metadata_fields(x):
                key = self.member_key(group_id=gid, member_id=x.member_id)
                out.append(record(key, self.member_value(x)))
        out += self.group_records(before, group)
        # Every target that changed, also without a new assignment epoch (a static member that
        # came back under a new member id takes over its predecessor's target).
        for member_id, target in group.target.items():
            old_target = before.target.get(member_id)
            if member_id in before.members and (old_target is target or old_target == target):
                continue
            key = self.target_member_key(group_id=gid, member_id=member_id)
            out.append(record(key, self.target_value(target)))
        if before.assignment_epoch != group.assignment_epoch or not before.exists:
            out.append(
                record(
                    self.target_metadata_key(group_id=gid),
                    self.target_metadata_value(assignment_epoch=group.assignment_epoch),
                )
            )
        for x in group.members.values():
            old = before.members.get(x.member_id)
            if old is x or (old is not None and self.current_fields(old) == self.current_fields(x)):
                continue
            key = self.current_key(group_id=gid, member_id=x.member_id)
            out.append(record(key, self.current_value(x)))
        return out

    def group_tombstones(self, group: G) -> list[Record]:
        """The tombstones of a deleted group: each member's, then the group's."""
        gid = group.group_id
        out: list[Record] = []
        for member_id in group.members:
            out += self.member_tombstones(gid, member_id)
        out += [record(key(group_id=gid), None) for key in self.group_keys]
        return out

    # -- from records ----------------------------------------------------------------------

    def new_member(self, member_id: str) -> Any:
        raise NotImplementedError

    def restore_group(self, group: G, value: Message) -> None:
        """Apply a group metadata value to the group being loaded."""
        group.group_epoch = value.epoch  # type: ignore[attr-defined]

    def member_from(self, old: Any, value: Message) -> Any:
        """``old`` with the fields of a member metadata value."""
        raise NotImplementedError

    def target_from(self, value: Message) -> Any:
        raise NotImplementedError

    def current_from(self, old: Any, value: Message) -> Any:
        """``old`` with the fields of a current assignment value."""
        raise NotImplementedError

    def replayer(
        self,
        get_group: Callable[[str], object],
        add_group: Callable[[G], None],
        remove_group: Callable[[str], object],
        config: Callable[[str], Any],
        member_loaded: Callable[[G, str], None] = lambda group, member_id: None,
    ) -> Replayer[G]:
        """The :class:`Replayer` of this kind's records (its arguments are the Replayer's)."""
        return Replayer(self, get_group, add_group, remove_group, config, member_loaded)

    def other_record_types(self, replayer: Replayer) -> dict[type, Replay]:
        """The kind's own group-level records and their replay (streams: the topology)."""
        return {}


class Replayer(Generic[G]):
    """Rebuilds groups of one kind (``records``) from their records at load, through the
    coordinator's map.

    Made by :meth:`GroupRecords.replayer`. ``get_group``/``add_group``/``remove_group`` are the
    coordinator's; ``config`` gives a new
    group's config by its id; ``member_loaded`` hears of every member put back (to start its
    session timer).
    """

    def __init__(
        self,
        records: GroupRecords[G],
        get_group: Callable[[str], object],
        add_group: Callable[[G], None],
        remove_group: Callable[[str], object],
        config: Callable[[str], Any],
        member_loaded: Callable[[G, str], None] = lambda group, member_id: None,
    ) -> None:
        self.records = records
        self._get = get_group
        self._add = add_group
        self._remove = remove_group
        self._config = config
        self._member_loaded = member_loaded

    def record_types(self) -> dict[int, Replay]:
        r = self.records
        replays: dict[type, Replay] = {
            r.metadata_key: self.group_metadata,
            **r.other_record_types(self),
            r.member_key: self.member_metadata,
            r.target_metadata_key: self.target_metadata,
            r.target_member_key: self.target_member,
            r.current_key: self.current_assignment,
        }
        return {record_type_of(key()): replay for key, replay in replays.items()}

    def group(self, group_id: str, create: bool) -> G | None:
        """The group of this kind with this id; with ``create`` a new one when there is none,
        or in place of a group of another kind (the group was converted)."""
        group = self._get(group_id)
        if isinstance(group, self.records.group_type):
            return group  # type: ignore[return-value]
        if not create:
            return None
        if group is not None:
            self._remove(group_id)  # this kind's record after another kind's
        new = self.records.group_type(group_id, self._config(group_id))
        self._add(new)
        return new

    def create(self, group_id: str) -> G:
        group = self.group(group_id, create=True)
        assert group is not None
        return group

    def group_metadata(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, self.records.metadata_key)
        if value is None:
            group = self.group(key.group_id, create=False)
            if group is not None:
                self._remove(key.group_id)
                group.on_deleted()
            return
        self.records.restore_group(self.create(key.group_id), value)

    def member_metadata(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, self.records.member_key)
        if value is None:
            existing = self.group(key.group_id, create=False)
            if existing is not None:
                existing.restore_member(key.member_id, None)
            return
        group = self.create(key.group_id)
        old = group.members.get(key.member_id) or self.records.new_member(key.member_id)
        group.restore_member(key.member_id, self.records.member_from(old, value))
        self._member_loaded(group, key.member_id)

    def target_metadata(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, self.records.target_metadata_key)
        if value is not None:
            self.create(key.group_id).assignment_epoch = value.assignment_epoch  # type: ignore[attr-defined]

    def target_member(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, self.records.target_member_key)
        if value is None:
            existing = self.group(key.group_id, create=False)
            if existing is not None:
                existing.target.pop(key.member_id, None)
            return
        self.create(key.group_id).target[key.member_id] = self.records.target_from(value)

    def current_assignment(self, key: Message, value: Message | None) -> None:
        assert isinstance(key, self.records.current_key)
        if value is None:
            return  # the member's metadata tombstone that follows removes it
        group = self.create(key.group_id)
        old = group.members.get(key.member_id) or self.records.new_member(key.member_id)
        group.restore_member(key.member_id, self.records.current_from(old, value))
