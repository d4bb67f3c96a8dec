"""A share group's in-flight records: the share-partition leader exports Kafka's
SharePartitionMetrics InFlightMessageCount / InFlightBatchCount (KIP-1103) on the metrics
endpoint, and ``ferrokafka groups describe --metrics-url`` shows them per partition while
librdkafka's share consumer holds records unacknowledged, 0 once it acknowledged them, and
"n/a" without an endpoint to read."""

from __future__ import annotations

import time
from pathlib import Path

import confluent_kafka as ck
import pytest
from click.testing import CliRunner
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)
from metrics_support import free_port, http_get

from ferrokafka.testing import run_broker
from ferrokafka_cli.main import cli

pytestmark = pytest.mark.skipif(
    not hasattr(ck, "ShareConsumer"), reason="this confluent-kafka has no share consumer"
)

TOPIC = "inflight"
GROUP = "inflight-g"
RECORDS = 10
POLL_S = 0.5
WAIT_S = 60.0
IN_FLIGHT = "kafka_server_sharepartitionmetrics_inflightmessagecount"


def describe_rows(bootstrap: str, *urls: str) -> list[list[str]]:
    args = ["groups", "describe", GROUP, "--bootstrap-server", bootstrap]
    for url in urls:
        args += ["--metrics-url", url]
    shown = CliRunner().invoke(cli, args)
    assert shown.exit_code == 0, shown.output
    return [r for r in (line.split() for line in shown.output.splitlines()) if r[:1] == [GROUP]]


def test_describe_shows_the_records_a_share_consumer_holds(tmp_path: Path) -> None:
    port = free_port()
    with run_broker(tmp_path / "b", {"ferrokafka.metrics.port": port}) as broker:
        bootstrap = broker.bootstrap_servers
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for future in admin.create_topics([NewTopic(TOPIC, 1, 1)]).values():
            future.result(timeout=30)
        earliest = ConfigEntry(
            "share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET
        )
        resource = ConfigResource("GROUP", GROUP, incremental_configs=[earliest])
        for future in admin.incremental_alter_configs([resource]).values():
            future.result(timeout=30)
        producer = ck.Producer({"bootstrap.servers": bootstrap})
        for i in range(RECORDS):
            producer.produce(TOPIC, value=b"v%d" % i)
        assert producer.flush(30) == 0
        consumer = ck.ShareConsumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": GROUP,
                "share.acknowledgement.mode": "explicit",
            }
        )
        try:
            consumer.subscribe([TOPIC])
            held: list[ck.Message] = []
            deadline = time.monotonic() + WAIT_S
            while len(held) < RECORDS:
                assert time.monotonic() < deadline, f"{len(held)} records only"
                held += [m for m in consumer.poll(POLL_S) or [] if m.error() is None]
            # Held, not acknowledged: all ten in flight, acquired in one run.
            status, body = http_get(port, "/metrics")
            assert status == 200
            series = f'{{group="{GROUP}",partition="0",topic="{TOPIC}"}}'
            assert f"{IN_FLIGHT}{series} {float(RECORDS)}" in body.decode()
            batches = "kafka_server_sharepartitionmetrics_inflightbatchcount"
            assert f"{batches}{series} 1.0" in body.decode()
            url = f"127.0.0.1:{port}"
            assert describe_rows(bootstrap, url) == [[GROUP, TOPIC, "0", "0", "10", str(RECORDS)]]
            assert describe_rows(bootstrap) == [[GROUP, TOPIC, "0", "0", "10", "n/a"]]
            for message in held:
                consumer.acknowledge(message, ck.AcknowledgeType.ACCEPT)
            consumer.commit_sync()
            # Acknowledged: nothing in flight, the start offset past them.
            assert describe_rows(bootstrap, f"http://{url}/metrics") == [
                [GROUP, TOPIC, "0", str(RECORDS), "0", "0"]
            ]
        finally:
            consumer.close()
