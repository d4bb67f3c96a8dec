"""One partition's next state as one PartitionChangeRecord (sans-io): Kafka's
``PartitionChangeBuilder`` for eligible leader replicas (ELR, KIP-966) off, with reassignments.

A caller names the targets that change (ISR, replicas, adding/removing replicas, leader
recovery state); :func:`build_change` then, in Kafka's order:

1. completes a reassignment in progress when the target ISR allows it
   (:func:`complete_reassignment`, Kafka's ``PartitionReassignmentReplicas.
   maybeCompleteReassignment``): every target replica is in the ISR; the removed replicas leave
   the replicas and the ISR, adding/removing are cleared;
2. elects a leader (Kafka's ``electAnyLeader``): the current one if it is in the target ISR and
   acceptable, else the first such replica in target-replica order, else (unclean elections
   allowed) the first acceptable replica, whose ISR is then itself alone, RECOVERING;
3. bumps the leader epoch (sets the leader field to the same leader) when the new replica list
   lacks a replica of the old one, so that a removed replica's fetches are fenced;
4. sets each field that differs from the partition, directories of new replicas included (the
   broker's only log directory, else unassigned, as Kafka's ``defaultDir``).

No record (None) when nothing changes (Kafka's ``changeRecordIsNoOp``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from ferrokafka.cluster.image import MetadataImage, PartitionImage
from ferrokafka.cluster.records import PartitionChangeRecord

# Kafka's LeaderConstants.NO_LEADER.
NO_LEADER = -1
# PartitionChangeRecord.leader: -2 is "the leader did not change".
NO_LEADER_CHANGE = -2
# Kafka's LeaderRecoveryState: RECOVERING after an unclean election; -1 is "no change".
RECOVERING = 1
NO_RECOVERY_STATE_CHANGE = -1
# Kafka's DirectoryId.UNASSIGNED: a replica whose broker has several directories (or none).
UNASSIGNED_DIRECTORY = uuid.UUID(int=0)

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
    """The directory a new replica of ``broker_id`` is given: its only one, else unassigned."""
    broker = image.broker(broker_id)
    if broker is not None and len(broker.log_dirs) == 1:
        return broker.log_dirs[0]
    return UNASSIGNED_DIRECTORY


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
) -> PartitionChangeRecord | None:
    """The record that takes ``part`` to the targets given (None: unchanged), or None."""
    target_isr = list(part.isr if isr is None else isr)
    target_replicas = list(part.replicas if replicas is None else replicas)
    target_removing = list(part.removing_replicas if removing is None else removing)
    target_adding = list(part.adding_replicas if adding is None else adding)
    accept = acceptable if acceptable is not None else active_acceptor(image)
    record = PartitionChangeRecord(topic_id=topic_id, partition_id=part.partition)

    completed = complete_reassignment(target_replicas, target_removing, target_adding, target_isr)
    if completed is not None:
        target_replicas, target_isr = completed
        target_removing, target_adding = [], []

    leader, was_unclean = _elect(part, target_replicas, target_isr, accept, unclean)
    if leader != part.leader:
        record.leader = leader
        if was_unclean:
            record.isr = [leader]
            if part.leader_recovery_state != RECOVERING:
                record.leader_recovery_state = RECOVERING
    if record.leader == NO_LEADER_CHANGE and not set(part.replicas) <= set(target_replicas):
        record.leader = part.leader  # a replica left: the leader epoch must move
    # ELR off: whatever ELR an older state left is cleared.
    if part.elr:
        record.eligible_leader_replicas = []
    if part.last_known_elr:
        record.last_known_elr = []
    if record.isr is None and target_isr and target_isr != list(part.isr):
        record.isr = target_isr
    _set_assignment(image, part, record, target_replicas, target_removing, target_adding)
    if (
        recovery_state is not None
        and record.leader_recovery_state == NO_RECOVERY_STATE_CHANGE
        and recovery_state != part.leader_recovery_state
    ):
        record.leader_recovery_state = recovery_state
    return None if _is_no_op(record) else record


def _elect(
    part: PartitionImage,
    target_replicas: list[int],
    target_isr: list[int],
    acceptable: Acceptable,
    unclean: bool,
) -> tuple[int, bool]:
    def valid(replica: int) -> bool:
        return replica in target_isr and acceptable(replica)

    if valid(part.leader):
        return part.leader, False
    for replica in target_replicas:
        if valid(replica):
            return replica, False
    if unclean:
        for replica in target_replicas:
            if acceptable(replica):
                return replica, True
    return NO_LEADER, False


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
