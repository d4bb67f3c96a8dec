"""Replica placement as Kafka's StripedReplicaPlacer: leaders only on unfenced brokers and
spread evenly, replicas striped over racks, fenced brokers usable as followers, brokers in
controlled shutdown not at all, and Kafka 4.4's INVALID_REPLICATION_FACTOR messages."""

from __future__ import annotations

import random
import uuid
from collections import Counter

import pytest

from ferrokafka.cluster.image import BrokerRegistration, MetadataImage
from ferrokafka.cluster.placement import (
    ReplicationFactorError,
    UsableBroker,
    place_striped,
    usable_brokers,
)
from ferrokafka.cluster.topics import PlacementError, place_replicas
from ferrokafka.protocol import error_codes as ec

RACKS = {1: "a", 2: "a", 3: "b", 4: "b", 5: "c", 6: "c"}


def brokers(fenced: set[int] = frozenset(), racks: dict[int, str | None] | None = None):
    racks = racks if racks is not None else RACKS
    return [UsableBroker(i, racks[i], i in fenced) for i in sorted(racks)]


@pytest.mark.parametrize("seed", range(20))
def test_replicas_are_striped_over_racks_and_leaders_spread(seed: int) -> None:
    placed = place_striped(brokers(), 12, 3, random.Random(seed))
    for replicas in placed:
        assert len(set(replicas)) == 3
        assert {RACKS[b] for b in replicas} == {"a", "b", "c"}
    # Six unfenced brokers, twelve partitions: each leads two.
    assert Counter(r[0] for r in placed) == {b: 2 for b in RACKS}
    assert Counter(b for r in placed for b in r) == {b: 6 for b in RACKS}


@pytest.mark.parametrize("seed", range(20))
def test_without_racks_replicas_spread_evenly(seed: int) -> None:
    none: dict[int, str | None] = {1: None, 2: None, 3: None}
    placed = place_striped(brokers(racks=none), 6, 1, random.Random(seed))
    assert Counter(r[0] for r in placed) == {1: 2, 2: 2, 3: 2}


@pytest.mark.parametrize("seed", range(20))
def test_fenced_brokers_hold_replicas_but_never_lead(seed: int) -> None:
    placed = place_striped(brokers(fenced={1, 3}), 12, 3, random.Random(seed))
    assert all(r[0] not in (1, 3) for r in placed)
    for replicas in placed:  # a rack's unfenced broker first: 1 and 3 are not needed
        assert {RACKS[b] for b in replicas} == {"a", "b", "c"} and not {1, 3} & set(replicas)
    # Needed for the replication factor, fenced brokers are followers.
    none: dict[int, str | None] = {1: None, 2: None, 3: None}
    placed = place_striped(brokers({1, 3}, none), 6, 3, random.Random(seed))
    assert all(r[0] == 2 and sorted(r) == [1, 2, 3] for r in placed)


def test_kafka_messages() -> None:
    rng = random.Random(1)
    with pytest.raises(ReplicationFactorError) as caught:
        place_striped(brokers(), 1, 7, rng)
    assert str(caught.value) == (
        "The target replication factor of 7 cannot be reached because only 6 broker(s) are "
        "registered or some brokers have all their log directories cordoned."
    )
    with pytest.raises(ReplicationFactorError, match="^All brokers are currently fenced, or"):
        place_striped(brokers(fenced=set(RACKS)), 1, 1, rng)
    with pytest.raises(ReplicationFactorError, match="^Invalid replication factor 0: the"):
        place_striped(brokers(), 1, 0, rng)


def _registration(broker_id: int, *, fenced: bool = False, shutting_down: bool = False):
    return BrokerRegistration(
        broker_id=broker_id,
        incarnation_id=uuid.uuid4(),
        broker_epoch=broker_id,
        endpoints=(),
        features={},
        rack=None,
        fenced=fenced,
        in_controlled_shutdown=shutting_down,
    )


def test_the_controller_places_over_usable_brokers_only() -> None:
    image = MetadataImage(
        offset=10,
        brokers={
            1: _registration(1),
            2: _registration(2, fenced=True),
            3: _registration(3, shutting_down=True),
        },
    )
    assert [b.broker_id for b in usable_brokers(image)] == [1, 2]
    placed = place_replicas(image, 4, 2, random.Random(3))
    assert all(r[0] == 1 and sorted(r) == [1, 2] for r in placed)
    with pytest.raises(PlacementError) as caught:
        place_replicas(image, 1, 3, random.Random(3))
    assert caught.value.error.code == ec.INVALID_REPLICATION_FACTOR
    assert caught.value.error.message == (
        "Unable to replicate the partition 3 time(s): The target replication factor of 3 "
        "cannot be reached because only 2 broker(s) are registered or some brokers have all "
        "their log directories cordoned."
    )
