"""The ``ferrokafka_broker`` pytest fixture: a fresh in-process broker per test.

Enable it with ``pytest_plugins = ["ferrokafka.testing"]`` in a ``conftest.py``, then::

    def test_produce(ferrokafka_broker):
        producer = confluent_kafka.Producer(
            {"bootstrap.servers": ferrokafka_broker.bootstrap_servers}
        )
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ferrokafka.testing.broker import RunningBroker, run_broker


@pytest.fixture
def ferrokafka_broker(tmp_path: Path) -> Iterator[RunningBroker]:
    """A broker on an ephemeral loopback port with its data under ``tmp_path``."""
    with run_broker(tmp_path / "ferrokafka") as broker:
        yield broker
