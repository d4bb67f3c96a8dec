"""From the runs to figures a person can use: per workload and broker the median over the
repetitions with its spread (min–max), the ratio ferrokafka/Kafka of the medians, and each
throughput as a share of the limit that binds it (produce: sequential write of the data
filesystem; consume: loopback TCP). Written as markdown and JSON.
"""

from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Any

KAFKA, FERRO = "kafka", "ferrokafka"
MB = 1 << 20
# (figure key, label, unit, higher is better) shown for each kind of workload.
METRICS: dict[str, tuple[tuple[str, str, str, bool], ...]] = {
    "produce": (
        ("mb_per_s", "throughput", "MB/s", True),
        ("latency_p99_ms", "producer p99", "ms", False),
        ("broker_cpu_s_per_gb", "broker CPU", "s/GB", False),
    ),
    "consume": (
        ("mb_per_s", "throughput", "MB/s", True),
        ("broker_cpu_s_per_gb", "broker CPU", "s/GB", False),
    ),
    "broker-bound": (
        ("requests_per_s", "requests", "req/s", True),
        ("mb_per_s", "throughput", "MB/s", True),
        ("cpu_us_per_request", "broker CPU per request", "µs", False),
    ),
    "latency": (
        ("latency_p50_ms", "p50", "ms", False),
        ("latency_p99_ms", "p99", "ms", False),
        ("latency_p999_ms", "p99.9", "ms", False),
    ),
}
LIMIT_OF_KIND = {"produce": "disk_write", "consume": "loopback_tcp"}
BROKER_METRICS = (
    ("start_s", "start to ready", "s"),
    ("restart_s", "restart to ready", "s"),
    ("rss_peak_mb", "RSS peak (VmHWM)", "MB"),
    ("data_gb", "data on disk at restart", "GB"),
)


def spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def _figure(entry: dict[str, Any], key: str) -> float | None:
    if key.startswith("broker_"):
        return entry.get(key)
    return entry.get("figures", {}).get(key)


