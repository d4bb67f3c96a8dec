"""High watermarks reach ``replication-offset-checkpoint`` while the broker runs, every
``replica.high.watermark.checkpoint.interval.ms`` (Kafka's ReplicaManager does the same), not
only at a clean shutdown: a broker killed later restarts from a recent high watermark."""

from __future__ import annotations

import time
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from ferrokafka.storage.checkpoints import REPLICATION_OFFSET_CHECKPOINT, read_offset_checkpoint
from ferrokafka.testing import run_broker

TOPIC = "hw-checkpointed"
RECORDS = 50
INTERVAL_MS = 200
WAIT_S = 30.0


def _checkpointed(data_dir: Path) -> int | None:
    # run_broker keeps its log dir in data/logs.
    offsets = read_offset_checkpoint(data_dir / "logs" / REPLICATION_OFFSET_CHECKPOINT)
    found = {tp: hw for tp, hw in offsets.items() if tp[0] == TOPIC}
    return next(iter(found.values()), None)


def test_high_watermarks_are_checkpointed_while_running(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    overrides = {"replica.high.watermark.checkpoint.interval.ms": INTERVAL_MS}
    with run_broker(data_dir, overrides) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        admin.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result(30)
        producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "acks": "all"})
        for i in range(RECORDS):
            producer.produce(TOPIC, f"v{i}".encode())
        assert producer.flush(30) == 0
        deadline = time.monotonic() + WAIT_S
        while _checkpointed(data_dir) != RECORDS and time.monotonic() < deadline:
            time.sleep(0.1)
        # Read while the broker still runs: only the periodic write can have put it there.
        assert _checkpointed(data_dir) == RECORDS
