"""`ferrokafka status`: the cluster at a glance, over the public APIs every Kafka broker has
(so it works against Apache Kafka too): Metadata (cluster id, brokers, topics, partition
health), DescribeQuorum (the active controller: in KRaft Metadata's controller id is only some
broker), ListGroups on every broker (groups by state) and DescribeLogDirs on every broker (disk
use per log directory).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import click

from ferrokafka.protocol.error_codes import NONE, error_name
from ferrokafka.protocol.messages.describe_log_dirs import DescribeLogDirsRequest
from ferrokafka.protocol.messages.describe_quorum import DescribeQuorumRequest
from ferrokafka.protocol.messages.metadata import MetadataRequest

from .bootstrap import bootstrap_options, reports_errors
from .client import ClientError, KafkaClient
from .group_admin import list_groups
from .topics import connect

METADATA_TOPIC = "__cluster_metadata"
UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(n: int) -> str:
    if n < 0:
        return "-"
    value = float(n)
    for unit in UNITS:
        if value < 1024 or unit == UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


@dataclass
class LogDir:
    broker: int
    path: str
    error: str
    partitions: int
    size_bytes: int
    total_bytes: int
    usable_bytes: int


@dataclass
class Status:
    cluster_id: str
    controller: int
    brokers: list[tuple[int, str, int, str | None]]
    topics: int = 0
    internal_topics: int = 0
    partitions: int = 0
    internal_partitions: int = 0
    under_replicated: int = 0
    offline: int = 0
    groups: Counter[str] = field(default_factory=Counter)
    log_dirs: list[LogDir] = field(default_factory=list)


def _active_controller(client: KafkaClient) -> int | None:
    """The KRaft leader of __cluster_metadata (brokers forward DescribeQuorum), else None."""
    if DescribeQuorumRequest.API_KEY not in client.bootstrap.versions:
        return None
    request = DescribeQuorumRequest(
        topics=[
            DescribeQuorumRequest.TopicData(
                topic_name=METADATA_TOPIC,
                partitions=[DescribeQuorumRequest.PartitionData(partition_index=0)],
            )
        ]
    )
    try:
        response = client.call(request)
    except ClientError:
        return None
    if response.error_code != NONE:
        return None
    for topic in response.topics:
        for partition in topic.partitions:
            if partition.error_code == NONE and partition.leader_id >= 0:
                return int(partition.leader_id)
    return None


def _log_dirs(client: KafkaClient, broker: int) -> list[LogDir]:
    conn = client.node(broker)
    version = conn.versions.get(DescribeLogDirsRequest.API_KEY)
    if version is None:
        return []
    response = conn.call(DescribeLogDirsRequest(topics=None), version)
    out = []
    for result in response.results:
        sizes = [p.partition_size for t in result.topics for p in t.partitions]
        out.append(
            LogDir(
                broker=broker,
                path=result.log_dir,
                error="" if result.error_code == NONE else error_name(result.error_code),
                partitions=len(sizes),
                size_bytes=sum(sizes),
                total_bytes=int(result.total_bytes),
                usable_bytes=int(result.usable_bytes),
            )
        )
    return out


def collect(client: KafkaClient) -> Status:
    response = client.call(MetadataRequest(topics=None, allow_auto_topic_creation=False))
    brokers = sorted((b.node_id, b.host, b.port, b.rack) for b in response.brokers)
    client.brokers = {b[0]: (b[1], b[2]) for b in brokers}
    active = _active_controller(client)
    status = Status(
        cluster_id=response.cluster_id or "-",
        controller=response.controller_id if active is None else active,
        brokers=brokers,
    )
    for topic in response.topics:
        count = len(topic.partitions)
        if topic.is_internal:
            status.internal_topics += 1
            status.internal_partitions += count
        else:
            status.topics += 1
            status.partitions += count
        for p in topic.partitions:
            if p.leader_id < 0:
                status.offline += 1
            elif len(p.isr_nodes) < len(p.replica_nodes):
                status.under_replicated += 1
    status.groups = Counter(g.state or "Unknown" for g in list_groups(client))
    for broker, *_ in brokers:
        status.log_dirs += _log_dirs(client, broker)
    return status


def render(s: Status) -> list[str]:
    lines = [
        f"Cluster id:  {s.cluster_id}",
        f"Controller:  {s.controller if s.controller >= 0 else 'none'}",
        f"Brokers:     {len(s.brokers)}",
    ]
    for node_id, host, port, rack in s.brokers:
        lines.append(f"  {node_id}  {host}:{port}  rack: {rack or '-'}")
    lines.append(
        f"Topics:      {s.topics} ({s.partitions} partitions), internal: "
        f"{s.internal_topics} ({s.internal_partitions} partitions)"
    )
    lines.append(f"Partitions:  {s.under_replicated} under-replicated, {s.offline} offline")
    states = ", ".join(f"{state} {n}" for state, n in sorted(s.groups.items()))
    lines.append(f"Groups:      {sum(s.groups.values())}" + (f" ({states})" if states else ""))
    lines.append(f"Log dirs:    {len(s.log_dirs)}")
    for d in s.log_dirs:
        if d.error:
            lines.append(f"  broker {d.broker}  {d.path}  error: {d.error}")
            continue
        disk = ""
        if d.total_bytes >= 0:
            disk = f", disk {human_bytes(d.usable_bytes)} free of {human_bytes(d.total_bytes)}"
        lines.append(
            f"  broker {d.broker}  {d.path}  {human_bytes(d.size_bytes)} in "
            f"{d.partitions} partitions{disk}"
        )
    return lines


@click.command("status")
@bootstrap_options
@reports_errors
def status(bootstrap_server: str, timeout: float) -> None:
    """The cluster at a glance: id, brokers, controller, topics, partition health, groups by
    state and disk use per log directory."""
    with connect(bootstrap_server, timeout) as client:
        click.echo("\n".join(render(collect(client))))
