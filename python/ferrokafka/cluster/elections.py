"""Leader elections the controller runs on request or on its own (sans-io).

Kafka's ``ReplicationControlManager.electLeaders`` / ``maybeBalancePartitionLeaders`` /
``maybeElectUncleanLeaders`` over ``PartitionChangeBuilder``'s PREFERRED and UNCLEAN elections,
with eligible leader replicas (KIP-966) as the cluster's feature level says:

* ElectLeaders (API 43): per partition, UNKNOWN_TOPIC_OR_PARTITION for an unknown topic or
  partition; ELECTION_NOT_NEEDED when a PREFERRED election finds the preferred replica (the
  first of the assignment) leading, or an UNCLEAN one finds any leader; otherwise the election
  runs and a partition that would not change answers PREFERRED_LEADER_NOT_AVAILABLE
  (PREFERRED) or ELIGIBLE_LEADERS_NOT_AVAILABLE (UNCLEAN). A null partition list means every
  partition of every topic, and then partitions answering ELECTION_NOT_NEEDED are left out.
  An explicit UNCLEAN election ignores ``unclean.leader.election.enable``.
* PREFERRED: the preferred replica if it is in the ISR and may lead (registered, unfenced,
  not in controlled shutdown); else the current leader if it still may; else the first other
  replica in the ISR that may.
* With ELR on, a replica in the ELR is valid when the ISR is empty (it becomes the ISR alone),
  and the last known leader may be elected once ISR and ELR are both empty.
* UNCLEAN: the current leader if valid, else the first ISR member that may lead, else the
  first replica that may lead at all — then the ISR is that replica alone and the partition is
  marked RECOVERING (KIP-704) until its leader reports RECOVERED through AlterPartition: the
  records the ISR did not hold are lost, which is what the setting trades for availability.
* The automatic leader balancer (``auto.leader.rebalance.enable``) runs PREFERRED elections
  for every partition not led by its preferred replica, at most
  ``MAX_ELECTIONS_PER_IMBALANCE`` records a round; the unclean elector runs UNCLEAN elections
  for leaderless partitions of topics that allow them. Both are scheduled by
  :class:`ElectionSchedule`, as Kafka's QuorumController schedules them.

Kafka's KRaft controller reads ``leader.imbalance.per.broker.percentage`` but does not use it:
every imbalanced partition is rebalanced. So does this one.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ferrokafka.cluster import partition_change as pc
from ferrokafka.cluster.elr import ElrMinIsr, elr_off
from ferrokafka.cluster.image import MetadataImage, PartitionImage
from ferrokafka.cluster.partition_change import build_change
from ferrokafka.cluster.records import PartitionChangeRecord
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.elect_leaders import ElectLeadersRequest, ElectLeadersResponse

# Kafka's ElectionType ids on the wire.
PREFERRED = 0
UNCLEAN = 1
NO_LEADER = -1
# Kafka's LeaderRecoveryState.RECOVERING.
RECOVERING = 1
# Kafka's ReplicationControlManager.MAX_ELECTIONS_PER_IMBALANCE: records per balancing round;
# a round that reaches it is followed by another at once.
MAX_ELECTIONS_PER_IMBALANCE = 1_000
# Kafka's QuorumController.MAX_RECORDS_PER_USER_OP: records one ElectLeaders may write.
MAX_RECORDS_PER_USER_OP = 10_000
# A round that hit its bound runs again this soon (Kafka's "IMMEDIATELY" delay).
IMMEDIATE_DELAY_MS = 10.0

_MESSAGES = {
    ec.ELECTION_NOT_NEEDED: "Leader election not needed for topic partition.",
    ec.PREFERRED_LEADER_NOT_AVAILABLE: "The preferred leader was not available.",
    ec.ELIGIBLE_LEADERS_NOT_AVAILABLE: "Eligible topic partition leaders are not available.",
}

PartitionRef = tuple[uuid.UUID, int]
# Whether a topic (by name) allows unclean leader elections.
UncleanAllowed = Callable[[str], bool]


class ElectionRequestError(Exception):
    """The whole ElectLeaders request is refused (``code`` at the top level)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Outcome:
    code: int
    message: str | None = None


def may_lead(image: MetadataImage, replica: int) -> bool:
    """Kafka's LeaderAcceptor: a registered broker, unfenced, not shutting down."""
    broker = image.broker(replica)
    return broker is not None and broker.is_active


