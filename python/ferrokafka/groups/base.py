"""What every kind of group (classic, consumer/KIP-848, streams, share) offers the coordinator
and the handlers that work on any group: offsets (OffsetCommit/OffsetFetch/OffsetDelete) and
admin (ListGroups, DescribeGroups, DeleteGroups).

The coordinator keeps one map group id → :class:`Group`; a group id names one group of one
kind at a time (Kafka answers GROUP_ID_NOT_FOUND / INCONSISTENT_GROUP_PROTOCOL when a request
of the other kind names it, and converts an empty classic group to a consumer group on the
first ConsumerGroupHeartbeat, and back).

A group persists itself as records on ``__consumer_offsets``: each record is a key and a value
(``None`` for a tombstone) already serialized in Kafka's format (a 2-byte record type, then the
versioned key or value, as Kafka's group coordinator writes them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# ListGroups/DescribeGroups group types (ListGroups v5 "TypesFilter", KIP-848)
CLASSIC = "classic"
CONSUMER = "consumer"

# (key bytes, value bytes or None for a tombstone), both with their 2-byte version prefix
Record = tuple[bytes, bytes | None]


@dataclass(frozen=True)
class OffsetCommitter:
    """Who commits offsets, as an OffsetCommit or TxnOffsetCommit names it: the group decides
    with these whether the commit is accepted (:meth:`Group.validate_offset_commit`)."""

    member_id: str
    group_instance_id: str | None
    # the classic group's generation id or the consumer/streams member's epoch (-1: none)
    epoch: int
    # the request's version (TxnOffsetCommit's own with ``transactional``)
    api_version: int
    # TxnOffsetCommit: Kafka accepts it without member id and generation in a group that is
    # not empty, and whatever the group's state
    transactional: bool = False


class Group(Protocol):
    """One group of either kind, as the offset and admin handlers see it."""

    group_id: str

    @property
    def kind(self) -> str:
        """:data:`CLASSIC` or :data:`CONSUMER`."""
        ...

    @property
    def state(self) -> str:
        """Kafka's state name as ListGroups reports it: classic groups "Empty",
        "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"; consumer groups
        "Empty", "Assigning", "Reconciling", "Stable", "Dead"."""
        ...

    @property
    def protocol_type(self) -> str:
        """ListGroups' ProtocolType: the classic group's protocol type ("consumer", "connect",
        or "" when it has none); "consumer" for consumer groups."""
        ...

    def is_empty(self) -> bool:
        """No members: offsets may be expired, the group may be deleted."""
        ...

    def subscribed_topics(self) -> frozenset[str] | None:
        """The topics some member subscribes to, or None when unknown (a classic group whose
        protocol type is not "consumer"). OffsetDelete refuses GROUP_SUBSCRIBED_TO_TOPIC for
        these."""
        ...

    def validate_offset_commit(self, committer: OffsetCommitter) -> int:
        """The error code an OffsetCommit (or TxnOffsetCommit) from ``committer`` gets (0:
        accept)."""
        ...

    def validate_offset_fetch(self, member_id: str | None, member_epoch: int) -> int:
        """The error code an OffsetFetch v9+ with a member id/epoch gets (0: accept)."""
        ...

    def validate_delete(self) -> int:
        """DeleteGroups: 0 when the group may be deleted, else NON_EMPTY_GROUP."""
        ...

    def tombstones(self) -> list[Record]:
        """The tombstones that remove every metadata record of this group (not its offsets:
        the coordinator writes those) when the group is deleted."""
        ...

    def on_deleted(self) -> None:
        """The group is gone: wake whatever waits on it, cancel its timers."""
        ...
