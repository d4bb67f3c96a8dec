"""One share-group run per side and round, and the plan of each mode."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import side_by_side
from bench.compare.brokers import create_topic, make_broker
from bench.compare.clients import WorkloadError, producer_performance, run_tool
from bench.compare.plan import KIB, MIB, ProduceCase
from bench.compare.probe import sample

GB = 1 << 30
START_TIMEOUT_S = 120.0
GROUP = "bench-share"
# ShareConsumerPerformance gives up after this long without a record.
IDLE_TIMEOUT_MS = 20_000


@dataclass(frozen=True)
class Plan:
    mode: str
    rounds: int
    records: int
    record_size: int
    partitions: int
    consumers: int
    segment_bytes: int
    workload_timeout_s: float

    @property
    def fill(self) -> ProduceCase:
        return ProduceCase(self.record_size, "1", "none", self.partitions, self.records)


PLANS = {
    "smoke": Plan("smoke", 1, 5_000, 100, 2, 2, 64 * MIB, 240.0),
    "quick": Plan("quick", 2, 200_000, KIB, 4, 4, 256 * MIB, 600.0),
    "full": Plan("full", 3, 1_000_000, KIB, 4, 4, 256 * MIB, 1800.0),
}


def set_group_config(bootstrap: str, work_dir: Path) -> None:
    """``share.auto.offset.reset=earliest`` for the group, with Kafka's kafka-configs (a group
    need not exist for its configs to be set)."""
    run_tool(
        "ConfigCommand",
        [
            "--bootstrap-server",
            bootstrap,
            "--alter",
            "--entity-type",
            "groups",
            "--entity-name",
            GROUP,
            "--add-config",
            "share.auto.offset.reset=earliest",
        ],
        work_dir,
        60.0,
    )


def share_consumer_performance(
    bootstrap: str, topic: str, plan: Plan, work_dir: Path
) -> dict[str, Any]:
    """Kafka's ShareConsumerPerformance: ``plan.consumers`` share consumers in one group read
    ``plan.records`` records."""
    out = run_tool(
        "ShareConsumerPerformance",
        [
            "--bootstrap-server",
            bootstrap,
            "--topic",
            topic,
            "--group",
            GROUP,
            "--num-records",
            str(plan.records),
            "--threads",
            str(plan.consumers),
            "--timeout",
            str(IDLE_TIMEOUT_MS),
            "--hide-header",
        ],
        work_dir,
        plan.workload_timeout_s,
    )
    rows = [
        [cell.strip() for cell in line.split(",")]
        for line in out.splitlines()
        if line.count(",") >= 5
    ]
    if not rows:
        raise WorkloadError(f"no ShareConsumerPerformance result in: {out[-2000:]}")
    # start.time, end.time, data.consumed.in.MB, MB.sec, nMsg.sec, data.consumed.in.nMsg, ...
    row = rows[-1]
    consumed = int(row[5])
    if consumed < plan.records:
        raise WorkloadError(f"ShareConsumerPerformance consumed {consumed} of {plan.records}")
    return {
        "records": consumed,
        "bytes": consumed * plan.record_size,
        "mb_per_s": float(row[3]),
        "records_per_s": float(row[4]),
    }


def run_side(side: str, plan: Plan, work_dir: Path) -> dict[str, Any]:
    """Start one broker of ``side``, fill a topic, read it with a share group, stop it."""
    broker = make_broker(
        side, work_dir, segment_bytes=plan.segment_bytes, start_timeout_s=START_TIMEOUT_S
    )
    entry: dict[str, Any] = {"side": side, "ok": True}
    started = time.monotonic()
    try:
        entry["start_s"] = broker.start()
        case = plan.fill
        create_topic(broker.bootstrap_servers, case.topic, case.partitions)
        producer_performance(
            broker.bootstrap_servers, case.topic, case, work_dir, plan.workload_timeout_s
        )
        set_group_config(broker.bootstrap_servers, work_dir)
        before = sample(broker.pid)
        entry["figures"] = share_consumer_performance(
            broker.bootstrap_servers, case.topic, plan, work_dir
        )
        after = sample(broker.pid)
        cpu_s = after.cpu_s - before.cpu_s
        entry["broker_cpu_s"] = cpu_s
        entry["broker_cpu_s_per_gb"] = cpu_s / (entry["figures"]["bytes"] / GB)
        entry["rss_mb"] = after.rss_bytes / MIB
    except Exception as exc:  # recorded, not raised: one failure must not end the comparison
        entry.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:4000])
    finally:
        broker.stop()
    entry["seconds"] = time.monotonic() - started
    return entry


def run(plan: Plan, work_dir: Path) -> dict[str, Any]:
    """Every round runs both sides, alternating which goes first."""
    runs = side_by_side.alternate(
        plan.rounds,
        work_dir,
        lambda side, side_dir: run_side(side, plan, side_dir),
        lambda e: (
            f"{e['figures']['records_per_s']:,.0f} records/s, "
            f"{e['broker_cpu_s_per_gb']:.1f} CPU s/GB"
        ),
    )
    return {"plan": asdict(plan), "runs": runs, "summary": summarize(runs)}


# (key in the run, label, unit, higher is better)
FIGURES = (
    ("records_per_s", "share group throughput", "records/s", True),
    ("mb_per_s", "share group throughput", "MB/s", True),
    ("broker_cpu_s_per_gb", "broker CPU per GB consumed", "s/GB", False),
    ("rss_mb", "broker resident set after the run", "MB", False),
)


def _value(entry: dict[str, Any], key: str) -> float | None:
    if not entry["ok"]:
        return None
    if key in entry.get("figures", {}):
        return float(entry["figures"][key])
    value = entry.get(key)
    return None if value is None else float(value)


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median per side and the ratio ferrokafka/Kafka of the medians."""
    return side_by_side.summarize(runs, FIGURES, _value)


def markdown(doc: dict[str, Any]) -> str:
    plan = doc["plan"]
    lines = [
        f"# Share group ({plan['mode']}): {plan['consumers']} share consumers, one broker",
        "",
        f"{plan['records']:,} records of {plan['record_size']} B in {plan['partitions']} "
        f"partitions, read by Kafka's ShareConsumerPerformance with {plan['consumers']} "
        f"consumers in one share group; {plan['rounds']} round(s) per side (alternating); "
        "medians. Ratio = ferrokafka / Kafka.",
        "",
    ]
    lines += side_by_side.ratio_table(doc)
    return "\n".join(lines) + "\n"