def limit_medians(doc: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key in ("loopback_tcp", "disk_write"):
        values = [m[key]["mb_per_s"] for m in doc["limits"] if "mb_per_s" in m.get(key, {})]
        if values:
            out[key] = statistics.median(values)
    return out


def _workload_order(doc: dict[str, Any]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for run in doc["runs"]:
        for name, entry in run["workloads"].items():
            seen.setdefault(name, entry["kind"])
    return list(seen.items())


def _ratio(k: dict[str, float] | None, f: dict[str, float] | None) -> float | None:
    """ferrokafka's median over Kafka's; none where either is missing or zero (a CPU
    reading under one clock tick is zero, and a ratio to or of zero says nothing)."""
    return f["median"] / k["median"] if k and f and k["median"] > 0 and f["median"] > 0 else None


def summarize(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (workload, metric) with both brokers' spreads, their ratio, limit shares
    and the failures (count and first error) of each broker."""
    limits = limit_medians(doc)
    rows: list[dict[str, Any]] = []
    for workload, kind in _workload_order(doc):
        for key, label, unit, higher_better in METRICS.get(kind, ()):
            row: dict[str, Any] = {
                "workload": workload,
                "kind": kind,
                "metric": label,
                "key": key,
                "unit": unit,
                "higher_is_better": higher_better,
            }
            for broker in (KAFKA, FERRO):
                entries = [
                    r["workloads"][workload]
                    for r in doc["runs"]
                    if r["broker"] == broker and workload in r["workloads"]
                ]
                values = [v for e in entries if e["ok"] and (v := _figure(e, key)) is not None]
                failed = [e["error"] for e in entries if not e["ok"]]
                row[broker] = {
                    "spread": spread(values),
                    "runs": len(entries),
                    "failed": len(failed),
                    "error": failed[0] if failed else None,
                }
            k, f = row[KAFKA]["spread"], row[FERRO]["spread"]
            if k is None and f is None and not row[KAFKA]["failed"] and not row[FERRO]["failed"]:
                continue  # a figure this client does not report (librdkafka: no producer p99)
            row["ratio"] = _ratio(k, f)
            limit = limits.get(LIMIT_OF_KIND.get(kind, ""))
            if unit == "MB/s" and limit:
                row["limit_mb_per_s"] = limit
                for broker, s in ((KAFKA, k), (FERRO, f)):
                    row[broker]["share_of_limit"] = s["median"] / limit if s else None
            rows.append(row)
    for key, label, unit in BROKER_METRICS:
        row = {
            "workload": "broker",
            "kind": "broker",
            "metric": label,
            "key": key,
            "unit": unit,
            "higher_is_better": False,
        }
        for broker in (KAFKA, FERRO):
            runs = [r for r in doc["runs"] if r["broker"] == broker]
            values = [v for r in runs if (v := _broker_figure(r, key)) is not None]
            errors = [r["error"] for r in runs if "error" in r]
            row[broker] = {
                "spread": spread(values),
                "runs": len(runs),
                "failed": len(errors),
                "error": errors[0] if errors else None,
            }
        k, f = row[KAFKA]["spread"], row[FERRO]["spread"]
        row["ratio"] = _ratio(k, f)
        rows.append(row)
    return rows


def _broker_figure(run: dict[str, Any], key: str) -> float | None:
    if key == "rss_peak_mb":
        return run["rss_peak_bytes"] / MB if "rss_peak_bytes" in run else None
    if key == "data_gb":
        return run["data_bytes"] / 1e9 if "data_bytes" in run else None
    return run.get(key)


def _num(value: float) -> str:
    """Three significant figures without exponents: 2,519 / 35.1 / 4.18 / 0.596."""
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def _cell(side: dict[str, Any]) -> str:
    s = side["spread"]
    if s is None:
        return f"failed ({side['failed']}/{side['runs']})" if side["failed"] else "–"
    text = _num(s["median"])
    if s["n"] > 1:
        text += f" ({_num(s['min'])}–{_num(s['max'])})"
    if side["failed"]:
        text += f", {side['failed']} failed"
    return text


def _share(side: dict[str, Any]) -> str:
    share = side.get("share_of_limit")
    return "" if share is None else f"{share:.0%}"


def markdown(doc: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    meta, plan, limits = doc["meta"], doc["plan"], limit_medians(doc)
    lines = [
        f"# ferrokafka vs Apache Kafka {meta['kafka_version']} — {plan['mode']} mode",
        "",
        f"{meta['when']}, commit `{(meta['git_commit'] or '?')[:12]}`"
        f"{' (with uncommitted changes)' if meta.get('git_dirty') else ''}, {meta['cpus']} CPUs, "
        f"{meta['system']}, {plan['repetitions']} repetition(s) alternating A/B, "
        f"{meta.get('total_s', 0):.0f} s in all; 1-minute load average "
        f"{meta.get('loadavg_1m_start', float('nan')):.1f} at the start, "
        f"{meta.get('loadavg_1m_end', float('nan')):.1f} at the end.",
        "",
        "Limits measured in the same run (median of before and after): loopback TCP "
        f"{limits.get('loopback_tcp', float('nan')):,.0f} MB/s, sequential write of the data "
        f"filesystem (fdatasync at end) {limits.get('disk_write', float('nan')):,.0f} MB/s.",
        "",
        "Cells: median (min–max) over repetitions; a consume cell's per-repetition figure is "
        f"the median of its {plan.get('consume_rounds', 1)} read(s) of the topic. "
        "Ratio: ferrokafka/Kafka of the medians "
        "(above 1 is better for throughput, below 1 for times, latencies, CPU and memory). "
        "Share: of the disk limit for produce, of loopback for consume.",
        "",
        "| workload | metric | Kafka | ferrokafka | ferrokafka/Kafka "
        "| Kafka share | ferrokafka share |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}"
        lines.append(
            f"| {row['workload']} | {row['metric']} ({row['unit']}) | {_cell(row[KAFKA])} | "
            f"{_cell(row[FERRO])} | {ratio} | {_share(row[KAFKA])} | {_share(row[FERRO])} |"
        )
    failures = [
        (row["workload"], broker, row[broker]["error"])
        for row in rows
        for broker in (KAFKA, FERRO)
        if row[broker]["error"]
    ]
    seen: set[tuple[str, str]] = set()
    if failures:
        lines += ["", "## Failures (first error of each)", ""]
        for workload, broker, error in failures:
            if (workload, broker) in seen:
                continue
            seen.add((workload, broker))
            first_line = " ".join(error.split())[:300]
            lines.append(f"- {workload} on {broker}: `{first_line}`")
    return "\n".join(lines) + "\n"


def write(doc: dict[str, Any], rows: list[dict[str, Any]], out_dir: Path) -> dict[str, Path]:
    """``compare-<mode>.json`` (runs, limits and summary) and ``compare-<mode>.md``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"compare-{doc['plan']['mode']}"
    paths = {"json": out_dir / f"{stem}.json", "markdown": out_dir / f"{stem}.md"}
    tmp = paths["json"].with_suffix(".json.tmp")
    tmp.write_text(json.dumps({**doc, "summary": rows}, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, paths["json"])
    paths["markdown"].write_text(markdown(doc, rows))
    return paths
