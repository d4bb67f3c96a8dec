"""Partition reassignment on the controller (sans-io): AlterPartitionReassignments (API 45) and
ListPartitionReassignments (API 46), as Kafka's ``ReplicationControlManager`` decides them.

A reassignment moves a partition from its replicas to a target list in stages, each one
PartitionChangeRecord (:mod:`partition_change`):

1. the replicas become the target followed by the replicas being removed; ``adding_replicas``
   are the target's new brokers and ``removing_replicas`` the ones leaving. Brokers host every
   replica of the list, so the new ones open an empty log and fetch from the leader;
2. the leader's AlterPartition adds each new replica to the ISR once it caught up
   (:mod:`isr_change`); when the ISR holds the whole target, the same record completes the
   reassignment: the removed replicas leave the replicas and the ISR, the leader moves off a
   removed broker (the leader epoch moves with it), adding/removing are cleared. Brokers no
   longer listed delete their logs.

A target that is only a new order of the replicas, or whose brokers are all in the ISR
already, completes at once. ``replicas`` null cancels (Kafka's ``PartitionReassignmentRevert``):
back to the original replicas, the adding ones out of the ISR; if only adding replicas are in
the ISR, the cancellation needs an unclean election, refused unless the topic allows one.

Errors per partition, as Kafka's: an unknown topic or partition (UNKNOWN_TOPIC_OR_PARTITION),
a cancellation with nothing in progress (NO_REASSIGNMENT_IN_PROGRESS), a target that is empty,
repeats a broker or names an unregistered one (INVALID_REPLICA_ASSIGNMENT), and from v1
(KIP-860) a target of another size when ``allow_replication_factor_change`` is false
(INVALID_REPLICATION_FACTOR). A new reassignment replaces one in progress, computed from the
current replica list (which holds the adding replicas), as Kafka does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from ferrokafka.cluster import errors
from ferrokafka.cluster.elr import ElrMinIsr, elr_off
from ferrokafka.cluster.errors import SUCCESS, ApiError
from ferrokafka.cluster.image import MetadataImage, PartitionImage
from ferrokafka.cluster.partition_change import build_change, reassignment_in_progress
from ferrokafka.cluster.records import PartitionChangeRecord
from ferrokafka.cluster.topics import manual_assignment_error
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.alter_partition_reassignments import (
    AlterPartitionReassignmentsRequest,
    AlterPartitionReassignmentsResponse,
)
from ferrokafka.protocol.messages.list_partition_reassignments import (
    ListPartitionReassignmentsRequest,
    ListPartitionReassignmentsResponse,
)

# Kafka's MAX_RECORDS_PER_USER_OP: one request's records must fit one batch (Kafka's bounded
# list fails each partition past it with UNKNOWN_SERVER_ERROR).
RECORDS_PER_REQUEST_MAX = 10_000
NO_REASSIGNMENT_MESSAGE = "No partition reassignment is in progress."

# Does the topic allow unclean leader elections (its config, else the broker default)?
UncleanAllowed = Callable[[str], bool]

_Alter = AlterPartitionReassignmentsRequest
_AlterResponse = AlterPartitionReassignmentsResponse
_List = ListPartitionReassignmentsResponse


class ReassignmentError(Exception):
    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


def _fail(code: int, message: str | None = None) -> ReassignmentError:
    return ReassignmentError(ApiError.of(code, message))


def alter_partition_reassignments(
    image: MetadataImage,
    request: AlterPartitionReassignmentsRequest,
    unclean_allowed: UncleanAllowed,
    min_isr: ElrMinIsr = elr_off,
) -> tuple[list[PartitionChangeRecord], AlterPartitionReassignmentsResponse]:
    """The records of every accepted partition (one atomic batch) and the answer;
    ``min_isr(topic)``: its effective min.insync.replicas with eligible leader replicas on."""
    records: list[PartitionChangeRecord] = []
    response = _AlterResponse(
        error_message=None,
        allow_replication_factor_change=request.allow_replication_factor_change,
    )
    for topic in request.topics:
        out = _AlterResponse.ReassignableTopicResponse(name=topic.name)
        response.responses.append(out)
        for target in topic.partitions:
            error = SUCCESS
            try:
                if len(records) >= RECORDS_PER_REQUEST_MAX:
                    raise _fail(
                        ec.UNKNOWN_SERVER_ERROR,
                        "Cannot add another element greater than "
                        f"{RECORDS_PER_REQUEST_MAX} to the list.",
                    )
                record = _alter_one(image, topic.name, target, request, unclean_allowed, min_isr)
            except ReassignmentError as exc:
                error = exc.error
            else:
                if record is not None:
                    records.append(record)
            out.partitions.append(
                _AlterResponse.ReassignablePartitionResponse(
                    partition_index=target.partition_index,
                    error_code=error.code,
                    error_message=error.message,
                )
            )
    return records, response


def _alter_one(
    image: MetadataImage,
    name: str,
    target: _Alter.ReassignablePartition,
    request: AlterPartitionReassignmentsRequest,
    unclean_allowed: UncleanAllowed,
    min_isr: ElrMinIsr,
) -> PartitionChangeRecord | None:
    topic = image.topic(name)
    if topic is None:
        raise _fail(ec.UNKNOWN_TOPIC_OR_PARTITION, f"Unable to find a topic named {name}.")
    part = topic.partitions.get(target.partition_index)
    if part is None:
        raise _fail(
            ec.UNKNOWN_TOPIC_OR_PARTITION,
            f"Unable to find partition {name}:{target.partition_index}.",
        )
    if target.replicas is None:
        return _cancel(image, name, topic.topic_id, part, unclean_allowed(name), min_isr(name))
    if not request.allow_replication_factor_change:
        _check_same_size(part, target.replicas)
    return _change(image, topic.topic_id, part, target.replicas, min_isr(name))


def _check_same_size(part: PartitionImage, replicas: Sequence[int]) -> None:
    """KIP-860: the size of the replica set the partition is (or is being) moved to."""
    if reassignment_in_progress(part):
        current = (set(part.replicas) | set(part.adding_replicas)) - set(part.removing_replicas)
        size = len(current)
    else:
        size = len(part.replicas)
    if size != len(replicas):
        raise _fail(
            ec.INVALID_REPLICATION_FACTOR,
            f"The replication factor is changed from {size} to {len(replicas)}",
        )


def _change(
    image: MetadataImage,
    topic_id: uuid.UUID,
    part: PartitionImage,
    replicas: Sequence[int],
    min_isr: int | None,
) -> PartitionChangeRecord | None:
    """Kafka's ``changePartitionReassignment`` with ``PartitionReassignmentReplicas``."""
    error = manual_assignment_error(image, replicas, None)
    if error is not None:
        raise ReassignmentError(error)
    removing = sorted(set(part.replicas) - set(replicas))
    adding = sorted(set(replicas) - set(part.replicas))
    return build_change(
        image,
        topic_id,
        part,
        replicas=[*replicas, *removing],
        removing=removing,
        adding=adding,
        min_isr=min_isr,
    )


