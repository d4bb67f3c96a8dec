"""Resident memory of every process of a 3 controller + 3 broker cluster: all ferrokafka, then
all Apache Kafka 4.4, on this machine, one after the other, with the same small workload.

Run from the repo root with the project's interpreter (Kafka's jars fetched, Java on PATH)::

    python -m bench.process_memory

Each cluster is started (separate processes on loopback, static quorum), given the same work
through confluent-kafka (an RF 3 topic of 6 partitions, ``RECORDS`` records of
``RECORD_BYTES`` bytes produced with acks=all and read back), then every process's VmRSS
(resident now) and VmHWM (its peak) are read from ``/proc/<pid>/status``. The Kafka JVMs run
with the test harness's flags (``mixed_processes.KAFKA_JVM``: 96 MB initial heap, 384 MB
maximum, serial GC, C1 only), smaller than Kafka's own defaults (1 GB heap, G1), so Kafka's
figures here are below what ``kafka-server-start.sh`` would use.

Output: a table on stdout, and ``bench/results/process-memory.{json,md}``. It reports; it
never fails on size.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for path in (REPO / "tests" / "cluster", REPO / "tests", REPO / "python", REPO):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from kraft_processes import KRaftCluster  # noqa: E402
from mixed_processes import KAFKA, KAFKA_JVM, MixedCluster  # noqa: E402

RECORDS = 50_000
RECORD_BYTES = 200
PARTITIONS = 6
TOPIC = "memory"
CLIENT_TIMEOUT_S = 120.0
# After the workload, before sampling: let what the clients left settle (GC, idle fetchers).
SETTLE_S = 5.0
RESULTS = REPO / "bench" / "results"

# (role, node id, pid) of each process of a running cluster.
Processes = list[tuple[str, int, int]]


def proc_status_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in KiB."""
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def workload(bootstrap: str) -> None:
    """An RF 3 topic, RECORDS records produced with acks=all and read back with a group."""
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    futures = admin.create_topics(
        [NewTopic(TOPIC, PARTITIONS, 3)], operation_timeout=60, request_timeout=60
    )
    futures[TOPIC].result(CLIENT_TIMEOUT_S)
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    while True:  # every partition led and fully replicated before producing
        topic = admin.list_topics(TOPIC, timeout=10).topics[TOPIC]
        if len(topic.partitions) == PARTITIONS and all(
            p.leader >= 0 and len(p.isrs) == 3 for p in topic.partitions.values()
        ):
            break
        assert time.monotonic() < deadline, "topic not ready"
        time.sleep(0.2)
    producer = Producer(
        {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "log_level": 0}
    )
    value = b"x" * RECORD_BYTES
    for i in range(RECORDS):
        while True:
            try:
                producer.produce(TOPIC, value=value, key=b"%d" % i)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(CLIENT_TIMEOUT_S) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "memory",
            "auto.offset.reset": "earliest",
            "log_level": 0,
        }
    )
    consumer.subscribe([TOPIC])
    seen = 0
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    while seen < RECORDS and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            seen += 1
    consumer.close()
    assert seen >= RECORDS, f"read {seen} of {RECORDS}"


@contextmanager
def ferrokafka_cluster(work_dir: Path) -> Iterator[tuple[str, Processes]]:
    cluster = KRaftCluster(work_dir, size=3, brokers=3, combined=False)
    with cluster.running():
        processes = []
        for node_id, node in cluster.nodes.items():
            assert node.process is not None
            role = "controller" if cluster.is_voter(node_id) else "broker"
            processes.append((role, node_id, node.process.pid))
        yield cluster.bootstrap, processes


@contextmanager
def kafka_cluster(work_dir: Path) -> Iterator[tuple[str, Processes]]:
    layout = {i: (KAFKA, ("controller",)) for i in (1, 2, 3)}
    layout.update({i: (KAFKA, ("broker",)) for i in (4, 5, 6)})
    cluster = MixedCluster(work_dir, layout, features={})
    try:
        cluster.format()
        for node_id in cluster.nodes:
            cluster.start(node_id)
        cluster.wait_brokers()
        processes = []
        for node_id, node in cluster.nodes.items():
            assert node.process is not None
            processes.append((node.roles[0], node_id, node.process.pid))
        yield cluster.bootstrap, processes
    finally:
        cluster.close()


def measure(name: str, start: Callable[[Path], object], work_dir: Path) -> list[dict]:
    with start(work_dir) as (bootstrap, processes):  # type: ignore[attr-defined]
        workload(bootstrap)
        time.sleep(SETTLE_S)
        rows = []
        for role, node_id, pid in processes:
            status = proc_status_kib(pid)
            rows.append(
                {
                    "cluster": name,
                    "role": role,
                    "node": node_id,
                    "rss_mib": round(status["VmRSS"] / 1024, 1),
                    "peak_rss_mib": round(status["VmHWM"] / 1024, 1),
                }
            )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        f"3 controllers + 3 brokers, after {RECORDS} records of {RECORD_BYTES} B "
        f"(RF 3, {PARTITIONS} partitions, acks=all) produced and consumed. "
        f"Kafka JVM flags: {' '.join(KAFKA_JVM)}.",
        "",
        "| cluster | role | node | RSS MiB | peak RSS MiB |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [
        f"| {r['cluster']} | {r['role']} | {r['node']} | {r['rss_mib']} | {r['peak_rss_mib']} |"
        for r in rows
    ]
    for name in dict.fromkeys(r["cluster"] for r in rows):
        total = sum(r["rss_mib"] for r in rows if r["cluster"] == name)
        lines.append(f"| {name} | **total** | | {total:.1f} | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="process-memory-") as tmp:
        rows = measure("ferrokafka", ferrokafka_cluster, Path(tmp) / "ferrokafka")
        rows += measure("Apache Kafka 4.4", kafka_cluster, Path(tmp) / "kafka")
    table = markdown(rows)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "process-memory.md").write_text(table)
    (RESULTS / "process-memory.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
