"""``request_percentage`` (Kafka's request time quota) with a real client: two confluent-kafka
producers send small messages one request at a time, one with client.id=busy, whose quota is
0.5 % of a handler thread (5 ms of handler time a second), the other with no quota. The busy
one's answers carry throttle_time_ms (librdkafka's per-broker ``throttle`` statistics) and it
gets much less done; the other is never throttled. No byte-rate quota is set, so the throttle
is the request quota's. Assertions are on ratios and on throttle seen or not, never on times.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from server_wire import RawClient

from ferrokafka.cluster.client_quotas import REQUEST_PERCENTAGE
from ferrokafka.protocol.messages.alter_client_quotas import AlterClientQuotasRequest as ACQ
from ferrokafka.testing import RunningBroker, run_broker

TOPIC = "rq"
BUSY_PERCENTAGE = 0.5
RUN_S = 6.0
STATS_INTERVAL_MS = 500
ADMIN_TIMEOUT_S = 30.0
FLUSH_TIMEOUT_S = 30.0
IDLE_OVER_BUSY_MIN = 3.0


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBroker]:
    overrides = {"quota.window.num": 3, "quota.window.size.seconds": 1}
    with run_broker(tmp_path_factory.mktemp("request-quota"), overrides) as running:
        request = ACQ(
            entries=[
                ACQ.EntryData(
                    entity=[ACQ.EntityData(entity_type="client-id", entity_name="busy")],
                    ops=[ACQ.OpData(key=REQUEST_PERCENTAGE, value=BUSY_PERCENTAGE)],
                )
            ]
        )
        with RawClient(running.bootstrap_servers) as client:
            answer = client.call(request, 1)
        assert [e.error_code for e in answer.entries] == [0]
        admin = AdminClient({"bootstrap.servers": running.bootstrap_servers})
        for future in admin.create_topics([NewTopic(TOPIC, 1, 1)]).values():
            future.result(timeout=ADMIN_TIMEOUT_S)
        yield running


def produce_for(bootstrap: str, client_id: str, seconds: float) -> tuple[int, int]:
    """(messages acknowledged, the largest throttle time librdkafka saw), one request in
    flight at a time, for ``seconds``."""
    throttles: list[int] = [0]

    def stats(raw: str) -> None:
        for broker in json.loads(raw)["brokers"].values():
            throttles.append(int(broker["throttle"]["max"]))

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "client.id": client_id,
            "linger.ms": 0,
            "max.in.flight.requests.per.connection": 1,
            "statistics.interval.ms": STATS_INTERVAL_MS,
            "stats_cb": stats,
        }
    )
    acked = [0]

    def delivered(err: object, _msg: object) -> None:
        if err is None:
            acked[0] += 1

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            producer.produce(TOPIC, b"x" * 100, on_delivery=delivered)
        except BufferError:
            producer.poll(0.05)
            continue
        producer.poll(0.001)
    producer.purge(in_queue=True, in_flight=False)
    producer.flush(FLUSH_TIMEOUT_S)
    producer.poll(STATS_INTERVAL_MS / 1000 * 2)  # one more statistics report
    return acked[0], max(throttles)


def test_request_percentage_throttles_only_its_client(broker: RunningBroker) -> None:
    results: dict[str, tuple[int, int]] = {}

    def run(client_id: str) -> None:
        results[client_id] = produce_for(broker.bootstrap_servers, client_id, RUN_S)

    threads = [threading.Thread(target=run, args=(c,)) for c in ("busy", "idle")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(RUN_S + FLUSH_TIMEOUT_S * 2)
    (busy_acked, busy_throttle), (idle_acked, idle_throttle) = results["busy"], results["idle"]
    assert busy_throttle > 0, results
    assert idle_throttle == 0, results
    assert busy_acked > 0, results
    assert idle_acked >= IDLE_OVER_BUSY_MIN * busy_acked, results
