"""The metadata image: an immutable snapshot of the cluster as the metadata log says it is.

Every request handler reads one image and sees a consistent cluster: topics (by name and by
id), their partitions (leader, replicas, ISR, epochs), topic and broker configs, registered
brokers with their endpoints, and finalized feature levels. An image never changes; applying
records (:mod:`ferrokafka.cluster.delta`) makes a new one that shares every unchanged topic
with the old, so a reader holding an old image keeps a valid view while the next is built.

Topic ids are Kafka Uuids (16 bytes, :class:`uuid.UUID` here); Kafka prints them in URL-safe
base64 without padding (:func:`topic_id_str`).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ferrokafka.cluster.scram_credentials import ScramCredential

# Kafka's ConfigResource.Type ids, as ConfigRecord.resource_type stores them.
TOPIC_RESOURCE = 2
BROKER_RESOURCE = 4
# The broker resource named "" holds cluster-wide defaults of dynamic broker configs.
CLUSTER_DEFAULT_BROKER = ""

METADATA_VERSION_FEATURE = "metadata.version"
# Kafka's Uuid.ZERO_UUID and Uuid.ONE_UUID (METADATA_TOPIC_ID): never a topic's id.
ZERO_UUID = uuid.UUID(int=0)
RESERVED_UUIDS = frozenset({ZERO_UUID, uuid.UUID(int=1)})

_EMPTY: Mapping = MappingProxyType({})


def frozen_map(items: Mapping) -> Mapping:
    """A read-only view over a private copy of ``items``."""
    return MappingProxyType(dict(items))


def random_topic_id() -> uuid.UUID:
    """A random v4 id, as Kafka's ``Uuid.randomUuid``: never a reserved id, and never one whose
    base64 form starts with '-' (it would read as a command-line flag)."""
    while True:
        candidate = uuid.uuid4()
        if candidate not in RESERVED_UUIDS and not topic_id_str(candidate).startswith("-"):
            return candidate


def topic_id_str(topic_id: uuid.UUID) -> str:
    """Kafka's text form of a Uuid: URL-safe base64 of its 16 bytes, without padding."""
    return base64.urlsafe_b64encode(topic_id.bytes).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class PartitionImage:
    """One partition's registration (Kafka's ``PartitionRegistration``)."""

    partition: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    leader: int
    leader_epoch: int
    partition_epoch: int
    removing_replicas: tuple[int, ...] = ()
    adding_replicas: tuple[int, ...] = ()
    leader_recovery_state: int = 0
    directories: tuple[uuid.UUID, ...] = ()
    elr: tuple[int, ...] | None = None
    last_known_elr: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class TopicImage:
    name: str
    topic_id: uuid.UUID
    partitions: Mapping[int, PartitionImage] = field(default_factory=lambda: _EMPTY)

    def partition(self, index: int) -> PartitionImage | None:
        return self.partitions.get(index)

    @property
    def replication_factor(self) -> int:
        first = self.partitions.get(0)
        return len(first.replicas) if first is not None else 0


@dataclass(frozen=True, slots=True)
class BrokerEndpoint:
    name: str
    host: str
    port: int
    security_protocol: int  # Kafka's SecurityProtocol id: PLAINTEXT is 0


@dataclass(frozen=True, slots=True)
class BrokerRegistration:
    """A registered broker (Kafka's ``BrokerRegistration``)."""

    broker_id: int
    incarnation_id: uuid.UUID
    broker_epoch: int
    endpoints: tuple[BrokerEndpoint, ...]
    features: Mapping[str, tuple[int, int]]  # name -> (min, max) supported level
    rack: str | None
    fenced: bool
    in_controlled_shutdown: bool = False
    log_dirs: tuple[uuid.UUID, ...] = ()

    def endpoint(self, listener: str) -> BrokerEndpoint | None:
        return next((ep for ep in self.endpoints if ep.name == listener), None)

    @property
    def is_active(self) -> bool:
        """Can hold new replicas and lead: registered, unfenced, not shutting down."""
        return not self.fenced and not self.in_controlled_shutdown


@dataclass(frozen=True, slots=True)
class MetadataImage:
    """Everything the metadata log said up to and including ``offset`` (-1: nothing yet)."""

    offset: int = -1
    features: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    topics_by_name: Mapping[str, TopicImage] = field(default_factory=lambda: _EMPTY)
    topics_by_id: Mapping[uuid.UUID, TopicImage] = field(default_factory=lambda: _EMPTY)
    configs: Mapping[tuple[int, str], Mapping[str, str]] = field(default_factory=lambda: _EMPTY)
    brokers: Mapping[int, BrokerRegistration] = field(default_factory=lambda: _EMPTY)
    # The last ProducerIdsRecord: the next producer id block starts here (-1: none yet).
    next_producer_id: int = -1
    # Registered controllers (Kafka's ClusterImage.controllers): the RegisterControllerRecord
    # of each, kept as written (never mutated) so a snapshot writes it back.
    controllers: Mapping[int, Any] = field(default_factory=lambda: _EMPTY)
    # SCRAM credentials (Kafka's ScramImage): (user, mechanism name such as SCRAM-SHA-256) ->
    # ScramCredential; never a password.
    scram: Mapping[tuple[str, str], ScramCredential] = field(default_factory=lambda: _EMPTY)
    # ACLs by id (Kafka's AclsImage): cluster/acls/model.AclBinding values.
    acls: Mapping[uuid.UUID, Any] = field(default_factory=lambda: _EMPTY)
    # Client quotas (Kafka's ClientQuotasImage): entity -> key -> value; see
    # cluster/client_quotas for the entity's form.
    client_quotas: Mapping[Any, Mapping[str, float]] = field(default_factory=lambda: _EMPTY)

    @property
    def is_empty(self) -> bool:
        return self.offset < 0

    @property
    def metadata_version(self) -> int:
        """The finalized metadata.version feature level (0: not set yet)."""
        return self.features.get(METADATA_VERSION_FEATURE, 0)

    def topic(self, name: str) -> TopicImage | None:
        return self.topics_by_name.get(name)

    def topic_by_id(self, topic_id: uuid.UUID) -> TopicImage | None:
        return self.topics_by_id.get(topic_id)

    def partition(self, name: str, index: int) -> PartitionImage | None:
        topic = self.topics_by_name.get(name)
        return topic.partitions.get(index) if topic is not None else None

    def topic_config(self, name: str) -> Mapping[str, str]:
        """The topic's own overrides (raw strings), as ConfigRecords set them."""
        return self.configs.get((TOPIC_RESOURCE, name), _EMPTY)

    def broker_config(self, broker_id: int | None) -> Mapping[str, str]:
        """Dynamic broker configs of ``broker_id``, or the cluster-wide defaults for None."""
        name = CLUSTER_DEFAULT_BROKER if broker_id is None else str(broker_id)
        return self.configs.get((BROKER_RESOURCE, name), _EMPTY)

    def broker(self, broker_id: int) -> BrokerRegistration | None:
        return self.brokers.get(broker_id)

    def active_brokers(self) -> list[BrokerRegistration]:
        return [b for _, b in sorted(self.brokers.items()) if b.is_active]


EMPTY_IMAGE = MetadataImage()
