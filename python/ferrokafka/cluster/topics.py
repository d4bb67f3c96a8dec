"""Topic rules the controller enforces: names, '.'/'_' collisions, replica placement.

Names follow Kafka's ``org.apache.kafka.common.internals.Topic``: ASCII alphanumerics, '.',
'_' and '-', 1 to 249 characters, not "." or "..". Because Kafka's metric names turn '.' into
'_', two topics whose names differ only there would report as one; a new topic that would
collide so with an existing one is refused.

Placement is Kafka's StripedReplicaPlacer (:mod:`ferrokafka.cluster.placement`): rack-aware
striping over the usable brokers, leaders only on unfenced ones; the random it starts from is
the caller's, so tests can seed it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from ferrokafka.cluster import errors
from ferrokafka.cluster.errors import ApiError
from ferrokafka.cluster.image import MetadataImage
from ferrokafka.cluster.placement import ReplicationFactorError, place_striped, usable_brokers

TOPIC_NAME_LENGTH_MAX = 249
_LEGAL_NAME = re.compile(r"[a-zA-Z0-9._-]+")


class PlacementError(Exception):
    """Replicas cannot be placed; ``error`` is the per-topic answer."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


def topic_name_error(name: str) -> str | None:
    """Why ``name`` is not a legal topic name (Kafka's message), or None."""
    if not name:
        return "Topic name is illegal, it can't be empty"
    if name in (".", ".."):
        return 'Topic name cannot be "." or ".."'
    if len(name) > TOPIC_NAME_LENGTH_MAX:
        return (
            f"Topic name is illegal, it can't be longer than {TOPIC_NAME_LENGTH_MAX} "
            f"characters, topic name: {name}"
        )
    if not _LEGAL_NAME.fullmatch(name):
        return (
            f'Topic name "{name}" is illegal, it contains a character other than ASCII '
            "alphanumerics, '.', '_' and '-'"
        )
    return None


def has_collision_chars(name: str) -> bool:
    return "." in name or "_" in name


def unify_collision_chars(name: str) -> str:
    return name.replace(".", "_")


def colliding_topic(name: str, existing: Sequence[str]) -> str | None:
    """The first of ``existing`` that ``name`` collides with ('.' vs '_'), itself excluded."""
    if not has_collision_chars(name):
        return None
    unified = unify_collision_chars(name)
    return next(
        (other for other in existing if other != name and unify_collision_chars(other) == unified),
        None,
    )


def place_replicas(
    image: MetadataImage, count: int, replication_factor: int, rng: random.Random
) -> list[list[int]]:
    """Replica lists for ``count`` new partitions, as Kafka's StripedReplicaPlacer places them
    (:mod:`ferrokafka.cluster.placement`); INVALID_REPLICATION_FACTOR with Kafka's message
    ("Unable to replicate the partition N time(s): ...") when they cannot be placed."""
    try:
        return place_striped(usable_brokers(image), count, replication_factor, rng)
    except ReplicationFactorError as exc:
        raise PlacementError(
            ApiError.of(
                errors.INVALID_REPLICATION_FACTOR,
                f"Unable to replicate the partition {replication_factor} time(s): {exc}",
            )
        ) from None


def manual_assignment_error(
    image: MetadataImage, broker_ids: Sequence[int], replication_factor: int | None
) -> ApiError | None:
    """Kafka's checks of one partition's manual replica list (INVALID_REPLICA_ASSIGNMENT)."""
    if not broker_ids:
        return ApiError.of(
            errors.INVALID_REPLICA_ASSIGNMENT,
            "The manual partition assignment includes an empty replica list.",
        )
    previous = None
    for broker_id in sorted(broker_ids):
        if image.broker(broker_id) is None:
            return ApiError.of(
                errors.INVALID_REPLICA_ASSIGNMENT,
                f"The manual partition assignment includes broker {broker_id}, but no such "
                "broker is registered.",
            )
        if broker_id == previous:
            return ApiError.of(
                errors.INVALID_REPLICA_ASSIGNMENT,
                f"The manual partition assignment includes the broker {broker_id} more than once.",
            )
        previous = broker_id
    if replication_factor is not None and len(broker_ids) != replication_factor:
        return ApiError.of(
            errors.INVALID_REPLICA_ASSIGNMENT,
            f"The manual partition assignment includes a partition with {len(broker_ids)} "
            "replica(s), but this is not consistent with previous partitions, which have "
            f"{replication_factor} replica(s).",
        )
    return None
