"""Kafka Connect workers and MirrorMaker 2 as child JVMs, for tests/ecosystem/: a distributed
worker (``ConnectDistributed`` with a properties file, its REST API on a free loopback port) and
MirrorMaker 2 in dedicated mode (``org.apache.kafka.connect.mirror.MirrorMaker``). Both run
from the published jars (tests/kafka/connect/pom.xml) with a modest heap, log to a file, and are
stopped by PID. Every wait is bounded; a failure raises with the tail of the JVM's log.

Also a ``ferrokafka serve`` subprocess on ephemeral ports (``ferrokafka_broker``) and a few
librdkafka helpers the tests share (FULL_OPT_IN: the long variants).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kafka_support.broker import free_loopback_port
from kafka_support.jars import (
    LOG_TAIL_LINES,
    connect_classpath,
    file_tail,
    java_executable,
    write_log4j2_config,
)

# Bounds. A Connect worker's JVM starts in ~5 s on a quiet two-core box; the margins cover a
# loaded CI machine.
WORKER_START_TIMEOUT_S = 120.0
WORKER_STOP_TIMEOUT_S = 60.0
REST_TIMEOUT_S = 10.0
WAIT_POLL_S = 0.5
# The worker holds a few KiB of test data: 384 MiB is plenty. C1 only and the serial collector
# leave the CPU to the other processes on two cores.
CONNECT_JVM_OPTIONS = ("-Xms64m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")

FULL_ENV = "FERROKAFKA_ECOSYSTEM_FULL"
FULL_OPT_IN = pytest.mark.skipif(
    os.environ.get(FULL_ENV, "") in ("", "0"),
    reason=f"opt-in: {FULL_ENV}=1 (the long ecosystem variants)",
)

T = TypeVar("T")


class JvmProcessError(RuntimeError):
    """A Connect/MirrorMaker JVM exited early, did not become ready, or did not stop in time."""


def wait_for(what: str, probe: Callable[[], T | None], timeout_s: float, *, log: str = "") -> T:
    """Poll ``probe`` until it returns something other than None/False (bounded)."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last is not None and last is not False:
            return last
        time.sleep(WAIT_POLL_S)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last: {last!r})\n{log}")


