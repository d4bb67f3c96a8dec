"""The harness's broker-bound produce workload (bench.compare.raw) against a real broker
(ferrokafka in-process; the smoke test runs it against Kafka too): every pipelined request is
answered without an error, offsets advance one batch per request, and a refusal fails it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from bench.compare.brokers import create_topic
from bench.compare.clients import WorkloadError
from bench.compare.raw import raw_produce
from confluent_kafka import Consumer, TopicPartition

from ferrokafka.testing import run_broker

REQUESTS = 300
WARMUP = 50
RECORD_SIZE = 100
BATCH_RECORDS = 7
TIMEOUT_S = 60.0


def test_raw_produce_appends_every_batch_once(tmp_path: Path) -> None:
    with run_broker(tmp_path / "data") as broker:
        boot = broker.bootstrap_servers
        create_topic(boot, "raw", 1)
        figures = raw_produce(
            boot, "raw", REQUESTS, WARMUP, RECORD_SIZE, BATCH_RECORDS, time.process_time, TIMEOUT_S
        )
        assert figures["requests"] == REQUESTS
        assert figures["value_bytes"] == REQUESTS * BATCH_RECORDS * RECORD_SIZE
        assert figures["requests_per_s"] > 0 and figures["mb_per_s"] > 0
        assert figures["cpu_us_per_request"] > 0
        # librdkafka sees every record of warm-up and timed part: one batch per request.
        consumer = Consumer({"bootstrap.servers": boot, "group.id": "raw-check"})
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition("raw", 0), timeout=10)
        finally:
            consumer.close()
        assert (low, high) == (0, (REQUESTS + WARMUP) * BATCH_RECORDS)

        with pytest.raises(WorkloadError, match="error code 3"):  # UNKNOWN_TOPIC_OR_PARTITION
            raw_produce(boot, "absent", 5, 0, RECORD_SIZE, 1, time.process_time, TIMEOUT_S)
