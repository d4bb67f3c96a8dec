"""The Kafka Streams application of the ecosystem tests (tests/kafka/apps/PurchaseTotals.java)
run as a child JVM, and what its tests share: the input, the expected output, topic set-up
with confluent-kafka and reading the output's latest value per key. Every wait is bounded."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

PARTITIONS = 2
USERS = [f"u{n:02d}" for n in range(12)]
REGIONS = ("north", "south", "east", "west")
PURCHASES = 600
CLIENT_TIMEOUT_S = 60.0
RUNNING_TIMEOUT_S = 180.0
OUTPUT_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0
POLL_S = 0.5
IDLE_POLLS_MAX = 4
APP_MAIN = "PurchaseTotals"
# Java's partitioner (murmur2) for the records Streams joins with: the users table must be
# co-partitioned with the repartition topic Streams writes with its own producer.
JAVA_PARTITIONER = "murmur2_random"


@dataclass(frozen=True)
class Topics:
    purchases: str
    users: str
    totals: str
    joined: str

    @classmethod
    def named(cls, prefix: str) -> Topics:
        return cls(f"{prefix}-purchases", f"{prefix}-users", f"{prefix}-totals", f"{prefix}-joined")

    def all(self) -> tuple[str, ...]:
        return (self.purchases, self.users, self.totals, self.joined)


@dataclass(frozen=True)
class Workload:
    """Users with regions and purchases (id, user, amount); every user buys in every third of
    the input, so the final aggregate of each user is computed after its region is in the table
    and after the restart."""

    regions: dict[str, str]
    purchases: list[tuple[str, str, int]]

    @classmethod
    def make(cls, seed: int = 20) -> Workload:
        rng = random.Random(seed)
        regions = {user: rng.choice(REGIONS) for user in USERS}
        purchases = []
        for n in range(PURCHASES):
            user = USERS[(n // 2) % len(USERS)] if n % 2 == 0 else rng.choice(USERS)
            purchases.append((f"p{n:05d}", user, rng.randint(1, 500)))
        return cls(regions, purchases)

    def expected_totals(self) -> dict[str, str]:
        counts: dict[str, int] = {}
        sums: dict[str, int] = {}
        for _id, user, amount in self.purchases:
            counts[user] = counts.get(user, 0) + 1
            sums[user] = sums.get(user, 0) + amount
        return {user: f"{counts[user]},{sums[user]}" for user in counts}

    def expected_joined(self) -> dict[str, str]:
        return {u: f"{self.regions[u]},{total}" for u, total in self.expected_totals().items()}


def create_topics(bootstrap: str, topics: Topics) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(t, PARTITIONS, 1) for t in topics.all()],
        operation_timeout=CLIENT_TIMEOUT_S,
        request_timeout=CLIENT_TIMEOUT_S,
    )
    for future in futures.values():
        future.result(timeout=CLIENT_TIMEOUT_S)


def produce(bootstrap: str, topic: str, records: list[tuple[str, str]]) -> None:
    producer = ck.Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "partitioner": JAVA_PARTITIONER,
        }
    )
    for key, value in records:
        producer.produce(topic, key=key, value=value)
        producer.poll(0)
    assert producer.flush(CLIENT_TIMEOUT_S) == 0


def produce_purchases(bootstrap: str, topic: str, purchases: list[tuple[str, str, int]]) -> None:
    produce(bootstrap, topic, [(pid, f"{user},{amount}") for pid, user, amount in purchases])


def latest_values(bootstrap: str, topic: str) -> tuple[dict[str, str], int]:
    """The latest value per key of ``topic`` and how many records it holds, read to its end."""
    consumer = ck.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{topic}-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    latest: dict[str, str] = {}
    records = 0
    try:
        # Assigned, not subscribed: no group join (and its initial rebalance delay) per read.
        consumer.assign(
            [ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in range(PARTITIONS)]
        )
        at_end: set[int] = set()
        idle = 0
        deadline = time.monotonic() + CLIENT_TIMEOUT_S
        while time.monotonic() < deadline and (len(at_end) < PARTITIONS or idle < IDLE_POLLS_MAX):
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
            latest[message.key().decode()] = message.value().decode()
            records += 1
    finally:
        consumer.close()
    return latest, records


def wait_latest(
    bootstrap: str, topic: str, expected: dict[str, str], apps: list[StreamsApp]
) -> dict[str, str]:
    """Reads ``topic`` until its latest values equal ``expected`` (bounded); returns the last
    read. Fails early when every app died."""
    deadline = time.monotonic() + OUTPUT_TIMEOUT_S
    latest: dict[str, str] = {}
    while time.monotonic() < deadline:
        latest, _ = latest_values(bootstrap, topic)
        if latest == expected:
            break
        assert any(app.alive for app in apps), "\n".join(app.output_tail() for app in apps)
        time.sleep(1.0)
    return latest


def topic_configs(
    bootstrap: str, topics: list[str], keys: tuple[str, ...]
) -> dict[str, dict[str, str]]:
    """``keys`` of each topic's configuration, as confluent-kafka's DescribeConfigs reads them."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.describe_configs(
        [ConfigResource(ConfigResource.Type.TOPIC, t) for t in topics],
        request_timeout=CLIENT_TIMEOUT_S,
    )
    out: dict[str, dict[str, str]] = {}
    for resource, future in futures.items():
        entries = future.result(timeout=CLIENT_TIMEOUT_S)
        out[resource.name] = {k: entries[k].value for k in keys if k in entries}
    return out


