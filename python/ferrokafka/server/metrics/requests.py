"""Request metrics: counted by the connection as requests are answered, read at scrape time.

Nothing here imports prometheus_client: these are plain counters a connection bumps (a list
or dict increment per request, per partition for Produce and Fetch, never per record), and
:mod:`ferrokafka.server.metrics.collectors` turns them into metric families when scraped.

What each request's times mean (Kafka's RequestMetrics names; what we can and cannot separate):

- ``requestqueuetimems``: from the frame being read to its handler starting. Zero for a
  request answered at once in the reader (``answer_now``); for one handled by a task, the wait
  for the task to run and, for in-order APIs (Produce, OffsetCommit, OffsetFetch), for the
  connection's earlier request of those APIs (Kafka: waiting for an I/O thread).
- ``localtimems``: the handler's own time, *including* any wait for followers (acks=all) or a
  long-poll Fetch: Kafka's ``remotetimems`` is not separated here (not exported).
- ``responsesendtimems``: from the handler's answer to its send finishing (Kafka's response
  queue time and send time together: the answer waits for the answers before it on the
  connection, then is written).
- ``totaltimems``: from the frame being read to its send finishing.
- ``throttletimems`` is not exported: ferrokafka has no client quotas yet, so it is always 0.

Errors follow Kafka's ``AbstractResponse.errorCounts`` (NONE included): Produce one per
partition, Fetch the top level and one per partition, Metadata each topic and partition,
FindCoordinator v4+ each coordinator; any other API every ``error_code`` in the response, top
level and nested (where Kafka's response class counts a subset, this may count more).

Bytes in are the record batch bytes of each partition a Produce appended (the ``records``
field as sent: the whole batch v2, header included, as Kafka's ``records.sizeInBytes``);
messages in are the batches' record counts (the header's ``recordsCount``); a partition whose
append failed counts neither. Bytes out are the record bytes of each partition in a consumer's
Fetch response (a follower's go to ``replicationbytesout``, as in Kafka).
"""

from __future__ import annotations

import logging
import struct
import time
import uuid
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

from ferrokafka.protocol.schema import Message, Struct

log = logging.getLogger(__name__)

PRODUCE_KEY = 0
# The KRaft quorum replicates with Fetch too (controller listeners): its bytes are not topic
# traffic, and Kafka does not count them in BrokerTopicMetrics either.
METADATA_TOPIC = "__cluster_metadata"
FETCH_KEY = 1
METADATA_KEY = 3
FIND_COORDINATOR_KEY = 10
# The highest API key a counter list holds (Kafka's keys are below 100; 92 is the highest in 4.4).
API_KEYS_MAX = 128
# Upper bounds (ms) of the request-time histogram buckets: 0.1 ms (a produce answered at once
# on loopback) to 30 s (request.timeout.ms of most clients); +Inf is the last bucket.
TIME_BUCKETS_MS: tuple[float, ...] = (
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    5000.0,
    10000.0,
    30000.0,
)
# The request times kept per API, in TimeHistograms order (Kafka's RequestMetrics names).
TIME_KINDS = ("totaltimems", "requestqueuetimems", "localtimems", "responsesendtimems")
_TOTAL, _QUEUE, _LOCAL, _SEND = range(4)
# recordsCount in a record batch v2 (after baseOffset .. baseSequence: 57 bytes).
_RECORDS_COUNT = struct.Struct(">i")
_RECORDS_COUNT_AT = 57
_MS = 1000.0


class TimeHistogram:
    """Bucket counts and a sum, in milliseconds (a Prometheus histogram, kept cheaply)."""

    __slots__ = ("counts", "sum_ms")

    def __init__(self) -> None:
        self.counts = [0] * (len(TIME_BUCKETS_MS) + 1)  # the last one is +Inf
        self.sum_ms = 0.0

    def observe(self, ms: float) -> None:
        self.counts[bisect_left(TIME_BUCKETS_MS, ms)] += 1
        self.sum_ms += ms


class ApiStats:
    """One API's request count and time histograms."""

    __slots__ = ("requests", "times")

    def __init__(self) -> None:
        self.requests = 0
        self.times = tuple(TimeHistogram() for _ in TIME_KINDS)


