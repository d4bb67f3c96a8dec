"""A bounded run of ``python -m bench.metrics_cost`` (off and on, about two thousand requests
each), so the cost benchmark cannot rot: the figures themselves come from the opt-in full run."""

from __future__ import annotations

from pathlib import Path

from bench.metrics_cost import PIPELINE, REPO, run_once

# Enough that the broker uses more than one clock tick (10 ms) of CPU: /proc counts in ticks.
SMOKE_REQUESTS = PIPELINE * 64


def test_metrics_cost_runs_both_variants(tmp_path: Path) -> None:
    for metrics in (False, True):
        work = tmp_path / ("on" if metrics else "off")
        work.mkdir()
        cpu_us, wall_us = run_once(SMOKE_REQUESTS, metrics, work, REPO)
        assert cpu_us > 0 and wall_us > 0
