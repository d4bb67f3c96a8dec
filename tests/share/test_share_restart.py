"""A broker restarted mid-stream under a share group (librdkafka's share consumer): the records
a consumer acknowledged are not delivered again, the ones it held without acknowledging are —
the share-partition's state comes back from ``__share_group_state`` through the share
coordinator, not from memory."""

from __future__ import annotations

import time
from pathlib import Path

import confluent_kafka as ck
import pytest
from tests.share.test_share_librdkafka import POLL_S, WAIT_S, prepare

from ferrokafka.testing import run_broker

pytestmark = pytest.mark.skipif(
    not hasattr(ck, "ShareConsumer"), reason="this confluent-kafka has no share consumer"
)
TOPIC, GROUP = "restart-t", "restart-g"
RECORDS = 10
ACCEPTED = 5  # offsets 0..4 acknowledged before the restart


def share_consumer(bootstrap: str) -> ck.ShareConsumer:
    consumer = ck.ShareConsumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": GROUP,
            "share.acknowledgement.mode": "explicit",
        }
    )
    consumer.subscribe([TOPIC])
    return consumer


def test_acknowledged_records_stay_done_across_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "broker"
    with run_broker(data) as broker:
        prepare(broker, TOPIC, GROUP, [f"v{i}" for i in range(RECORDS)])
        first = share_consumer(broker.bootstrap_servers)
        held: dict[int, int] = {}
        try:
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline and len(held) < RECORDS:
                for message in first.poll(POLL_S) or []:
                    assert message.error() is None, message.error()
                    held[message.offset()] = message.delivery_count()
                    if message.offset() < ACCEPTED:
                        first.acknowledge(message, ck.AcknowledgeType.ACCEPT)
            assert sorted(held) == list(range(RECORDS))
            first.commit_sync()
        finally:
            first.close()  # offsets 5..9 were never acknowledged
    with run_broker(data) as broker:
        second = share_consumer(broker.bootstrap_servers)
        again: list[tuple[int, int]] = []
        try:
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline and len(again) < RECORDS - ACCEPTED:
                for message in second.poll(POLL_S) or []:
                    assert message.error() is None, message.error()
                    again.append((message.offset(), message.delivery_count()))
                    second.acknowledge(message, ck.AcknowledgeType.ACCEPT)
                second.commit_sync()
            for _ in range(4):  # nothing else comes: 0..4 stay acknowledged
                for message in second.poll(POLL_S) or []:
                    again.append((message.offset(), message.delivery_count()))
        finally:
            second.close()
    assert sorted(offset for offset, _ in again) == list(range(ACCEPTED, RECORDS))
    # Delivered once before the restart: the count survived with the state.
    assert all(count >= 2 for _, count in again), again
