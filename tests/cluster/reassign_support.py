"""What the reassignment tests share: a numbered, paced, idempotent acks=all producer and a
consumer running in threads while partitions move (confluent-kafka), Kafka's
kafka-reassign-partitions driven through --generate / --execute / --verify, and the checks that
no acknowledged record was lost or duplicated.

Every wait is bounded (``*_TIMEOUT_S``); the threads stop on an event and are joined."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import kafka_support as ks

REASSIGN_COMMAND = "org.apache.kafka.tools.reassign.ReassignPartitionsCommand"
TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"
CLIENT_TIMEOUT_S = 60.0
VERIFY_TIMEOUT_S = 120.0
VERIFY_PAUSE_S = 1.0
JOIN_TIMEOUT_S = 30.0
# The producer sends one record per partition every SEND_PAUSE_S (a steady load, not a flood:
# two CPUs are shared by every test process).
SEND_PAUSE_S = 0.004
# Records the consumer may hold before the test reads them (a bound on its memory).
CONSUMED_MAX = 1_000_000
_PROPOSED = "Proposed partition reassignment configuration"


class NumberedProducer(threading.Thread):
    """Sends "p<partition>-<n>" to every partition in turn until stopped; remembers what was
    acknowledged and what failed."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        super().__init__(daemon=True, name="producer")
        from confluent_kafka import Producer

        self.topic, self.partitions = topic, partitions
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "acks": "all",
                "enable.idempotence": True,
                "message.timeout.ms": int(CLIENT_TIMEOUT_S * 1000),
                "linger.ms": 5,
            }
        )
        self.acked: list[bytes] = []
        self.failed: list[Any] = []
        self.sent = 0
        self.stop = threading.Event()

    def _delivered(self, err: Any, message: Any) -> None:
        if err is None:
            self.acked.append(message.value())
        else:
            self.failed.append(err)

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            for partition in range(self.partitions):
                value = b"p%d-%d" % (partition, n)
                self.producer.produce(
                    self.topic, value=value, partition=partition, on_delivery=self._delivered
                )
                self.sent += 1
            n += 1
            self.producer.poll(0)
            time.sleep(SEND_PAUSE_S)
        assert self.producer.flush(CLIENT_TIMEOUT_S) == 0

    def finish(self) -> None:
        self.stop.set()
        self.join(JOIN_TIMEOUT_S + CLIENT_TIMEOUT_S)
        assert not self.is_alive(), "the producer did not stop"


