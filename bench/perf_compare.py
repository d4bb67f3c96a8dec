"""First comparative figure: `ferrokafka serve` against Apache Kafka 4.3.1 (KRaft, one node,
started from the same Maven Central jars the interop tests use), on loopback.

Usage, from the repo root with the project's interpreter::

    PYTHONPATH=python:. python bench/perf_compare.py [--records 200000] [--repetitions 2]

For each repetition both brokers run in turn, A/B then B/A so neither always goes first on a
warm machine; each run gets a fresh data directory and a one-partition topic. Both brokers keep
their defaults for flushing (no fsync per message: ``log.flush.interval.messages`` is
Long.MAX_VALUE on both).

- Produce: Kafka's own ``org.apache.kafka.tools.ProducerPerformance`` (kafka-producer-perf-test)
  with ``--record-size 100 --throughput -1`` and ``acks=all enable.idempotence=false``.
  Idempotence is off on *both* sides because ferrokafka may not serve it yet; same setting,
  same comparison.
- Consume: ``ConsumerPerformance`` subscribes through a consumer group, which ferrokafka does
  not coordinate, so both brokers are read by the same confluent-kafka (librdkafka) loop with
  ``assign`` from offset 0 until every produced record has arrived.

MB/s uses 2**20 bytes of record values, as Kafka's perf tools do. Prints a markdown table and
writes bench/results/perf_compare.json. This reports; it never fails on speed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for extra in (REPO / "tests", REPO / "python", REPO):  # kafka_support, ferrokafka, cli
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import confluent_kafka as ck  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from kafka_support.broker import KafkaBroker  # noqa: E402
from kafka_support.jars import java_executable, kafka_classpath, write_log4j2_config  # noqa: E402

RESULTS_PATH = REPO / "bench" / "results" / "perf_compare.json"
TOPIC = "perf"
RECORD_SIZE = 100
MB = 1 << 20
PRODUCER_CLASS = "org.apache.kafka.tools.ProducerPerformance"
# Full JIT (the test helpers cap tools at C1 to start fast; here speed matters) and a heap that
# holds the producer's 32 MiB buffer comfortably.
PRODUCER_JVM_OPTIONS = ("-Xmx512m", "-XX:+UseG1GC")
PRODUCER_TIMEOUT_S = 300.0
CONSUME_TIMEOUT_S = 300.0
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
ADMIN_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.05
CONSUME_BATCH = 10_000
# ProducerPerformance's summary line.
SUMMARY = re.compile(
    r"(\d+) records sent, ([0-9.]+) records/sec \(([0-9.]+) MB/sec\), ([0-9.]+) ms avg latency"
)
ADDRESS = re.compile(r"listening on PLAINTEXT://([0-9.]+):(\d+)")
SERVE = [sys.executable, "-c", "from cli.ferrokafka_cli.main import main; main()", "serve"]


@contextmanager
def apache_kafka(work_dir: Path) -> Iterator[str]:
    with KafkaBroker(work_dir) as broker:
        yield broker.bootstrap_servers


@contextmanager
def ferrokafka(work_dir: Path) -> Iterator[str]:
    stdout_path, stderr_path = work_dir / "serve.out", work_dir / "serve.err"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "python"), str(REPO)])}
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        proc = subprocess.Popen(
            [
                *SERVE,
                "--listeners",
                "PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
                "--log-dirs",
                str(work_dir / "data"),
                "--log-level",
                "WARNING",
            ],
            cwd=REPO,
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            match = ADDRESS.search(stdout_path.read_text())
            if match:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ferrokafka serve did not start: {stderr_path.read_text()}")
            time.sleep(POLL_INTERVAL_S)
        yield f"{match.group(1)}:{match.group(2)}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)


BROKERS: dict[str, Callable[[Path], Any]] = {"kafka": apache_kafka, "ferrokafka": ferrokafka}


def create_topic(bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(TOPIC, num_partitions=1, replication_factor=1)],
        operation_timeout=ADMIN_TIMEOUT_S,
        request_timeout=ADMIN_TIMEOUT_S,
    )
    futures[TOPIC].result(timeout=ADMIN_TIMEOUT_S)


def produce(bootstrap: str, records: int, work_dir: Path) -> dict[str, float]:
    log4j = work_dir / "log4j2-perf.properties"
    write_log4j2_config(log4j, log_file=None, level="error")
    command = [
        java_executable(),
        *PRODUCER_JVM_OPTIONS,
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        kafka_classpath(),
        PRODUCER_CLASS,
        "--topic",
        TOPIC,
        "--num-records",
        str(records),
        "--record-size",
        str(RECORD_SIZE),
        "--throughput",
        "-1",
        "--producer-props",
        "acks=all",
        f"bootstrap.servers={bootstrap}",
        "enable.idempotence=false",
    ]
    result = subprocess.run(
        command,
        cwd=work_dir,
        capture_output=True,
        text=True,
        timeout=PRODUCER_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    summary = SUMMARY.findall(result.stdout)
    if result.returncode != 0 or not summary:
        raise RuntimeError(f"ProducerPerformance failed:\n{result.stdout}\n{result.stderr}")
    sent, per_s, mb_s, latency = summary[-1]
    if int(sent) != records:
        raise RuntimeError(f"ProducerPerformance sent {sent} of {records}")
    return {
        "records_per_s": float(per_s),
        "mb_per_s": float(mb_s),
        "avg_latency_ms": float(latency),
    }


def consume(bootstrap: str, records: int) -> dict[str, float]:
    consumer = ck.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "unused",  # assign() needs no coordinator; librdkafka wants an id
            "enable.auto.commit": False,
            "fetch.max.bytes": 50 * MB,
        }
    )
    try:
        consumer.assign([ck.TopicPartition(TOPIC, 0, ck.OFFSET_BEGINNING)])
        got = value_bytes = 0
        started = time.monotonic()
        deadline = started + CONSUME_TIMEOUT_S
        while got < records and time.monotonic() < deadline:
            for message in consumer.consume(CONSUME_BATCH, timeout=1.0):
                if message.error() is not None:
                    raise RuntimeError(str(message.error()))
                got += 1
                value_bytes += len(message.value() or b"")
        elapsed = time.monotonic() - started
    finally:
        consumer.close()
    if got < records:
        raise RuntimeError(f"consumed {got} of {records} in {CONSUME_TIMEOUT_S}s")
    return {"records_per_s": got / elapsed, "mb_per_s": value_bytes / MB / elapsed}


def run_one(name: str, records: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"perf-{name}-") as tmp:
        work_dir = Path(tmp)
        with BROKERS[name](work_dir) as bootstrap:
            create_topic(bootstrap)
            produced = produce(bootstrap, records, work_dir)
            consumed = consume(bootstrap, records)
    print(
        f"{name}: produce {produced['records_per_s']:.0f} rec/s, "
        f"consume {consumed['records_per_s']:.0f} rec/s",
        flush=True,
    )
    return {"broker": name, "produce": produced, "consume": consumed}


def mean(runs: list[dict[str, Any]], name: str, phase: str, key: str) -> float:
    values = [run[phase][key] for run in runs if run["broker"] == name]
    return sum(values) / len(values)


def table(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| phase | metric | Apache Kafka 4.3.1 | ferrokafka | ferrokafka/Kafka |",
        "|---|---|---:|---:|---:|",
    ]
    for phase in ("produce", "consume"):
        for key, label in (("records_per_s", "records/s"), ("mb_per_s", "MB/s")):
            kafka = mean(runs, "kafka", phase, key)
            ours = mean(runs, "ferrokafka", phase, key)
            lines.append(f"| {phase} | {label} | {kafka:,.1f} | {ours:,.1f} | {ours / kafka:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repetitions", type=int, default=2)
    args = parser.parse_args()
    runs: list[dict[str, Any]] = []
    for repetition in range(args.repetitions):
        order = ["kafka", "ferrokafka"] if repetition % 2 == 0 else ["ferrokafka", "kafka"]
        for name in order:
            runs.append({"repetition": repetition, **run_one(name, args.records)})
    print(table(runs))
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(
        json.dumps(
            {
                "when": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                "records": args.records,
                "record_size": RECORD_SIZE,
                "producer_props": "acks=all enable.idempotence=false",
                "consumer": "confluent-kafka assign loop (no group)",
                "runs": runs,
                "table": table(runs),
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
