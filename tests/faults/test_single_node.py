"""The bounded CI form of the fault-injection runs: a few seeds of ~30 s against one
``ferrokafka serve`` with SIGKILL, SIGSTOP and clean restarts (one also with a full disk and a
kill on it), idempotent producers (confluent-kafka and Kafka's Java client) and a consumer
group.

Each must end with zero lost acknowledged records, zero duplicates, no offset anomalies, no
committed-offset regression, no crash or traceback, and a record sent after the faults
acknowledged and read within the liveness bound. A failing seed replays with the command its
schedule prints (``python -m tests.faults --seeds SEED ...``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kafka_support.opt_in import VARIANT_OPT_IN

from .runner import RunConfig, format_anomalies, format_table, run_seed
from .schedule import DEFAULT_FAULTS, FAULT_KINDS, generate
from .workloads import java_available

DURATION_S = 30.0
# Below most pauses: the producers time out requests in flight and send them again while
# the broker is stopped, so the broker's deduplication is under test too.
REQUEST_TIMEOUT_MS = 2000
# Seeds whose schedules hold every fault kind they are run with (checked below). Seed 63
# replays the first anomaly the harness found: started again on a full disk, the broker died
# of SIGBUS (a crash, exit code -7) reading its preallocated index through the map.
# Seed 4 (the default faults, as seed 3) left the CI slice when the suite neared its budget:
# `python -m tests.faults --seeds 4` replays it.
SEEDS = [(3, DEFAULT_FAULTS), (63, FAULT_KINDS)]


@pytest.fixture(scope="module")
def java() -> None:
    missing = java_available()
    if missing is not None:
        pytest.fail(f"Apache Kafka is needed for the Java producer: {missing}", pytrace=False)


@pytest.mark.parametrize(("seed", "faults"), SEEDS, ids=[f"seed{s}" for s, _ in SEEDS])
def test_the_schedules_cover_their_faults(seed: int, faults: tuple[str, ...]) -> None:
    assert {event.kind for event in generate(seed, DURATION_S, faults)} == set(faults)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("seed", "faults"),
    # Seed 63 holds every fault kind; seed 3 (the default faults) is a variant.
    [pytest.param(s, f, marks=[VARIANT_OPT_IN] if s == 3 else []) for s, f in SEEDS],
    ids=[f"seed{s}" for s, _ in SEEDS],
)
def test_no_acknowledged_record_is_lost(
    seed: int, faults: tuple[str, ...], tmp_path: Path, java: None
) -> None:
    config = RunConfig(
        seed=seed,
        duration_s=DURATION_S,
        work_dir=tmp_path,
        faults=faults,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
    )
    result = run_seed(config)
    print("\n" + format_table([result]))
    assert sum(result.faults.values()) >= 3, result.faults
    assert result.acknowledged > 1000 and result.reads > result.acknowledged
    assert result.clean, f"run in {result.run_dir}\n{format_anomalies(result)}"
    assert result.tracebacks == 0, f"tracebacks in {result.run_dir}/node-1/serve.err"
