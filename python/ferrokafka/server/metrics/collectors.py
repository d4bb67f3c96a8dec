"""Prometheus collectors: the broker's state and counters, read when ``/metrics`` is scraped.

Imports prometheus_client, so it is imported only when metrics are on. Every family is built
at scrape time from what the broker holds (no background loop, no second copy of its state).
Names are what the Prometheus JMX exporter's usual Kafka rules make of Kafka's MBeans
(lower-cased, ``kafka_<domain>_<type>_<name>``, ``_total`` for the ``...PerSec`` meters);
consumer group lag uses kafka_exporter's names (``kafka_consumergroup_lag``), the exporter
most Kafka dashboards read it from.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)

from ferrokafka.protocol import APIS
from ferrokafka.protocol import error_codes as ec
from ferrokafka.server.metrics.requests import TIME_BUCKETS_MS, TIME_KINDS, RequestMetrics

if TYPE_CHECKING:
    from ferrokafka.server.broker import Broker

NO_LEADER = -1
_TOPIC_COUNTERS = (
    ("bytesin", "bytes_in", "Record batch bytes appended by Produce, by topic."),
    ("messagesin", "messages_in", "Records appended by Produce, by topic."),
    ("bytesout", "bytes_out", "Record bytes sent to consumers by Fetch, by topic."),
    ("totalproducerequests", "produce_requests", "Produce requests naming the topic."),
    ("failedproducerequests", "failed_produce_requests", "Produce requests failing on it."),
    ("totalfetchrequests", "fetch_requests", "Consumer Fetch requests naming the topic."),
    ("failedfetchrequests", "failed_fetch_requests", "Consumer Fetches failing on it."),
)
_BUCKET_BOUNDS = [*(repr(b) for b in TIME_BUCKETS_MS), "+Inf"]


class RequestCollector:
    """Request counts, times and errors, and the per-topic byte and message counters."""

    def __init__(self, requests: RequestMetrics) -> None:
        self._requests = requests

    def describe(self) -> list[Metric]:
        return []  # nothing known before the first scrape; no collect() at registration

    def collect(self) -> Iterator[Metric]:
        m = self._requests
        prefix = "kafka_server_brokertopicmetrics_"
        for name, attribute, doc in _TOPIC_COUNTERS:
            family = CounterMetricFamily(prefix + name, doc, labels=["topic"])
            for topic, value in sorted(getattr(m, attribute).items()):
                family.add_metric([topic], value)
            yield family
        yield CounterMetricFamily(
            prefix + "replicationbytesout",
            "Record bytes sent to follower replicas by Fetch.",
            value=m.replication_bytes_out,
        )
        requests = CounterMetricFamily(
            "kafka_network_requestmetrics_requests",
            "Requests answered, by API (Kafka's RequestsPerSec).",
            labels=["request"],
        )
        times = [
            HistogramMetricFamily(
                f"kafka_network_requestmetrics_{kind}",
                f"Request {kind[:-2]} in milliseconds, by API (see the README).",
                labels=["request"],
            )
            for kind in TIME_KINDS
        ]
        for key, stats in enumerate(m.apis):
            if stats is None:
                continue
            api = APIS[key].name
            requests.add_metric([api], stats.requests)
            for time_family, histogram in zip(times, stats.times, strict=True):
                cumulative, buckets = 0, []
                for bound, count in zip(_BUCKET_BOUNDS, histogram.counts, strict=True):
                    cumulative += count
                    buckets.append((bound, cumulative))
                time_family.add_metric([api], buckets, histogram.sum_ms)
        yield requests
        yield from times
        errors = CounterMetricFamily(
            "kafka_network_requestmetrics_errors",
            "Error codes in responses, by API and error (Kafka's ErrorsPerSec; NONE included).",
            labels=["request", "error"],
        )
        for (key, code), count in sorted(m.errors.items()):
            errors.add_metric([APIS[key].name, ec.error_name(code)], count)
        yield errors


class BrokerCollector:
    """Partitions, logs, the controller, groups and lag, connections: read from the broker."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        broker = self._broker
        yield GaugeMetricFamily(
            "kafka_server_socket_server_metrics_connection_count",
            "Open client connections, all listeners.",
            value=broker.server.connection_count,
        )
        yield from self._controller()
        node = broker.node
        if node is None:
            return
        yield from _replica_manager(node)
        yield from _logs(node)
        coordinator = node.group_coordinator
        if coordinator is not None:
            yield from _groups(coordinator, node)
        if node.share_partitions is not None:
            yield from _share_partitions(node)

    def _controller(self) -> Iterator[Metric]:
        broker = self._broker
        node = broker.node
        controller: Any = None
        if broker.kraft is not None:
            active = broker.kraft.is_active()
            controller = broker.kraft.controller
        else:
            controller = node.own_controller if node is not None else None
            active = controller is not None  # a single node's controller is the only one
        prefix = "kafka_controller_kafkacontroller_"
        yield GaugeMetricFamily(
            prefix + "activecontrollercount",
            "1 on the node whose controller is the active one, else 0.",
            value=int(active),
        )
        image = controller.image if active and controller is not None else None
        offline = topics = partitions = 0
        if image is not None:  # as in Kafka, only the active controller reports these
            for topic in image.topics_by_name.values():
                topics += 1
                for partition in topic.partitions.values():
                    partitions += 1
                    offline += partition.leader == NO_LEADER
        yield GaugeMetricFamily(
            prefix + "offlinepartitionscount",
            "Partitions without a leader (reported by the active controller).",
            value=offline,
        )
        yield GaugeMetricFamily(
            prefix + "globaltopiccount", "Topics (active controller).", value=topics
        )
        yield GaugeMetricFamily(
            prefix + "globalpartitioncount", "Partitions (active controller).", value=partitions
        )