def elect_leaders(
    image: MetadataImage, request: ElectLeadersRequest, min_isr: ElrMinIsr = elr_off
) -> tuple[list[PartitionChangeRecord], ElectLeadersResponse]:
    """ElectLeaders: the records and the answer (which holds before they apply)."""
    if request.election_type not in (PREFERRED, UNCLEAN):
        raise ElectionRequestError(
            ec.INVALID_REQUEST, f"Unknown election type {request.election_type}"
        )
    records: list[PartitionChangeRecord] = []
    response = ElectLeadersResponse()
    if request.topic_partitions is None:
        for name in sorted(image.topics_by_name):
            result = ElectLeadersResponse.ReplicaElectionResult(topic=name)
            response.replica_election_results.append(result)
            for index in sorted(image.topics_by_name[name].partitions):
                outcome = _elect_one(image, name, index, request.election_type, records, min_isr)
                if outcome.code != ec.ELECTION_NOT_NEEDED:
                    result.partition_result.append(_result(index, outcome))
    else:
        for topic in request.topic_partitions:
            result = ElectLeadersResponse.ReplicaElectionResult(topic=topic.topic)
            response.replica_election_results.append(result)
            for index in topic.partitions:
                outcome = _elect_one(
                    image, topic.topic, index, request.election_type, records, min_isr
                )
                result.partition_result.append(_result(index, outcome))
    return records, response


def _result(index: int, outcome: Outcome) -> ElectLeadersResponse.PartitionResult:
    return ElectLeadersResponse.PartitionResult(
        partition_id=index, error_code=outcome.code, error_message=outcome.message
    )


def _elect_one(
    image: MetadataImage,
    topic_name: str,
    index: int,
    election_type: int,
    records: list[PartitionChangeRecord],
    min_isr: ElrMinIsr,
) -> Outcome:
    """Kafka's ``electLeader`` for one partition; a change is appended to ``records``."""
    topic = image.topic(topic_name)
    if topic is None:
        return Outcome(ec.UNKNOWN_TOPIC_OR_PARTITION, f"No such topic as {topic_name}")
    part = topic.partitions.get(index)
    if part is None:
        return Outcome(ec.UNKNOWN_TOPIC_OR_PARTITION, f"No such partition as {topic_name}-{index}")
    if (election_type == PREFERRED and has_preferred_leader(part)) or (
        election_type == UNCLEAN and part.leader != NO_LEADER
    ):
        return _outcome(ec.ELECTION_NOT_NEEDED)
    record = partition_election(image, topic.topic_id, part, election_type, min_isr(topic_name))
    if record is None:
        if election_type == PREFERRED:
            return _outcome(ec.PREFERRED_LEADER_NOT_AVAILABLE)
        return _outcome(ec.ELIGIBLE_LEADERS_NOT_AVAILABLE)
    if len(records) >= MAX_RECORDS_PER_USER_OP:
        raise ElectionRequestError(
            ec.UNKNOWN_SERVER_ERROR,
            f"ElectLeaders would write more than {MAX_RECORDS_PER_USER_OP} records",
        )
    records.append(record)
    return Outcome(ec.NONE, None)


def _outcome(code: int) -> Outcome:
    return Outcome(code, _MESSAGES.get(code))


def has_preferred_leader(part: PartitionImage) -> bool:
    """Kafka's ``PartitionRegistration.hasPreferredLeader``: led by the first replica."""
    return bool(part.replicas) and part.leader == part.replicas[0]


def partition_election(
    image: MetadataImage,
    topic_id: uuid.UUID,
    part: PartitionImage,
    election_type: int,
    min_isr: int | None = None,
) -> PartitionChangeRecord | None:
    """``PartitionChangeBuilder.build()`` with election PREFERRED or UNCLEAN and the ISR
    unchanged (:func:`partition_change.build_change`): the record, or None when nothing would
    change. ``min_isr``: the topic's effective min.insync.replicas with ELR on, else None."""
    return build_change(
        image,
        topic_id,
        part,
        election=pc.PREFERRED if election_type == PREFERRED else pc.UNCLEAN,
        min_isr=min_isr,
    )


# -- the controller's own elections ---------------------------------------------------------


def imbalanced_partitions(image: MetadataImage) -> Iterator[tuple[uuid.UUID, PartitionImage]]:
    """Kafka's ``imbalancedPartitions``: not led by their preferred replica."""
    for name in sorted(image.topics_by_name):
        topic = image.topics_by_name[name]
        for index in sorted(topic.partitions):
            part = topic.partitions[index]
            if not has_preferred_leader(part):
                yield topic.topic_id, part


def leaderless_partitions(image: MetadataImage) -> Iterator[tuple[str, PartitionImage]]:
    """Kafka's ``partitionsWithNoLeader``, with their topic names."""
    for name in sorted(image.topics_by_name):
        topic = image.topics_by_name[name]
        for index in sorted(topic.partitions):
            part = topic.partitions[index]
            if part.leader == NO_LEADER:
                yield name, part