class JvmProcess:
    """One Connect-family JVM: ``main_class`` with a properties file, logging to a file."""

    def __init__(self, work_dir: Path, name: str, main_class: str, props: Mapping[str, str]):
        self.work_dir = work_dir
        self.name = name
        self.main_class = main_class
        self.props = dict(props)
        self.log_file = work_dir / f"{name}.log"
        self.console_file = work_dir / f"{name}.out"
        self.props_file = work_dir / f"{name}.properties"
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.start_s = 0.0  # time from spawn to ready, for the README's figures
        self.peak_rss_kib = 0

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return (
            f"--- {self.log_file} ---\n{file_tail(self.log_file, lines)}\n"
            f"--- {self.console_file} ---\n{file_tail(self.console_file, lines)}"
        )

    def spawn(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.props_file.write_text("".join(f"{k}={v}\n" for k, v in self.props.items()))
        log4j = self.work_dir / f"{self.name}-log4j2.properties"
        write_log4j2_config(log4j, log_file=self.log_file, level="info")
        command = [
            java_executable(),
            *CONNECT_JVM_OPTIONS,
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            connect_classpath(),
            self.main_class,
            str(self.props_file),
        ]
        with self.console_file.open("ab") as console:
            self.process = subprocess.Popen(
                command, cwd=self.work_dir, stdout=console, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        self.started_at = time.monotonic()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            code = None if self.process is None else self.process.returncode
            raise JvmProcessError(f"{self.name} exited ({code})\n{self.log_tail()}")

    def _sample_rss(self) -> None:
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                self.peak_rss_kib = max(self.peak_rss_kib, int(line.split()[1]))

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """``sig`` (SIGTERM: Connect's graceful shutdown; SIGKILL: a crash) and wait, bounded."""
        process = self.process
        if process is None:
            return
        self._sample_rss()
        self.process = None
        if process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=WORKER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=WORKER_STOP_TIMEOUT_S)
            raise JvmProcessError(
                f"{self.name} did not stop within {WORKER_STOP_TIMEOUT_S}s of {sig!r}; killed it"
            ) from None


class ConnectWorker(JvmProcess):
    """A distributed Connect worker (``ConnectDistributed``) and its REST API."""

    MAIN_CLASS = "org.apache.kafka.connect.cli.ConnectDistributed"

    def __init__(
        self, work_dir: Path, name: str, bootstrap: str, extra: Mapping[str, str] | None = None
    ) -> None:
        self.rest_port = free_loopback_port()
        props = {
            "bootstrap.servers": bootstrap,
            "group.id": "connect-cluster",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "config.storage.topic": "connect-configs",
            "offset.storage.topic": "connect-offsets",
            "status.storage.topic": "connect-status",
            "config.storage.replication.factor": "1",
            "offset.storage.replication.factor": "1",
            "status.storage.replication.factor": "1",
            # Source offsets are flushed every second, so a restart finds them quickly.
            "offset.flush.interval.ms": "1000",
            # A departed worker's connectors move after 3 s instead of the default 5 minutes.
            "scheduled.rebalance.max.delay.ms": "3000",
            "listeners": f"http://127.0.0.1:{self.rest_port}",
            "rest.advertised.host.name": "127.0.0.1",
            "rest.advertised.port": str(self.rest_port),
            # The connectors are on the classpath with ServiceLoader manifests.
            "plugin.discovery": "service_load",
            **(extra or {}),
        }
        super().__init__(work_dir, name, self.MAIN_CLASS, props)

    @property
    def worker_id(self) -> str:
        return f"127.0.0.1:{self.rest_port}"

    def start(self) -> None:
        """Spawn and wait until the REST API answers and the herder has joined its group."""
        self.spawn()

        def ready() -> bool:
            self.check_alive()
            try:
                self.rest("GET", "/connectors")
            except (OSError, urllib.error.URLError):
                return False
            return True

        wait_for(f"{self.name} REST API", ready, WORKER_START_TIMEOUT_S, log=self.log_tail())
        self.start_s = time.monotonic() - self.started_at
        self._sample_rss()

    def rest(self, method: str, path: str, body: Any = None) -> Any:
        """One REST call; the decoded JSON answer (None when empty)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.rest_port}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=REST_TIMEOUT_S) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def put_connector(self, name: str, config: Mapping[str, str]) -> None:
        self.rest("PUT", f"/connectors/{name}/config", dict(config))

    def statuses(self) -> dict[str, Any]:
        """``GET /connectors?expand=status``: connector name → its status object."""
        try:
            answer = self.rest("GET", "/connectors?expand=status")
        except (OSError, urllib.error.URLError):
            return {}
        return {name: entry["status"] for name, entry in answer.items()}

    def placement(self) -> dict[str, str] | None:
        """Where each connector and task runs (``name`` / ``name-N`` → worker id) once every
        one of them is RUNNING, else None."""
        where: dict[str, str] = {}
        for name, status in self.statuses().items():
            units = [(name, status["connector"])]
            units += [(f"{name}-{task['id']}", task) for task in status["tasks"]]
            if len(units) == 1:
                return None  # no task yet
            for unit, state in units:
                if state["state"] != "RUNNING":
                    return None
                where[unit] = state["worker_id"]
        return where or None


class MirrorMaker(JvmProcess):
    """MirrorMaker 2 in dedicated mode (``connect-mirror-maker``'s main class)."""

    MAIN_CLASS = "org.apache.kafka.connect.mirror.MirrorMaker"

    def __init__(self, work_dir: Path, props: Mapping[str, str]) -> None:
        super().__init__(work_dir, "mm2", self.MAIN_CLASS, props)

    def start(self) -> None:
        self.spawn()
        # Ready means its worker has started (the tests then wait for what they check).
        wait_for(
            "MirrorMaker 2 to start",
            lambda: self.check_alive() or "Kafka MirrorMaker started" in _read(self.log_file),
            WORKER_START_TIMEOUT_S,
            log=self.log_tail(),
        )
        self.start_s = time.monotonic() - self.started_at
        self._sample_rss()


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


@contextmanager
def ferrokafka_broker(log_dir: Path) -> Iterator[str]:
    """``ferrokafka serve`` on ephemeral loopback ports with its data in ``log_dir``; yields
    its bootstrap address, stops it (SIGTERM) afterwards and leaves its log beside ``log_dir``."""
    from serve_process import EPHEMERAL, serving

    # No initial rebalance delay (Kafka's default is 3 s), as kafka_support.broker configures
    # Apache Kafka for the tests: every group join of Connect and its consumers would wait it.
    no_delay = ("--override", "group.initial.rebalance.delay.ms=0")
    with serving(*EPHEMERAL, *no_delay, "--log-dirs", str(log_dir)) as serve:
        try:
            yield serve.bootstrap
        finally:
            # The broker's log beside its data, for a look after a failure.
            (log_dir.parent / f"{log_dir.name}.log").write_text(serve.stderr() + "\n")


def quiet_client(bootstrap: str, **extra: Any) -> dict[str, Any]:
    """librdkafka settings for a test client: bounded timeouts, no log noise on stderr."""
    import logging

    return {
        "bootstrap.servers": bootstrap,
        "socket.timeout.ms": 30000,
        "logger": logging.getLogger("ferrokafka.tests.librdkafka"),
        **extra,
    }


def topic_configs(bootstrap: str, topic: str) -> dict[str, str]:
    """DescribeConfigs through confluent-kafka's AdminClient: name → value."""
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient(quiet_client(bootstrap))
    resource = ConfigResource("topic", topic)
    entries = admin.describe_configs([resource], request_timeout=30)[resource].result(timeout=30)
    return {name: entry.value for name, entry in entries.items()}


def partition_counts(bootstrap: str) -> dict[str, int]:
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient(quiet_client(bootstrap)).list_topics(timeout=30)
    return {name: len(topic.partitions) for name, topic in metadata.topics.items()}
