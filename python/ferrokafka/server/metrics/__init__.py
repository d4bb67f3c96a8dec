"""Metrics and health: a Prometheus endpoint on its own port, off by default.

- :mod:`settings`: where it listens (``ferrokafka.metrics.port`` / ``ferrokafka.metrics.host``).
- :mod:`requests`: the counters connections bump per request (no prometheus_client).
- :mod:`collectors`: metric families built from those counters and the broker's state at
  scrape time; :mod:`endpoint`: the registry and the routes; :mod:`http`: the tiny server.

Only ``settings`` and ``requests`` are imported by the broker unconditionally; the endpoint
(and prometheus_client with it) is imported when metrics are on.
"""

from __future__ import annotations

from ferrokafka.server.metrics.requests import RequestMetrics, RequestTiming
from ferrokafka.server.metrics.settings import DEFAULT_HOST, HOST_KEY, PORT_KEY, metrics_address

__all__ = [
    "DEFAULT_HOST",
    "HOST_KEY",
    "PORT_KEY",
    "RequestMetrics",
    "RequestTiming",
    "metrics_address",
]
