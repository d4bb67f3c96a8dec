"""The workloads, driven by clients neither broker's authors wrote.

Kafka's own tools from the same jars as the broker (ProducerPerformance, ConsumerPerformance,
EndToEndLatency), run with full JIT and G1 as ``kafka-run-class.sh`` would, and librdkafka
through confluent-kafka. Each function runs one bounded workload and returns its figures, or
raises ``WorkloadError`` with what went wrong (the runner records it and goes on).

MB/s is 2**20 bytes of record values per second, as Kafka's perf tools count it.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from bench.compare.plan import MIB, ProduceCase

from kafka_support.jars import java_executable, kafka_classpath, write_log4j2_config

TOOLS = "org.apache.kafka.tools."
TOOL_JVM_OPTIONS = ("-Xmx512m", "-XX:+UseG1GC", "-server", "-Djava.awt.headless=true")
ERROR_TAIL_CHARS = 2000
# ProducerPerformance: records // WARMUP_DIVISOR are left out of its steady-state figures.
WARMUP_DIVISOR = 10
# librdkafka consume loop: messages asked for per call, and the wait of one call.
CONSUME_BATCH = 10_000
CONSUME_POLL_S = 0.5
METADATA_TIMEOUT_S = 30.0
# The librdkafka consumer's settings, the same against both brokers. Its prefetch queue (one
# queue for all partitions of the high-level consumer) stops fetching at
# queued.max.messages.kbytes (64 MiB by default: the bound on the client's memory, kept) and
# then re-checks only after fetch.queue.backoff.ms, 1000 ms by default: when the Python loop
# falls behind a fast broker, every 64 MiB cost a one-second stall (seen with debug=fetch:
# "not fetchable: queued.max.messages.kbytes exceeded", fetchable again 1.00 s later, 2-3 s
# of stalls in a 1 GiB read). 10 ms resumes fetching as soon as the loop has drained the
# queue below the bound. With the metadata-first start below, 1 GiB of 1 KiB records, 6
# alternating reads each on a loaded box: median 165 -> 377 MB/s against ferrokafka,
# 215 -> 496 MB/s against Kafka.
CONSUME_CONFIG = {"fetch.max.bytes": 50 * MIB, "fetch.queue.backoff.ms": 10}
# Open-loop latency: value = 8-byte big-endian send time; queued records bounded so a stalled
# broker cannot grow the producer's memory without limit.
RATE_QUEUE_MAX = 100_000
RATE_DRAIN_S = 10.0
RATE_POLL_S = 0.1
# librdkafka produce: wait this long for delivery reports when its queue is full.
PRODUCE_BACKOFF_S = 0.01

PRODUCER_SUMMARY = re.compile(
    r"(\d+)( steady state)? records sent, ([0-9.]+) records/sec \(([0-9.]+) MB/sec\), "
    r"([0-9.]+) ms avg latency, "
    r"([0-9.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99.9th"
)
E2E_PERCENTILES = re.compile(r"Percentiles: 50th = ([0-9.]+), 99th = ([0-9.]+), 99.9th = ([0-9.]+)")
E2E_AVERAGE = re.compile(r"Avg latency: ([0-9.]+) ms")


class WorkloadError(RuntimeError):
    """A workload did not complete; the message says why (tool output tail included)."""


def _tail(text: str) -> str:
    return text[-ERROR_TAIL_CHARS:]


def run_tool(tool: str, args: list[str], work_dir: Path, timeout_s: float) -> str:
    """Run one of Kafka's tools to completion and return its stdout."""
    log4j = work_dir / "log4j2-bench-tools.properties"
    if not log4j.exists():
        write_log4j2_config(log4j, log_file=None, level="error")
    command = [
        java_executable(),
        *TOOL_JVM_OPTIONS,
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        kafka_classpath(),
        TOOLS + tool,
        *args,
    ]
    try:
        result = subprocess.run(
            command,
            cwd=work_dir,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise WorkloadError(f"{tool} took over {timeout_s:.0f}s") from None
    if result.returncode != 0:
        raise WorkloadError(
            f"{tool} exited {result.returncode}: {_tail(result.stdout)}\n{_tail(result.stderr)}"
        )
    return result.stdout


def producer_performance(
    bootstrap: str, topic: str, case: ProduceCase, work_dir: Path, timeout_s: float
) -> dict[str, Any]:
    """ProducerPerformance at full speed. Idempotence off on both brokers: acks=1 requires it,
    and one setting for every case keeps them comparable — except the transactional case,
    where the producer must be idempotent and commits every ``case.transaction_ms`` (a fresh
    transactional id per run, so no run fences or waits on another's). The first tenth of the
    records is its warm-up (JIT, connections, first segment): the figures are its
    steady-state line."""
    properties = [f"acks={case.acks}", f"compression.type={case.codec}"]
    transaction_args: list[str] = []
    if case.transaction_ms is None:
        properties.append("enable.idempotence=false")
    else:
        transaction_args = [
            "--transactional-id",
            f"bench-{topic}-{time.time_ns()}",
            "--transaction-duration-ms",
            str(case.transaction_ms),
        ]
    out = run_tool(
        "ProducerPerformance",
        [
            "--bootstrap-server",
            bootstrap,
            "--topic",
            topic,
            "--num-records",
            str(case.records),
            "--warmup-records",
            str(case.records // WARMUP_DIVISOR),
            "--record-size",
            str(case.record_size),
            "--throughput",
            "-1",
            *transaction_args,
            "--command-property",
            *properties,
        ],
        work_dir,
        timeout_s,
    )
    found = PRODUCER_SUMMARY.findall(out)
    totals = [f for f in found if not f[1]]
    if not totals:
        raise WorkloadError(f"no ProducerPerformance summary in: {_tail(out)}")
    if int(totals[-1][0]) != case.records:
        raise WorkloadError(f"ProducerPerformance sent {totals[-1][0]} of {case.records}")
    steady = [f for f in found if f[1]]
    sent, _, per_s, mb_s, avg, peak, p50, p95, p99, p999 = (steady or totals)[-1]
    return {
        "records": case.records,
        "steady_records": int(sent),
        "bytes": case.records * case.record_size,
        "records_per_s": float(per_s),
        "mb_per_s": float(mb_s),
        "latency_avg_ms": float(avg),
        "latency_max_ms": float(peak),
        "latency_p50_ms": float(p50),
        "latency_p99_ms": float(p99),
        "latency_p999_ms": float(p999),
    }


def consumer_performance(
    bootstrap: str, topic: str, records: int, record_size: int, work_dir: Path, timeout_s: float
) -> dict[str, Any]:
    """ConsumerPerformance (subscribes through a consumer group) from offset 0. Its fetch.*
    figures leave out the group join, which is reported separately."""
    out = run_tool(
        "ConsumerPerformance",
        [
            "--bootstrap-server",
            bootstrap,
            "--topic",
            topic,
            "--num-records",
            str(records),
            "--group",
            f"bench-{time.monotonic_ns()}",
            "--timeout",
            str(int(min(timeout_s, 30.0) * 1000)),
            "--hide-header",
        ],
        work_dir,
        timeout_s,
    )
    rows = [line.split(",") for line in out.splitlines() if line.count(",") >= 9]
    if not rows:
        raise WorkloadError(f"no ConsumerPerformance result in: {_tail(out)}")
    row = [cell.strip() for cell in rows[-1]]
    consumed = int(row[4])
    if consumed < records:
        raise WorkloadError(f"ConsumerPerformance consumed {consumed} of {records}")
    return {
        "records": consumed,
        "bytes": consumed * record_size,
        "mb_per_s": float(row[8]),
        "records_per_s": float(row[9]),
        "mb_per_s_with_join": float(row[3]),
        "group_join_ms": float(row[6]),
    }


def librdkafka_consume(
    bootstrap: str,
    topic: str,
    partitions: int,
    records: int,
    timeout_s: float,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """librdkafka reads every partition from offset 0 with ``assign`` (no group), with
    ``CONSUME_CONFIG`` (the same for both brokers) unless ``config`` overrides it.

    The clock starts once the topic's metadata is known and the partitions are assigned: the
    metadata is fetched first because an ``assign`` before it parks every partition on
    librdkafka's 500 ms offset-query retry timer ("no current leader"), a client-side wait
    that would be counted as broker time."""
    import confluent_kafka as ck

    consumer = ck.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "unused",  # assign() needs no coordinator; librdkafka wants an id
            "enable.auto.commit": False,
            **CONSUME_CONFIG,
            **(config or {}),
        }
    )
    got = value_bytes = 0
    try:
        consumer.list_topics(topic, timeout=min(timeout_s, METADATA_TIMEOUT_S))
        consumer.assign(
            [ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in range(partitions)]
        )
        started = time.monotonic()
        deadline = started + timeout_s
        while got < records and time.monotonic() < deadline:
            # consume() returns when it has the count or at the timeout: ask for no more than
            # is left, so the last call does not sit out the timeout.
            wanted = min(CONSUME_BATCH, records - got)
            for message in consumer.consume(wanted, timeout=CONSUME_POLL_S):
                if message.error() is not None:
                    raise WorkloadError(f"librdkafka: {message.error()}")
                got += 1
                value_bytes += len(message.value() or b"")
        elapsed = time.monotonic() - started
    finally:
        consumer.close()
    if got < records:
        raise WorkloadError(f"librdkafka consumed {got} of {records} in {timeout_s:.0f}s")
    return {
        "records": got,
        "bytes": value_bytes,
        "records_per_s": got / elapsed,
        "mb_per_s": value_bytes / MIB / elapsed,
    }


def end_to_end_latency(
    bootstrap: str, topic: str, records: int, record_size: int, work_dir: Path, timeout_s: float
) -> dict[str, Any]:
    """EndToEndLatency: one record at a time, acks=1, produce to consume (its own design: the
    next record is sent when the previous one arrived)."""
    out = run_tool(
        "EndToEndLatency",
        [
            "--bootstrap-server",
            bootstrap,
            "--topic",
            topic,
            "--num-records",
            str(records),
            "--producer-acks",
            "1",
            "--record-size",
            str(record_size),
        ],
        work_dir,
        timeout_s,
    )
    percentiles, average = E2E_PERCENTILES.search(out), E2E_AVERAGE.search(out)
    if percentiles is None or average is None:
        raise WorkloadError(f"no EndToEndLatency percentiles in: {_tail(out)}")
    return {
        "records": records,
        "bytes": records * record_size,
        "latency_avg_ms": float(average.group(1)),
        "latency_p50_ms": float(percentiles.group(1)),
        "latency_p99_ms": float(percentiles.group(2)),
        "latency_p999_ms": float(percentiles.group(3)),
    }


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def librdkafka_rate_latency(
    bootstrap: str, topic: str, rate_per_s: int, seconds: float, record_size: int, timeout_s: float
) -> dict[str, Any]:
    """Open loop: librdkafka produces at a fixed rate (acks=1, linger 0) while an assigned
    consumer in another thread records each record's produce-to-consume time."""
    import confluent_kafka as ck

    total = max(1, int(rate_per_s * seconds))
    latencies_ms: list[float] = []
    failure: list[str] = []
    assigned = threading.Event()
    done = threading.Event()

    def consume() -> None:
        consumer = ck.Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "unused",
                "enable.auto.commit": False,
                "fetch.wait.max.ms": 100,
            }
        )
        try:
            consumer.assign([ck.TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])  # a new topic
            consumer.consume(1, timeout=1.0)  # connected and fetching before the first send
            assigned.set()
            deadline = time.monotonic() + timeout_s
            while len(latencies_ms) < total and time.monotonic() < deadline:
                # poll() returns at the first record (consume(n) would wait for n of them).
                message = consumer.poll(RATE_POLL_S)
                now = time.monotonic_ns()
                if message is None:
                    continue
                if message.error() is not None:
                    failure.append(str(message.error()))
                    return
                sent = int.from_bytes((message.value() or b"")[:8], "big")
                latencies_ms.append((now - sent) / 1e6)
        finally:
            consumer.close()
            assigned.set()
            done.set()

    reader = threading.Thread(target=consume, name="bench-latency-consumer", daemon=True)
    reader.start()
    assigned.wait(timeout=timeout_s)
    producer = ck.Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "1",
            "linger.ms": 0,
            "enable.idempotence": False,
            "queue.buffering.max.messages": RATE_QUEUE_MAX,
        }
    )
    padding = b"x" * max(0, record_size - 8)
    started = time.monotonic()
    for i in range(total):
        due = started + i / rate_per_s
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        producer.produce(topic, time.monotonic_ns().to_bytes(8, "big") + padding)
        producer.poll(0)
    producer.flush(RATE_DRAIN_S)
    done.wait(timeout=timeout_s)
    reader.join(timeout=RATE_DRAIN_S)
    if failure:
        raise WorkloadError(f"librdkafka: {failure[0]}")
    if len(latencies_ms) < total:
        raise WorkloadError(f"received {len(latencies_ms)} of {total} records")
    ordered = sorted(latencies_ms)
    return {
        "records": total,
        "bytes": total * record_size,
        "rate_per_s": rate_per_s,
        "latency_avg_ms": statistics.fmean(ordered),
        "latency_p50_ms": _percentile(ordered, 0.50),
        "latency_p99_ms": _percentile(ordered, 0.99),
        "latency_p999_ms": _percentile(ordered, 0.999),
    }


