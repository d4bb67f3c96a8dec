"""The transactional workload's pieces that need no broker: where a stuck worker is blocked."""

from __future__ import annotations

import threading

from .txn_workload import _where
from .workloads import _Worker

BLOCK_TIMEOUT_S = 30.0


class _Blocked(_Worker):
    def __init__(self) -> None:
        super().__init__("blocked", 60.0)
        self.release = threading.Event()
        self.entered = threading.Event()

    def run(self) -> None:
        self.entered.set()
        self.release.wait(BLOCK_TIMEOUT_S)


def test_a_stuck_worker_is_reported_with_the_call_it_is_blocked_in() -> None:
    worker = _Blocked()
    worker.start()
    try:
        assert worker.entered.wait(BLOCK_TIMEOUT_S)
        where = _where(worker)
        assert where.startswith("threading.py:") and "wait" in where, where
    finally:
        worker.release.set()
        worker.stop()
