"""One replicated-produce run per side and round, and the plan of each mode."""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import side_by_side
from bench.compare.brokers import KAFKA_AS_SHIPPED, KAFKA_JVM_OPTIONS, common_settings, create_topic
from bench.compare.clients import producer_performance
from bench.compare.plan import KIB, MIB, ProduceCase
from bench.compare.probe import sample
from bench.replicated import REPO  # noqa: F401  (puts tests/ and tests/cluster on sys.path)
from mixed_processes import MixedCluster

GB = 1 << 30
NODES = 3
REPLICATION_FACTOR = 3
MIN_INSYNC = 2
# Three JVMs (or three ferrokafka processes) starting at once on a small machine.
CLUSTER_START_TIMEOUT_S = 240.0


@dataclass(frozen=True)
class Plan:
    mode: str
    rounds: int
    records: int
    record_size: int
    partitions: int
    segment_bytes: int
    workload_timeout_s: float

    @property
    def case(self) -> ProduceCase:
        return ProduceCase(self.record_size, "all", "none", self.partitions, self.records)


PLANS = {
    "smoke": Plan("smoke", 1, 5_000, 100, 3, 64 * MIB, 180.0),
    "quick": Plan("quick", 2, 300_000, KIB, 6, 256 * MIB, 600.0),
    "full": Plan("full", 3, 2_000_000, KIB, 6, 256 * MIB, 1800.0),
}


def broker_settings(plan: Plan) -> dict[str, str]:
    """The same keys for both sides (ferrokafka accepts Kafka's thread keys and ignores them)."""
    return {
        **KAFKA_AS_SHIPPED,
        **common_settings(plan.segment_bytes),
        "min.insync.replicas": str(MIN_INSYNC),
        "default.replication.factor": str(REPLICATION_FACTOR),
    }


def run_side(side: str, plan: Plan, work_dir: Path) -> dict[str, Any]:
    """Start a 3-node cluster of ``side``, produce once with acks=all, stop it (by PID)."""
    layout = {i: (side, ("broker", "controller")) for i in range(1, NODES + 1)}
    cluster = MixedCluster(
        work_dir, layout, overrides=broker_settings(plan), kafka_jvm=KAFKA_JVM_OPTIONS
    )
    entry: dict[str, Any] = {"side": side, "ok": True}
    started = time.monotonic()
    try:
        cluster.format()
        for node_id in cluster.nodes:
            cluster.start(node_id)
        cluster.wait_brokers(timeout_s=CLUSTER_START_TIMEOUT_S)
        entry["start_s"] = time.monotonic() - started
        case = plan.case
        create_topic(cluster.bootstrap, case.topic, case.partitions, REPLICATION_FACTOR)
        pids = [n.process.pid for n in cluster.nodes.values() if n.process is not None]
        before = [sample(pid) for pid in pids]
        entry["figures"] = producer_performance(
            cluster.bootstrap, case.topic, case, work_dir, plan.workload_timeout_s
        )
        after = [sample(pid) for pid in pids]
        cpu_s = sum(a.cpu_s - b.cpu_s for a, b in zip(after, before, strict=True))
        entry["cluster_cpu_s"] = cpu_s
        entry["cluster_cpu_s_per_gb"] = cpu_s / (entry["figures"]["bytes"] / GB)
        entry["rss_mb"] = [a.rss_bytes / MIB for a in after]
        entry["rss_peak_mb"] = [a.hwm_bytes / MIB for a in after]
    except Exception as exc:  # recorded, not raised: one failure must not end the comparison
        entry.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:4000])
    finally:
        cluster.close()
    entry["seconds"] = time.monotonic() - started
    return entry


def run(plan: Plan, work_dir: Path) -> dict[str, Any]:
    """Every round runs both sides, alternating which goes first."""
    runs = side_by_side.alternate(
        plan.rounds,
        work_dir,
        lambda side, side_dir: run_side(side, plan, side_dir),
        lambda e: (
            f"{e['figures']['mb_per_s']:.1f} MB/s, "
            f"p99 {e['figures']['latency_p99_ms']:.0f} ms, "
            f"{e['cluster_cpu_s_per_gb']:.1f} CPU s/GB"
        ),
    )
    return {"plan": asdict(plan), "runs": runs, "summary": summarize(runs)}


# (key in the run, label, unit, higher is better)
FIGURES = (
    ("records_per_s", "throughput", "records/s", True),
    ("mb_per_s", "throughput", "MB/s", True),
    ("latency_p50_ms", "producer p50", "ms", False),
    ("latency_p99_ms", "producer p99", "ms", False),
    ("cluster_cpu_s_per_gb", "CPU of the 3 nodes per GB produced", "s/GB", False),
    ("rss_mb_per_node", "resident set per node", "MB", False),
    ("start_s", "cluster start to all brokers ready", "s", False),
)


def _value(entry: dict[str, Any], key: str) -> float | None:
    if not entry["ok"]:
        return None
    if key in entry.get("figures", {}):
        return float(entry["figures"][key])
    if key == "rss_mb_per_node":
        return statistics.median(entry["rss_mb"])
    value = entry.get(key)
    return None if value is None else float(value)


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median per side and the ratio ferrokafka/Kafka of the medians."""
    return side_by_side.summarize(runs, FIGURES, _value)


def markdown(doc: dict[str, Any]) -> str:
    plan = doc["plan"]
    lines = [
        f"# Replicated produce ({plan['mode']}): 3 nodes, RF {REPLICATION_FACTOR}, acks=all, "
        f"min.insync.replicas {MIN_INSYNC}",
        "",
        f"{plan['records']:,} records of {plan['record_size']} B into {plan['partitions']} "
        f"partitions by Kafka's ProducerPerformance, {plan['rounds']} round(s) per side "
        "(alternating); medians. Ratio = ferrokafka / Kafka.",
        "",
    ]
    lines += side_by_side.ratio_table(doc)
    return "\n".join(lines) + "\n"
