"""What every coordinator shares: :class:`CoordinatorHost`, the narrow view of the broker a
coordinator gets (the runtime of load/unload on leadership, replay, write-and-wait and timers is
still inside ``ferrokafka.groups.coordinator``; it moves here with the transaction coordinator).
"""

from ferrokafka.coordinator.host import CoordinatorHost

__all__ = ["CoordinatorHost"]
