"""The bounded CI form of the multi-node fault runs: two seeds of 30 s against a KRaft cluster
of three combined ``ferrokafka serve`` nodes, each in its own network namespace (root), a
topic of replication factor 3 with min.insync.replicas 2, idempotent acks=all producers
(confluent-kafka and Kafka's Java client) and a consumer group committing its offsets.

Between them the two schedules hold every cluster fault (SIGKILL, SIGSTOP, clean restart,
partition, one-way, bridge, link down) and every target (a node, a partition's leader, the
active controller), among them a clean restart of the active controller (which exited 1 with
a traceback before its session timer learned to wait once the lead is lost) and the leader of
a partition cut off from the other nodes.

Each must end with zero lost acknowledged records, zero duplicates, no read of a record the
log later lost, no offset anomaly, no committed-offset regression, no crash, no traceback,
every node stopping cleanly, and every partition serving a record sent after the heal within
the liveness bound. A failing seed replays with the command its schedule prints
(``python -m tests.faults --nodes 3 --seeds SEED ...``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .ext4_disk import Ext4Disk
from .runner import RunConfig, format_anomalies, format_table, run_seed
from .schedule import (
    CLUSTER_FAULTS,
    CONTROLLER,
    LEADER,
    PARTITION,
    POWER_LOSS,
    RESTART,
    TARGETS,
    generate,
)
from .workloads import java_available

NODES = 3
PARTITIONS = 3
DURATION_S = 30.0
SEEDS = [2, 125]
# Opt-in: the seeds of 60 s that found anomalies in the long mode, replayed (timing-dependent:
# a replay plays the same schedule, not necessarily the same interleaving). Seeds 4, 8, 10:
# acknowledged records truncated when the partition's leadership moved, another record later
# acknowledged at the same offset (lost, conflicting-acks; in 8 a consumer had read them,
# and two retried batches were written twice); 5: a group's committed offsets gone after the
# coordinator's node was cut off and killed (partition 1 read again from 0); 7: a committed
# offset answered lower than one acknowledged before.
REPLAY_ENV = "FERROKAFKA_FAULT_SEEDS"
REPLAY_DURATION_S = 60.0
REPLAY_SEEDS = [int(s) for s in os.environ.get(REPLAY_ENV, "").split(",") if s.strip()]
# Power losses (the disk stops writing, SIGKILL, the node back within its session timeout):
# seed 1's first 20 s cut the power of partition 0's leader and of node 2.
POWER_LOSS_SEED = 1
POWER_LOSS_DURATION_S = 20.0


@pytest.fixture(scope="module")
def ready() -> None:
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root (ip netns add)", pytrace=False)
    missing = java_available()
    if missing is not None:
        pytest.fail(f"Apache Kafka is needed for the Java producer: {missing}", pytrace=False)


def test_the_seeds_cover_every_cluster_fault_and_target() -> None:
    events = [
        event
        for seed in SEEDS
        for event in generate(seed, DURATION_S, CLUSTER_FAULTS, NODES, PARTITIONS)
    ]
    assert {e.kind for e in events} == set(CLUSTER_FAULTS)
    assert {e.target for e in events} == set(TARGETS)
    assert any(e.kind == RESTART and e.target == CONTROLLER for e in events)
    assert any(e.kind == PARTITION and e.target == LEADER for e in events)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed{s}" for s in SEEDS])
def test_a_cluster_loses_no_acknowledged_record(seed: int, tmp_path: Path, ready: None) -> None:
    config = RunConfig(
        seed=seed,
        duration_s=DURATION_S,
        work_dir=tmp_path,
        faults=CLUSTER_FAULTS,
        partitions=PARTITIONS,
        nodes=NODES,
    )
    result = run_seed(config)
    print("\n" + format_table([result]))
    assert sum(result.faults.values()) >= 4, result.faults
    assert result.acknowledged > 1000 and result.reads > result.acknowledged
    assert result.clean, f"run in {result.run_dir}\n{format_anomalies(result)}"
    assert result.tracebacks == 0, f"tracebacks in {result.run_dir}/node-*/serve.err"


@pytest.mark.slow
@pytest.mark.skipif(not REPLAY_SEEDS, reason=f"opt-in: {REPLAY_ENV}=4,5,7,8,10")
@pytest.mark.parametrize("seed", REPLAY_SEEDS, ids=[f"seed{s}" for s in REPLAY_SEEDS])
def test_a_seed_that_found_an_anomaly(seed: int, tmp_path: Path, ready: None) -> None:
    config = RunConfig(
        seed=seed,
        duration_s=REPLAY_DURATION_S,
        work_dir=tmp_path,
        faults=CLUSTER_FAULTS,
        partitions=PARTITIONS,
        nodes=NODES,
    )
    result = run_seed(config)
    print("\n" + format_table([result]))
    assert result.clean, f"run in {result.run_dir}\n{format_anomalies(result)}"


@pytest.mark.slow
def test_a_power_loss_loses_no_acknowledged_record(tmp_path: Path, ready: None) -> None:
    """Found by the power-loss fault (seed 1, 40 s: 4,152 acknowledged records lost): a
    node back from a power loss within its broker session, its logs cut to what it had
    synced, served at once as the leader its own (stale) metadata named, at the same leader
    epoch; its followers truncated to its shorter log. Kafka serves only once the broker has
    registered (refused as a duplicate until the old session expired and the controller moved
    its leadership) and caught up; so does ferrokafka now, and its AlterPartition carries the
    new incarnation's broker epoch, not its predecessor's."""
    missing = Ext4Disk.available()
    if missing is not None:
        pytest.skip(f"power loss needs an ext4 loop disk: {missing}")
    config = RunConfig(
        seed=POWER_LOSS_SEED,
        duration_s=POWER_LOSS_DURATION_S,
        work_dir=tmp_path,
        faults=(POWER_LOSS,),
        partitions=PARTITIONS,
        nodes=NODES,
        java_producers=0,
    )
    result = run_seed(config)
    print("\n" + format_table([result]))
    assert result.faults == {POWER_LOSS: 2}, result.faults
    assert result.acknowledged > 1000 and result.reads > result.acknowledged
    assert result.clean, f"run in {result.run_dir}\n{format_anomalies(result)}"
    assert result.tracebacks == 0, f"tracebacks in {result.run_dir}/node-*/serve.err"
