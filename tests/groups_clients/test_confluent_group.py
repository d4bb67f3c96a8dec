"""Three confluent-kafka (librdkafka) consumers in one classic group on a 6-partition topic, each
its own process: every partition has exactly one owner; one is SIGKILLed (no LeaveGroup), the
coordinator notices by its session timeout (6 s), and the others take its partitions over
from the committed offsets, so every record is read and none skipped. Once with the eager
range assignor (opt-in: FERROKAFKA_MORE_VARIANTS=1; eager rebalances run in other client
tests), once with cooperative-sticky (incremental rebalances)."""

from __future__ import annotations

import signal
import time

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from group_workers import Workers

from ferrokafka.testing import run_broker
from kafka_support.opt_in import VARIANT_OPT_IN

PARTITIONS = 6
RECORDS_PER_PARTITION = 60
# Per record: 60 records x 2 partitions x 0.05 s = 6 s of work per worker, so the victim
# still owns unread records when it is killed.
DELAY_S = 0.05
WORKER_RUN_S = 150
STABLE_TIMEOUT_S = 60
DONE_TIMEOUT_S = 90
SESSION_TIMEOUT_S = 6
OVERRIDES = {"group.initial.rebalance.delay.ms": 500, "offsets.topic.num.partitions": 5}


def _produce(bootstrap: str, topic: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for p in range(PARTITIONS):
        for i in range(RECORDS_PER_PARTITION):
            producer.produce(topic, f"{p}-{i}".encode(), partition=p)
    assert producer.flush(30) == 0


@pytest.mark.parametrize(
    "strategy", [pytest.param("range", marks=VARIANT_OPT_IN), "cooperative-sticky"]
)
def test_three_consumers_kill_one(strategy: str) -> None:
    topic, group = "events", f"g-{strategy}"
    with run_broker(None, OVERRIDES) as broker:
        _produce(broker.bootstrap_servers, topic)
        workers = Workers()
        try:
            for _ in range(3):
                workers.start(
                    broker.bootstrap_servers,
                    topic,
                    group,
                    strategy,
                    str(DELAY_S),
                    str(WORKER_RUN_S),
                )
            live = list(workers.workers)

            def balanced() -> bool:
                owned = [w.owned for w in live]
                return all(len(o) == 2 for o in owned) and set().union(*owned) == set(
                    range(PARTITIONS)
                )

            workers.wait_until(balanced, STABLE_TIMEOUT_S, "3 owners of 2 partitions each")
            victim = live[0]
            victim_parts = set(victim.owned)
            workers.wait_until(
                lambda: sum(1 for _, p, _ in victim.records if p in victim_parts) >= 4,
                STABLE_TIMEOUT_S,
                "the victim reading",
            )
            victim.process.send_signal(signal.SIGKILL)
            victim.process.wait(timeout=30)
            killed_at = time.monotonic()
            workers.pump(0.5)  # the victim's last lines
            last_seen = {
                p: max((o for _, q, o in victim.records if q == p), default=-1)
                for p in victim_parts
            }
            survivors = live[1:]

            def taken_over() -> bool:
                owned = [w.owned for w in survivors]
                return set().union(*owned) == set(range(PARTITIONS)) and not (owned[0] & owned[1])

            workers.wait_until(taken_over, DONE_TIMEOUT_S, "the survivors owning everything")
            takeover_s = time.monotonic() - killed_at

            def all_read() -> bool:
                seen = {(p, o) for w in live for _, p, o in w.records}
                return len(seen) == PARTITIONS * RECORDS_PER_PARTITION

            workers.wait_until(all_read, DONE_TIMEOUT_S, "every record read")
        finally:
            workers.close()
    # Noticed by the session timeout, not by a LeaveGroup (a kill sends none).
    assert takeover_s >= SESSION_TIMEOUT_S - 2, takeover_s
    seen = {(p, o) for w in live for _, p, o in w.records}
    assert seen == {(p, o) for p in range(PARTITIONS) for o in range(RECORDS_PER_PARTITION)}
    for p in victim_parts:
        after = [o for w in survivors for at, q, o in w.records if q == p and at > killed_at]
        # The committed offset is the victim's last record or the one after (it dies between
        # printing and committing at worst): the new owner starts there, not at 0.
        assert after, f"nobody read partition {p} after the kill"
        assert last_seen[p] <= min(after) <= last_seen[p] + 1, (p, last_seen[p], min(after))
