"""What the copier bounce tests share (tests/txn/test_txn_bounce.py on one node,
test_txn_cluster_bounce.py on three): topics, an idempotent producer of the input, a
read_committed reader of the output, and :class:`Copier`, one Kafka
``TransactionalMessageCopier`` process per input partition, launched again when it dies.
Every client call and wait is bounded."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient, NewTopic

TRANSACTION_SIZE = 750
COPIER_CLASS = "org.apache.kafka.tools.TransactionalMessageCopier"
COPIER_RELAUNCHES_MAX = 20
CLIENT_TIMEOUT_S = 60.0
READ_DEADLINE_S = 120.0
POLL_S = 0.5
IDLE_POLLS_MAX = 10
JAVA_STOP_TIMEOUT_S = 30.0
INPUT_TOPIC = "copy-in"
OUTPUT_TOPIC = "copy-out"


def create_topics(
    bootstrap: str,
    *topics: str,
    partitions: int,
    replicas: int = 1,
    config: dict[str, str] | None = None,
) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(t, partitions, replicas, config=dict(config or {})) for t in topics],
        operation_timeout=CLIENT_TIMEOUT_S,
        request_timeout=CLIENT_TIMEOUT_S,
    )
    for future in futures.values():
        future.result(timeout=CLIENT_TIMEOUT_S)


def produce(bootstrap: str, topic: str, values: list[tuple[str | None, str]]) -> None:
    producer = ck.Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all"}
    )
    for key, value in values:
        producer.produce(topic, key=key, value=value)
        producer.poll(0)
    assert producer.flush(CLIENT_TIMEOUT_S) == 0


def read_committed(
    bootstrap: str, topic: str, partitions: int, isolation: str = "read_committed"
) -> list[ck.Message]:
    """Every record of ``topic`` a read_committed (or ``isolation``) consumer sees, once each
    partition is at its end and ``IDLE_POLLS_MAX`` polls in a row brought nothing."""
    consumer = ck.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{topic}-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": isolation,
            "enable.partition.eof": True,
        }
    )
    out: list[ck.Message] = []
    try:
        consumer.subscribe([topic])
        at_end: set[int] = set()
        idle = 0
        deadline = time.monotonic() + READ_DEADLINE_S
        while time.monotonic() < deadline and (len(at_end) < partitions or idle < IDLE_POLLS_MAX):
            message = consumer.poll(POLL_S)
            if message is None:
                idle += 1
                continue
            if message.error():
                if message.error().code() == ck.KafkaError._PARTITION_EOF:
                    at_end.add(message.partition())
                    continue
                raise ck.KafkaException(message.error())
            idle = 0
            at_end.discard(message.partition())
            out.append(message)
    finally:
        consumer.close()
    return out


def copied(copiers: list[Copier]) -> int:
    """Records the copiers' current launches report processed."""
    return sum(c.processed() for c in copiers)


def stop_java(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=JAVA_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=JAVA_STOP_TIMEOUT_S)


class Copier:
    """One TransactionalMessageCopier for one input partition (transactional id and group
    ``copier-<partition>``), started again when it dies."""

    def __init__(
        self,
        bootstrap: str,
        partition: int,
        work_dir: Path,
        transaction_size: int = TRANSACTION_SIZE,
    ) -> None:
        self.bootstrap = bootstrap
        self.transaction_size = transaction_size
        self.partition = partition
        self.work_dir = work_dir
        self.launches = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.finished = False

    @property
    def transactional_id(self) -> str:
        return f"copier-{self.partition}"

    def launch(self) -> None:
        from kafka_support.jars import java_executable, kafka_classpath
        from kafka_support.java_apps import APP_JVM_OPTIONS

        self.launches += 1
        out = self.work_dir / f"copier-{self.partition}-{self.launches}.out"
        err = self.work_dir / f"copier-{self.partition}-{self.launches}.err"
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            self.process = subprocess.Popen(
                [
                    java_executable(),
                    *APP_JVM_OPTIONS,
                    "-cp",
                    kafka_classpath(),
                    COPIER_CLASS,
                    "--broker-list",
                    self.bootstrap,
                    "--input-topic",
                    INPUT_TOPIC,
                    "--input-partition",
                    str(self.partition),
                    "--output-topic",
                    OUTPUT_TOPIC,
                    "--transactional-id",
                    self.transactional_id,
                    "--consumer-group",
                    self.transactional_id,
                    "--transaction-size",
                    str(self.transaction_size),
                ],
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
            )

    def poll(self) -> None:
        """Relaunch after a failure; note a clean finish (every record copied)."""
        if self.finished or self.process is None or self.process.poll() is None:
            return
        if self.process.returncode == 0:
            self.finished = True
            return
        assert self.launches < COPIER_RELAUNCHES_MAX, self.last_output()
        self.launch()

    def processed(self) -> int:
        """Records the current launch reports processed (its last JSON status line)."""
        out = self.work_dir / f"copier-{self.partition}-{self.launches}.out"
        lines = out.read_text(errors="replace").splitlines() if out.exists() else []
        for line in reversed(lines):
            try:
                return int(json.loads(line).get("totalProcessed", 0))
            except (ValueError, AttributeError):
                continue
        return 0

    def last_output(self) -> str:
        out = self.work_dir / f"copier-{self.partition}-{self.launches}"
        return (
            Path(f"{out}.out").read_text(errors="replace")[-2000:]
            + Path(f"{out}.err").read_text(errors="replace")[-2000:]
        )

    def stop(self) -> None:
        if self.process is not None:
            stop_java(self.process)
