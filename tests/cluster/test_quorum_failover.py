"""The failover loop of :mod:`quorum_failover` on a 3-node ferrokafka process cluster: each
SIGKILL of the leader gives another leader of a later epoch, found by DescribeQuorum on the
surviving controllers, and a CreateTopics through a surviving broker then succeeds; the killed
node rejoins and catches up before the next kill. FERROKAFKA_FAILOVER_KILLS kills (default 2);
the times are printed (``-s``), never asserted."""

from __future__ import annotations

import os
from pathlib import Path

import trio
from quorum_failover import KILLS_MAX, FerrokafkaQuorum, measure, summary

KILLS = int(os.environ.get("FERROKAFKA_FAILOVER_KILLS", "2"))


def test_leader_kills_fail_over(tmp_path: Path) -> None:
    assert 0 < KILLS <= KILLS_MAX
    with FerrokafkaQuorum(tmp_path / "cluster") as quorum:
        results = trio.run(measure, quorum, KILLS)
    assert len(results) == KILLS
    for failover in results:
        assert failover.new_leader != failover.killed
        assert failover.new_epoch > failover.old_epoch
        assert failover.create_s > 0 and failover.quorum_s > 0
    print(summary("ferrokafka", results))
