"""Kafka's Java tools as long-running processes for the consumer group tests:
VerifiableConsumer prints one JSON event per line (assignments, records, commits), read here
by a thread into a bounded queue so a test can wait for a state with a deadline."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

import kafka_support as ks
from kafka_support import jars

VERIFIABLE_CONSUMER = "org.apache.kafka.tools.VerifiableConsumer"
# Events a test has not read yet; far above what one test produces.
EVENTS_MAX = 100_000
STOP_TIMEOUT_S = 60.0
STDERR_HEAD_LINES = 10


def java_command(work_dir: Path, main_class: str, args: list[str]) -> list[str]:
    log4j = work_dir / "log4j2-tools.properties"
    if not log4j.exists():
        jars.write_log4j2_config(log4j, log_file=None, level="error")
    return [
        ks.java_executable(),
        *jars.TOOL_JVM_OPTIONS,
        *jars.UTF8_STDOUT_OPTIONS,
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        ks.kafka_classpath(),
        main_class,
        *args,
    ]


class VerifiableConsumer:
    """One VerifiableConsumer process and the partitions it holds, from its events."""

    def __init__(
        self,
        work_dir: Path,
        bootstrap: str,
        topic: str,
        group: str,
        instance_id: str | None = None,
    ) -> None:
        args = [
            "--bootstrap-server",
            bootstrap,
            "--topic",
            topic,
            "--group-id",
            group,
            "--group-protocol",
            "consumer",
            "--reset-policy",
            "earliest",
        ]
        if instance_id is not None:
            args += ["--group-instance-id", instance_id]
        self.process = subprocess.Popen(
            java_command(work_dir, VERIFIABLE_CONSUMER, args),
            cwd=work_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            encoding="utf-8",
            errors="replace",
        )
        self.events: queue.Queue[dict] = queue.Queue(maxsize=EVENTS_MAX)
        self.assigned: set[tuple[str, int]] = set()
        # partition -> highest offset consumed
        self.consumed: dict[tuple[str, int], int] = {}
        self.stderr_tail: list[str] = []
        self.stderr_head: list[str] = []  # the first ERROR lines: what went wrong first
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                self.events.put(json.loads(line), timeout=10)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if len(self.stderr_head) < STDERR_HEAD_LINES and "ERROR" in line:
                self.stderr_head.append(line)
            self.stderr_tail = [*self.stderr_tail[-40:], line]

    def _apply(self, event: dict) -> None:
        parts = {(p["topic"], p["partition"]) for p in event.get("partitions", ())}
        if event["name"] == "partitions_assigned":
            self.assigned |= parts
        elif event["name"] in ("partitions_revoked", "partitions_lost"):
            self.assigned -= parts
        elif event["name"] == "records_consumed":
            for p in event["partitions"]:
                key = (p["topic"], p["partition"])
                self.consumed[key] = max(self.consumed.get(key, -1), p["maxOffset"])

    def poll(self) -> None:
        """Apply every event printed so far."""
        while True:
            try:
                self._apply(self.events.get_nowait())
            except queue.Empty:
                return

    def stop(self) -> None:
        """SIGTERM: the consumer closes, which leaves the group (member epoch -1)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT_S)

    def describe(self) -> str:
        return (
            f"assigned={sorted(self.assigned)} first errors={''.join(self.stderr_head)} "
            f"stderr={''.join(self.stderr_tail)[-2000:]}"
        )


def wait_until(consumers: list[VerifiableConsumer], done, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        for consumer in consumers:
            consumer.poll()
        if done():
            return
        for consumer in consumers:
            if consumer.process.poll() is not None:
                raise AssertionError(
                    f"a consumer exited while waiting for {what}: {consumer.describe()}"
                )
        if time.monotonic() > deadline:
            raise AssertionError(
                f"no {what} within {timeout_s}s: " + " | ".join(c.describe() for c in consumers)
            )
        time.sleep(0.2)
