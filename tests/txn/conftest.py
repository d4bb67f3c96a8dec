"""Transactions through real clients: a broker per test module or test, topics, and readers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ferrokafka.testing import RunningBroker, run_broker


@pytest.fixture
def txn_broker(tmp_path: Path) -> Iterator[RunningBroker]:
    with run_broker(tmp_path / "broker") as broker:
        yield broker
