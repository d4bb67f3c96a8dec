"""Client quotas on a KRaft cluster of ``ferrokafka serve`` processes (one controller, two
brokers): ``kafka-configs`` alters a quota through one broker, which forwards AlterClientQuotas
to the active controller; the other broker describes it from its own metadata image."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import kafka_support as ks
from cluster.kraft_processes import KRaftCluster

pytestmark = pytest.mark.kafka

CONFIG_COMMAND = "org.apache.kafka.tools.ConfigCommand"
CLIENT = ["--entity-type", "clients", "--entity-name", "slow"]
DESCRIBED = "Quota configs for client-id 'slow' are producer_byte_rate=1024.0"
DESCRIBE_TRIES = 20
DESCRIBE_RETRY_S = 0.5


def config_command(work_dir: Path, bootstrap: str, *args: str) -> str:
    return ks.run_kafka_tool(
        CONFIG_COMMAND, ["--bootstrap-server", bootstrap, *args], work_dir=work_dir
    ).stdout.strip()


def test_quota_altered_through_one_broker_is_described_by_another(tmp_path: Path) -> None:
    ks.require_kafka()
    cluster = KRaftCluster(tmp_path / "cluster", size=1, brokers=2, combined=False)
    with cluster.running():
        first, second = cluster.nodes[2].bootstrap, cluster.nodes[3].bootstrap
        altered = config_command(
            tmp_path, first, *CLIENT, "--alter", "--add-config", "producer_byte_rate=1024"
        )
        assert altered == "Completed updating config for client slow."
        described = ""
        for _ in range(DESCRIBE_TRIES):  # the second broker's image catches up
            described = config_command(tmp_path, second, *CLIENT, "--describe")
            if described == DESCRIBED:
                break
            time.sleep(DESCRIBE_RETRY_S)
        assert described == DESCRIBED
