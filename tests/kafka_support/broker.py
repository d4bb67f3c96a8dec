"""One single-node KRaft Apache Kafka (broker and controller in one JVM) for the interop tests.

Free loopback ports, its own data directory, storage formatted with Kafka's StorageTool
(``format --standalone``), readiness = a metadata request naming the broker, and a clean stop
(SIGTERM, then wait) after which Kafka has trimmed its indexes and written its clean-shutdown
marker, as in production. Every wait is bounded; a broker that does not come up or go down in
time raises with the tail of its log.
"""

from __future__ import annotations

import base64
import logging
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from kafka_support.jars import (
    LOG_TAIL_LINES,
    file_tail,
    java_executable,
    kafka_classpath,
    run_kafka_tool,
    write_log4j2_config,
)

# Bounds. The machine is small (2 cores): a cold JVM takes a few seconds to start Kafka, so
# these leave room for a loaded CI box without letting a hung broker stall the suite.
STORAGE_FORMAT_TIMEOUT_S = 60.0
BROKER_START_TIMEOUT_S = 120.0
BROKER_STOP_TIMEOUT_S = 60.0
ADMIN_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.2

# -Xmx512m: the broker holds a few MiB of test data. C1 only and the serial collector: on two
# cores the JVM starts faster and leaves the CPU to the test process.
BROKER_JVM_OPTIONS = (
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)
NODE_ID = 1
# Written by Kafka's LogManager into each log dir on a clean shutdown.
CLEAN_SHUTDOWN_FILE = ".kafka_cleanshutdown"
STORAGE_TOOL_CLASS = "kafka.tools.StorageTool"
BROKER_CLASS = "kafka.Kafka"
# librdkafka logs every refused connection while the broker starts: keep that out of test
# output (it goes to this logger, which pytest shows on failure).
_QUIET_LIBRDKAFKA = logging.getLogger("ferrokafka.tests.librdkafka")


class KafkaStartError(RuntimeError):
    """The broker exited or did not become ready in time."""


class KafkaStopError(RuntimeError):
    """The broker did not stop cleanly in time."""