class RequestTiming:
    """One request's instants (perf_counter seconds), from read to sent."""

    __slots__ = ("answered_at", "api_key", "received_at", "request", "started_at")

    def __init__(self, api_key: int, request: Any) -> None:
        self.api_key = api_key
        self.request = request  # kept until answered (Produce's bytes in), then dropped
        self.received_at = self.started_at = time.perf_counter()
        self.answered_at = 0.0

    def started(self) -> None:
        """The handler's task begins (after its queue wait)."""
        self.started_at = time.perf_counter()


class RequestMetrics:
    """Counters of every connection of one broker (all listeners)."""

    def __init__(self) -> None:
        self.apis: list[ApiStats | None] = [None] * API_KEYS_MAX
        # (api key, error code) -> responses' error codes counted (Kafka's errorCounts)
        self.errors: dict[tuple[int, int], int] = {}
        # topic -> counter, Kafka's BrokerTopicMetrics
        self.bytes_in: dict[str, int] = {}
        self.messages_in: dict[str, int] = {}
        self.bytes_out: dict[str, int] = {}
        self.produce_requests: dict[str, int] = {}
        self.failed_produce_requests: dict[str, int] = {}
        self.fetch_requests: dict[str, int] = {}
        self.failed_fetch_requests: dict[str, int] = {}
        self.replication_bytes_out = 0
        self._failed_apis: set[int] = set()
        # A topic id's name (Produce and Fetch v13+ name topics by id); the broker sets it.
        self.topic_name: Callable[[uuid.UUID], str | None] = lambda topic_id: None

    # -- the connection's hooks ---------------------------------------------------------------

    def received(self, api_key: int, request: Any) -> RequestTiming:
        return RequestTiming(api_key, request)

    def answered(self, timing: RequestTiming, response: Message | None) -> None:
        """The handler answered (``response`` None: nothing is sent, acks=0)."""
        timing.answered_at = time.perf_counter()
        key = timing.api_key
        try:
            if key == PRODUCE_KEY:
                self._produced(timing.request, response)  # counts its errors too
            elif key == FETCH_KEY and response is not None:
                self._fetched(timing.request, response)  # counts its errors too
            elif response is not None:
                count_response_errors(self.errors, key, response)
        except Exception:  # a metrics bug must never fail the request (it would close its
            # connection): logged once per API, the request answered as if metrics were off
            if key not in self._failed_apis:
                self._failed_apis.add(key)
                log.exception("metrics: counting a response of API key %d failed", key)
        timing.request = None

    def sent(self, timings: list[RequestTiming]) -> None:
        """These requests' answers were written (their send finished now)."""
        now = time.perf_counter()
        apis = self.apis
        bounds = TIME_BUCKETS_MS
        for timing in timings:
            stats = apis[timing.api_key]
            if stats is None:
                stats = apis[timing.api_key] = ApiStats()
            stats.requests += 1
            total, queue, local, send = stats.times
            received, started, answered = timing.received_at, timing.started_at, timing.answered_at
            # TimeHistogram.observe, inlined: this runs for every request.
            ms = (now - received) * _MS
            total.counts[bisect_left(bounds, ms)] += 1
            total.sum_ms += ms
            ms = (started - received) * _MS
            queue.counts[bisect_left(bounds, ms)] += 1
            queue.sum_ms += ms
            ms = (answered - started) * _MS
            local.counts[bisect_left(bounds, ms)] += 1
            local.sum_ms += ms
            ms = (now - answered) * _MS
            send.counts[bisect_left(bounds, ms)] += 1
            send.sum_ms += ms

    # -- per topic -----------------------------------------------------------------------------

    def _name(self, name: str, topic_id: uuid.UUID) -> str:
        if name:
            return name
        return self.topic_name(topic_id) or str(topic_id)

    def _produced(self, request: Any, response: Any) -> None:
        """Bytes and messages in of the partitions appended (all of them for acks=0, whose
        answer is no answer: a failure closes the connection instead), and the response's
        error codes (Kafka's ProduceResponse.errorCounts: one per partition)."""
        answers = response.responses if response is not None else None
        errors = self.errors
        bytes_in, messages_in = self.bytes_in, self.messages_in
        for t, topic in enumerate(request.topic_data):
            name = topic.name or self._name(topic.name, topic.topic_id)
            self.produce_requests[name] = self.produce_requests.get(name, 0) + 1
            failed = False
            parts = answers[t].partition_responses if answers is not None else None
            for p, data in enumerate(topic.partition_data):
                code = parts[p].error_code if parts is not None else 0
                if parts is not None:
                    errors[(PRODUCE_KEY, code)] = errors.get((PRODUCE_KEY, code), 0) + 1
                records = data.records
                if code or records is None:
                    failed = failed or bool(code)
                    continue
                size = len(records)
                bytes_in[name] = bytes_in.get(name, 0) + size
                if size >= _RECORDS_COUNT_AT + _RECORDS_COUNT.size:
                    count = _RECORDS_COUNT.unpack_from(records, _RECORDS_COUNT_AT)[0]
                    messages_in[name] = messages_in.get(name, 0) + count
            if failed:
                _bump(self.failed_produce_requests, name, 1)

    def _fetched(self, request: Any, response: Any) -> None:
        """Bytes out by topic (consumers) or replication bytes out (followers), and the
        response's error codes (Kafka's FetchResponse.errorCounts: the top level's, then one
        per partition)."""
        replica_id = request.replica_state.replica_id
        if replica_id < 0:
            replica_id = request.replica_id
        follower = replica_id >= 0
        errors = self.errors
        code = response.error_code
        errors[(FETCH_KEY, code)] = errors.get((FETCH_KEY, code), 0) + 1
        for topic in response.responses:
            name = self._name(topic.topic, topic.topic_id)
            if name == METADATA_TOPIC:  # a KRaft voter or observer fetching the quorum's log
                continue
            size = 0
            failed = False
            for part in topic.partitions:
                code = part.error_code
                errors[(FETCH_KEY, code)] = errors.get((FETCH_KEY, code), 0) + 1
                failed = failed or code != 0
                if part.records is not None:
                    size += len(part.records)
            if follower:
                self.replication_bytes_out += size
                continue
            _bump(self.fetch_requests, name, 1)
            if failed:
                _bump(self.failed_fetch_requests, name, 1)
            if size:
                _bump(self.bytes_out, name, size)