def balance_partition_leaders(
    image: MetadataImage,
    max_elections: int = MAX_ELECTIONS_PER_IMBALANCE,
    min_isr: ElrMinIsr = elr_off,
) -> tuple[list[PartitionChangeRecord], bool]:
    """Kafka's ``maybeBalancePartitionLeaders``: PREFERRED elections for imbalanced
    partitions; True when the bound was reached (run again soon)."""
    records: list[PartitionChangeRecord] = []
    for topic_id, part in imbalanced_partitions(image):
        if len(records) >= max_elections:
            break
        topic = image.topic_by_id(topic_id)
        assert topic is not None
        record = partition_election(image, topic_id, part, PREFERRED, min_isr(topic.name))
        if record is not None:
            records.append(record)
    return records, len(records) >= max_elections


def elect_unclean_leaders(
    image: MetadataImage,
    unclean_allowed: UncleanAllowed,
    max_elections: int = MAX_ELECTIONS_PER_IMBALANCE,
    min_isr: ElrMinIsr = elr_off,
) -> tuple[list[PartitionChangeRecord], bool]:
    """Kafka's ``maybeElectUncleanLeaders``: UNCLEAN elections for leaderless partitions of
    topics whose ``unclean.leader.election.enable`` is true (it may have been turned on
    since they lost their leader); True when the bound was reached."""
    records: list[PartitionChangeRecord] = []
    for name, part in leaderless_partitions(image):
        if len(records) >= max_elections:
            break
        if not unclean_allowed(name):
            continue
        topic = image.topic(name)
        assert topic is not None
        record = partition_election(image, topic.topic_id, part, UNCLEAN, min_isr(name))
        if record is not None:
            records.append(record)
    return records, len(records) >= max_elections


def any_imbalanced(image: MetadataImage) -> bool:
    return next(imbalanced_partitions(image), None) is not None


def any_leaderless(image: MetadataImage) -> bool:
    return next(leaderless_partitions(image), None) is not None


class _Mode(enum.Enum):
    DEFERRED = "deferred"  # next round after the interval
    IMMEDIATELY = "immediately"  # the last round hit its bound: next one at once
    SCHEDULED = "scheduled"


class ElectionSchedule:
    """When one of the controller's periodic elections next runs (Kafka's ImbalanceSchedule
    in QuorumController): after every committed write, a round is scheduled ``interval_ms``
    later if there is work (an imbalanced, or leaderless, partition) and none is scheduled;
    a round that hit its bound schedules the next ``IMMEDIATE_DELAY_MS`` later. ``interval_ms``
    None: never (auto.leader.rebalance.enable=false)."""

    def __init__(self, interval_ms: float | None) -> None:
        self.interval_ms = interval_ms
        self._mode = _Mode.DEFERRED
        self.due_ms: float | None = None

    @property
    def may_schedule(self) -> bool:
        """Whether :meth:`after_write` could schedule a round now (else the caller need not
        look for work: a scan of every partition)."""
        return self.interval_ms is not None and self._mode is not _Mode.SCHEDULED

    def after_write(self, now_ms: float, has_work: bool) -> None:
        if not self.may_schedule or not has_work:
            return
        delay = self.interval_ms if self._mode is _Mode.DEFERRED else IMMEDIATE_DELAY_MS
        self.due_ms = now_ms + delay
        self._mode = _Mode.SCHEDULED

    def is_due(self, now_ms: float) -> bool:
        return self.due_ms is not None and now_ms >= self.due_ms

    def ran(self, more: bool) -> None:
        """A round ran; ``more``: it hit its bound."""
        self._mode = _Mode.IMMEDIATELY if more else _Mode.DEFERRED
        self.due_ms = None

    def cancel(self) -> None:
        """The controller stopped being active (Kafka's cancelMaybeBalancePartitionLeaders)."""
        self._mode = _Mode.DEFERRED
        self.due_ms = None


UNCLEAN_KEY = "unclean.leader.election.enable"


def unclean_enabled(image: MetadataImage, topic: str, node_id: int, static_value: bool) -> bool:
    """Kafka's ``uncleanLeaderElectionEnabledForTopic``: the topic's override, else the
    controller node's dynamic broker config, else the cluster-wide dynamic default, else the
    static config (``Boolean.parseBoolean``: only "true", any case, is true)."""
    for layer in (
        image.topic_config(topic),
        image.broker_config(node_id),
        image.broker_config(None),
    ):
        value = layer.get(UNCLEAN_KEY)
        if value is not None:
            return str(value).strip().lower() == "true"
    return static_value
