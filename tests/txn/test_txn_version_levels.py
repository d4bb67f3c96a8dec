"""The transaction.version a single node runs, seen by Kafka 4.4's Java producer: a new node
finalizes level 2 (KIP-890 part 2), so the producer bumps its epoch at every transaction's end;
a node whose metadata log began before ferrokafka claimed level 2 has no transaction.version
record (level 0) and keeps working as it did: its ApiVersions finalizes no transaction.version,
the Java producer runs the first version (the epoch stays) and read_committed readers see
exactly the committed records."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from server_wire import RawClient
from test_txn_clients import check_reads, create_topic
from txn_wire import describe

import ferrokafka.cluster.controller as controller
import ferrokafka.server.node as node_module
from ferrokafka.testing import run_broker
from kafka_support.opt_in import VARIANT_OPT_IN

TRANSACTIONS = 4
# As test_txn_clients' producers (what its check_reads expects): transaction i aborts when
# i % 3 == 2.
RECORDS_PER_TXN = 30
ABORT_EVERY = 3
JAVA_TIMEOUT_S = 180


def _java_transactions(bootstrap: str, txn_id: str, topic: str) -> None:
    from kafka_support.jars import streams_classpath
    from kafka_support.java_apps import app_command

    result = subprocess.run(
        app_command(
            "TxnProducer",
            streams_classpath(),
            bootstrap,
            txn_id,
            topic,
            str(TRANSACTIONS),
            str(RECORDS_PER_TXN),
            str(ABORT_EVERY),
        ),
        capture_output=True,
        text=True,
        timeout=JAVA_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0 and "DONE" in result.stdout, result.stdout + result.stderr


@pytest.mark.kafka
# A fresh node's default (TV2) is what every other transactional test runs: that variant is
# opt-in (FERROKAFKA_MORE_VARIANTS=1); a log from before TV2 always runs.
@pytest.mark.parametrize("log_before_tv2", [pytest.param(False, marks=VARIANT_OPT_IN), True])
def test_the_java_producer_runs_what_the_node_finalized(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, log_before_tv2: bool
) -> None:
    data = tmp_path / "broker"
    if log_before_tv2:
        # What a node wrote when its metadata log began before this change: metadata.version
        # alone (a level 0 is not written, as then).
        with monkeypatch.context() as patch:
            patch.setattr(
                node_module,
                "SINGLE_NODE_BOOTSTRAP_LEVELS",
                {"metadata.version": controller.METADATA_VERSION_LEVEL},
            )
            with run_broker(data):
                pass
    with run_broker(data) as broker:
        bootstrap = broker.bootstrap_servers
        with RawClient(bootstrap) as client:
            versions = client.call_api_versions(7, 3)
        supported = {f.name: (f.min_version, f.max_version) for f in versions.supported_features}
        assert supported["transaction.version"] == (0, 2)
        finalized = {f.name: f.max_version_level for f in versions.finalized_features}
        assert finalized.get("transaction.version") == (None if log_before_tv2 else 2)
        create_topic(bootstrap, "levels")
        _java_transactions(bootstrap, "java-levels", "levels")
        with RawClient(bootstrap) as client:
            state = describe(client, "java-levels")
        assert (state.error_code, state.transaction_state) == (0, "CompleteCommit")
        # Version 2: every end bumps the epoch (one per transaction); before it, none does.
        assert state.producer_epoch == (0 if log_before_tv2 else TRANSACTIONS)
        # Transactions 0, 1 and 3 committed, 2 aborted: read_committed sees exactly the first.
        check_reads(bootstrap, "levels", TRANSACTIONS)
