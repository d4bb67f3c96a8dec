"""Where the metrics endpoint listens, from the broker config (no prometheus_client import)."""

from __future__ import annotations

from ferrokafka.config import BrokerConfig

PORT_KEY = "ferrokafka.metrics.port"
HOST_KEY = "ferrokafka.metrics.host"
# Loopback by default, as ``ferrokafka serve``'s default listeners: metrics name topics and
# groups, so exposing them is a choice (ferrokafka.metrics.host=0.0.0.0 for every interface).
DEFAULT_HOST = "127.0.0.1"


def metrics_address(config: BrokerConfig) -> tuple[str, int] | None:
    """(host, port) of the metrics endpoint, or None when it is off (port 0, the default)."""
    port = int(config[PORT_KEY])
    if port == 0:
        return None
    return str(config[HOST_KEY]), port
