"""A topic deleted and re-created under an assigned Java consumer: the consumer's incremental
fetch session names the partition with its new topic id and forgets the old one (Kafka's
"replaced" partitions, Fetch v13+, KIP-516), and the consumer reads the new topic's records.

The Java client's FetchSessionHandler logs at DEBUG what each incremental request carries;
the test checks the replaced partition was really sent that way, so the broker's session
(keyed by topic id) handled the case rather than a full fetch."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

import kafka_support as ks
from ferrokafka.testing import run_broker
from kafka_support.broker import KafkaBroker
from kafka_support.jars import TOOL_JVM_OPTIONS, UTF8_STDOUT_OPTIONS
from kafka_support.opt_in import compare_enabled

TOPIC = "recreated"
WAIT_S = 60.0
BROKERS = ["ferrokafka", "kafka"]
REPLACED = re.compile(r"replaced [1-9][0-9]* partition")


@pytest.fixture(params=BROKERS)
def bootstrap(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "kafka":
        if not compare_enabled():
            pytest.skip("opt-in: FERROKAFKA_COMPARE_KAFKA=1 (side by side with Apache Kafka 4.4)")
        ks.require_kafka()
        with KafkaBroker(tmp_path / "kafka") as broker:
            yield broker.bootstrap_servers
        return
    ks.require_kafka()
    with run_broker(tmp_path / "fk") as broker:
        yield broker.bootstrap_servers


def _create_and_fill(admin: AdminClient, bootstrap: str, values: list[str]) -> None:
    try:
        admin.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result(30)
    except KafkaException as e:
        # After the delete, the Java consumer's own metadata requests may re-create the topic
        # first (allow.auto.create.topics, auto.create.topics.enable: both on by default).
        if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
    producer = Producer({"bootstrap.servers": bootstrap})
    for value in values:
        producer.produce(TOPIC, value.encode(), partition=0)
    assert producer.flush(30) == 0


class _Lines:
    """The consumer's stdout lines, read by a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._cond:
                self.lines.append(line.strip())
                self._cond.notify_all()

    def wait_for(self, wanted: set[str]) -> list[str]:
        deadline = time.monotonic() + WAIT_S
        with self._cond:
            while not wanted <= set(self.lines):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self.lines)


def test_assigned_consumer_follows_recreated_topic(bootstrap: str, tmp_path: Path) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    _create_and_fill(admin, bootstrap, [f"old-{i}" for i in range(5)])
    log_file = tmp_path / "consumer.log"
    log4j = tmp_path / "log4j2.properties"
    log4j.write_text(
        "\n".join(
            [
                "status = warn",
                "appender.f.type = File",
                "appender.f.name = f",
                f"appender.f.fileName = {log_file}",
                "appender.f.layout.type = PatternLayout",
                "appender.f.layout.pattern = [%d] %p %m (%c)%n",
                "rootLogger.level = warn",
                "rootLogger.appenderRef.f.ref = f",
                "logger.fsh.name = org.apache.kafka.clients.FetchSessionHandler",
                "logger.fsh.level = debug",
            ]
        )
        + "\n"
    )
    command = [
        ks.java_executable(),
        *TOOL_JVM_OPTIONS,
        *UTF8_STDOUT_OPTIONS,
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        ks.kafka_classpath(),
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
        "--bootstrap-server",
        bootstrap,
        "--topic",
        TOPIC,
        # --partition assigns (no group): the partition stays in the fetch session throughout.
        "--partition",
        "0",
        "--offset",
        "earliest",
        "--consumer-property",
        "auto.offset.reset=earliest",
        "--consumer-property",
        "metadata.max.age.ms=1000",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path
    )
    try:
        lines = _Lines(process)
        old = {f"old-{i}" for i in range(5)}
        seen = lines.wait_for(old)
        assert old <= set(seen), f"the consumer printed {seen}"
        # Paused, the consumer cannot see the topic missing (its metadata would then drop the
        # topic id and its next fetch would be a full one without ids): on waking it learns the
        # new id straight after the old one, as when a delete and create fall between two of
        # its metadata refreshes.
        process.send_signal(signal.SIGSTOP)
        try:
            admin.delete_topics([TOPIC])[TOPIC].result(30)
            _create_and_fill(admin, bootstrap, [f"new-{i}" for i in range(3)])
        finally:
            process.send_signal(signal.SIGCONT)
        new = {f"new-{i}" for i in range(3)}
        seen = lines.wait_for(new)
        log = log_file.read_text() if log_file.exists() else ""
        assert new <= set(seen), f"the consumer printed {seen}; its log:\n{log[-3000:]}"
    finally:
        process.kill()
        process.wait(10)
    session_lines = [
        line for line in log_file.read_text().splitlines() if "FetchSessionHandler" in line
    ]
    replaced_at = [i for i, line in enumerate(session_lines) if REPLACED.search(line)]
    assert replaced_at, "no incremental fetch replaced a partition:\n" + "\n".join(
        session_lines[-20:]
    )
    # The broker kept the session: the answer to the replacing request is incremental, not
    # a session error (FETCH_SESSION_TOPIC_ID_ERROR, ...) followed by a full fetch.
    for i in replaced_at:
        answer = session_lines[i + 1] if i + 1 < len(session_lines) else ""
        assert "sent an incremental fetch response" in answer, "\n".join(session_lines[i : i + 3])