def _cancel(
    image: MetadataImage,
    name: str,
    topic_id: uuid.UUID,
    part: PartitionImage,
    unclean: bool,
    min_isr: int | None,
) -> PartitionChangeRecord | None:
    """Kafka's ``cancelPartitionReassignment`` with ``PartitionReassignmentRevert``."""
    if not reassignment_in_progress(part):
        raise _fail(ec.NO_REASSIGNMENT_IN_PROGRESS, NO_REASSIGNMENT_MESSAGE)
    original = [r for r in part.replicas if r not in part.adding_replicas]
    isr = [r for r in part.isr if r not in part.adding_replicas]
    if not isr:
        if not original:
            raise _fail(
                errors.INVALID_REPLICA_ASSIGNMENT,
                "Invalid replica assignment: addingReplicas contains all replicas.",
            )
        isr = [original[0]]
        if not unclean:
            raise _fail(
                errors.INVALID_REPLICA_ASSIGNMENT,
                f"Unable to revert partition assignment for {name}:{part.partition} because "
                "it would require an unclean leader election.",
            )
    return build_change(
        image,
        topic_id,
        part,
        isr=isr,
        replicas=original,
        removing=[],
        adding=[],
        unclean=unclean,
        min_isr=min_isr,
    )


def list_partition_reassignments(
    image: MetadataImage, request: ListPartitionReassignmentsRequest
) -> ListPartitionReassignmentsResponse:
    """The reassignments in progress: of every topic (``topics`` null), else of the partitions
    named (unknown topics and partitions are left out, as Kafka leaves them)."""
    response = _List(error_message=None)
    if request.topics is None:
        wanted = [(topic.name, sorted(topic.partitions)) for topic in image.topics_by_name.values()]
    else:
        wanted = [(t.name, list(t.partition_indexes)) for t in request.topics]
    for name, indexes in wanted:
        topic = image.topic(name)
        if topic is None:
            continue
        out = _List.OngoingTopicReassignment(name=name)
        for index in indexes:
            part = topic.partitions.get(index)
            if part is not None and reassignment_in_progress(part):
                out.partitions.append(
                    _List.OngoingPartitionReassignment(
                        partition_index=index,
                        replicas=list(part.replicas),
                        adding_replicas=list(part.adding_replicas),
                        removing_replicas=list(part.removing_replicas),
                    )
                )
        if out.partitions:
            response.topics.append(out)
    return response
