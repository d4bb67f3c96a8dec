"""Fixtures for the cluster tests: a broker config and a controller on a temporary metadata
log, and Apache Kafka (jars, one broker) for the tests that read a log Kafka wrote.

Nothing is skipped: without Kafka's jars the tests that need them fail and say to run
``tests/kafka/fetch.sh``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import kafka_support as ks
from ferrokafka.cluster import Controller, SingleVoterLog
from ferrokafka.config import BrokerConfig, load_broker_config


@pytest.fixture(scope="session")
def kafka_classpath() -> str:
    """Kafka's classpath; fails (never skips) saying how to fetch it."""
    try:
        ks.java_executable()
        return ks.kafka_classpath()
    except ks.KafkaNotFetchedError as exc:
        problem = str(exc)
    pytest.fail(f"Apache Kafka is needed for this test: {problem}", pytrace=False)


@pytest.fixture
def broker_config(tmp_path: Path) -> BrokerConfig:
    return load_broker_config(None, {"log.dirs": str(tmp_path / "data")})


ControllerFactory = Callable[..., Controller]


@pytest.fixture
def make_controller(tmp_path: Path) -> Iterator[ControllerFactory]:
    """Start a controller (broker registered) on ``tmp_path/data``; a second call with the
    same directory is a restart. Every log is closed at teardown."""
    logs: list[SingleVoterLog] = []

    def make(overrides: dict[str, str] | None = None, register: bool = True) -> Controller:
        data = tmp_path / "data"
        config = load_broker_config(None, {"log.dirs": str(data), **(overrides or {})})
        log = SingleVoterLog(data)
        logs.append(log)
        controller = Controller(config, log)
        controller.start()
        if register:
            controller.register_broker()
        return controller

    yield make
    for log in logs:
        log.close()


@pytest.fixture
def controller(make_controller: ControllerFactory) -> Controller:
    return make_controller()
