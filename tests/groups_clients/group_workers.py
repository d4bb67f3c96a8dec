"""Run confluent_worker.py processes and collect their events, every wait bounded."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

WORKER = Path(__file__).with_name("confluent_worker.py")
# Events in flight between the workers' reader threads and the test; far more than a test's
# few thousand records, so a reader never blocks for long.
EVENTS_MAX = 100_000


@dataclass
class Worker:
    index: int
    process: subprocess.Popen[str]
    owned: set[int] = field(default_factory=set)
    # (arrival monotonic time, partition, offset)
    records: list[tuple[float, int, int]] = field(default_factory=list)
    exited: bool = False


class Workers:
    def __init__(self) -> None:
        self.events: queue.Queue[tuple[int, float, dict]] = queue.Queue(maxsize=EVENTS_MAX)
        self.workers: list[Worker] = []

    def start(self, *args: str) -> Worker:
        process = subprocess.Popen(
            [sys.executable, str(WORKER), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        worker = Worker(len(self.workers), process)
        self.workers.append(worker)
        threading.Thread(target=self._read, args=(worker,), daemon=True).start()
        return worker

    def _read(self, worker: Worker) -> None:
        assert worker.process.stdout is not None
        for line in worker.process.stdout:
            if line.startswith("{"):
                self.events.put((worker.index, time.monotonic(), json.loads(line)))

    def pump(self, timeout_s: float) -> None:
        """Apply the events that arrive within ``timeout_s`` (at least one wait)."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            try:
                index, at, event = self.events.get(timeout=max(left, 0.001))
            except queue.Empty:
                return
            worker = self.workers[index]
            if event["ev"] == "owned":
                worker.owned = set(event["parts"])
            elif event["ev"] == "msg":
                worker.records.append((at, event["p"], event["o"]))
            elif event["ev"] == "exit":
                worker.exited = True
            if time.monotonic() >= deadline:
                return

    def wait_until(self, condition, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{what} not reached in {timeout_s}s: {self.describe()}")
            self.pump(0.2)

    def describe(self) -> str:
        return "; ".join(
            f"worker {w.index}: owns {sorted(w.owned)}, {len(w.records)} records, "
            f"rc={w.process.poll()}"
            for w in self.workers
        )

    def close(self) -> None:
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.kill()
            worker.process.wait(timeout=30)
