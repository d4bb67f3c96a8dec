"""Share groups' dead-letter queues (share.version 2, KIP-1191) through Kafka 4.4's own clients
against one ferrokafka broker, formatted as Kafka 4.4 formats by default: the Java
``KafkaShareConsumer`` (tests/kafka/apps/ShareConsume.java, explicit mode) REJECTs one record
and RELEASEs another until the delivery count limit; both land on the group's
``errors.deadletterqueue.topic.name`` (set with ``kafka-configs`` on the GROUP resource), read
back with a normal consumer: Kafka's ``__dlq.errors.*`` headers, the original key and value
only with ``errors.deadletterqueue.copy.record.enable``. A topic without
``errors.deadletterqueue.group.enable`` or outside ``errors.deadletterqueue.topic.name.prefix``
gets nothing (the records are archived all the same); a missing one is created when the broker
allows it; a DLQ name starting with ``__`` is refused as Kafka refuses it.

With ``FERROKAFKA_SHARE_KAFKA=1`` the same module runs against Apache Kafka 4.4 too.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import confluent_kafka as ck
import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from tests.share.test_share_java import (
    CONFIG_COMMAND,
    KAFKA_MARKS,
    Target,
    consumer,
    deliveries,
    group_configs,
    side_by_side_broker,
)

import kafka_support as ks

BROKER_CONFIG = {"errors.deadletterqueue.auto.create.topics.enable": "true"}
READ_TIMEOUT_S = 30.0
REJECTED = "Offset rejected by client."
EXCEEDED = "Offset delivery count exceeded the threshold."


@pytest.fixture(scope="module", params=["ferrokafka", pytest.param("kafka", marks=KAFKA_MARKS)])
def broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    yield from side_by_side_broker(
        request.param, tmp_path_factory.mktemp(f"share-dlq-{request.param}"), BROKER_CONFIG
    )


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("share-dlq-tools")


@pytest.fixture(scope="module")
def classpath() -> str:
    from kafka_support.jars import streams_classpath

    return streams_classpath()


def create_topic(broker: Target, topic: str, configs: dict[str, str] | None = None) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    new = NewTopic(topic, 1, 1, config=configs or {})
    for future in admin.create_topics([new]).values():
        future.result(timeout=30)


def produce(broker: Target, topic: str, values: list[str]) -> None:
    producer = ck.Producer({"bootstrap.servers": broker.bootstrap_servers})
    for value in values:
        producer.produce(topic, key=f"k-{value}".encode(), value=value.encode())
    assert producer.flush(30) == 0


def read_all(broker: Target, topic: str, count: int, wait_s: float = READ_TIMEOUT_S) -> list:
    """The records of ``topic`` from the start: ``count`` of them, or what came in ``wait_s``."""
    reader = ck.Consumer(
        {
            "bootstrap.servers": broker.bootstrap_servers,
            "group.id": f"reader-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "topic.metadata.refresh.interval.ms": 500,
        }
    )
    reader.subscribe([topic])
    got: list = []
    deadline = time.monotonic() + wait_s
    try:
        while len(got) < count and time.monotonic() < deadline:
            message = reader.poll(0.5)
            if message is not None and message.error() is None:
                got.append(message)
    finally:
        reader.close()
    # Each run of records goes to the DLQ in a write of its own (a reject, then a delivery
    # limit, later): their order on the DLQ topic is not given (the first may wait for the
    # topic's auto-creation while the second finds it). By source offset:
    return sorted(got, key=_source_offset)


def _source_offset(message: object) -> int:
    headers = dict(message.headers() or [])  # type: ignore[attr-defined]
    return int(headers.get("__dlq.errors.offset", b"-1"))


def run_rejecting_consumer(
    broker: Target, work_dir: Path, classpath: str, name: str, group_settings: str
) -> None:
    """Topic ``name``: reject-0 (REJECTed), poison-1 (RELEASEd until the limit, 2), ok-2;
    the group ``name-g`` with ``group_settings``; one explicit-mode share consumer."""
    create_topic(broker, name)
    produce(broker, name, ["reject-0", "poison-1", "ok-2"])
    group_configs(
        broker,
        work_dir,
        f"{name}-g",
        "share.auto.offset.reset=earliest,share.delivery.count.limit=2," + group_settings,
    )
    got = deliveries(consumer(classpath, broker, f"{name}-g", name, "explicit"))
    by_offset: dict[int, list[int]] = {}
    for offset, count, _ in got:
        by_offset.setdefault(offset, []).append(count)
    # Either way they are never delivered again: archived once the DLQ write ended.
    assert by_offset == {0: [1], 1: [1, 2], 2: [1]}


def expected_headers(group: str, topic: str, offset: int, count: int, why: str) -> list:
    return [
        ("__dlq.errors.topic", topic.encode()),
        ("__dlq.errors.partition", b"0"),
        ("__dlq.errors.offset", str(offset).encode()),
        ("__dlq.errors.group", group.encode()),
        ("__dlq.errors.delivery.count", str(count).encode()),
        ("__dlq.errors.message", why.encode()),
    ]


def test_rejected_and_limit_records_copied_to_the_dlq(
    broker: Target, work_dir: Path, classpath: str
) -> None:
    create_topic(broker, "dlq.copy", {"errors.deadletterqueue.group.enable": "true"})
    run_rejecting_consumer(
        broker,
        work_dir,
        classpath,
        "src-copy",
        "errors.deadletterqueue.topic.name=dlq.copy,errors.deadletterqueue.copy.record.enable=true",
    )
    got = read_all(broker, "dlq.copy", 2)
    assert [(m.key(), m.value(), m.headers()) for m in got] == [
        (b"k-reject-0", b"reject-0", expected_headers("src-copy-g", "src-copy", 0, 1, REJECTED)),
        (b"k-poison-1", b"poison-1", expected_headers("src-copy-g", "src-copy", 1, 2, EXCEEDED)),
    ]
    assert all(m.timestamp()[0] == ck.TIMESTAMP_CREATE_TIME for m in got)


def test_headers_only_into_an_auto_created_dlq(
    broker: Target, work_dir: Path, classpath: str
) -> None:
    run_rejecting_consumer(
        broker, work_dir, classpath, "src-auto", "errors.deadletterqueue.topic.name=dlq.auto"
    )
    got = read_all(broker, "dlq.auto", 2)
    assert [(m.key(), m.value(), m.headers()) for m in got] == [
        (None, None, expected_headers("src-auto-g", "src-auto", 0, 1, REJECTED)),
        (None, None, expected_headers("src-auto-g", "src-auto", 1, 2, EXCEEDED)),
    ]
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    resource = ConfigResource(ConfigResource.Type.TOPIC, "dlq.auto")
    configs = admin.describe_configs([resource])[resource].result(timeout=30)
    assert configs["errors.deadletterqueue.group.enable"].value == "true"
    assert configs["message.timestamp.type"].value == "CreateTime"


def test_dlq_topic_not_enabled_or_outside_the_prefix_gets_nothing(
    broker: Target, work_dir: Path, classpath: str, caplog: pytest.LogCaptureFixture
) -> None:
    create_topic(broker, "dlq.off")  # errors.deadletterqueue.group.enable defaults to false
    create_topic(broker, "noprefix", {"errors.deadletterqueue.group.enable": "true"})
    run_rejecting_consumer(
        broker, work_dir, classpath, "src-off", "errors.deadletterqueue.topic.name=dlq.off"
    )
    run_rejecting_consumer(
        broker, work_dir, classpath, "src-np", "errors.deadletterqueue.topic.name=noprefix"
    )
    assert read_all(broker, "dlq.off", 1, wait_s=3) == []
    assert read_all(broker, "noprefix", 1, wait_s=3) == []
    if not isinstance(broker, ks.KafkaBroker):  # in this process: its log says why (Kafka's words)
        assert (
            "DLQ is not enabled on configured DLQ topic for share group: src-off-g" in caplog.text
        )
        assert (
            "Configured DLQ topic name does not comply with the DLQ topic prefix in share group: "
            "src-np-g, topic: noprefix, prefix: dlq." in caplog.text
        )


def test_internal_dlq_topic_name_refused(broker: Target, work_dir: Path) -> None:
    with pytest.raises(ks.KafkaToolError) as refused:
        group_configs(broker, work_dir, "bad-g", "errors.deadletterqueue.topic.name=__bad")
    assert "DLQ topic name must not start with '__'" in str(refused.value)
    assert "InvalidConfigurationException" in str(refused.value)
    # A valid one is accepted, and describe shows it.
    group_configs(broker, work_dir, "bad-g", "errors.deadletterqueue.topic.name=dlq.ok")
    described = ks.run_kafka_tool(
        CONFIG_COMMAND,
        [
            "--bootstrap-server",
            broker.bootstrap_servers,
            "--describe",
            "--entity-type",
            "groups",
            "--entity-name",
            "bad-g",
        ],
        work_dir=work_dir,
    )
    assert "errors.deadletterqueue.topic.name=dlq.ok" in described.stdout
