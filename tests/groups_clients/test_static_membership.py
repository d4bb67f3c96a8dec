"""KIP-345 static membership with confluent-kafka (group.instance.id): a static member that
restarts within its session timeout gets its partitions back without a rebalance (the
generation stays, the other member sees no revocation), and its old member id is fenced."""

from __future__ import annotations

import threading
import time

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic

from ferrokafka.testing import run_broker

TIMEOUT_S = 60
OVERRIDES = {"group.initial.rebalance.delay.ms": 0, "offsets.topic.num.partitions": 2}


def _consumer(bootstrap: str, instance: str, events: list[str]) -> Consumer:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "static",
            "group.instance.id": instance,
            "session.timeout.ms": 20_000,
            "heartbeat.interval.ms": 500,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe(
        ["t"],
        on_assign=lambda c, ps: events.append("assign " + ",".join(str(p.partition) for p in ps)),
        on_revoke=lambda c, ps: events.append("revoke " + ",".join(str(p.partition) for p in ps)),
    )
    return consumer


def _poll_until(consumer: Consumer, condition, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, what
        consumer.poll(0.2)


def test_static_member_restart_keeps_its_partitions() -> None:
    with run_broker(None, OVERRIDES) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        admin.create_topics([NewTopic("t", 4, 1)])["t"].result(30)
        coordinator = broker.broker.node.group_coordinator
        b_events: list[str] = []
        b = _consumer(broker.bootstrap_servers, "b", b_events)
        _poll_until(b, lambda: len(b.assignment()) == 4, "b alone owns everything")
        a_events: list[str] = []
        a = _consumer(broker.bootstrap_servers, "a", a_events)
        stop = threading.Event()

        def poll_b() -> None:
            while not stop.is_set():
                b.poll(0.2)

        poller = threading.Thread(target=poll_b, daemon=True)
        poller.start()
        try:
            _poll_until(a, lambda: len(a.assignment()) == 2, "a owns two partitions")
            deadline = time.monotonic() + TIMEOUT_S
            while coordinator.groups["static"].state != "Stable":
                assert time.monotonic() < deadline
                time.sleep(0.1)
            group = coordinator.groups["static"]
            generation = group.generation_id
            a_parts = sorted(p.partition for p in a.assignment())
            old_id = group.static_members["a"]
            b_seen = len(b_events)
            a.close()  # a static member sends no LeaveGroup
            a2_events: list[str] = []
            a2 = _consumer(broker.bootstrap_servers, "a", a2_events)
            _poll_until(a2, lambda: len(a2.assignment()) == 2, "the restarted a owns two")
            assert sorted(p.partition for p in a2.assignment()) == a_parts
            time.sleep(2)  # b would see a rebalance within a few heartbeats
            assert group.generation_id == generation
            assert group.static_members["a"] != old_id
            assert old_id not in group.members
            assert b_events[b_seen:] == []
            a2.close()
        finally:
            stop.set()
            poller.join(30)
            b.close()
