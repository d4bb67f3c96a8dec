"""Deadlines keyed by name on trio: one task sleeps until the earliest one, no polling.

The coordinator keeps a session timer per member, a rebalance timer per group, and so on:
:meth:`Timers.schedule` replaces the key's previous deadline (a heartbeat pushes its session
deadline back), :meth:`Timers.cancel` drops it. Callbacks are plain functions run in the trio
thread by the timer task; one that must write (an async operation) starts a task for it.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable, Hashable

import trio

log = logging.getLogger(__name__)

# Every member has at most two timers and every group one: a million covers far more groups
# than one coordinator could serve, and stops a runaway from eating memory unnoticed.
TIMERS_MAX = 1_000_000


class TooManyTimersError(RuntimeError):
    pass


class Timers:
    """Keyed deadlines (trio.current_time() seconds) and the task that fires them."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Hashable]] = []
        # key -> (deadline, sequence, callback); a heap entry whose sequence differs is stale.
        self._entries: dict[Hashable, tuple[float, int, Callable[[], None]]] = {}
        self._sequence = itertools.count()
        self._changed = trio.Event()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def schedule(self, key: Hashable, delay_s: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` in ``delay_s`` seconds unless ``key`` is rescheduled or cancelled."""
        if key not in self._entries and len(self._entries) >= TIMERS_MAX:
            raise TooManyTimersError(f"more than {TIMERS_MAX} timers")
        deadline = trio.current_time() + max(delay_s, 0.0)
        sequence = next(self._sequence)
        self._entries[key] = (deadline, sequence, callback)
        heapq.heappush(self._heap, (deadline, sequence, key))
        if len(self._heap) > 2 * len(self._entries) + 64:
            self._compact()
        if self._heap[0][1] == sequence:
            self._changed.set()  # a new earliest deadline: the task must sleep less

    def cancel(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def _compact(self) -> None:
        self._heap = [(d, s, k) for k, (d, s, _) in self._entries.items()]
        heapq.heapify(self._heap)

    async def run(self) -> None:
        """Fire deadlines as they come, forever (cancel the enclosing scope to stop)."""
        while True:
            changed = self._changed
            deadline = self._next_deadline()
            with trio.move_on_at(deadline if deadline is not None else float("inf")):
                await changed.wait()
            if changed.is_set():
                self._changed = trio.Event()
            self._fire_due()

    def _next_deadline(self) -> float | None:
        while self._heap:
            deadline, sequence, key = self._heap[0]
            entry = self._entries.get(key)
            if entry is not None and entry[1] == sequence:
                return deadline
            heapq.heappop(self._heap)
        return None

    def _fire_due(self) -> None:
        now = trio.current_time()
        while self._heap and self._heap[0][0] <= now:
            _, sequence, key = heapq.heappop(self._heap)
            entry = self._entries.get(key)
            if entry is None or entry[1] != sequence:
                continue
            del self._entries[key]
            try:
                entry[2]()
            except Exception:  # one broken callback must not stop every other timer
                log.exception("timer %r failed", key)
