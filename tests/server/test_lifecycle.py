"""The broker's lifecycle manager (Kafka's BrokerLifecycleManager) against a scripted
controller channel, on trio's autojump clock: registration retried while refused and bounded
by initial.broker.registration.timeout.ms, unfenced by a heartbeat, heartbeats every
broker.heartbeat.interval.ms carrying the metadata offset, paused and resumed, and a
controlled shutdown that waits for should_shut_down."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

from ferrokafka.config import load_broker_config
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.broker_heartbeat import (
    BrokerHeartbeatRequest,
    BrokerHeartbeatResponse,
)
from ferrokafka.protocol.messages.broker_registration import (
    BrokerRegistrationRequest,
    BrokerRegistrationResponse,
)
from ferrokafka.server.lifecycle import BrokerLifecycleManager, BrokerState, RegistrationError

HEARTBEAT_MS = 200


class ScriptedChannel:
    def __init__(self, refusals: int, fenced_heartbeats: int, shutdown_after: int) -> None:
        self.refusals = refusals
        self.fenced_heartbeats = fenced_heartbeats
        self.shutdown_after = shutdown_after
        self.registrations: list[BrokerRegistrationRequest] = []
        self.heartbeats: list[tuple[float, BrokerHeartbeatRequest]] = []

    async def broker_registration(self, request):
        self.registrations.append(request)
        if len(self.registrations) <= self.refusals:
            return BrokerRegistrationResponse(error_code=ec.DUPLICATE_BROKER_REGISTRATION)
        return BrokerRegistrationResponse(broker_epoch=42)

    async def broker_heartbeat(self, request):
        self.heartbeats.append((trio.current_time(), request))
        if request.broker_epoch != 42:
            return BrokerHeartbeatResponse(error_code=ec.STALE_BROKER_EPOCH)
        fenced = len(self.heartbeats) <= self.fenced_heartbeats
        wants = [h for _, h in self.heartbeats if h.want_shut_down]
        done = request.want_shut_down and len(wants) >= self.shutdown_after
        return BrokerHeartbeatResponse(
            is_caught_up=True, is_fenced=fenced or done, should_shut_down=done
        )


def _manager(tmp_path: Path, channel: ScriptedChannel, offset: list[int]) -> BrokerLifecycleManager:
    config = load_broker_config(
        None,
        {
            "log.dirs": str(tmp_path),
            "node.id": 3,
            "broker.rack": "r9",
            "broker.heartbeat.interval.ms": HEARTBEAT_MS,
            "initial.broker.registration.timeout.ms": 5_000,
        },
    )
    return BrokerLifecycleManager(config, channel, "cid", lambda: offset[0])  # type: ignore[arg-type]


def test_register_unfence_heartbeat_pause_and_shut_down(tmp_path: Path) -> None:
    channel = ScriptedChannel(refusals=2, fenced_heartbeats=2, shutdown_after=2)
    offset = [7]
    before_pause = [0]

    async def main() -> None:
        manager = _manager(tmp_path, channel, offset)
        async with trio.open_nursery() as nursery:
            await nursery.start(manager.run, [], [])
            assert manager.broker_epoch == 42 and manager.state is BrokerState.RECOVERY
            await manager.wait_unfenced()
            assert manager.state is BrokerState.RUNNING and not manager.fenced
            offset[0] = 9
            await trio.sleep(HEARTBEAT_MS * 3 / 1000 + 0.01)
            count = before_pause[0] = len(channel.heartbeats)
            manager.pause_heartbeats()
            await trio.sleep(HEARTBEAT_MS * 5 / 1000)
            assert len(channel.heartbeats) == count
            manager.resume_heartbeats()
            await trio.sleep(0.001)
            assert len(channel.heartbeats) == count + 1
            assert await manager.controlled_shutdown()
            assert manager.state is BrokerState.SHUTTING_DOWN

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert len(channel.registrations) == 3
    request = channel.registrations[-1]
    assert (request.broker_id, request.cluster_id, request.rack) == (3, "cid", "r9")
    # What this implementation supports: metadata.version up to 4.4-IV2, group.version 1,
    # eligible.leader.replicas.version 1, transaction.version 2, share.version 2 and (as
    # Kafka's brokers register it, for the controller's upgrade check) kraft.version 1; no
    # clean-shutdown marker was read: epoch -1.
    assert [
        (f.name, f.min_supported_version, f.max_supported_version) for f in request.features
    ] == [
        ("metadata.version", 7, 33),
        ("group.version", 0, 1),
        ("eligible.leader.replicas.version", 0, 1),
        ("transaction.version", 0, 2),
        ("share.version", 0, 2),
        ("kraft.version", 0, 1),
    ]
    assert request.previous_broker_epoch == -1
    # Before the pause, one heartbeat per interval (the first at once after registering).
    times = [t for t, _ in channel.heartbeats[: before_pause[0]]]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(gaps) >= 4 and all(abs(g - HEARTBEAT_MS / 1000) < 0.001 for g in gaps)
    assert channel.heartbeats[-1][1].current_metadata_offset == 9
    assert channel.heartbeats[-1][1].want_shut_down


def test_a_registration_refused_for_ever_fails_start(tmp_path: Path) -> None:
    channel = ScriptedChannel(refusals=10**9, fenced_heartbeats=0, shutdown_after=1)

    async def main() -> None:
        manager = _manager(tmp_path, channel, [0])
        with pytest.raises(RegistrationError, match="not registered within 5.0 s"):
            await manager.run([], [])

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    # Kafka's backoff, doubling from 100 ms (2% jitter): tries at about 0, 0.1, 0.3, 0.7, 1.5
    # and 3.1 s; the next (6.3 s) is past the 5 s registration timeout.
    assert len(channel.registrations) == 6


def test_a_failed_log_dir_is_in_the_next_heartbeat_sent_at_once(tmp_path: Path) -> None:
    """Kafka's offlineLogDirs: a log dir failure is heartbeated at once, not at the next
    interval, and in every heartbeat after."""
    import uuid

    channel = ScriptedChannel(refusals=0, fenced_heartbeats=0, shutdown_after=1)
    failed: list[uuid.UUID] = []
    dead = uuid.uuid4()

    async def main() -> None:
        manager = _manager(tmp_path, channel, [0])
        manager.offline_log_dirs = lambda: list(failed)
        async with trio.open_nursery() as nursery:
            await nursery.start(manager.run, [], [])
            await manager.wait_unfenced()
            await trio.sleep(HEARTBEAT_MS / 1000 / 4)
            sent = len(channel.heartbeats)
            assert all(not h.offline_log_dirs for _, h in channel.heartbeats)
            failed.append(dead)
            failed_at = trio.current_time()
            manager.heartbeat_now()
            await trio.sleep(HEARTBEAT_MS / 1000 / 8)
            at, request = channel.heartbeats[sent]
            assert at == failed_at and request.offline_log_dirs == [dead]
            await trio.sleep(HEARTBEAT_MS / 1000 * 2)
            assert all(h.offline_log_dirs == [dead] for _, h in channel.heartbeats[sent:])
            nursery.cancel_scope.cancel()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
