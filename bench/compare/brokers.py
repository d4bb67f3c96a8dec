"""The two brokers under test, each a separate process the harness can time and sample.

Both get the same settings that matter for the workloads: the same data filesystem (both
data directories sit under one work directory), the same segment size, one partition by
default, no auto-created topics, and no fsync per message (both keep Kafka's default
``log.flush.interval.messages`` of Long.MAX_VALUE). Kafka runs with the JVM flags its own
``kafka-server-start.sh`` uses (1 GiB heap, G1) and its default thread counts, i.e. as
shipped, not with the test suite's start-fast flags.

``start()`` returns the seconds from process spawn to the first Metadata answer naming the
broker (see ``probe``); the same call after ``stop()`` restarts on the same data and ports.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Protocol

from bench.compare import REPO
from bench.compare.probe import wait_ready

from kafka_support.broker import KafkaBroker, KafkaStartError, free_loopback_port

LOOPBACK = "127.0.0.1"
# librdkafka's informational lines (connection refused during start, purged admin events)
# go to this logger instead of the terminal.
LIBRDKAFKA_LOG = logging.getLogger("bench.compare.librdkafka")
STOP_TIMEOUT_S = 120.0
ADMIN_TIMEOUT_S = 30.0
TOPIC_POLL_S = 0.05
# kafka-server-start.sh's KAFKA_HEAP_OPTS and kafka-run-class.sh's KAFKA_JVM_PERFORMANCE_OPTS.
KAFKA_JVM_OPTIONS = (
    "-Xmx1G",
    "-Xms1G",
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
)
# Kafka's own defaults (the test helper lowers them for a loaded CI box).
KAFKA_AS_SHIPPED = {"num.network.threads": "3", "num.io.threads": "8"}


def common_settings(segment_bytes: int) -> dict[str, str]:
    """Broker keys both sides get, with the same values."""
    return {
        "log.segment.bytes": str(segment_bytes),
        "num.partitions": "1",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "group.initial.rebalance.delay.ms": "0",
        # One node: __transaction_state as the Kafka side's test config already has it
        # (ferrokafka's defaults are Kafka's: 3 replicas, which one node cannot place).
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
    }


class Broker(Protocol):
    name: str
    data_dir: Path

    @property
    def bootstrap_servers(self) -> str: ...
    @property
    def pid(self) -> int: ...
    def start(self) -> float: ...
    def stop(self) -> None: ...
    def kill(self) -> None: ...


class ApacheKafka(KafkaBroker):
    """Kafka 4.x as a single KRaft node, launched with its production JVM flags."""

    name = "kafka"
    JVM_OPTIONS = KAFKA_JVM_OPTIONS

    def __init__(self, work_dir: Path, *, segment_bytes: int, start_timeout_s: float) -> None:
        super().__init__(
            work_dir,
            broker_config={**KAFKA_AS_SHIPPED, **common_settings(segment_bytes)},
            start_timeout_s=start_timeout_s,
            stop_timeout_s=STOP_TIMEOUT_S,
        )
        self.ready_s = float("nan")

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("Kafka is not running")
        return self._process.pid

    def start(self) -> float:  # type: ignore[override]
        super().start()
        return self.ready_s

    def _launch_and_wait(self) -> None:
        """Spawn the JVM (kafka-server-start.sh's flags, ``JVM_OPTIONS``), then time it to its
        first Metadata answer."""
        spawned = time.monotonic()
        self._spawn()
        try:
            ready = wait_ready(
                LOOPBACK, self.port, spawned + self.start_timeout_s, self._check_alive
            )
        except TimeoutError as exc:
            self.kill()
            raise KafkaStartError(f"{exc}\n{self.log_tail()}") from None
        except BaseException:
            self.kill()
            raise
        self.ready_s = ready - spawned


def _native_module_in_tree() -> bool:
    return any((REPO / "python" / "ferrokafka").glob("_ferrokafka*.so"))


class Ferrokafka:
    """``ferrokafka serve`` in its own Python process (the source tree's when it holds a built
    native module, else the installed package)."""

    name = "ferrokafka"

    def __init__(self, work_dir: Path, *, segment_bytes: int, start_timeout_s: float) -> None:
        self.work_dir = Path(work_dir)
        self.data_dir = self.work_dir / "data"
        self.settings = common_settings(segment_bytes)
        self.start_timeout_s = start_timeout_s
        self.port = free_loopback_port()
        self.controller_port = free_loopback_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("ferrokafka is not running")
        return self._process.pid

    def _command(self) -> list[str]:
        overrides = [arg for k, v in self.settings.items() for arg in ("--override", f"{k}={v}")]
        return [
            sys.executable,
            "-c",
            "from ferrokafka_cli.main import main; main()",
            "serve",
            "--listeners",
            f"PLAINTEXT://{LOOPBACK}:{self.port},CONTROLLER://{LOOPBACK}:{self.controller_port}",
            "--log-dirs",
            str(self.data_dir),
            "--log-level",
            "WARNING",
            *overrides,
        ]

    def _check_alive(self) -> None:
        if self._process is None or self._process.poll() is not None:
            raise RuntimeError(f"ferrokafka serve exited during start-up\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        path = self.work_dir / "serve.err"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def start(self) -> float:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        paths = [str(REPO)] + ([str(REPO / "python")] if _native_module_in_tree() else [])
        env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        # A pip-installed ferrokafka has its bytecode compiled at install time; from source, an
        # inherited PYTHONDONTWRITEBYTECODE would make every start recompile all modules
        # (~100 ms of start-up that an installed broker never pays), so let it cache.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        with (
            open(self.work_dir / "serve.out", "ab") as out,
            open(self.work_dir / "serve.err", "ab") as err,
        ):
            spawned = time.monotonic()
            self._process = subprocess.Popen(
                self._command(), cwd=REPO, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env
            )
        try:
            ready = wait_ready(
                LOOPBACK, self.port, spawned + self.start_timeout_s, self._check_alive
            )
        except BaseException:
            self.kill()
            raise
        return ready - spawned

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
            raise RuntimeError(f"ferrokafka did not stop within {STOP_TIMEOUT_S}s") from None

    def kill(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)


def make_broker(name: str, work_dir: Path, *, segment_bytes: int, start_timeout_s: float) -> Broker:
    cls = {"kafka": ApacheKafka, "ferrokafka": Ferrokafka}[name]
    return cls(work_dir, segment_bytes=segment_bytes, start_timeout_s=start_timeout_s)


def create_topic(bootstrap: str, name: str, partitions: int, replication_factor: int = 1) -> None:
    """Create a topic with librdkafka's admin client and wait until every partition has a
    leader and every replica in its ISR (both brokers answer CreateTopics before their metadata
    shows the leaders)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, "logger": LIBRDKAFKA_LOG})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=replication_factor)],
        operation_timeout=ADMIN_TIMEOUT_S,
        request_timeout=ADMIN_TIMEOUT_S,
    )
    futures[name].result(timeout=ADMIN_TIMEOUT_S)
    deadline = time.monotonic() + ADMIN_TIMEOUT_S
    while time.monotonic() < deadline:
        found = admin.list_topics(topic=name, timeout=ADMIN_TIMEOUT_S).topics.get(name)
        if (
            found is not None
            and found.error is None
            and len(found.partitions) == partitions
            and all(
                p.leader >= 0 and len(p.isrs) == replication_factor
                for p in found.partitions.values()
            )
        ):
            return
        time.sleep(TOPIC_POLL_S)
    raise TimeoutError(f"topic {name} has no leaders after {ADMIN_TIMEOUT_S}s")


def dir_bytes(path: Path) -> int:
    """Bytes allocated to the files under ``path`` (Kafka's preallocated, sparse index files
    count for what they hold, not their length)."""
    return sum(p.stat().st_blocks * 512 for p in Path(path).rglob("*") if p.is_file())
