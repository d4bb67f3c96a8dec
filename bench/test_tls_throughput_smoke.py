"""A bounded run of ``python -m bench.tls_throughput`` (ferrokafka only, 1 MB per case), so the
TLS cost benchmark cannot rot: the figures themselves come from the opt-in full run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SMOKE_MB = 1
RUN_TIMEOUT_S = 300


def test_tls_throughput_runs_both_listeners() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.tls_throughput", "--mb", str(SMOKE_MB)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert sorted(r["listener"] for r in rows) == ["PLAINTEXT", "SSL"], done.stdout
    for row in rows:
        assert row["produce_mb_s"] > 0 and row["consume_mb_s"] > 0, row
