"""Replica placement: Kafka's ``StripedReplicaPlacer`` (sans-io, seeded by an injected random).

The usable brokers (registered and not in controlled shutdown; fenced ones included) are
grouped by rack, racks sorted by name (brokers without a rack first), brokers in a rack
sorted by id, each list starting at a random offset. Each partition then takes:

* its first replica, the leader, from the next rack in turn that has an unfenced broker
  (a fenced broker never leads a new partition);
* its other replicas from the following racks in turn, an unfenced broker of a rack before a
  fenced one, so the replicas of one partition are striped over as many racks as there are;
* and every rack and broker list moves on by one per partition, so leaders and replicas
  spread evenly; once as many partitions as unfenced brokers were placed, the racks and the
  brokers in them are shuffled, so that the same assignments do not simply repeat.

The replication factor is bounded by the usable brokers, fenced ones included: a fenced
broker can hold a replica that catches up once it is unfenced. With no unfenced broker at
all nothing can be placed. The messages are Kafka 4.4's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ferrokafka.cluster.image import MetadataImage


class ReplicationFactorError(ValueError):
    """Kafka's InvalidReplicationFactorException: the message is Kafka's."""


@dataclass(frozen=True, slots=True)
class UsableBroker:
    broker_id: int
    rack: str | None
    fenced: bool


def usable_brokers(image: MetadataImage) -> list[UsableBroker]:
    """Kafka's ``ClusterControlManager.usableBrokers``: not in controlled shutdown."""
    return [
        UsableBroker(b.broker_id, b.rack, b.fenced)
        for _, b in sorted(image.brokers.items())
        if not b.in_controlled_shutdown
    ]


@dataclass
class _BrokerList:
    brokers: list[int] = field(default_factory=list)
    index: int = 0
    offset: int = 0
    epoch: int = 0

    def initialize(self, rng: random.Random) -> None:
        if self.brokers:
            self.brokers.sort()
            self.offset = rng.randrange(len(self.brokers))

    def next(self, epoch: int) -> int:
        """The next broker for placement round ``epoch``, or -1 once each was given."""
        if not self.brokers:
            return -1
        if self.epoch != epoch:
            self.epoch = epoch
            self.index = 0
            self.offset = (self.offset + 1) % len(self.brokers)
        if self.index >= len(self.brokers):
            return -1
        broker = self.brokers[(self.index + self.offset) % len(self.brokers)]
        self.index += 1
        return broker


@dataclass
class _Rack:
    fenced: _BrokerList = field(default_factory=_BrokerList)
    unfenced: _BrokerList = field(default_factory=_BrokerList)

    def next(self, epoch: int) -> int:
        result = self.unfenced.next(epoch)
        return result if result >= 0 else self.fenced.next(epoch)


def _rack_order(name: str | None) -> tuple[bool, str]:
    # Kafka's OptionalStringComparator: no rack sorts before every rack name.
    return (name is not None, name or "")


class _RackList:
    def __init__(self, rng: random.Random, brokers: list[UsableBroker]) -> None:
        self.rng = rng
        self.racks: dict[str | None, _Rack] = {}
        for broker in brokers:
            rack = self.racks.setdefault(broker.rack, _Rack())
            (rack.fenced if broker.fenced else rack.unfenced).brokers.append(broker.broker_id)
        for rack in self.racks.values():
            rack.fenced.initialize(rng)
            rack.unfenced.initialize(rng)
        self.names = sorted(self.racks, key=_rack_order)
        self.total = len(brokers)
        self.unfenced = sum(1 for b in brokers if not b.fenced)
        self.epoch = 0
        self.offset = rng.randrange(len(self.names)) if self.names else 0

    def place(self, replication_factor: int) -> list[int]:
        # Shuffle once every unfenced broker led a partition of this round (not with a single
        # unfenced broker: that would loop for ever).
        if self.epoch == self.unfenced and self.unfenced > 1:
            self._shuffle()
            self.epoch = 0
        if self.offset == len(self.names):
            self.offset = 0
        first = self.offset
        while True:
            leader = self.racks[self.names[first]].unfenced.next(self.epoch)
            if leader >= 0:
                break
            first = (first + 1) % len(self.names)
        replicas = [leader]
        rack_index = self.offset
        for _ in range(1, replication_factor):
            result = -1
            while result < 0:
                if rack_index == first:
                    first = -1  # the leader's rack gave its broker already
                else:
                    result = self.racks[self.names[rack_index]].next(self.epoch)
                rack_index = (rack_index + 1) % len(self.names)
            replicas.append(result)
        self.epoch += 1
        self.offset += 1
        return replicas

    def _shuffle(self) -> None:
        self.rng.shuffle(self.names)
        for rack in self.racks.values():
            self.rng.shuffle(rack.fenced.brokers)
            self.rng.shuffle(rack.unfenced.brokers)


def place_striped(
    brokers: list[UsableBroker], partitions: int, replication_factor: int, rng: random.Random
) -> list[list[int]]:
    """Replica lists (leader first) for ``partitions`` new partitions; raises
    :class:`ReplicationFactorError` with Kafka's message when they cannot be placed."""
    racks = _RackList(rng, brokers)
    if replication_factor <= 0:
        raise ReplicationFactorError(
            f"Invalid replication factor {replication_factor}: the replication factor must be "
            "positive."
        )
    if racks.unfenced == 0:
        raise ReplicationFactorError(
            "All brokers are currently fenced, or have all their log directories cordoned."
        )
    if replication_factor > racks.total:
        raise ReplicationFactorError(
            f"The target replication factor of {replication_factor} cannot be reached because "
            f"only {racks.total} broker(s) are registered or some brokers have all their log "
            "directories cordoned."
        )
    return [racks.place(replication_factor) for _ in range(partitions)]