def librdkafka_produce(
    bootstrap: str, topic: str, case: ProduceCase, timeout_s: float
) -> dict[str, Any]:
    """librdkafka's producer with its defaults (linger 5 ms, its own batching), the given acks
    and codec, idempotence off as for ProducerPerformance; timed from the first ``produce``
    to the last delivery report. The Python loop costs about a microsecond per record, so
    with 100 B records it can be the limit on a fast broker: compare brokers, not clients."""
    import confluent_kafka as ck

    producer = ck.Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": case.acks,
            "compression.type": case.codec,
            "enable.idempotence": False,
            "queue.buffering.max.messages": RATE_QUEUE_MAX,
        }
    )
    delivered = [0]
    failures: list[str] = []

    def on_delivery(error, _message) -> None:
        if error is None:
            delivered[0] += 1
        elif len(failures) < 10:
            failures.append(str(error))

    value = bytes(case.record_size)
    started = time.monotonic()
    deadline = started + timeout_s
    sent = 0
    while sent < case.records and time.monotonic() < deadline and not failures:
        try:
            producer.produce(topic, value, on_delivery=on_delivery)
            sent += 1
        except BufferError:  # the bounded queue is full: serve delivery reports, then retry
            producer.poll(PRODUCE_BACKOFF_S)
    producer.flush(max(0.0, deadline - time.monotonic()))
    elapsed = time.monotonic() - started
    if failures:
        raise WorkloadError(f"librdkafka delivery failed: {failures[0]}")
    if delivered[0] < case.records:
        raise WorkloadError(f"librdkafka delivered {delivered[0]} of {case.records}")
    return {
        "records": delivered[0],
        "bytes": delivered[0] * case.record_size,
        "records_per_s": delivered[0] / elapsed,
        "mb_per_s": delivered[0] * case.record_size / MIB / elapsed,
    }
