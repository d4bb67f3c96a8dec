"""One comparison: the machine's limits, then each broker in turn for every repetition
(A/B, then B/A, ...), each run on a fresh data directory under the same work directory.

A run starts its broker (timing spawn to ready), runs every workload of the plan with the
broker's CPU time and resident set sampled before and after, tops the data up and times a
restart, and stops the broker. A workload that fails is kept with its error; the run goes on.
"""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.compare import REPO, clients, kcat, limits, raw
from bench.compare.brokers import Broker, create_topic, dir_bytes, make_broker
from bench.compare.plan import KIB, Plan, ProduceCase
from bench.compare.probe import measured_cpu_s, sample

BROKERS = ("kafka", "ferrokafka")
GB = 1e9
# The top-up before a restart writes at most this many records per ProducerPerformance run.
FILL_RECORDS_MAX = 10_000_000

Workload = tuple[str, str, Callable[[], dict[str, Any]]]  # (name, kind, run)


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _measured(broker: Broker, kind: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one workload; CPU seconds and resident set of the broker process around it."""
    before = sample(broker.pid)
    started = time.monotonic()
    entry: dict[str, Any] = {"kind": kind, "ok": True}
    try:
        entry["figures"] = run()
    except Exception as exc:  # recorded, not raised: one failure must not end the comparison
        entry.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:4000])
    entry["seconds"] = time.monotonic() - started
    after = sample(broker.pid)
    entry["broker_cpu_s"] = after.cpu_s - before.cpu_s
    entry["broker_rss_bytes"] = after.rss_bytes
    moved = entry.get("figures", {}).get("bytes", 0)
    cpu = measured_cpu_s(before.cpu_s, after.cpu_s)
    if moved and cpu is not None:
        entry["broker_cpu_s_per_gb"] = cpu / (moved / GB)
    return entry


def _produce_case(broker: Broker, case: ProduceCase, topic: str, plan: Plan, work_dir: Path):
    def run() -> dict[str, Any]:
        create_topic(broker.bootstrap_servers, topic, case.partitions)
        return clients.producer_performance(
            broker.bootstrap_servers, topic, case, work_dir, plan.workload_timeout_s
        )

    return run


def _kcat_produce(boot: str, case: ProduceCase, work_dir: Path, timeout_s: float) -> Workload:
    topic = f"kcat-{case.topic}"

    def run() -> dict[str, Any]:
        create_topic(boot, topic, case.partitions)
        return kcat.kcat_produce(boot, topic, case, work_dir, timeout_s)

    return (f"{case.name} (kcat)", "produce", run)


def _raw_produce(broker: Broker, plan: Plan) -> Workload:
    name = (
        f"produce {plan.raw_batch_records}x{plan.raw_record_size}B batches, "
        f"{raw.IN_FLIGHT} in flight (pre-encoded)"
    )

    def run() -> dict[str, Any]:
        create_topic(broker.bootstrap_servers, "raw-produce", 1)
        return raw.raw_produce(
            broker.bootstrap_servers,
            "raw-produce",
            plan.raw_requests,
            plan.raw_warmup_requests,
            plan.raw_record_size,
            plan.raw_batch_records,
            lambda: sample(broker.pid).cpu_s,
            plan.workload_timeout_s,
        )

    return (name, "broker-bound", run)


def _rounds(read: Callable[[], dict[str, Any]], rounds: int) -> Callable[[], dict[str, Any]]:
    """``read`` run ``rounds`` times: the figures of the median round by throughput (the
    upper one of an even count), with every round's MB/s beside them and ``bytes`` summed
    over all rounds, so that the broker's CPU per GB is taken over everything it sent."""

    def run() -> dict[str, Any]:
        results = sorted((read() for _ in range(rounds)), key=lambda r: r["mb_per_s"])
        figures = dict(results[len(results) // 2])
        figures["rounds_mb_per_s"] = [r["mb_per_s"] for r in results]
        figures["bytes"] = sum(r["bytes"] for r in results)
        return figures

    return run


def workloads(broker: Broker, plan: Plan, work_dir: Path) -> list[Workload]:
    boot, timeout = broker.bootstrap_servers, plan.workload_timeout_s
    items: list[Workload] = [
        (case.name, "produce", _produce_case(broker, case, case.topic, plan, work_dir))
        for case in plan.produce
    ]
    if plan.librdkafka_produce is not None:
        case = plan.librdkafka_produce
        topic = f"librdkafka-{case.topic}"

        def librdkafka_produce() -> dict[str, Any]:
            create_topic(boot, topic, case.partitions)
            return clients.librdkafka_produce(boot, topic, case, timeout)

        items.append((f"{case.name} (librdkafka)", "produce", librdkafka_produce))
    if plan.kcat_produce is not None:
        items.append(_kcat_produce(boot, plan.kcat_produce, work_dir, timeout))
    if plan.raw_requests:
        items.append(_raw_produce(broker, plan))
    fill = ProduceCase(
        plan.consume_record_size, "1", "none", plan.consume_partitions, plan.consume_records
    )
    items.append(
        ("fill consume topic", "produce", _produce_case(broker, fill, "consume", plan, work_dir))
    )
    reads: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        (
            "consume librdkafka (assign)",
            lambda: clients.librdkafka_consume(
                boot, "consume", plan.consume_partitions, plan.consume_records, timeout
            ),
        ),
        (
            "consume kcat (all partitions)",
            lambda: kcat.kcat_consume(
                boot, "consume", plan.consume_records, plan.consume_record_size, timeout
            ),
        ),
        (
            "consume ConsumerPerformance (group)",
            lambda: clients.consumer_performance(
                boot, "consume", plan.consume_records, plan.consume_record_size, work_dir, timeout
            ),
        ),
    ]
    items += [(name, "consume", _rounds(read, plan.consume_rounds)) for name, read in reads]

    def e2e() -> dict[str, Any]:
        create_topic(boot, "e2e", 1)
        return clients.end_to_end_latency(
            boot, "e2e", plan.e2e_records, plan.e2e_record_size, work_dir, timeout
        )

    def rate() -> dict[str, Any]:
        create_topic(boot, "rate", 1)
        return clients.librdkafka_rate_latency(
            boot, "rate", plan.rate_per_s, plan.rate_seconds, plan.e2e_record_size, timeout
        )

    items.append(("latency EndToEndLatency (1 in flight)", "latency", e2e))
    items.append((f"latency librdkafka at {plan.rate_per_s}/s", "latency", rate))
    return items


def _top_up(broker: Broker, plan: Plan, work_dir: Path) -> dict[str, Any] | None:
    """Produce 1 KiB records until the data directory holds ``plan.restart_bytes``. Kept in
    the JSON as kind "fill", not summarized: its size depends on what the workloads left."""
    missing = plan.restart_bytes - dir_bytes(broker.data_dir)
    if missing <= 0:
        return None
    records = min(FILL_RECORDS_MAX, missing // KIB + 1)
    case = ProduceCase(KIB, "1", "none", 1, records)
    return _measured(broker, "fill", _produce_case(broker, case, "restart-fill", plan, work_dir))


def run_broker(name: str, repetition: int, plan: Plan, work_root: Path) -> dict[str, Any]:
    work_dir = work_root / f"{repetition}-{name}"
    broker = make_broker(
        name, work_dir, segment_bytes=plan.segment_bytes, start_timeout_s=plan.start_timeout_s
    )
    result: dict[str, Any] = {"broker": name, "repetition": repetition, "workloads": {}}
    try:
        result["start_s"] = broker.start()
        _log(f"{name} rep {repetition}: ready in {result['start_s']:.2f}s")
        for workload, kind, run in workloads(broker, plan, work_dir):
            entry = _measured(broker, kind, run)
            result["workloads"][workload] = entry
            status = "ok" if entry["ok"] else f"FAILED {entry['error'][:200]}"
            _log(f"{name} rep {repetition}: {workload} {entry['seconds']:.1f}s {status}")
        fill = _top_up(broker, plan, work_dir)
        if fill is not None:
            result["workloads"]["fill before restart"] = fill
        result["rss_peak_bytes"] = sample(broker.pid).hwm_bytes
        result["data_bytes"] = dir_bytes(broker.data_dir)
        broker.stop()
        result["restart_s"] = broker.start()
        _log(
            f"{name} rep {repetition}: restart with {result['data_bytes'] / GB:.2f} GB "
            f"in {result['restart_s']:.2f}s"
        )
        broker.stop()
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"[:4000]
        _log(f"{name} rep {repetition}: FAILED {result['error'][:300]}")
        broker.kill()
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    return result


def measure_limits(plan: Plan, work_root: Path) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for key, measure in (
        ("loopback_tcp", lambda: limits.loopback_tcp(plan.loopback_bytes, plan.limit_timeout_s)),
        (
            "disk_write",
            lambda: limits.sequential_write(work_root, plan.disk_bytes, plan.limit_timeout_s),
        ),
    ):
        try:
            entry[key] = measure()
        except Exception as exc:
            entry[key] = {"error": f"{type(exc).__name__}: {exc}"}
    _log(
        "limits: "
        + ", ".join(f"{k} {v.get('mb_per_s', float('nan')):.0f} MB/s" for k, v in entry.items())
    )
    return entry


def _meta() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout.strip()
    # Uncommitted changes in the tree are part of what ferrokafka serve runs.
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--", "python", "cli", "rust"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout.strip()
    from kafka_support.jars import kafka_version

    return {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "git_commit": commit or None,
        "git_dirty": bool(dirty),
        "kafka_version": kafka_version(),
        "python": platform.python_version(),
        "system": platform.platform(),
        "cpus": os.cpu_count(),
    }


def compare(plan: Plan, work_root: Path, brokers: tuple[str, ...] = BROKERS) -> dict[str, Any]:
    """Limits, then the repetitions with the broker order alternating, then limits again."""
    work_root.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    doc: dict[str, Any] = {"meta": _meta(), "plan": asdict(plan), "limits": [], "runs": []}
    # Other load on the machine skews every figure: keep it with them.
    doc["meta"]["loadavg_1m_start"] = os.getloadavg()[0]
    doc["limits"].append(measure_limits(plan, work_root))
    for repetition in range(plan.repetitions):
        order = brokers if repetition % 2 == 0 else tuple(reversed(brokers))
        for name in order:
            doc["runs"].append(run_broker(name, repetition, plan, work_root))
    doc["limits"].append(measure_limits(plan, work_root))
    doc["meta"]["total_s"] = time.monotonic() - started
    doc["meta"]["loadavg_1m_end"] = os.getloadavg()[0]
    return doc
