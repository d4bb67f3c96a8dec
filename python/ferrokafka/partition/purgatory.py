"""The delayed-operation purgatory (Kafka's ``DelayedOperationPurgatory``): requests that wait
for a partition event — a Fetch for ``min_bytes``, an acks=all Produce for the high watermark,
a DeleteRecords for the low watermark — watch the keys of the partitions they wait on, and a
change of those partitions wakes them to check their condition again. One timer (the
caller's deadline, ``trio.move_on_at``) expires each; nothing polls.

The pattern, as every waiter uses it::

    with purgatory.watch(keys) as woken:   # watch first...
        if condition():                    # ...then check: a change in between still wakes
            return ...
        with trio.move_on_at(deadline):
            await woken.wait()

A key is a partition's ``(topic id, index)``; :meth:`wake` is called by the partition when
its high watermark, log end or log start moves, or it changes role or goes away.

Bound: a watch belongs to one request in a handler, and each connection has at most one
request in its handlers at a time, so watches never exceed the connection cap times the
partitions of one request (each request's own size bound); :data:`WATCHES_MAX` asserts it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager

import trio

# Far above connections x partitions per request of any real load; a purgatory past it is a
# leak (a watch not removed), not load.
WATCHES_MAX = 50_000_000


class DelayedOperationPurgatory:
    """Waiters by key; trio thread only."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._watchers: dict[Hashable, set[trio.Event]] = {}
        self._watches = 0

    def __len__(self) -> int:
        """Watches registered now (a waiter on n keys counts n)."""
        return self._watches

    @contextmanager
    def watch(self, keys: Iterable[Hashable]) -> Iterator[trio.Event]:
        """An event set by the next :meth:`wake` of any of ``keys`` while in the block."""
        event = trio.Event()
        watched = list(dict.fromkeys(keys))
        assert self._watches + len(watched) <= WATCHES_MAX, f"{self.name}: watches leak"
        for key in watched:
            self._watchers.setdefault(key, set()).add(event)
        self._watches += len(watched)
        try:
            yield event
        finally:
            for key in watched:
                waiting = self._watchers.get(key)
                if waiting is not None:
                    waiting.discard(event)
                    if not waiting:
                        del self._watchers[key]
            self._watches -= len(watched)

    def wake(self, key: Hashable) -> None:
        """Wake every waiter watching ``key`` to check its condition again."""
        waiting = self._watchers.get(key)
        if waiting:
            for event in waiting:
                event.set()

    async def wait_until(
        self, condition: Callable[[], bool], keys: Iterable[Hashable], deadline: float
    ) -> bool:
        """Wait until ``condition()`` holds (True) or the trio clock passes ``deadline``
        (False); ``condition`` is checked once now and after each wake of ``keys``."""
        keys = list(keys)
        while True:
            with self.watch(keys) as woken:
                if condition():
                    return True
                if trio.current_time() >= deadline:
                    return False
                with trio.move_on_at(deadline):
                    await woken.wait()
