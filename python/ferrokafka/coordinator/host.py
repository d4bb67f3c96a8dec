"""What a coordinator (group now, transaction later) needs of the broker that hosts it, as a
narrow protocol: coordinators depend on this, never on ``ferrokafka.server``.

The broker's :class:`ferrokafka.server.node.Node` satisfies it.
"""

from __future__ import annotations

from typing import Protocol

from ferrokafka.cluster.channel import ControllerChannel
from ferrokafka.cluster.image import MetadataImage
from ferrokafka.config import BrokerConfig
from ferrokafka.coordinator.clock import WallClock
from ferrokafka.partition import ReplicaManager


class CoordinatorHost(Protocol):
    """The broker, as its coordinators see it."""

    @property
    def image(self) -> MetadataImage:
        """The newest metadata image (topics, their partitions and configs)."""
        ...

    @property
    def replicas(self) -> ReplicaManager:
        """The hosted partitions: a coordinator loads and writes the partitions it leads."""
        ...

    @property
    def controller_channel(self) -> ControllerChannel:
        """How a coordinator creates its internal topic."""
        ...

    @property
    def wall_clock(self) -> WallClock:
        """The clock coordinator records are stamped with (injectable for tests)."""
        ...

    def broker_config(self) -> BrokerConfig:
        """The static config overlaid with the dynamic broker values."""
        ...
