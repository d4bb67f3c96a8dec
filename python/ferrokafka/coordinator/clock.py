"""The wall clock coordinators read (what their records carry: commit timestamps, the start of
an empty group's offset retention, session deadlines in KIP-848 groups), injectable so tests
move it instead of sleeping. Timeouts that only wait run on trio's clock, which tests replace
with ``trio.testing.MockClock``.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class WallClock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the Unix epoch."""
        ...


class SystemWallClock:
    """The machine's clock."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)


SYSTEM_WALL_CLOCK = SystemWallClock()


class ManualWallClock:
    """A clock that starts at the machine's time (or ``start_ms``) and moves only when told:
    :meth:`advance` or :meth:`set`. Safe to move from a test's thread while a broker reads it."""

    def __init__(self, start_ms: int | None = None) -> None:
        self._now_ms = SYSTEM_WALL_CLOCK.now_ms() if start_ms is None else start_ms
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        with self._lock:
            return self._now_ms

    def advance(self, ms: int) -> int:
        with self._lock:
            self._now_ms += ms
            return self._now_ms

    def set(self, now_ms: int) -> None:
        with self._lock:
            self._now_ms = now_ms