def list_topics(bootstrap: str) -> dict[str, int]:
    """Every topic and its partition count (confluent-kafka's metadata)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    metadata = admin.list_topics(timeout=CLIENT_TIMEOUT_S)
    return {name: len(t.partitions) for name, t in metadata.topics.items()}


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory of process ``pid`` (Linux VmHWM), in MiB; 0 if unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class StreamsApp:
    """One PurchaseTotals JVM; ``kill()`` is SIGKILL, ``stop()`` a clean SIGTERM close."""

    def __init__(
        self,
        work_dir: Path,
        name: str,
        bootstrap: str,
        application_id: str,
        topics: Topics,
        group_protocol: str,
    ) -> None:
        self.work_dir = work_dir
        self.name = name
        self.bootstrap = bootstrap
        self.application_id = application_id
        self.topics = topics
        self.group_protocol = group_protocol
        self.state_dir = work_dir / f"{name}-state"
        self.launches = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._out = work_dir / f"{name}.out"

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        from kafka_support.jars import streams_classpath
        from kafka_support.java_apps import app_command

        assert not self.alive
        self.launches += 1
        self._out = self.work_dir / f"{self.name}-{self.launches}.out"
        command = app_command(
            APP_MAIN,
            streams_classpath(),
            self.bootstrap,
            self.application_id,
            *self.topics.all(),
            str(self.state_dir),
            self.group_protocol,
        )
        with open(self._out, "wb") as stdout:
            self._process = subprocess.Popen(
                command, stdout=stdout, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def wait_running(self) -> None:
        deadline = time.monotonic() + RUNNING_TIMEOUT_S
        while b"STATE RUNNING" not in self._out.read_bytes():
            assert self.alive, self.output_tail()
            assert time.monotonic() < deadline, f"not RUNNING in time\n{self.output_tail()}"
            time.sleep(0.3)

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self._process.pid) if self.alive and self._process else 0.0

    def tasks(self) -> frozenset[str]:
        """The active tasks the instance said it runs when it last became RUNNING."""
        lines = [ln for ln in self._out.read_text(errors="replace").splitlines()]
        last = [ln[len("TASKS ") :] for ln in lines if ln.startswith("TASKS ")]
        return frozenset(t for t in (last[-1].split(",") if last else []) if t)

    def wait_tasks(self, expected: frozenset[str]) -> None:
        """Until the instance runs ``expected`` (bounded)."""
        deadline = time.monotonic() + RUNNING_TIMEOUT_S
        while self.tasks() != expected:
            assert self.alive, self.output_tail()
            assert time.monotonic() < deadline, (
                f"tasks {sorted(self.tasks())}\n{self.output_tail()}"
            )
            time.sleep(0.3)

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=STOP_TIMEOUT_S)

    def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)

    def output_tail(self, chars: int = 4000) -> str:
        try:
            return f"--- {self._out.name}\n" + self._out.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return f"--- {self._out.name} (none)"
