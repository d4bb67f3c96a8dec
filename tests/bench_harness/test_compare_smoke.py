"""``python -m bench.compare --smoke`` end to end: both real brokers (Apache Kafka 4.x from
the cached jars and ``ferrokafka serve``) are started, driven by Kafka's ProducerPerformance,
ConsumerPerformance, EndToEndLatency, by librdkafka and by kcat, and the run leaves JSON,
markdown and PNG charts. A few thousand records, one repetition: this proves the harness, not
the speed.

Workloads a broker cannot serve yet (ConsumerPerformance needs a group coordinator) may fail;
they must then be recorded with their error, and the harness must go on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
# Two JVM broker starts plus seven short tool JVMs on a loaded two-core box.
SMOKE_TIMEOUT_S = 240.0
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Workloads both brokers serve today, so they must succeed on both.
MUST_PASS = (
    "produce 100B acks=1 lz4 p1",
    "produce 100B acks=1 none p1 (librdkafka)",
    "produce 100B acks=1 none p1 (kcat)",
    "fill consume topic",
    "consume librdkafka (assign)",
    "consume kcat (all partitions)",
)


def test_smoke_run_writes_json_markdown_and_charts(tmp_path: Path) -> None:
    out_dir = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.compare",
            "--smoke",
            "--out-dir",
            str(out_dir),
            "--work-dir",
            str(tmp_path / "work"),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    doc = json.loads((out_dir / "compare-smoke.json").read_text())

    assert [(r["broker"], r["repetition"]) for r in doc["runs"]] == [
        ("kafka", 0),
        ("ferrokafka", 0),
    ]
    for run in doc["runs"]:
        assert "error" not in run, run["error"]
        assert 0 < run["start_s"] < 120 and 0 < run["restart_s"] < 120
        assert run["rss_peak_bytes"] > 1 << 20
        for name in MUST_PASS:
            entry = run["workloads"][name]
            assert entry["ok"], (run["broker"], name, entry.get("error"))
            assert entry["figures"]["mb_per_s"] > 0
            assert entry["broker_cpu_s"] >= 0
        for name, entry in run["workloads"].items():
            assert entry["ok"] or entry["error"], (run["broker"], name)
    for limits in doc["limits"]:
        assert limits["loopback_tcp"]["mb_per_s"] > 0
        assert limits["disk_write"]["mb_per_s"] > 0

    produce = next(
        r for r in doc["summary"] if r["workload"] == MUST_PASS[0] and r["metric"] == "throughput"
    )
    assert produce["ratio"] > 0 and 0 < produce["kafka"]["share_of_limit"] < 1
    summarized = {(r["workload"], r["kind"]) for r in doc["summary"] if r["unit"] == "MB/s"}
    assert ("produce 100B acks=1 none p1 (kcat)", "produce") in summarized
    assert ("consume kcat (all partitions)", "consume") in summarized

    markdown = (out_dir / "compare-smoke.md").read_text()
    for name in MUST_PASS:
        assert f"| {name} | throughput (MB/s) |" in markdown
    for chart in ("ratios", "throughput", "latency", "resources"):
        assert (out_dir / f"compare-smoke-{chart}.png").read_bytes()[:8] == PNG_MAGIC
