"""PNG charts of a comparison's summary rows (matplotlib, no display needed).

- ``-ratios.png``: ferrokafka/Kafka per workload and metric, oriented so that right of the
  1.0 line is always better for ferrokafka: the one to look at first.
- ``-throughput.png``: MB/s medians with min–max whiskers, with the limit drawn in.
- ``-latency.png``: p50/p99/p99.9 per latency workload (log scale).
- ``-resources.png``: start/restart time, RSS peak and broker CPU seconds per GB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

KAFKA, FERRO = "kafka", "ferrokafka"
COLORS = {KAFKA: "#4c72b0", FERRO: "#dd8452"}
LABELS = {KAFKA: "Apache Kafka", FERRO: "ferrokafka"}
DPI = 110


def _median(row: dict[str, Any], broker: str) -> float | None:
    s = row[broker]["spread"]
    return None if s is None else s["median"]


def _whiskers(rows: list[dict[str, Any]], broker: str) -> list[list[float]]:
    low, high = [], []
    for row in rows:
        s = row[broker]["spread"]
        low.append(0.0 if s is None else s["median"] - s["min"])
        high.append(0.0 if s is None else s["max"] - s["median"])
    return [low, high]


def _grouped_barh(ax, rows: list[dict[str, Any]], title: str, unit: str) -> None:
    height = 0.38
    ys = range(len(rows))
    for i, broker in enumerate((KAFKA, FERRO)):
        values = [_median(r, broker) or 0.0 for r in rows]
        positions = [y + (i - 0.5) * height for y in ys]
        ax.barh(
            positions,
            values,
            height,
            xerr=_whiskers(rows, broker),
            color=COLORS[broker],
            label=LABELS[broker],
            capsize=2,
        )
        for y, row in zip(positions, rows, strict=True):
            if row[broker]["spread"] is None and row[broker]["failed"]:
                ax.text(0, y, " failed", va="center", fontsize=7, color="red")
    ax.set_yticks(list(ys), [r["workload"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(unit)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)


def ratios(rows: list[dict[str, Any]], path: Path) -> None:
    shown = [r for r in rows if r["ratio"] is not None and r["key"] != "data_gb"]
    if not shown:
        return
    # Oriented: >1 means ferrokafka better, whichever way the metric points.
    goodness = [r["ratio"] if r["higher_is_better"] else 1 / r["ratio"] for r in shown]
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(shown) + 1.5))
    colors = ["#55a868" if g >= 1 else "#c44e52" for g in goodness]
    ax.barh(range(len(shown)), goodness, color=colors)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    ax.set_yticks(
        range(len(shown)), [f"{r['workload']} · {r['metric']}" for r in shown], fontsize=7
    )
    ax.invert_yaxis()
    ax.set_xlabel("ferrokafka advantage (×, log scale; > 1 = ferrokafka better)")
    ax.set_title("ferrokafka vs Apache Kafka, medians", fontsize=10)
    for y, g in enumerate(goodness):
        ax.text(g, y, f" {g:.2f}×", va="center", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def throughput(rows: list[dict[str, Any]], path: Path) -> None:
    kinds = [k for k in ("produce", "consume") if any(r["kind"] == k for r in rows)]
    if not kinds:
        return
    sizes = [sum(1 for r in rows if r["kind"] == k and r["unit"] == "MB/s") for k in kinds]
    fig, axes = plt.subplots(
        len(kinds),
        1,
        figsize=(9, 0.55 * sum(sizes) + 2.0 * len(kinds)),
        gridspec_kw={"height_ratios": sizes},
        squeeze=False,
    )
    for ax, kind in zip(axes[:, 0], kinds, strict=True):
        shown = [r for r in rows if r["kind"] == kind and r["unit"] == "MB/s"]
        _grouped_barh(ax, shown, f"{kind} throughput (median, min–max)", "MB/s")
        limit = next((r.get("limit_mb_per_s") for r in shown if r.get("limit_mb_per_s")), None)
        if limit:
            name = "disk write" if kind == "produce" else "loopback TCP"
            ax.axvline(limit, color="grey", linestyle="--", linewidth=1)
            ax.text(limit, -0.6, f" {name} limit {limit:,.0f}", fontsize=7, color="grey")
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def latency(rows: list[dict[str, Any]], path: Path) -> None:
    """One panel per latency workload, its percentiles side by side."""
    shown = [r for r in rows if r["kind"] == "latency"]
    workloads = list(dict.fromkeys(r["workload"] for r in shown))
    if not workloads:
        return
    fig, axes = plt.subplots(
        1, len(workloads), figsize=(4.8 * len(workloads), 4.5), squeeze=False, sharey=True
    )
    width = 0.38
    for ax, workload in zip(axes[0], workloads, strict=True):
        mine = [r for r in shown if r["workload"] == workload]
        for i, broker in enumerate((KAFKA, FERRO)):
            values = [_median(r, broker) or 0.0 for r in mine]
            xs = [x + (i - 0.5) * width for x in range(len(mine))]
            ax.bar(
                xs,
                values,
                width,
                yerr=_whiskers(mine, broker),
                color=COLORS[broker],
                label=LABELS[broker],
                capsize=2,
            )
            for x, row in zip(xs, mine, strict=True):
                if row[broker]["spread"] is None and row[broker]["failed"]:
                    ax.text(
                        x,
                        1,
                        "failed",
                        rotation=90,
                        ha="center",
                        va="bottom",
                        fontsize=7,
                        color="red",
                    )
        ax.set_xticks(range(len(mine)), [r["metric"] for r in mine])
        ax.set_yscale("log")
        ax.set_title(workload, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("ms (log scale; lower is better)")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("end-to-end latency percentiles (median, min–max over repetitions)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def _grouped_bars(ax, shown: list[dict[str, Any]], title: str, unit: str) -> None:
    width = 0.38
    for i, broker in enumerate((KAFKA, FERRO)):
        values = [_median(r, broker) or 0.0 for r in shown]
        xs = [x + (i - 0.5) * width for x in range(len(shown))]
        ax.bar(
            xs,
            values,
            width,
            yerr=_whiskers(shown, broker),
            color=COLORS[broker],
            label=LABELS[broker],
            capsize=2,
        )
        for x, row in zip(xs, shown, strict=True):
            if row[broker]["spread"] is None and row[broker]["failed"]:
                ax.text(
                    x, 0, "failed", rotation=90, ha="center", va="bottom", fontsize=7, color="red"
                )
    labels = [r["workload"] if r["kind"] != "broker" else "" for r in shown]
    ax.set_xticks(range(len(shown)), labels, rotation=35, ha="right", fontsize=7)
    ax.set_ylabel(unit)
    ax.set_title(title + " (lower is better)", fontsize=9)
    ax.grid(axis="y", alpha=0.3)


def resources(rows: list[dict[str, Any]], path: Path) -> None:
    """Start, restart and RSS side by side on top; CPU per GB per workload below."""
    top = [
        ("start to ready", [r for r in rows if r["key"] == "start_s"], "s"),
        ("restart to ready", [r for r in rows if r["key"] == "restart_s"], "s"),
        ("RSS peak (VmHWM)", [r for r in rows if r["key"] == "rss_peak_mb"], "MB"),
    ]
    cpu = [r for r in rows if r["key"] == "broker_cpu_s_per_gb"]
    if not cpu and not any(shown for _, shown, _ in top):
        return
    fig = plt.figure(figsize=(11, 9))
    grid = fig.add_gridspec(2, 3, height_ratios=[1, 1.4])
    for column, (title, shown, unit) in enumerate(top):
        ax = fig.add_subplot(grid[0, column])
        if shown:
            _grouped_bars(ax, shown, title, unit)
    ax = fig.add_subplot(grid[1, :])
    if cpu:
        _grouped_bars(ax, cpu, "broker CPU seconds per GB of record values moved", "CPU s/GB")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def write_all(rows: list[dict[str, Any]], out_dir: Path, stem: str) -> list[Path]:
    written = []
    for name, draw in (
        ("ratios", ratios),
        ("throughput", throughput),
        ("latency", latency),
        ("resources", resources),
    ):
        path = out_dir / f"{stem}-{name}.png"
        draw(rows, path)
        if path.exists():
            written.append(path)
    return written
