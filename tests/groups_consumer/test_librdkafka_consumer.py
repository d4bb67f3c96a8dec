"""librdkafka (confluent-kafka) with ``group.protocol=consumer`` (KIP-848) against ferrokafka:
two consumers split the partitions, consume every record once and commit; when one closes the
other takes its partitions; a new member of the group resumes after the committed offsets."""

from __future__ import annotations

import time
from pathlib import Path

from cg_wire import create_topic
from confluent_kafka import Consumer, Producer

from ferrokafka.testing import run_broker

OVERRIDES = {"group.consumer.heartbeat.interval.ms": 1000}
WAIT_S = 60.0
POLL_S = 0.2
FLUSH_TIMEOUT_S = 30.0
PARTITIONS = 4


def consumer(bootstrap: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "rg",
            "group.protocol": "consumer",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )


def produce(bootstrap: str, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i, value in enumerate(values):
        producer.produce("rt", value=value, partition=i % PARTITIONS)
    assert producer.flush(FLUSH_TIMEOUT_S) == 0


def poll_until(consumers: list[Consumer], done, got: list[bytes], what: str) -> None:
    """Poll every consumer (committing what it read) until ``done()``, within WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while not done():
        assert time.monotonic() < deadline, f"no {what} within {WAIT_S}s"
        for c in consumers:
            message = c.poll(POLL_S)
            if message is None:
                continue
            assert message.error() is None, message.error()
            got.append(message.value())
            c.commit(message=message, asynchronous=False)


def parts(c: Consumer) -> set[int]:
    return {tp.partition for tp in c.assignment()}


def test_librdkafka_split_takeover_and_resume(tmp_path: Path) -> None:
    with run_broker(tmp_path / "b", OVERRIDES) as broker:
        bootstrap = broker.bootstrap_servers
        create_topic(bootstrap, "rt", PARTITIONS)
        first = [b"r-%d" % i for i in range(40)]
        produce(bootstrap, first)
        got: list[bytes] = []

        a = consumer(bootstrap)
        a.subscribe(["rt"])
        poll_until([a], lambda: parts(a) == set(range(PARTITIONS)), got, "first assignment")
        b = consumer(bootstrap)
        b.subscribe(["rt"])
        poll_until(
            [a, b],
            lambda: (
                len(parts(a)) == 2
                and len(parts(b)) == 2
                and parts(a) | parts(b) == set(range(PARTITIONS))
            ),
            got,
            "a 2/2 split",
        )
        poll_until([a, b], lambda: len(got) >= len(first), got, "every record")
        assert sorted(got) == sorted(first)  # each once: commits follow every record

        b.close()  # leaves the group
        poll_until([a], lambda: parts(a) == set(range(PARTITIONS)), got, "the takeover")
        a.close()

        new = [b"n-%d" % i for i in range(4)]
        produce(bootstrap, new)
        resumed: list[bytes] = []
        c = consumer(bootstrap)
        c.subscribe(["rt"])
        try:
            poll_until([c], lambda: len(resumed) >= len(new), resumed, "the new records")
            # Nothing more arrives: the old records stay behind the committed offsets.
            end = time.monotonic() + 3
            while time.monotonic() < end:
                message = c.poll(POLL_S)
                if message is not None and message.error() is None:
                    resumed.append(message.value())
            assert sorted(resumed) == sorted(new)
        finally:
            c.close()
