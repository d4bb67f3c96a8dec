"""What the Python-framework tests share: the interpreter that has each framework, the app as a
subprocess (killed and restarted by PID), input records, and a read_committed reader of the
output that waits (bounded) for a condition.

Quix Streams pins a confluent-kafka older than the test extra's, so it lives in its own venv
under the ferrokafka cache (created here on first use, or ahead of time by tests/run.sh with
``python -m tests.ecosystem.pyfw_support``); faust-streaming and FastStream are in the test extra
and run in the test's own interpreter.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

APPS = Path(__file__).resolve().parent / "pyfw_apps"
CACHE = Path(os.environ.get("FERROKAFKA_CACHE", Path.home() / ".cache" / "ferrokafka"))
QUIX_VERSION = "3.28.1"
QUIX_VENV = CACHE / "pyfw" / f"quixstreams-{QUIX_VERSION}"
# Written once pip has installed the venv completely: a half-made venv is made again.
QUIX_READY = QUIX_VENV / ".ferrokafka-ready"
PIP_TIMEOUT_S = 600.0
ADMIN_TIMEOUT_S = 30.0
APP_STOP_TIMEOUT_S = 30.0
APP_START_TIMEOUT_S = 120.0
POLL_S = 0.2
LOG_TAIL_CHARS = 4000


def quix_python() -> str:
    """The interpreter of the Quix Streams venv, made (once) if missing."""
    python = QUIX_VENV / "bin" / "python"
    if QUIX_READY.exists():
        return str(python)
    QUIX_VENV.parent.mkdir(parents=True, exist_ok=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(QUIX_VENV)],
        [str(python), "-m", "pip", "install", "-q", f"quixstreams=={QUIX_VERSION}"],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
        if done.returncode != 0:
            raise RuntimeError(
                f"cannot install quixstreams {QUIX_VERSION} into {QUIX_VENV}: "
                f"{' '.join(step)} exited {done.returncode}: {done.stderr[-LOG_TAIL_CHARS:]}"
            )
    QUIX_READY.write_text(QUIX_VERSION + "\n")
    return str(python)


class App:
    """A framework application as a subprocess of ``python``; its output goes to ``log``."""

    def __init__(self, python: str, script: str, args: Sequence[str], log: Path) -> None:
        self.log = log
        self.started_at = time.monotonic()
        with log.open("ab") as sink:
            self.proc = subprocess.Popen(
                [python, str(APPS / script), *args],
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"app exited with {self.proc.returncode}:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-LOG_TAIL_CHARS:]

    def peak_rss_mib(self) -> float:
        """The process's peak resident memory (VmHWM) so far, in MiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def kill(self) -> None:
        """SIGKILL: no commit, no flush, no leave-group."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(APP_STOP_TIMEOUT_S)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(APP_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()


def create_topics(bootstrap: str, names: Sequence[str], partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, partitions, 1) for name in names], operation_timeout=ADMIN_TIMEOUT_S
    )
    for future in futures.values():
        future.result(timeout=ADMIN_TIMEOUT_S)


def produce_inputs(
    bootstrap: str, topic: str, numbers: range, keys: int, timestamps: bool = False
) -> None:
    """``{"n": i}`` under key ``k<i % keys>`` for each i, acknowledged by the broker; with
    ``timestamps`` each record's timestamp is ``input_timestamp_ms(i)``."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
    for n in numbers:
        extra = {"timestamp": input_timestamp_ms(n)} if timestamps else {}
        producer.produce(topic, key=f"k{n % keys}", value=json.dumps({"n": n}), **extra)
    assert producer.flush(ADMIN_TIMEOUT_S) == 0, "inputs not acknowledged"


# Input i has timestamp BASE + i * STEP: 100 inputs to a second (a window of quix_app.py).
INPUT_TIMESTAMP_BASE_MS = 1_700_000_000_000
INPUT_TIMESTAMP_STEP_MS = 10


def input_timestamp_ms(n: int) -> int:
    return INPUT_TIMESTAMP_BASE_MS + n * INPUT_TIMESTAMP_STEP_MS


def expected_windows(numbers: range, keys: int, window_ms: int) -> dict[tuple[str, int], int]:
    """Per (key, window start): the sum of ``n``, for the windows a later input has closed."""
    sums: dict[tuple[str, int], int] = {}
    for n in numbers:
        start = input_timestamp_ms(n) // window_ms * window_ms
        sums[(f"k{n % keys}", start)] = sums.get((f"k{n % keys}", start), 0) + n
    last_start = input_timestamp_ms(numbers[-1]) // window_ms * window_ms
    return {window: total for window, total in sums.items() if window[1] < last_start}


def expected_totals(numbers: range, keys: int) -> dict[str, tuple[int, int]]:
    """Per key: (count, sum) of the inputs ``produce_inputs`` wrote for ``numbers``."""
    totals: dict[str, tuple[int, int]] = {}
    for n in numbers:
        count, total = totals.get(f"k{n % keys}", (0, 0))
        totals[f"k{n % keys}"] = (count + 1, total + n)
    return totals


def topic_configs(bootstrap: str, topic: str) -> dict[str, str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([resource])[resource].result(timeout=ADMIN_TIMEOUT_S)
    return {name: entry.value for name, entry in entries.items()}


def list_topics(bootstrap: str) -> list[str]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    return sorted(admin.list_topics(timeout=ADMIN_TIMEOUT_S).topics)


def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int) -> list[int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        return [tp.offset for tp in consumer.committed(tps, timeout=ADMIN_TIMEOUT_S)]
    finally:
        consumer.close()


class OutputReader:
    """Reads a topic from its beginning with ``isolation.level=read_committed`` (no group)."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "pyfw-output-reader",
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
            }
        )
        self._partitions = [TopicPartition(topic, p) for p in range(partitions)]
        self._consumer.assign(
            [TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)]
        )

    def wait_until(
        self,
        done: Callable[[list[tuple[str, dict[str, Any]]]], bool],
        timeout_s: float,
        alive: Callable[[], None],
        what: str,
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while not done(self.records):
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {timeout_s}s ({len(self.records)} read)")
            alive()
            for message in self._consumer.consume(500, POLL_S):
                if message.error() is None:
                    key = message.key().decode() if message.key() is not None else ""
                    self.records.append((key, json.loads(message.value())))

    def read_to_end(self, timeout_s: float = ADMIN_TIMEOUT_S) -> int:
        """Reads up to the last stable offset of every partition (nothing more is coming);
        returns the number of records read in all."""
        marks = [
            self._consumer.get_watermark_offsets(tp, timeout=ADMIN_TIMEOUT_S)
            for tp in self._partitions
        ]

        def at_end(_: object) -> bool:
            # An empty partition has no position (OFFSET_INVALID) until a record arrives.
            positions = self._consumer.position(self._partitions)
            return all(
                low == high or p.offset >= high
                for p, (low, high) in zip(positions, marks, strict=True)
            )

        self.wait_until(at_end, timeout_s, lambda: None, "the end of the output")
        return len(self.records)

    def close(self) -> None:
        self._consumer.close()


def last_per_key(records: list[tuple[str, dict[str, Any]]]) -> dict[str, tuple[int, int]]:
    """Per key: (count, sum) of the last output record of that key."""
    return {key: (value["count"], value["sum"]) for key, value in records}


if __name__ == "__main__":
    print(quix_python())