def _replica_manager(node: Any) -> Iterator[Metric]:
    hosted = leaders = under_replicated = under_min_isr = 0
    for partition in node.replicas.partitions():
        hosted += 1
        if partition.is_leader:
            leaders += 1
            under_replicated += len(partition.isr) < len(partition.replicas)
            under_min_isr += partition.is_under_min_isr
    prefix = "kafka_server_replicamanager_"
    yield GaugeMetricFamily(prefix + "partitioncount", "Partitions hosted here.", value=hosted)
    yield GaugeMetricFamily(prefix + "leadercount", "Partitions led here.", value=leaders)
    yield GaugeMetricFamily(
        prefix + "underreplicatedpartitions",
        "Partitions led here whose ISR is smaller than their replica set.",
        value=under_replicated,
    )
    yield GaugeMetricFamily(
        prefix + "underminisrpartitioncount",
        "Partitions led here whose ISR is below min.insync.replicas.",
        value=under_min_isr,
    )


def _logs(node: Any) -> Iterator[Metric]:
    labels = ["topic", "partition"]
    size = GaugeMetricFamily("kafka_log_log_size", "Log size in bytes.", labels=labels)
    end = GaugeMetricFamily("kafka_log_log_logendoffset", "Log end offset.", labels=labels)
    start = GaugeMetricFamily("kafka_log_log_logstartoffset", "Log start offset.", labels=labels)
    for partition in node.replicas.partitions():
        log = partition.log
        key = [partition.topic, str(partition.partition)]
        size.add_metric(key, log.size_in_bytes)
        end.add_metric(key, log.log_end_offset)
        start.add_metric(key, log.log_start_offset)
    yield size
    yield end
    yield start
    logs = node.logs
    yield SummaryMetricFamily(
        "kafka_log_logflushstats_logflushrateandtimems",
        "Log flushes by the periodic flush pass (count) and that pass's time in ms (sum).",
        count_value=logs.flushes,
        sum_value=logs.flush_time_ms,
    )


def _groups(coordinator: Any, node: Any) -> Iterator[Metric]:
    counts: dict[tuple[str, str], int] = {}
    for group in coordinator.groups.values():
        key = (group.kind, group.state)
        counts[key] = counts.get(key, 0) + 1
    family = GaugeMetricFamily(
        "kafka_server_group_coordinator_metrics_group_count",
        "Groups this coordinator owns, by protocol (classic, consumer) and state.",
        labels=["protocol", "state"],
    )
    for (kind, state), count in sorted(counts.items()):
        family.add_metric([kind, state], count)
    yield family
    labels = ["consumergroup", "topic", "partition"]
    current = GaugeMetricFamily(
        "kafka_consumergroup_current_offset",
        "Committed offset of a group on a partition (groups this coordinator owns).",
        labels=labels,
    )
    lag = GaugeMetricFamily(
        "kafka_consumergroup_lag",
        "High watermark minus the committed offset, for partitions hosted on this broker.",
        labels=labels,
    )
    offsets = coordinator.offsets
    for group_id in offsets.group_ids():
        for (topic, index), committed in sorted(offsets.of_group(group_id).items()):
            series = [group_id, topic, str(index)]
            current.add_metric(series, committed.offset)
            partition = node.partition(topic, index)
            if partition is not None:
                lag.add_metric(series, partition.high_watermark - committed.offset)
    yield current
    yield lag


def _share_partitions(node: Any) -> Iterator[Metric]:
    """Kafka's kafka.server:type=SharePartitionMetrics gauges (KIP-1103), by group, topic and
    partition, for the share-partitions this broker leads and has loaded."""
    labels = ["group", "topic", "partition"]
    prefix = "kafka_server_sharepartitionmetrics_"
    records = GaugeMetricFamily(
        prefix + "inflightmessagecount",
        "Records in flight in a share-partition (from its start offset to its end offset).",
        labels=labels,
    )
    batches = GaugeMetricFamily(
        prefix + "inflightbatchcount",
        "Batches of in-flight records in a share-partition (runs in one state).",
        labels=labels,
    )
    rows = []
    for key, count, batch_count in node.share_partitions.in_flight():
        topic = node.image.topics_by_id.get(key.topic_id)
        name = topic.name if topic is not None else str(key.topic_id)
        rows.append(([key.group_id, name, str(key.partition)], count, batch_count))
    for series, count, batch_count in sorted(rows):
        records.add_metric(series, count)
        batches.add_metric(series, batch_count)
    yield records
    yield batches
