"""The metrics endpoint: ``/metrics`` (Prometheus text format), ``/healthz`` and ``/readyz``.

Built by the :class:`~ferrokafka.server.broker.Broker` only when ``ferrokafka.metrics.port``
is set, and run in its nursery; prometheus_client is imported here, so a broker without
metrics never loads it. The registry is private to the broker (several brokers may share a
test process) and holds the request and broker collectors plus prometheus_client's
ProcessCollector (``process_cpu_seconds_total``, ``process_resident_memory_bytes``,
``process_open_fds``, ...).

``/healthz`` is 200 while the process serves the port at all. ``/readyz`` is 200 once the
broker is started (listening, logs loaded, registered and caught up with the metadata, on a
cluster node unfenced by the controller) and not shutting down; otherwise 503 with one line
saying what it waits for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.process_collector import ProcessCollector

from ferrokafka.server.metrics.collectors import BrokerCollector, RequestCollector
from ferrokafka.server.metrics.http import HttpResponse, HttpServer, text
from ferrokafka.server.metrics.requests import RequestMetrics

if TYPE_CHECKING:
    from ferrokafka.server.broker import Broker


class MetricsEndpoint:
    """The HTTP endpoint of one broker's metrics and health."""

    def __init__(self, broker: Broker, requests: RequestMetrics, host: str, port: int) -> None:
        self._broker = broker
        self.requests = requests
        requests.topic_name = self._topic_name
        self.registry = CollectorRegistry()
        self.registry.register(RequestCollector(requests))
        self.registry.register(BrokerCollector(broker))
        ProcessCollector(registry=self.registry)
        self.started = False
        self._http = HttpServer(
            host,
            port,
            {"/metrics": self._metrics, "/healthz": self._healthz, "/readyz": self._readyz},
        )

    @property
    def bound(self) -> list[tuple[str, int]]:
        return self._http.bound

    async def serve(
        self, *, task_status: trio.TaskStatus[list[tuple[str, int]]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        await self._http.serve(task_status=task_status)

    def not_ready_reason(self) -> str | None:
        """Why the broker is not ready yet, or None when it is."""
        broker = self._broker
        if broker.server.shutting_down:
            return "shutting down"
        if self.started:
            return None
        if not broker.bound_addresses:
            if broker.node is None and "broker" in broker.config.process_roles:
                return "starting: loading logs and metadata"
            return "starting: not listening yet"
        lifecycle = broker.lifecycle
        if lifecycle is not None and lifecycle.fenced:
            return "starting: registered, waiting for the controller to unfence this broker"
        return "starting: catching up with the metadata"

    def _topic_name(self, topic_id: object) -> str | None:
        node = self._broker.node
        if node is None:
            return None
        topic = node.image.topic_by_id(topic_id)  # type: ignore[arg-type]
        return topic.name if topic is not None else None

    def _metrics(self) -> HttpResponse:
        return HttpResponse(200, generate_latest(self.registry), CONTENT_TYPE_LATEST)

    def _healthz(self) -> HttpResponse:
        return text(200, "ok")

    def _readyz(self) -> HttpResponse:
        reason = self.not_ready_reason()
        return text(200, "ready") if reason is None else text(503, reason)
