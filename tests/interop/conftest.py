"""Fixtures for the interop tests: Apache Kafka's jars, one real Kafka broker per session, and
the logs that broker wrote for a known workload (see kafka_support/workload.py).

Nothing here is skipped: without Kafka's jars every test that needs them fails and says to run
``tests/kafka/fetch.sh``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import kafka_support as ks
from kafka_support.workload import KafkaWrittenLogs, write_workload


@pytest.fixture(scope="session")
def kafka_classpath() -> str:
    """Kafka's classpath; fails (never skips) saying how to fetch it."""
    try:
        ks.java_executable()
        return ks.kafka_classpath()
    except ks.KafkaNotFetchedError as exc:
        problem = str(exc)
    # Outside the except block, so the report is this one line and not a chained traceback.
    pytest.fail(f"Apache Kafka is needed for the interop tests: {problem}", pytrace=False)


@pytest.fixture(scope="session")
def kafka_tool_dir(tmp_path_factory: pytest.TempPathFactory, kafka_classpath: str) -> Path:
    """Scratch directory for Kafka's command-line tools (their log4j config)."""
    return tmp_path_factory.mktemp("kafka-tools")


@pytest.fixture(scope="session")
def kafka_broker(
    tmp_path_factory: pytest.TempPathFactory, kafka_classpath: str
) -> Iterator[ks.KafkaBroker]:
    """The session's one Apache Kafka broker, running.

    ``kafka_written_logs`` stops it once its workload is written, since tests read Kafka's
    files at rest; a later user can ``start()`` it again on the same data directory.
    """
    broker = ks.KafkaBroker(tmp_path_factory.mktemp("kafka-broker"))
    broker.start()
    try:
        yield broker
    finally:
        if broker.is_running:
            broker.stop()


@pytest.fixture(scope="session")
def kafka_written_logs(kafka_broker: ks.KafkaBroker, kafka_tool_dir: Path) -> KafkaWrittenLogs:
    """Kafka's logs for the workload, after a clean shutdown, with Kafka's own dump of them."""
    return write_workload(kafka_broker, kafka_tool_dir)
