"""Leader and ISR changes when a broker's state changes (sans-io).

Kafka 4.4's ``ReplicationControlManager.generateLeaderAndIsrUpdates``, each partition's change
built by :func:`ferrokafka.cluster.partition_change.build_change`:

* a broker that is fenced, goes into controlled shutdown or is unregistered
  (``broker_to_remove``) leaves the ISR of every partition whose ISR holds it. With eligible
  leader replicas (ELR, KIP-966) off it stays as the last member (an ISR never becomes empty;
  fenced, it cannot lead: the partition is leaderless, leader -1); with ELR on the ISR may
  become empty and members leaving an ISR below ``min.insync.replicas`` go into the ELR;
* a broker that registers a new incarnation after an unclean shutdown
  (``broker_with_unclean_shutdown``, ELR on) leaves every ISR and every ELR;
* a partition whose leader is no longer acceptable gets the first replica, in replica order,
  that is in the new ISR (or, the ISR empty, in the ELR) and acceptable (active: unfenced and
  not shutting down), else none;
* a broker being unfenced (``broker_to_add``) counts as acceptable although the image still
  shows it fenced (the records that unfence it are in the same batch), so a leaderless
  partition whose ISR (or ELR) holds it gets it back as leader;
* a topic with ``unclean.leader.election.enable`` may elect a replica from outside the ISR;
  the ISR is then that leader alone and the partition is marked RECOVERING.

Each change is one PartitionChangeRecord; a partition that does not change gets none. With
metadata.version 3.6 and later an ISR shrink alone does not bump the leader epoch.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator

from ferrokafka.cluster.elr import ElrMinIsr, elr_off
from ferrokafka.cluster.image import MetadataImage
from ferrokafka.cluster.partition_change import build_change
from ferrokafka.cluster.records import PartitionChangeRecord

# Kafka's LeaderConstants.NO_LEADER; also "no broker" for broker_to_remove / broker_to_add.
NO_LEADER = -1

PartitionRef = tuple[uuid.UUID, int]


def partitions_with_broker_in_isr(image: MetadataImage, broker_id: int) -> Iterator[PartitionRef]:
    """Kafka's ``BrokersToIsrs.partitionsWithBrokerInIsr``, in topic-name order."""
    for topic in image.topics_by_name.values():
        for index, part in sorted(topic.partitions.items()):
            if broker_id in part.isr:
                yield topic.topic_id, index


def partitions_without_leader(image: MetadataImage) -> Iterator[PartitionRef]:
    """Kafka's ``BrokersToIsrs.partitionsWithNoLeader``."""
    for topic in image.topics_by_name.values():
        for index, part in sorted(topic.partitions.items()):
            if part.leader == NO_LEADER:
                yield topic.topic_id, index


def has_leaderships(image: MetadataImage, broker_id: int) -> bool:
    """Does ``broker_id`` lead any partition (Kafka's ``BrokersToIsrs.hasLeaderships``)?"""
    return any(
        part.leader == broker_id
        for topic in image.topics_by_name.values()
        for part in topic.partitions.values()
    )


def partitions_with_broker_in_elr(image: MetadataImage, broker_id: int) -> Iterator[PartitionRef]:
    """Kafka's ``BrokersToElrs.partitionsWithBrokerInElr``, in topic-name order."""
    for topic in image.topics_by_name.values():
        for index, part in sorted(topic.partitions.items()):
            if broker_id in (part.elr or ()):
                yield topic.topic_id, index


def leader_and_isr_updates(
    image: MetadataImage,
    partitions: Iterable[PartitionRef],
    *,
    broker_to_remove: int = NO_LEADER,
    broker_to_add: int = NO_LEADER,
    broker_with_unclean_shutdown: int = NO_LEADER,
    unclean_allowed: Callable[[str], bool] = lambda _topic: False,
    min_isr: ElrMinIsr = elr_off,
) -> list[PartitionChangeRecord]:
    """The PartitionChangeRecords for ``partitions`` after ``broker_to_remove`` left (or
    ``broker_to_add`` joined) the brokers that may lead, or ``broker_with_unclean_shutdown``
    came back from an unclean shutdown; ``unclean_allowed(topic)`` says whether the topic
    allows an unclean leader election, ``min_isr(topic)`` its effective min.insync.replicas
    with ELR on (None: off)."""
    gone = (broker_to_remove, broker_with_unclean_shutdown)

    def acceptable(replica: int) -> bool:
        if replica in gone:
            return False
        if replica == broker_to_add:
            return True
        broker = image.broker(replica)
        return broker is not None and broker.is_active

    records = []
    for topic_id, index in partitions:
        topic = image.topic_by_id(topic_id)
        assert topic is not None, topic_id
        part = topic.partitions[index]
        # Only the removed broker leaves the ISR (Kafka's Replicas.copyWithout): another
        # fenced member stays in it, it just cannot lead.
        record = build_change(
            image,
            topic_id,
            part,
            isr=[r for r in part.isr if r not in gone],
            acceptable=acceptable,
            unclean=unclean_allowed(topic.name),
            min_isr=min_isr(topic.name),
            unclean_shutdown=(
                [broker_with_unclean_shutdown] if broker_with_unclean_shutdown != NO_LEADER else []
            ),
        )
        if record is not None:
            records.append(record)
    return records