def _bump(counters: dict[str, int], key: str, by: int) -> None:
    counters[key] = counters.get(key, 0) + by


# Per message or struct class: whether it has an error_code field, and its struct-typed
# fields (name, is a list). Built once per class.
_Plan = tuple[bool, tuple[tuple[str, bool], ...]]
_PLANS: dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        has_error = False
        nested: list[tuple[str, bool]] = []
        for f in cls.SCHEMA:  # type: ignore[attr-defined]
            if f.name == "error_code":
                has_error = True
            kind = f.type[2:] if f.type.startswith("[]") else f.type
            if kind[:1].isupper():  # a struct type (primitives are lower case)
                nested.append((f.name, f.type.startswith("[]")))
        plan = _PLANS[cls] = (has_error, tuple(nested))
    return plan


def count_response_errors(errors: dict[tuple[int, int], int], api_key: int, response: Any) -> None:
    """Kafka's ``errorCounts`` of ``response``: every error_code in it, but where Kafka's
    response class counts fewer (Metadata: topics and partitions, not the top level;
    FindCoordinator v4+: the coordinators, not the top level)."""
    if api_key == METADATA_KEY:
        for topic in response.topics:
            count_errors(errors, api_key, topic)
    elif api_key == FIND_COORDINATOR_KEY and response.coordinators:
        for coordinator in response.coordinators:
            count_errors(errors, api_key, coordinator)
    else:
        count_errors(errors, api_key, response)


def count_errors(errors: dict[tuple[int, int], int], api_key: int, message: Any) -> None:
    """Count every error_code in ``message`` (nested structs and lists of them included)."""
    has_error, nested = _plan(type(message))
    if has_error:
        key = (api_key, message.error_code)
        errors[key] = errors.get(key, 0) + 1
    for name, is_list in nested:
        value = getattr(message, name, None)
        if value is None:
            continue
        if is_list:
            for item in value:
                if isinstance(item, Struct):
                    count_errors(errors, api_key, item)
        elif isinstance(value, Struct):
            count_errors(errors, api_key, value)
