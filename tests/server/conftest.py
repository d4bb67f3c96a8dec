"""Server tests: the in-process broker fixture users get, plus one with config overrides."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

# The fixture users import (the documented alternative to pytest_plugins, which pytest only
# honours in the rootdir's conftest).
from ferrokafka.testing import RunningBroker, ferrokafka_broker, run_broker  # noqa: F401


@pytest.fixture
def broker_with(tmp_path: Path) -> Callable[..., AbstractContextManager[RunningBroker]]:
    """``with broker_with(**{"max.connections": 2}) as b:`` -- a broker with overrides."""

    def start(**overrides: object) -> AbstractContextManager[RunningBroker]:
        return run_broker(tmp_path / "broker", overrides)

    return start
