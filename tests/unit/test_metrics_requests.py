"""The request counters of server/metrics/requests.py without a broker: error counts of every
API's response, Produce's bytes and messages for acks=0, the histogram's bucket edges."""

from __future__ import annotations

import pytest

from ferrokafka.protocol import APIS
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.find_coordinator import FindCoordinatorResponse
from ferrokafka.protocol.messages.metadata import MetadataResponse
from ferrokafka.protocol.messages.produce import ProduceRequest
from ferrokafka.server.metrics.requests import (
    TIME_BUCKETS_MS,
    RequestMetrics,
    TimeHistogram,
    count_errors,
    count_response_errors,
)
from ferrokafka.storage import BatchBuilder

RECORDS = 3


@pytest.mark.parametrize("api_key", sorted(APIS))
def test_every_response_counts_without_failing(api_key: int) -> None:
    """A default response of each API: its top-level error_code (if any) counts once as NONE."""
    response = APIS[api_key].response_class()
    errors: dict[tuple[int, int], int] = {}
    count_errors(errors, api_key, response)
    has_top_level = any(f.name == "error_code" for f in type(response).SCHEMA)
    assert errors == ({(api_key, ec.NONE): 1} if has_top_level else {})


def test_nested_codes_count_as_kafka_error_counts() -> None:
    """Kafka's MetadataResponse.errorCounts: each topic's code and each partition's."""
    response = MetadataResponse(
        topics=[
            MetadataResponse.MetadataResponseTopic(
                name="a",
                error_code=ec.NONE,
                partitions=[
                    MetadataResponse.MetadataResponsePartition(error_code=ec.NONE),
                    MetadataResponse.MetadataResponsePartition(error_code=ec.LEADER_NOT_AVAILABLE),
                ],
            ),
            MetadataResponse.MetadataResponseTopic(
                name="b", error_code=ec.UNKNOWN_TOPIC_OR_PARTITION
            ),
        ]
    )
    errors: dict[tuple[int, int], int] = {}
    count_response_errors(errors, 3, response)
    assert errors == {  # not the top-level error_code (v13+), as Kafka
        (3, ec.NONE): 2,
        (3, ec.LEADER_NOT_AVAILABLE): 1,
        (3, ec.UNKNOWN_TOPIC_OR_PARTITION): 1,
    }


def test_acks_zero_produce_counts_bytes_and_messages() -> None:
    builder = BatchBuilder()
    for i in range(RECORDS):
        builder.append(b"v%d" % i)
    batch = builder.build()
    request = ProduceRequest(
        acks=0,
        topic_data=[
            ProduceRequest.TopicProduceData(
                name="t",
                partition_data=[ProduceRequest.PartitionProduceData(index=0, records=batch)],
            )
        ],
    )
    metrics = RequestMetrics()
    timing = metrics.received(0, request)
    metrics.answered(timing, None)  # acks=0: no answer, every partition appended
    metrics.sent([timing])
    assert metrics.bytes_in == {"t": len(batch)}
    assert metrics.messages_in == {"t": RECORDS}
    assert metrics.errors == {}  # no response: no error codes
    stats = metrics.apis[0]
    assert stats is not None and stats.requests == 1
    assert all(sum(h.counts) == 1 for h in stats.times)


def test_histogram_bucket_edges() -> None:
    histogram = TimeHistogram()
    histogram.observe(TIME_BUCKETS_MS[0])  # le is inclusive
    histogram.observe(TIME_BUCKETS_MS[-1] + 1)  # +Inf
    assert histogram.counts[0] == 1 and histogram.counts[-1] == 1
    assert sum(histogram.counts) == 2


def test_find_coordinator_counts_its_coordinators_not_the_top_level() -> None:
    response = FindCoordinatorResponse(
        coordinators=[
            FindCoordinatorResponse.Coordinator(key="g1"),
            FindCoordinatorResponse.Coordinator(key="g2", error_code=ec.COORDINATOR_NOT_AVAILABLE),
        ]
    )
    errors: dict[tuple[int, int], int] = {}
    count_response_errors(errors, 10, response)
    assert errors == {(10, ec.NONE): 1, (10, ec.COORDINATOR_NOT_AVAILABLE): 1}
    old = FindCoordinatorResponse(error_code=ec.COORDINATOR_LOAD_IN_PROGRESS)  # v0-3
    errors = {}
    count_response_errors(errors, 10, old)
    assert errors == {(10, ec.COORDINATOR_LOAD_IN_PROGRESS): 1}
