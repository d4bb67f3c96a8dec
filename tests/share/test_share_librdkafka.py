"""Share groups (KIP-932) through librdkafka's share consumer (confluent-kafka 2.16,
librdkafka 2.16.0, "preview"): explicit acknowledgement with a release redelivered (delivery
count 2), a reject archived, and two consumers of one group splitting a topic."""

from __future__ import annotations

import time
from collections.abc import Iterator

import confluent_kafka as ck
import pytest
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)

from ferrokafka.testing import RunningBroker, run_broker

POLL_S = 0.5
WAIT_S = 60.0  # bound on every loop below

pytestmark = pytest.mark.skipif(
    not hasattr(ck, "ShareConsumer"), reason="this confluent-kafka has no share consumer"
)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBroker]:
    with run_broker(tmp_path_factory.mktemp("share-rdkafka")) as running:
        yield running


def group_configs(broker: RunningBroker, group: str, **configs: str) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    resource = ConfigResource(
        "GROUP",
        group,
        incremental_configs=[
            ConfigEntry(name.replace("_", "."), value, incremental_operation=AlterConfigOpType.SET)
            for name, value in configs.items()
        ],
    )
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)


def prepare(broker: RunningBroker, topic: str, group: str, values: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(timeout=30)
    group_configs(broker, group, share_auto_offset_reset="earliest")
    producer = ck.Producer({"bootstrap.servers": broker.bootstrap_servers})
    for value in values:
        producer.produce(topic, value=value.encode())
    assert producer.flush(30) == 0


def test_explicit_release_and_reject(broker: RunningBroker) -> None:
    values = ["release-0", "reject-1", "ok-2"]
    prepare(broker, "rd-explicit", "rd-explicit-g", values)
    consumer = ck.ShareConsumer(
        {
            "bootstrap.servers": broker.bootstrap_servers,
            "group.id": "rd-explicit-g",
            "share.acknowledgement.mode": "explicit",
        }
    )
    seen: list[tuple[int, int]] = []
    try:
        consumer.subscribe(["rd-explicit"])
        deadline = time.monotonic() + WAIT_S
        # Done once release-0 came back (its second delivery) and every other was seen.
        while time.monotonic() < deadline and (0, 2) not in seen:
            messages = consumer.poll(POLL_S) or []
            for message in messages:
                assert message.error() is None, message.error()
                count = message.delivery_count()
                seen.append((message.offset(), count))
                value = message.value().decode()
                if value.startswith("release-") and count == 1:
                    consumer.acknowledge(message, ck.AcknowledgeType.RELEASE)
                elif value.startswith("reject-"):
                    consumer.acknowledge(message, ck.AcknowledgeType.REJECT)
                else:
                    consumer.acknowledge(message, ck.AcknowledgeType.ACCEPT)
            if messages:
                consumer.commit_sync()
        # A few more polls: the rejected record must not come back.
        for _ in range(4):
            for message in consumer.poll(POLL_S) or []:
                seen.append((message.offset(), message.delivery_count()))
    finally:
        consumer.close()
    assert sorted(seen) == [(0, 1), (0, 2), (1, 1), (2, 1)]


def test_two_consumers_split_the_records(broker: RunningBroker) -> None:
    values = [f"v-{i}" for i in range(40)]
    prepare(broker, "rd-two", "rd-two-g", values)
    consumers = [
        ck.ShareConsumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": "rd-two-g"})
        for _ in range(2)
    ]
    got: list[int] = []
    try:
        for consumer in consumers:
            consumer.subscribe(["rd-two"])
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and len(got) < len(values):
            for consumer in consumers:
                for message in consumer.poll(POLL_S) or []:
                    assert message.error() is None, message.error()
                    got.append(message.offset())
    finally:
        for consumer in consumers:
            consumer.close()
    assert sorted(got) == list(range(len(values)))  # each once (implicit acceptance)


def read_all(broker: RunningBroker, group: str, topic: str, expected: int) -> list[str]:
    """Values a share consumer of ``group`` gets (implicit acknowledgement), until
    ``expected`` came and two more polls brought nothing, or the bound."""
    consumer = ck.ShareConsumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": group})
    values: list[str] = []
    quiet = 0
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and (len(values) < expected or quiet < 2):
            messages = consumer.poll(POLL_S) or []
            quiet = 0 if messages else quiet + 1
            for message in messages:
                assert message.error() is None, message.error()
                values.append(message.value().decode())
    finally:
        consumer.close()
    return values


def test_isolation_level_skips_aborted_transactions(broker: RunningBroker) -> None:
    """share.isolation.level read_committed: records of aborted transactions are archived,
    never delivered; read_uncommitted (the default) delivers them."""
    topic = "rd-txn"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(timeout=30)
    producer = ck.Producer(
        {"bootstrap.servers": broker.bootstrap_servers, "transactional.id": "rd-txn-p"}
    )
    producer.init_transactions(30)
    for txn, commit in enumerate([True, False, True, False]):
        producer.begin_transaction()
        for i in range(3):
            producer.produce(topic, value=f"t{txn}-{i}".encode())
        producer.flush(30)
        if commit:
            producer.commit_transaction(30)
        else:
            producer.abort_transaction(30)
    group_configs(
        broker,
        "rd-committed",
        share_auto_offset_reset="earliest",
        share_isolation_level="read_committed",
    )
    group_configs(broker, "rd-uncommitted", share_auto_offset_reset="earliest")
    committed = read_all(broker, "rd-committed", topic, 6)
    assert sorted(committed) == sorted(f"t{t}-{i}" for t in (0, 2) for i in range(3))
    everything = read_all(broker, "rd-uncommitted", topic, 12)
    assert sorted(everything) == sorted(f"t{t}-{i}" for t in range(4) for i in range(3))
