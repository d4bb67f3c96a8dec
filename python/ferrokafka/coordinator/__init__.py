"""What every coordinator shares: :class:`CoordinatorHost` (the narrow view of the broker a
coordinator gets), :class:`CoordinatorRuntime` (load and unload an internal topic's partitions
as leadership moves, replay, write and wait for the high watermark) and the injectable
:class:`WallClock`. The group coordinator sits on it now, the transaction coordinator next.
"""

from ferrokafka.coordinator.clock import (
    SYSTEM_WALL_CLOCK,
    ManualWallClock,
    SystemWallClock,
    WallClock,
)
from ferrokafka.coordinator.host import CoordinatorHost
from ferrokafka.coordinator.runtime import CoordinatorRuntime, CoordinatorShard, LoadState

__all__ = [
    "SYSTEM_WALL_CLOCK",
    "CoordinatorHost",
    "CoordinatorRuntime",
    "CoordinatorShard",
    "LoadState",
    "ManualWallClock",
    "SystemWallClock",
    "WallClock",
]
