"""The in-flight records of a share group's partitions, for ``ferrokafka groups describe``.

No Kafka API carries them: each share-partition leader exports them as Kafka's
SharePartitionMetrics InFlightMessageCount (KIP-1103), on ferrokafka's Prometheus endpoint as
``kafka_server_sharepartitionmetrics_inflightmessagecount{group,topic,partition}``. The
command scrapes the endpoints it is given (``--metrics-url``, one per broker: each leader
reports only its own partitions) and reads the group's series; a partition no endpoint
reported shows "n/a".
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request

import click

IN_FLIGHT_METRIC = "kafka_server_sharepartitionmetrics_inflightmessagecount"
# A scrape larger than this is cut: the series of one broker's partitions fit many times.
SCRAPE_BYTES_MAX = 32 << 20
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)\{(?P<labels>.*)\}\s+(?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
_UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def metrics_url(given: str) -> str:
    """``host:port`` is the broker's metrics port (``/metrics`` on it); a URL as it is."""
    return given if "://" in given else f"http://{given}/metrics"


def in_flight_counts(
    urls: tuple[str, ...], group_id: str, timeout_s: float
) -> dict[tuple[str, int], int]:
    """(topic, partition) -> in-flight records of ``group_id``, summed over the endpoints
    (a share-partition is loaded on its leader only). An endpoint that cannot be read is
    reported on stderr and skipped."""
    out: dict[tuple[str, int], int] = {}
    for given in urls:
        url = metrics_url(given)
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as answer:
                text = answer.read(SCRAPE_BYTES_MAX).decode("utf-8", "replace")
        except (OSError, urllib.error.URLError, ValueError) as exc:
            click.echo(f"Cannot read the metrics at {url}: {exc}", err=True)
            continue
        for (group, topic, partition), value in _in_flight_series(text):
            if group == group_id:
                out[(topic, partition)] = out.get((topic, partition), 0) + value
    return out


def _in_flight_series(text: str) -> list[tuple[tuple[str, str, int], int]]:
    found = []
    for line in text.splitlines():
        if not line.startswith(IN_FLIGHT_METRIC + "{"):
            continue
        match = _SAMPLE.match(line)
        if match is None or match["name"] != IN_FLIGHT_METRIC:
            continue
        labels = {
            k: re.sub(r"\\[\\\"n]", lambda m: _UNESCAPE[m.group(0)], v)
            for k, v in _LABEL.findall(match["labels"])
        }
        try:
            key = (labels["group"], labels["topic"], int(labels["partition"]))
            found.append((key, int(float(match["value"]))))
        except (KeyError, ValueError):
            continue
    return found
