"""`ferrokafka serve` takes what start-up left alive out of the cyclic GC's reach, so a full
collection while serving does not walk the modules, protocol classes and metadata again (a
pause of milliseconds on the thread serving every connection). The in-process broker of
``ferrokafka.testing`` must leave its host process's GC alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from ferrokafka.config import load_broker_config
from ferrokafka.server import Broker
from ferrokafka.testing import run_broker
from ferrokafka_cli.serve import _serve

START_TIMEOUT_S = 60.0
# From listeners bound to the freeze: a registration and a collection, well under a second.
FREEZE_WAIT_S = 10.0
POLL_S = 0.01
LISTENERS = "PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0"


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Each test starts and ends with nothing frozen (freezing is process-wide)."""
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _tracked(target: object) -> bool:
    """Whether the cyclic GC still walks ``target`` (frozen objects are in no generation)."""
    return any(candidate is target for candidate in gc.get_objects())


def test_serve_freezes_what_start_up_left_alive(tmp_path: Path, unfrozen: None) -> None:
    config = load_broker_config(
        None,
        [f"listeners={LISTENERS}", f"advertised.listeners={LISTENERS}", f"log.dirs={tmp_path}"],
    )
    broker = Broker(config)
    seen: dict[str, object] = {}

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_serve, broker)
            with trio.fail_after(START_TIMEOUT_S):
                while not broker.bound_addresses or broker.node is None:
                    await trio.sleep(POLL_S)
            with trio.move_on_after(FREEZE_WAIT_S):
                while gc.get_freeze_count() == 0:
                    await trio.sleep(POLL_S)
            seen["frozen"] = gc.get_freeze_count()
            seen["node_tracked"] = _tracked(broker.node)
            seen["config_tracked"] = _tracked(broker.config)
            broker.request_shutdown()

    trio.run(main)
    # The whole start-up state, not a handful of objects: the broker's own modules alone are
    # thousands.
    assert seen["frozen"] > 10_000, seen
    assert seen["node_tracked"] is False and seen["config_tracked"] is False, seen


def test_in_process_broker_leaves_the_gc_alone(tmp_path: Path, unfrozen: None) -> None:
    with run_broker(tmp_path / "broker"):
        assert gc.get_freeze_count() == 0
