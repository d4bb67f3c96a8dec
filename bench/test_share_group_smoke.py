"""``python -m bench.share_group --smoke`` end to end: one ferrokafka broker and one Apache
Kafka 4.4 broker in turn, a topic filled by ProducerPerformance and read whole by Kafka's
ShareConsumerPerformance with two share consumers in one group; the run leaves JSON and
markdown with the ratios. A few thousand records: this proves the harness, not the speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Two brokers started in turn (one a JVM), four tool JVMs, a loaded box.
SMOKE_TIMEOUT_S = 420.0


def test_share_group_smoke_run_measures_both_brokers(tmp_path: Path) -> None:
    out_dir = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.share_group",
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
    doc = json.loads((out_dir / "share-group-smoke.json").read_text())
    assert {e["side"] for e in doc["runs"]} == {"ferrokafka", "kafka"}
    for entry in doc["runs"]:
        assert entry["ok"], entry
        assert entry["figures"]["records"] == doc["plan"]["records"]
