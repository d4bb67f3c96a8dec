"""Report what the KRaft simulation covered: seeds, events and invariant checks."""

from __future__ import annotations

import raft_sim


def pytest_terminal_summary(terminalreporter) -> None:
    stats = raft_sim.STATS
    if stats["seeds"]:
        terminalreporter.write_line(
            f"KRaft simulation: {stats['seeds']} seeds, {stats['steps']} events, "
            f"{stats['checks']} invariant checks, {stats['simulated_ms'] / 1000:.0f} s simulated"
        )
