"""One partition's next state as one PartitionChangeRecord (sans-io): Kafka 4.4's
``PartitionChangeBuilder``, with reassignments and eligible leader replicas (ELR, KIP-966).

A caller names the targets that change (ISR, replicas, adding/removing replicas, leader
recovery state), the election (ONLINE, PREFERRED, UNCLEAN) and, when the cluster finalized
``eligible.leader.replicas.version`` 1, the topic's effective ``min.insync.replicas``
(``min_isr``; None: ELR off). :func:`build_change` then, in Kafka's order:

1. completes a reassignment in progress when the target ISR allows it
   (:func:`complete_reassignment`, Kafka's ``PartitionReassignmentReplicas.
   maybeCompleteReassignment``): every target replica is in the ISR; the removed replicas leave
   the replicas and the ISR, adding/removing are cleared;
2. ELR on (Kafka's ``maybePopulateTargetElr``): a target ISR of at least ``min_isr`` members
   clears the ELR and the last known ELR; a smaller one moves the members that leave the ISR
   into the ELR (the current ISR and ELR, minus the target ISR and minus brokers that shut
   down uncleanly, ``unclean_shutdown``);
3. elects a leader (Kafka's ``electAnyLeader`` / ``electPreferredLeader``): the current one if
   it is valid — in the target ISR, or in the ELR when the target ISR is empty — and
   acceptable, else the first such replica in target-replica order (PREFERRED: the first
   replica first), else (ELR on, ISR and ELR empty) the last known leader if acceptable, else
   (UNCLEAN) the first acceptable replica. A leader from the ELR becomes the ISR alone and
   leaves the ELR; an unclean one (or the last known leader) is the ISR alone, RECOVERING;
4. bumps the leader epoch (sets the leader field to the same leader) when the new replica list
   lacks a replica of the old one, so that a removed replica's fetches are fenced;
5. sets the ELR (cleared by an unclean election or with ELR off) and the ISR (which may be
   empty only with ELR on); the last known ELR holds the last leader once the ISR becomes
   empty (Kafka's ``maybeUpdateLastKnownLeader``, ``useLastKnownLeaderInBalancedRecovery``)
   and is cleared once the partition has a leader again;
6. sets each assignment field that differs from the partition, directories of new replicas
   included (the broker's only log directory, else unassigned, as Kafka's ``defaultDir``).

ELR lists are in ascending broker order (what Kafka's HashSet of small Integers gives).
No record (None) when nothing changes (Kafka's ``changeRecordIsNoOp``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ferrokafka.cluster import dir_assignment
from ferrokafka.cluster.image import MetadataImage, PartitionImage
from ferrokafka.cluster.records import PartitionChangeRecord

# Kafka's LeaderConstants.NO_LEADER.
NO_LEADER = -1
# PartitionChangeRecord.leader: -2 is "the leader did not change".
NO_LEADER_CHANGE = -2
# Kafka's LeaderRecoveryState: RECOVERING after an unclean election; -1 is "no change".
RECOVERING = 1
NO_RECOVERY_STATE_CHANGE = -1
# Kafka's DirectoryId.UNASSIGNED (Uuid 0:1): a replica whose broker has several directories.
UNASSIGNED_DIRECTORY = dir_assignment.UNASSIGNED

# Kafka's PartitionChangeBuilder.Election.
ONLINE = "online"
PREFERRED = "preferred"
UNCLEAN = "unclean"

# Can this broker lead (registered, unfenced, not shutting down)?
Acceptable = Callable[[int], bool]


def reassignment_in_progress(part: PartitionImage) -> bool:
    """Kafka's ``PartitionReassignmentReplicas.isReassignmentInProgress``."""
    return bool(part.adding_replicas) or bool(part.removing_replicas)


