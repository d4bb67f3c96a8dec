"""Fixtures for the protocol tests: the message samples every test draws on, and Apache Kafka
(the jars and one broker) for the tests that talk to the real thing.

Nothing is skipped: without Kafka's jars the tests that need them fail and say to run
``tests/kafka/fetch.sh``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import kafka_support as ks


@pytest.fixture(scope="session")
def kafka_classpath() -> str:
    """Kafka's classpath; fails (never skips) saying how to fetch it."""
    try:
        ks.java_executable()
        return ks.kafka_classpath()
    except ks.KafkaNotFetchedError as exc:
        problem = str(exc)
    pytest.fail(f"Apache Kafka is needed for this test: {problem}", pytrace=False)


@pytest.fixture(scope="module")
def kafka_broker(
    tmp_path_factory: pytest.TempPathFactory, kafka_classpath: str
) -> Iterator[ks.KafkaBroker]:
    """A running Apache Kafka broker for one test module, stopped after it."""
    broker = ks.KafkaBroker(tmp_path_factory.mktemp("kafka-broker"))
    broker.start()
    try:
        yield broker
    finally:
        broker.kill()
