"""Fixtures of the consumer group (KIP-848) tests."""

from __future__ import annotations

import pytest
from cg_wire import Wire


@pytest.fixture
def wire_to():
    opened: list[Wire] = []

    def connect(address: str) -> Wire:
        wire = Wire(address)
        opened.append(wire)
        return wire

    yield connect
    for wire in opened:
        wire.close()