def complete_reassignment(
    replicas: Sequence[int],
    removing: Sequence[int],
    adding: Sequence[int],
    target_isr: Sequence[int],
) -> tuple[list[int], list[int]] | None:
    """The (replicas, ISR) once the reassignment completes with ``target_isr``, or None when it
    cannot complete yet (or none is in progress)."""
    if not removing and not adding:
        return None
    new_isr = [r for r in target_isr if r not in removing]
    new_replicas = [r for r in replicas if r not in removing]
    if not new_isr or not new_replicas:
        return None
    if not set(new_replicas) <= set(new_isr):
        return None
    return new_replicas, new_isr


def active_acceptor(image: MetadataImage) -> Acceptable:
    """Kafka's ``LeaderAcceptor``: a registered broker that is unfenced and not shutting down."""

    def acceptable(replica: int) -> bool:
        broker = image.broker(replica)
        return broker is not None and broker.is_active

    return acceptable


def default_directory(image: MetadataImage, broker_id: int) -> uuid.UUID:
    """The directory a new replica of ``broker_id`` is given: its only one, else unassigned
    (none registered: migrating; :func:`dir_assignment.default_directory`)."""
    return dir_assignment.default_directory(image, broker_id)


def build_change(
    image: MetadataImage,
    topic_id: uuid.UUID,
    part: PartitionImage,
    *,
    isr: Sequence[int] | None = None,
    replicas: Sequence[int] | None = None,
    removing: Sequence[int] | None = None,
    adding: Sequence[int] | None = None,
    recovery_state: int | None = None,
    acceptable: Acceptable | None = None,
    unclean: bool = False,
    election: str | None = None,
    min_isr: int | None = None,
    unclean_shutdown: Sequence[int] = (),
) -> PartitionChangeRecord | None:
    """The record that takes ``part`` to the targets given (None: unchanged), or None.
    ``election`` defaults to UNCLEAN when ``unclean`` else ONLINE; ``min_isr`` None: ELR off."""
    target = _Targets(
        isr=list(part.isr if isr is None else isr),
        replicas=list(part.replicas if replicas is None else replicas),
        removing=list(part.removing_replicas if removing is None else removing),
        adding=list(part.adding_replicas if adding is None else adding),
        elr=list(part.elr or ()),
    )
    kind = election if election is not None else (UNCLEAN if unclean else ONLINE)
    base = acceptable if acceptable is not None else active_acceptor(image)

    def accept(replica: int) -> bool:
        # Kafka's LeaderAcceptor: never a replica whose log dir is offline.
        return base(replica) and dir_assignment.replica_online(image, part, replica)

    record = PartitionChangeRecord(topic_id=topic_id, partition_id=part.partition)

    completed = complete_reassignment(target.replicas, target.removing, target.adding, target.isr)
    if completed is not None:
        target.replicas, target.isr = completed
        target.removing, target.adding = [], []
    if min_isr is not None:
        _populate_elr(part, target, min_isr, unclean_shutdown)

    leader, was_unclean = _elect(part, target, accept, kind, elr_on=min_isr is not None)
    if leader != part.leader:
        if leader in target.elr:
            target.isr = [leader]
            target.elr = [r for r in target.elr if r != leader]
        record.leader = leader
        if was_unclean:
            record.isr = [leader]
            if part.leader_recovery_state != RECOVERING:
                record.leader_recovery_state = RECOVERING
    if record.leader == NO_LEADER_CHANGE and not set(part.replicas) <= set(target.replicas):
        record.leader = part.leader  # a replica left: the leader epoch must move
    # Kafka's maybeUpdateRecordElr: an unclean election, or ELR off, clears the ELR.
    if record.isr is not None or min_isr is None:
        target.elr = []
    if target.elr != list(part.elr or ()):
        record.eligible_leader_replicas = target.elr
    # With ELR on the ISR may become empty; with it off the last member stays.
    if record.isr is None and (target.isr or min_isr is not None) and target.isr != list(part.isr):
        record.isr = target.isr
    if min_isr is not None:
        _update_last_known_leader(part, record)
    _set_assignment(image, part, record, target.replicas, target.removing, target.adding)
    if (
        recovery_state is not None
        and record.leader_recovery_state == NO_RECOVERY_STATE_CHANGE
        and recovery_state != part.leader_recovery_state
    ):
        record.leader_recovery_state = recovery_state
    return None if _is_no_op(record) else record


