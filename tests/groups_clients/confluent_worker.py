"""One confluent-kafka group consumer in its own process, for tests that kill it.

Usage: python confluent_worker.py BOOTSTRAP TOPIC GROUP STRATEGY DELAY_S RUN_S

It prints one JSON object per line on stdout: {"ev": "owned", "parts": [...]} after every
assignment change (the partitions it owns now), {"ev": "msg", "p": P, "o": O} for every
record, before committing it synchronously (a record printed is processed; one printed but not
committed, when the worker dies in between, is read again by the next owner), and
{"ev": "exit"} when RUN_S seconds are over. DELAY_S is slept per record, so the test can kill
the worker while it still owns work.
"""

from __future__ import annotations

import json
import sys
import time

from confluent_kafka import Consumer, KafkaException

SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 500


def emit(event: dict) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main(
    bootstrap: str, topic: str, group: str, strategy: str, delay_s: float, run_s: float
) -> None:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
            "partition.assignment.strategy": strategy,
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    owned: set[int] = set()

    def on_assign(c: Consumer, partitions: list) -> None:
        owned.update(p.partition for p in partitions)
        emit({"ev": "owned", "parts": sorted(owned)})

    def on_revoke(c: Consumer, partitions: list) -> None:
        owned.difference_update(p.partition for p in partitions)
        emit({"ev": "owned", "parts": sorted(owned)})

    consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    deadline = time.monotonic() + run_s
    while time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is None or message.error():
            continue
        emit({"ev": "msg", "p": message.partition(), "o": message.offset()})
        try:
            consumer.commit(message=message, asynchronous=False)
        except KafkaException:
            continue  # a rebalance took the partition: the new owner reads it again
        time.sleep(delay_s)
    consumer.close()
    emit({"ev": "exit"})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), float(sys.argv[6]))
