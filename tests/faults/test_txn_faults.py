"""The bounded CI form of the transactional fault runs: one seed of 30 s against a KRaft
cluster of three combined ``ferrokafka serve`` nodes, each in its own network namespace
(root), with the ``txn`` workload only (:mod:`.txn_workload`): an idempotent producer of
``txn-in``, two confluent-kafka transactional copiers in one consumer group copying it to
``txn-out`` (every fifth transaction aborted on purpose), Kafka's own
``TransactionalMessageCopier`` copying ``txn-java-in`` into the same output (a third of its
transactions aborted at random, relaunched through the run), a read_committed reader of the
output. Seed 28 kills the active controller and a node, pauses a partition's leader, cuts
the controller off, and restarts a node.

It must end with no aborted or uncommitted read (G1a/G1b), no record of a committed
transaction lost, every input record below the group's committed offsets copied exactly
once and none above them, a transaction committed and read within the liveness bound after
the heal, every node stopping cleanly and no traceback. More seeds, and the Apache Kafka
baseline, are opt-in (``FERROKAFKA_TXN_FAULT_SEEDS``) or by hand: ``python -m tests.faults
--nodes 3 --workload txn --seeds 1-5 --broker both``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .runner import TXN_WORKLOAD, RunConfig, format_anomalies, format_table, run_seed
from .schedule import CLUSTER_FAULTS

NODES = 3
PARTITIONS = 3
DURATION_S = 30.0
SEED = 28
REPLAY_ENV = "FERROKAFKA_TXN_FAULT_SEEDS"
REPLAY_DURATION_S = 60.0
REPLAY_SEEDS = [int(s) for s in os.environ.get(REPLAY_ENV, "").split(",") if s.strip()]


def _run(seed: int, duration_s: float, work_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root (ip netns add)", pytrace=False)
    config = RunConfig(
        seed=seed,
        duration_s=duration_s,
        work_dir=work_dir,
        faults=CLUSTER_FAULTS,
        partitions=PARTITIONS,
        nodes=NODES,
        workloads=(TXN_WORKLOAD,),
    )
    result = run_seed(config)
    print("\n" + format_table([result]))
    assert sum(result.faults.values()) >= 3, result.faults
    assert result.txns["committed"] > 20 and result.txns["aborted"] > 3, result.txns
    assert result.txns["java-committed"] > 3, result.txns
    assert result.clean, f"run in {result.run_dir}\n{format_anomalies(result)}"
    assert result.tracebacks == 0, f"tracebacks in {result.run_dir}/node-*/serve.err"


@pytest.mark.slow
def test_transactions_under_faults_stay_exactly_once(tmp_path: Path) -> None:
    _run(SEED, DURATION_S, tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not REPLAY_SEEDS, reason=f"opt-in: {REPLAY_ENV}=1,2,3")
@pytest.mark.parametrize("seed", REPLAY_SEEDS, ids=[f"seed{s}" for s in REPLAY_SEEDS])
def test_more_transactional_seeds(seed: int, tmp_path: Path) -> None:
    _run(seed, REPLAY_DURATION_S, tmp_path)