@dataclass(slots=True)
class _Targets:
    isr: list[int]
    replicas: list[int]
    removing: list[int]
    adding: list[int]
    elr: list[int]


def _populate_elr(
    part: PartitionImage, target: _Targets, min_isr: int, unclean_shutdown: Sequence[int]
) -> None:
    """Kafka's ``maybePopulateTargetElr`` (the last known ELR it computes is only written
    when ``useLastKnownLeaderInBalancedRecovery`` is off, never in Kafka 4.4's controller)."""
    if len(target.isr) >= min_isr:
        target.elr = []
        return
    candidates = set(target.elr) | set(part.isr)
    target.elr = sorted(r for r in candidates if r not in target.isr and r not in unclean_shutdown)


def _elect(
    part: PartitionImage,
    target: _Targets,
    acceptable: Acceptable,
    election: str,
    *,
    elr_on: bool,
) -> tuple[int, bool]:
    """Kafka's ``electPreferredLeader`` / ``electAnyLeader``: (leader, was it unclean)."""

    def valid(replica: int) -> bool:
        in_isr = replica in target.isr or (not target.isr and replica in target.elr)
        return in_isr and acceptable(replica)

    if election == PREFERRED and target.replicas and valid(target.replicas[0]):
        return target.replicas[0], False
    if valid(part.leader):
        return part.leader, False
    rest = target.replicas[1:] if election == PREFERRED else target.replicas
    for replica in rest:
        if valid(replica):
            return replica, False
    last_known = list(part.last_known_elr or ())
    if (
        elr_on
        and not target.elr
        and not target.isr
        and len(last_known) == 1
        and acceptable(last_known[0])
    ):
        return last_known[0], True  # Kafka's canElectLastKnownLeader
    if election == UNCLEAN:
        for replica in target.replicas:
            if acceptable(replica):
                return replica, True
    return NO_LEADER, False


def _update_last_known_leader(part: PartitionImage, record: PartitionChangeRecord) -> None:
    """Kafka's ``maybeUpdateLastKnownLeader``: remember the leader when the ISR first becomes
    empty; forget it once the partition has (or keeps) a leader."""
    last_known = list(part.last_known_elr or ())
    if record.isr is not None and not record.isr and last_known != [part.leader]:
        record.last_known_elr = [part.leader]
    elif (
        record.leader >= 0 or (part.leader != NO_LEADER and record.leader != NO_LEADER)
    ) and last_known:
        record.last_known_elr = []


def _set_assignment(
    image: MetadataImage,
    part: PartitionImage,
    record: PartitionChangeRecord,
    replicas: list[int],
    removing: list[int],
    adding: list[int],
) -> None:
    """Kafka's ``setAssignmentChanges``: replicas (with their directories), removing, adding."""
    if replicas:
        if part.directories:
            known = dict(zip(part.replicas, part.directories, strict=False))
            directories = [
                known[r] if r in known else default_directory(image, r) for r in replicas
            ]
            if directories != list(part.directories):
                record.directories = directories
        if replicas != list(part.replicas):
            record.replicas = replicas
    if removing != list(part.removing_replicas):
        record.removing_replicas = removing
    if adding != list(part.adding_replicas):
        record.adding_replicas = adding


def _is_no_op(record: PartitionChangeRecord) -> bool:
    """Kafka's ``PartitionChangeBuilder.changeRecordIsNoOp``."""
    return (
        record.isr is None
        and record.leader == NO_LEADER_CHANGE
        and record.replicas is None
        and record.removing_replicas is None
        and record.adding_replicas is None
        and record.leader_recovery_state == NO_RECOVERY_STATE_CHANGE
        and record.directories is None
        and record.eligible_leader_replicas is None
        and record.last_known_elr is None
    )