def free_loopback_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (the broker retries on a lost race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def random_cluster_id() -> str:
    """A Kafka cluster id: a random UUID in Kafka's URL-safe base64 form, 22 characters.

    Kafka avoids ids starting with '-' (they read as command-line flags); so do we.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def _wait_port_open(port: int, deadline: float, alive: Callable[[], None]) -> None:
    while time.monotonic() < deadline:
        alive()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0):
                return
        except OSError:
            time.sleep(POLL_INTERVAL_S)
    raise TimeoutError(f"port {port} did not open in time")


class KafkaBroker:
    """A single-node KRaft Apache Kafka (``process.roles=broker,controller``) in a child JVM.

    ``start()`` formats the data directory the first time (``kafka-storage format
    --standalone``), starts the JVM and returns once the broker answers metadata requests.
    ``stop()`` sends SIGTERM and waits for a clean shutdown. A stopped broker can be started
    again on the same data directory and ports.
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        broker_config: Mapping[str, str] | None = None,
        start_timeout_s: float = BROKER_START_TIMEOUT_S,
        stop_timeout_s: float = BROKER_STOP_TIMEOUT_S,
    ) -> None:
        self.work_dir = Path(work_dir)
        self.data_dir = self.work_dir / "data"
        self.config_file = self.work_dir / "server.properties"
        self.log_file = self.work_dir / "kafka.log"
        self.console_file = self.work_dir / "kafka.out"
        self.extra_config = dict(broker_config or {})
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.cluster_id = random_cluster_id()
        self.port = 0
        self.controller_port = 0
        self._process: subprocess.Popen[bytes] | None = None

    # -- addresses and files --------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def partition_dir(self, topic: str, partition: int = 0) -> Path:
        """Kafka's directory for one partition: ``<data>/<topic>-<partition>``."""
        return self.data_dir / f"{topic}-{partition}"

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return (
            f"--- {self.log_file} ---\n{file_tail(self.log_file, lines)}\n"
            f"--- {self.console_file} ---\n{file_tail(self.console_file, lines)}"
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self.is_running:
            return
        self.work_dir.mkdir(parents=True, exist_ok=True)
        # A port picked here can be taken before the JVM binds it; try again with new ones.
        attempts = 1 if self.port else 3
        for attempt in range(1, attempts + 1):
            if not self.port:
                self.port, self.controller_port = _two_free_ports()
            self._write_config()
            if not (self.data_dir / "meta.properties").exists():
                self._format_storage()
            try:
                self._launch_and_wait()
                return
            except KafkaStartError as exc:
                lost_port_race = "Address already in use" in str(exc)
                if not lost_port_race or attempt == attempts:
                    raise
                shutil.rmtree(self.data_dir, ignore_errors=True)
                self.port = self.controller_port = 0

    def stop(self) -> None:
        """SIGTERM, then wait up to ``stop_timeout_s`` for a clean shutdown.

        Raises KafkaStopError (after killing the JVM) if it does not exit in time or leaves no
        clean-shutdown marker: tests read Kafka's files only after a clean stop.
        """
        process = self._process
        if process is None:
            return
        self._process = None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=self.stop_timeout_s)
                raise KafkaStopError(
                    f"Kafka did not stop within {self.stop_timeout_s}s of SIGTERM; killed it\n"
                    + self.log_tail()
                ) from None
        if process.returncode not in (0, 143, -signal.SIGTERM):
            raise KafkaStopError(f"Kafka exited with {process.returncode}\n" + self.log_tail())
        if not (self.data_dir / CLEAN_SHUTDOWN_FILE).exists():
            raise KafkaStopError(
                f"Kafka exited without writing {CLEAN_SHUTDOWN_FILE}\n" + self.log_tail()
            )

    def kill(self) -> None:
        """SIGKILL without waiting for a clean shutdown (teardown after a failure)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=self.stop_timeout_s)

    def __enter__(self) -> KafkaBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.stop()
        else:
            self.kill()

    # -- admin -----------------------------------------------------------------------------

    def client_config(self) -> dict[str, Any]:
        """librdkafka settings for clients of this broker (quiet, bounded)."""
        return {
            "bootstrap.servers": self.bootstrap_servers,
            "socket.timeout.ms": int(ADMIN_TIMEOUT_S * 1000),
            "logger": _QUIET_LIBRDKAFKA,
        }

    def create_topic(
        self,
        name: str,
        *,
        partitions: int = 1,
        config: Mapping[str, str] | None = None,
        timeout_s: float = ADMIN_TIMEOUT_S,
    ) -> None:
        """Create a topic and wait until every partition has a leader."""
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient(self.client_config())
        topic = NewTopic(
            name, num_partitions=partitions, replication_factor=1, config=dict(config or {})
        )
        futures = admin.create_topics(
            [topic], operation_timeout=timeout_s, request_timeout=timeout_s
        )
        futures[name].result(timeout=timeout_s)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            metadata = admin.list_topics(topic=name, timeout=max(0.5, deadline - time.monotonic()))
            found = metadata.topics.get(name)
            if (
                found is not None
                and found.error is None
                and len(found.partitions) == partitions
                and all(p.leader == NODE_ID for p in found.partitions.values())
            ):
                return
            time.sleep(POLL_INTERVAL_S)
        raise TimeoutError(f"topic {name} has no leader after {timeout_s}s")

    # -- internals -------------------------------------------------------------------------

    def _write_config(self) -> None:
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            "auto.create.topics.enable": "false",
            # One node: every internal topic has one replica.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # Few threads: the machine has two cores.
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            "background.threads": "2",
            **self.extra_config,
        }
        self.config_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        write_log4j2_config(
            self.work_dir / "log4j2.properties", log_file=self.log_file, level="info"
        )

    def _format_storage(self) -> None:
        run_kafka_tool(
            STORAGE_TOOL_CLASS,
            [
                "format",
                "--cluster-id",
                self.cluster_id,
                "--config",
                str(self.config_file),
                "--standalone",
            ],
            work_dir=self.work_dir,
            timeout_s=STORAGE_FORMAT_TIMEOUT_S,
        )

    # The JVM flags of the broker process (a subclass may run Kafka as shipped instead).
    JVM_OPTIONS: tuple[str, ...] = BROKER_JVM_OPTIONS

    def _launch_and_wait(self) -> None:
        self._spawn()
        try:
            self._wait_ready(time.monotonic() + self.start_timeout_s)
        except BaseException:
            self.kill()
            raise

    def _spawn(self) -> None:
        """Start the broker JVM, its console output appended to ``console_file``."""
        command = [
            java_executable(),
            *self.JVM_OPTIONS,
            f"-Dlog4j2.configurationFile={self.work_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.work_dir}",
            "-cp",
            kafka_classpath(),
            BROKER_CLASS,
            str(self.config_file),
        ]
        with open(self.console_file, "ab") as console:
            self._process = subprocess.Popen(
                command,
                cwd=self.work_dir,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
            )

    def _check_alive(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            code = None if process is None else process.returncode
            raise KafkaStartError(
                f"Kafka exited during start-up (exit code {code})\n" + self.log_tail()
            )

    def _wait_ready(self, deadline: float) -> None:
        """Ready = the broker's listener answers a metadata request naming this broker."""
        from confluent_kafka.admin import AdminClient

        try:
            _wait_port_open(self.port, deadline, self._check_alive)
        except TimeoutError:
            raise KafkaStartError(
                f"Kafka did not open port {self.port} within {self.start_timeout_s}s\n"
                + self.log_tail()
            ) from None
        admin = AdminClient(self.client_config())
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                metadata = admin.list_topics(
                    timeout=min(5.0, max(0.5, deadline - time.monotonic()))
                )
            except Exception:  # KafkaException while the broker is still registering
                time.sleep(POLL_INTERVAL_S)
                continue
            if NODE_ID in metadata.brokers:
                return
            time.sleep(POLL_INTERVAL_S)
        raise KafkaStartError(
            f"Kafka was not ready within {self.start_timeout_s}s\n" + self.log_tail()
        )


def _two_free_ports() -> tuple[int, int]:
    first = free_loopback_port()
    second = free_loopback_port()
    while second == first:
        second = free_loopback_port()
    return first, second
