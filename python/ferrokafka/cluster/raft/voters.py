"""The quorum's voter set and its history in the log (KIP-853): Kafka's ``VoterSet``,
``VoterSetHistory`` and the part of ``KRaftControlRecordStateMachine`` that follows them.

A voter is a replica key — node id and, from kraft.version 1, the id of its metadata directory
(``directory.id`` in meta.properties) — with its endpoints (listener name, host, port) and the
kraft.version range it supports. Two sources of voter sets:

- static: ``controller.quorum.voters`` (kraft.version 0): ids and endpoints, no directory ids,
  never changes;
- dynamic: ``VotersRecord`` control records (type 6) in the log, the first one in the bootstrap
  checkpoint (``kafka-storage format --standalone / --initial-controllers``, or none with
  ``--no-initial-controllers``: an observer that learns the voters from the leader's log).
  The voter set in force at an offset is the last record at or before it, committed or not (as
  in Kafka: a leader counts the new voters from the moment it appends the record).

:class:`VoterSetHistory` is the list of (offset, voter set) and (offset, kraft.version) the
replica keeps as its log grows and is truncated: entries at or past a truncation point go with
the records they came from; the bootstrap checkpoint's entries sit at offset -1 and never go.
When the log starts at a snapshot (at start, or one installed from the leader) the history is
the snapshot header's entries alone, at its last contained offset (:meth:`load_snapshot`).
Changes are one voter at a time (add, remove, or update one voter's endpoints), so any two
consecutive voter sets have overlapping majorities: no two leaders of one epoch under the two.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ferrokafka.protocol.messages.voters_record import VotersRecord

NO_DIRECTORY_ID = uuid.UUID(int=0)  # Kafka's ReplicaKey.NO_DIRECTORY_ID
BOOTSTRAP_OFFSET = -1  # where the bootstrap checkpoint's voters and kraft.version sit
VOTERS_RECORD_VERSION = 0  # VotersRecord written at version 0, as Kafka's VoterSet.toVotersRecord
KRAFT_VERSION_RECORD_VERSION = 0
# The kraft.version range this software supports (0: static voters, 1: KIP-853).
SUPPORTED_KRAFT_VERSIONS = (0, 1)
HISTORY_ENTRIES_MAX = 1_000_000  # a bound on (uncompacted) voter changes kept in memory


@dataclass(frozen=True, slots=True, order=True)
class VoterEndpoint:
    """One listener of a voter (Kafka's ``Endpoints`` entry)."""

    name: str
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class VoterNode:
    """Kafka's ``VoterSet.VoterNode``: a replica key, endpoints, supported kraft.version."""

    node_id: int
    directory_id: uuid.UUID | None  # None: a static voter, whose directory is not checked
    endpoints: tuple[VoterEndpoint, ...] = ()
    kraft_versions: tuple[int, int] = (0, 0)

    def is_voter(self, node_id: int, directory_id: uuid.UUID | None) -> bool:
        """Kafka's ``VoterNode.isVoter``: same id, and the same directory if one is known."""
        if node_id != self.node_id:
            return False
        return self.directory_id is None or self.directory_id == directory_id

    def address(self, listener: str) -> tuple[str, int] | None:
        for endpoint in self.endpoints:
            if endpoint.name == listener:
                return (endpoint.host, endpoint.port)
        return None

    def key(self) -> tuple[int, uuid.UUID | None]:
        return (self.node_id, self.directory_id)


class VoterSet:
    """An immutable voter set (Kafka's ``VoterSet``): changes return a new one, or None when
    the change does not apply (Kafka's Optional.empty)."""

    __slots__ = ("_nodes",)

    def __init__(self, nodes: Iterable[VoterNode] = ()) -> None:
        self._nodes: dict[int, VoterNode] = {}
        for node in nodes:
            if node.node_id in self._nodes:
                raise ValueError(f"voter {node.node_id} listed twice")
            self._nodes[node.node_id] = node

    @classmethod
    def static(cls, voters: Mapping[int, tuple[str, int]], listener: str) -> VoterSet:
        """``controller.quorum.voters``: ids and one endpoint each, no directory ids."""
        return cls(
            VoterNode(v, None, (VoterEndpoint(listener, host, int(port)),))
            for v, (host, port) in voters.items()
        )

    @classmethod
    def of_ids(cls, ids: Iterable[int]) -> VoterSet:
        """Voters known by id only (the simulation's, and tests')."""
        return cls(VoterNode(v, None) for v in ids)

    # --- queries ---------------------------------------------------------------------------

    @property
    def ids(self) -> frozenset[int]:
        return frozenset(self._nodes)

    def nodes(self) -> list[VoterNode]:
        return [self._nodes[v] for v in sorted(self._nodes)]

    def get(self, node_id: int) -> VoterNode | None:
        return self._nodes.get(node_id)

    def is_voter(self, node_id: int | None, directory_id: uuid.UUID | None) -> bool:
        node = None if node_id is None else self._nodes.get(node_id)
        return node is not None and node.is_voter(node_id, directory_id)  # type: ignore[arg-type]

    def address(self, node_id: int, listener: str) -> tuple[str, int] | None:
        node = self._nodes.get(node_id)
        return None if node is None else node.address(listener)

    def voter_node_needs_update(self, node: VoterNode) -> bool:
        """Kafka's ``voterNodeNeedsUpdate``: ``node`` is a voter here but listed differently."""
        current = self._nodes.get(node.node_id)
        return (
            current is not None
            and current.is_voter(node.node_id, node.directory_id)
            and current != node
        )

    def has_overlapping_majority(self, other: VoterSet) -> bool:
        """At most one voter key added and at most one removed (Kafka's check)."""
        mine = {n.key() for n in self._nodes.values()}
        theirs = {n.key() for n in other._nodes.values()}
        return len(mine - theirs) <= 1 and len(theirs - mine) <= 1

    # --- changes ---------------------------------------------------------------------------

    def add_voter(self, node: VoterNode) -> VoterSet | None:
        if node.node_id in self._nodes:
            return None
        return VoterSet([*self._nodes.values(), node])

    def remove_voter(self, node_id: int, directory_id: uuid.UUID | None) -> VoterSet | None:
        """None unless the key matches exactly and a voter would remain (Kafka's rule)."""
        current = self._nodes.get(node_id)
        if current is None or current.directory_id != directory_id or len(self._nodes) <= 1:
            return None
        return VoterSet(n for n in self._nodes.values() if n.node_id != node_id)

    def update_voter(self, node: VoterNode) -> VoterSet | None:
        current = self._nodes.get(node.node_id)
        if current is None or not current.is_voter(node.node_id, node.directory_id):
            return None
        return VoterSet(node if n.node_id == node.node_id else n for n in self._nodes.values())

    # --- VotersRecord ----------------------------------------------------------------------

    def to_record(self) -> VotersRecord:
        return VotersRecord(
            version=VOTERS_RECORD_VERSION,
            voters=[
                VotersRecord.Voter(
                    voter_id=n.node_id,
                    voter_directory_id=n.directory_id or NO_DIRECTORY_ID,
                    endpoints=[
                        VotersRecord.Endpoint(name=e.name, host=e.host, port=e.port)
                        for e in n.endpoints
                    ],
                    k_raft_version_feature=VotersRecord.KRaftVersionFeature(
                        min_supported_version=n.kraft_versions[0],
                        max_supported_version=n.kraft_versions[1],
                    ),
                )
                for n in self.nodes()
            ],
        )

    @classmethod
    def from_record(cls, record: VotersRecord) -> VoterSet:
        """Kafka's ``VoterSet.fromVotersRecord`` (a zero directory id means none)."""
        return cls(
            VoterNode(
                v.voter_id,
                None if v.voter_directory_id == NO_DIRECTORY_ID else v.voter_directory_id,
                tuple(VoterEndpoint(e.name, e.host, e.port) for e in v.endpoints),
                (
                    v.k_raft_version_feature.min_supported_version,
                    v.k_raft_version_feature.max_supported_version,
                ),
            )
            for v in record.voters
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VoterSet) and self._nodes == other._nodes

    def __hash__(self) -> int:
        return hash(frozenset(self._nodes.items()))

    def __len__(self) -> int:
        return len(self._nodes)

    def __repr__(self) -> str:
        return f"VoterSet({[n.key() for n in self.nodes()]})"


# --- the control records as log values ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VotersChange:
    """A ``VotersRecord`` control record (type 6) in the log: the voter set from here on."""

    voters: VoterSet


@dataclass(frozen=True, slots=True)
class KRaftVersionChange:
    """A ``KRaftVersionRecord`` control record (type 5): the kraft.version from here on."""

    version: int


# --- the history ----------------------------------------------------------------------------


class VoterSetHistory:
    """Voter sets and kraft.versions by offset (Kafka's ``KRaftControlRecordStateMachine``).

    ``static``: the configured voter set (kraft.version 0); used while the log and the
    bootstrap checkpoint name none. :meth:`bootstrap` takes a checkpoint's content at -1."""

    def __init__(self, static: VoterSet | None = None) -> None:
        self.static = static
        self._voters: list[tuple[int, VoterSet]] = []
        self._kraft: list[tuple[int, int]] = []

    def bootstrap(self, kraft_version: int, voters: VoterSet | None) -> None:
        """The bootstrap checkpoint's KRaftVersionRecord and VotersRecord (offset -1)."""
        self._kraft = [e for e in self._kraft if e[0] != BOOTSTRAP_OFFSET]
        self._voters = [e for e in self._voters if e[0] != BOOTSTRAP_OFFSET]
        self._kraft.insert(0, (BOOTSTRAP_OFFSET, kraft_version))
        if voters is not None:
            self._voters.insert(0, (BOOTSTRAP_OFFSET, voters))

    def apply(self, offset: int, value: object) -> bool:
        """A record appended at ``offset``; True if it changed the voter set."""
        if isinstance(value, VotersChange):
            self._add(self._voters, offset, value.voters)
            return True
        if isinstance(value, KRaftVersionChange):
            self._add(self._kraft, offset, value.version)
        return False

    @staticmethod
    def _add(entries: list, offset: int, value: object) -> None:
        if entries and offset <= entries[-1][0]:
            raise AssertionError(f"control record at {offset} after one at {entries[-1][0]}")
        if len(entries) >= HISTORY_ENTRIES_MAX:
            raise AssertionError(f"more than {HISTORY_ENTRIES_MAX} voter changes in the log")
        entries.append((offset, value))

    def load_snapshot(self, offset: int, values: Iterable[object]) -> bool:
        """Kafka's ``maybeLoadSnapshot``: the log now starts at a snapshot (installed from the
        leader, or found at start), so the history is the snapshot's alone — its
        KRaftVersionRecord and VotersRecord (``values``), at ``offset``, its last contained
        offset (-1 for the bootstrap checkpoint). What came before, from the old log or an
        earlier checkpoint, goes. True if the voter set changed."""
        before = self.last_voters()
        self._voters, self._kraft = [], []
        for value in values:
            self.apply(offset, value)
        return self.last_voters() != before

    def truncate_old_entries(self, start_offset: int) -> None:
        """Kafka's ``truncateOldEntries``: the log prefix below ``start_offset`` went; keep
        the last entry below it (the one in force at the snapshot's last offset) and those
        from it on. Kafka keeps the last one at or before the start instead; then a record at
        the start offset itself, not yet committed and later truncated, took the entry in
        force below it along (the simulation found this: a voter history left empty)."""
        for entries in (self._voters, self._kraft):
            older = [i for i, (at, _) in enumerate(entries) if at < start_offset]
            if len(older) > 1:
                del entries[: older[-1]]

    def truncate_new_entries(self, end_offset: int) -> bool:
        """The log was truncated to ``end_offset``: forget entries at or past it; True if the
        voter set changed."""
        before = self.last_voters()
        self._voters = [e for e in self._voters if e[0] < end_offset]
        self._kraft = [e for e in self._kraft if e[0] < end_offset]
        return self.last_voters() != before

    # --- queries ---------------------------------------------------------------------------

    def last_voters(self) -> VoterSet:
        if self._voters:
            return self._voters[-1][1]
        return self.static if self.static is not None else VoterSet()

    def last_voters_offset(self) -> int | None:
        """The offset of the latest VotersRecord (-1: the checkpoint's), None for static."""
        return self._voters[-1][0] if self._voters else None

    def voters_at(self, offset: int) -> VoterSet:
        """The voter set in force at ``offset`` (the last entry at or before it)."""
        found = self.static if self.static is not None else VoterSet()
        for at, voters in self._voters:
            if at > offset:
                break
            found = voters
        return found

    def kraft_version(self) -> int:
        return self._kraft[-1][1] if self._kraft else 0

    def kraft_version_at(self, offset: int) -> int:
        """The kraft.version in force at ``offset`` (0 before any record of it)."""
        found = 0
        for at, version in self._kraft:
            if at > offset:
                break
            found = version
        return found

    def control_values_at(self, offset: int) -> tuple[object, ...]:
        """What a snapshot ending after ``offset`` carries (Kafka writes both records into a
        snapshot's header from kraft.version 1 on; nothing at 0)."""
        version = self.kraft_version_at(offset)
        if version < 1:
            return ()
        voters = self.voters_at(offset)
        return (KRaftVersionChange(version), VotersChange(voters))


def is_control_value(value: object) -> bool:
    return isinstance(value, (VotersChange, KRaftVersionChange))
