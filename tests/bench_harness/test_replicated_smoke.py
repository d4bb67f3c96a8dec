"""``python -m bench.replicated --smoke`` end to end: a 3-node ferrokafka cluster and a 3-node
Apache Kafka 4.4 cluster (each node its own process) are started in turn, a replication-factor-3
topic is created on each and Kafka's ProducerPerformance sends with acks=all; the run leaves JSON
and markdown with the ratios. A few thousand records: this proves the harness, not the speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
# Three JVMs and three ferrokafka processes started in turn, two tool JVMs, a loaded box.
SMOKE_TIMEOUT_S = 420.0


def test_replicated_smoke_run_measures_both_clusters(tmp_path: Path) -> None:
    out_dir = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.replicated",
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
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    doc = json.loads((out_dir / "replicated-smoke.json").read_text())
    assert {e["side"] for e in doc["runs"]} == {"ferrokafka", "kafka"}
    for entry in doc["runs"]:
        assert entry["ok"], entry
        assert entry["figures"]["records"] == doc["plan"]["records"]
        assert entry["cluster_cpu_s"] > 0 and len(entry["rss_mb"]) == 3
    summary = doc["summary"]
    for key in ("mb_per_s", "latency_p99_ms", "cluster_cpu_s_per_gb", "rss_mb_per_node"):
        assert summary[key]["ratio"] is not None and summary[key]["ratio"] > 0, key
    text = (out_dir / "replicated-smoke.md").read_text()
    assert "RF 3, acks=all" in text and "| throughput |" in text
