"""The coordinator's timers on trio's MockClock and a ManualWallClock (no sleeping through the
intervals): a transaction past its timeout is aborted at the next cleanup pass, with its
producer fenced; one within it is not; an idle transactional id expires at the next removal
pass once transactional.id.expiration.ms has passed, an ongoing one never."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing
from txn_wire import FakeLeader

from ferrokafka.coordinator import ManualWallClock
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.testing.broker import open_broker
from ferrokafka.txn.coordinator import TransactionCoordinator
from ferrokafka.txn.metadata import TxnState

ABORT_INTERVAL_MS = 10_000
EXPIRE_INTERVAL_MS = 3_600_000
# Records are stamped with the wall clock, which the log checks against the machine's
# (log.message.timestamp.after.max.ms, an hour): the test moves it less than that.
EXPIRATION_MS = 600_000
OVERRIDES = {
    "transaction.state.log.num.partitions": 1,
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": ABORT_INTERVAL_MS,
    "transaction.remove.expired.transaction.cleanup.interval.ms": EXPIRE_INTERVAL_MS,
    "transactional.id.expiration.ms": EXPIRATION_MS,
}
STEP_S = 0.05
STEPS_MAX = 400


async def settle(condition: object) -> bool:
    """Let the broker's tasks run (bounded) until ``condition()`` holds."""
    for _ in range(STEPS_MAX):
        if condition():  # type: ignore[operator]
            return True
        await trio.sleep(STEP_S)
    return bool(condition())  # type: ignore[operator]


def test_timeouts_and_expiry_on_the_mock_clock(tmp_path: Path) -> None:
    clock = trio.testing.MockClock(rate=1.0)
    wall = ManualWallClock()

    async def main() -> None:
        async with open_broker(tmp_path, OVERRIDES, wall_clock=wall) as running:
            node = running.broker.node
            assert node is not None and node.txn_coordinator is not None
            txn: TransactionCoordinator = node.txn_coordinator
            fake = FakeLeader()
            txn.markers.send_local = fake
            created = await node.controller_channel.create_topics(
                CreateTopicsRequest(
                    topics=[
                        CreateTopicsRequest.CreatableTopic(
                            name="t", num_partitions=1, replication_factor=1
                        )
                    ],
                    timeout_ms=10_000,
                )
            )
            assert created.topics[0].error_code == 0
            assert await txn.ensure_topic() == ec.NONE
            assert await settle(lambda: txn.error_code("short") == ec.NONE)
            short = await txn.init_producer_id("short", 20_000, None)
            long = await txn.init_producer_id("long", 900_000, None)
            idle = await txn.init_producer_id("idle", 60_000, None)
            assert short.error == long.error == idle.error == ec.NONE
            for result, txn_id in ((short, "short"), (long, "long")):
                code = await txn.add_partitions(
                    txn_id, result.producer_id, result.producer_epoch, [("t", 0)]
                )
                assert code == ec.NONE

            # Past the short timeout (wall clock), then the next cleanup pass (trio clock).
            wall.advance(20_001)
            clock.jump(ABORT_INTERVAL_MS / 1000)
            assert await settle(lambda: txn.describe("short")[1].state == TxnState.COMPLETE_ABORT)  # type: ignore[union-attr]
            _, aborted = txn.describe("short")
            assert aborted is not None and aborted.producer_epoch == short.producer_epoch + 1
            (marker,) = fake.markers()
            assert (marker.producer_id, marker.transaction_result) == (short.producer_id, False)
            assert txn.describe("long")[1].state == TxnState.ONGOING  # type: ignore[union-attr]
            fenced = await txn.end_txn("short", short.producer_id, short.producer_epoch, True, 0)
            assert fenced.error == ec.PRODUCER_FENCED

            # Idle for the expiration time, then the next removal pass.
            wall.advance(EXPIRATION_MS)
            clock.jump(EXPIRE_INTERVAL_MS / 1000)
            assert await settle(lambda: txn.describe("idle")[0] == ec.TRANSACTIONAL_ID_NOT_FOUND)
            assert txn.describe("short")[0] == ec.TRANSACTIONAL_ID_NOT_FOUND  # completed, idle
            # An ongoing transaction (within its timeout still) never expires.
            _, kept = txn.describe("long")
            assert kept is not None and kept.state == TxnState.ONGOING

    trio.run(main, clock=clock)