class RunningConsumer(threading.Thread):
    """Reads every partition from offset 0 while the partitions move (assigned, no group)."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        super().__init__(daemon=True, name="consumer")
        from confluent_kafka import Consumer, TopicPartition

        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "reassign-reader",
                "enable.auto.commit": False,
                "topic.metadata.refresh.interval.ms": 1000,
            }
        )
        self.consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        self.values: dict[int, list[bytes]] = defaultdict(list)
        self.count = 0
        self.errors: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.is_set() and self.count < CONSUMED_MAX:
                message = self.consumer.poll(0.2)
                if message is None:
                    continue
                if message.error() is not None:
                    self.errors.append(str(message.error()))
                    continue
                self.values[message.partition()].append(message.value())
                self.count += 1
        finally:
            self.consumer.close()

    def finish_when_read(self, expected: set[bytes]) -> None:
        """Stop once every ``expected`` value was read (or CLIENT_TIMEOUT_S passed)."""
        deadline = time.monotonic() + CLIENT_TIMEOUT_S
        while time.monotonic() < deadline:
            seen = {v for values in list(self.values.values()) for v in list(values)}
            if expected <= seen:
                break
            time.sleep(0.2)
        self.stop.set()
        self.join(JOIN_TIMEOUT_S)
        assert not self.is_alive(), "the consumer did not stop"


def check_no_loss_no_duplicate(
    acked: list[bytes], read: dict[int, list[bytes]], what: str
) -> tuple[int, int]:
    """Every acknowledged value read, none twice, each partition in order; (acked, read)."""
    values = [v for per_partition in read.values() for v in per_partition]
    lost = set(acked) - set(values)
    assert not lost, f"{what}: {len(lost)} acknowledged records lost, e.g. {sorted(lost)[:5]}"
    duplicates = len(values) - len(set(values))
    assert duplicates == 0, f"{what}: {duplicates} duplicates"
    for partition, per_partition in read.items():
        numbers = [int(v.split(b"-")[1]) for v in per_partition]
        assert numbers == sorted(numbers), f"{what}: partition {partition} out of order"
    return len(acked), len(values)


def read_partitions(bootstrap: str, topic: str, partitions: int, expected: int):
    """Every record of every partition, from the beginning, once caught up."""
    reader = RunningConsumer(bootstrap, topic, partitions)
    reader.start()
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    while reader.count < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # anything beyond what was acknowledged (a duplicate) arrives too
    reader.stop.set()
    reader.join(JOIN_TIMEOUT_S)
    return reader.values


def reassign_tool(args: list[str], work_dir: Path) -> str:
    return ks.run_kafka_tool(REASSIGN_COMMAND, args, work_dir=work_dir).stdout


def generate(
    bootstrap: str, topic: str | list[str], brokers: list[int], work_dir: Path
) -> dict[str, Any]:
    """kafka-reassign-partitions --generate for ``topic`` (or several): the proposed plan."""
    names = [topic] if isinstance(topic, str) else topic
    topics = work_dir / "topics.json"
    topics.write_text(json.dumps({"version": 1, "topics": [{"topic": t} for t in names]}))
    out = reassign_tool(
        [
            "--bootstrap-server",
            bootstrap,
            "--generate",
            "--topics-to-move-json-file",
            str(topics),
            "--broker-list",
            ",".join(map(str, brokers)),
        ],
        work_dir,
    )
    proposed = out.split(_PROPOSED, 1)[1].strip().splitlines()[0]
    return json.loads(proposed)


def execute(bootstrap: str, plan: dict[str, Any], work_dir: Path, *extra: str) -> str:
    plan_file = work_dir / "plan.json"
    plan_file.write_text(json.dumps(plan))
    return reassign_tool(
        [
            "--bootstrap-server",
            bootstrap,
            "--execute",
            "--reassignment-json-file",
            str(plan_file),
            *extra,
        ],
        work_dir,
    )


def verify_until_complete(bootstrap: str, work_dir: Path) -> tuple[str, int]:
    """--verify until no partition is still moving: (its last report, how many runs)."""
    deadline = time.monotonic() + VERIFY_TIMEOUT_S
    runs = 0
    while True:
        runs += 1
        out = reassign_tool(
            [
                "--bootstrap-server",
                bootstrap,
                "--verify",
                "--reassignment-json-file",
                str(work_dir / "plan.json"),
            ],
            work_dir,
        )
        if "still in progress" not in out:
            return out, runs
        assert time.monotonic() < deadline, f"reassignment not complete: {out}"
        time.sleep(VERIFY_PAUSE_S)


def describe(
    bootstrap: str, topic: str, work_dir: Path
) -> dict[int, tuple[int, list[int], list[int]]]:
    """kafka-topics --describe: partition -> (leader, replicas, ISR)."""
    out = ks.run_kafka_tool(
        TOPIC_COMMAND, ["--bootstrap-server", bootstrap, "--describe", "--topic", topic],
        work_dir=work_dir,
    ).stdout  # fmt: skip
    found = {}
    pattern = re.compile(r"Partition: (\d+)\s+Leader: (-?\d+)\s+Replicas: ([\d,]+)\s+Isr: ([\d,]*)")
    for partition, leader, replicas, isr in pattern.findall(out):
        found[int(partition)] = (
            int(leader),
            [int(b) for b in replicas.split(",")],
            [int(b) for b in isr.split(",") if b],
        )
    return found


def plan_replicas(plan: dict[str, Any], topic: str | None = None) -> dict[int, list[int]]:
    """Partition -> target replicas of ``topic`` (default: the plan's only topic)."""
    return {
        p["partition"]: p["replicas"]
        for p in plan["partitions"]
        if topic is None or p["topic"] == topic
    }
