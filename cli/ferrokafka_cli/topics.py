"""`ferrokafka topics`: create, list, describe, alter and delete topics, like Kafka's
kafka-topics.sh, over the admin APIs of any Kafka-compatible broker."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from ferrokafka.protocol.messages.create_partitions import CreatePartitionsRequest
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.delete_topics import DeleteTopicsRequest
from ferrokafka.protocol.messages.describe_configs import DescribeConfigsRequest
from ferrokafka.protocol.messages.incremental_alter_configs import (
    IncrementalAlterConfigsRequest,
)

from . import partition_health as health
from .bootstrap import (
    bootstrap_options,
    group_bootstrap_option,
    reports_errors,
)
from .client import (
    CONFIG_SOURCE_TOPIC,
    RESOURCE_TOPIC,
    KafkaApiError,
    KafkaClient,
    PartitionInfo,
    TopicInfo,
    check,
)

# IncrementalAlterConfigs operations (Kafka's AlterConfigOp.OpType).
OP_SET = 0
OP_DELETE = 1


@contextmanager
def connect(bootstrap_server: str, timeout: float) -> Iterator[KafkaClient]:
    with KafkaClient(bootstrap_server, timeout) as client:
        yield client


def parse_configs(pairs: tuple[str, ...]) -> dict[str, str]:
    configs = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--config")
        configs[name] = value
    return configs


def _timeout_ms(timeout: float) -> int:
    return int(timeout * 1000)


@click.group("topics")
@group_bootstrap_option
def topics() -> None:
    """Create, list, describe, alter and delete topics."""


@topics.command("create")
@click.argument("name")
@click.option("--partitions", type=click.IntRange(min=1), help="Default: the broker's.")
@click.option("--replication-factor", type=click.IntRange(min=1), help="Default: the broker's.")
@click.option("--config", "configs", multiple=True, metavar="KEY=VALUE", help="Topic config.")
@bootstrap_options
@reports_errors
def create(
    name: str,
    partitions: int | None,
    replication_factor: int | None,
    configs: tuple[str, ...],
    bootstrap_server: str,
    timeout: float,
) -> None:
    """Create topic NAME."""
    config_map = parse_configs(configs)
    with connect(bootstrap_server, timeout) as client:
        request = CreateTopicsRequest(
            topics=[
                CreateTopicsRequest.CreatableTopic(
                    name=name,
                    # -1 asks for the broker's num.partitions / default.replication.factor.
                    num_partitions=-1 if partitions is None else partitions,
                    replication_factor=-1 if replication_factor is None else replication_factor,
                    configs=[
                        CreateTopicsRequest.CreatableTopicConfig(name=k, value=v)
                        for k, v in config_map.items()
                    ],
                )
            ],
            timeout_ms=_timeout_ms(timeout),
        )
        [result] = client.call(request).topics
        check(result.error_code, result.error_message)
    click.echo(f"Created topic {name}.")


@topics.command("list")
@click.option("--exclude-internal", is_flag=True, help="Leave out internal topics.")
@bootstrap_options
@reports_errors
def list_topics(exclude_internal: bool, bootstrap_server: str, timeout: float) -> None:
    """List topic names, one a line."""
    with connect(bootstrap_server, timeout) as client:
        infos = client.metadata(None)
    for info in sorted(infos, key=lambda t: t.name):
        if not (exclude_internal and info.is_internal):
            click.echo(info.name)


def _topic_configs(
    client: KafkaClient, names: list[str]
) -> tuple[dict[str, dict[str, str]], dict[str, int]]:
    """Per topic, the configs set on the topic itself (as kafka-topics.sh --describe shows)
    and its effective min.insync.replicas (whatever its source)."""
    request = DescribeConfigsRequest(
        resources=[
            DescribeConfigsRequest.DescribeConfigsResource(
                resource_type=RESOURCE_TOPIC, resource_name=name, configuration_keys=None
            )
            for name in names
        ]
    )
    out: dict[str, dict[str, str]] = {}
    min_isr: dict[str, int] = {}
    for result in client.call(request).results:
        check(result.error_code, result.error_message)
        out[result.resource_name] = {
            c.name: "" if c.value is None else c.value
            for c in result.configs
            if c.config_source == CONFIG_SOURCE_TOPIC
        }
        every = {c.name: c.value or "" for c in result.configs}
        min_isr[result.resource_name] = health.min_insync_replicas(every)
    return out, min_isr


def _ids(nodes: list[int]) -> str:
    return ",".join(str(n) for n in nodes)


def _partition_line(name: str, p: PartitionInfo, moving: health.Reassignment | None) -> str:
    """One partition as Kafka's tool prints it (``none`` for no leader; the replicas being
    added and removed while a reassignment is under way)."""
    leader = str(p.leader) if health.has_leader(p) else "none"
    line = (
        f"\tTopic: {name}\tPartition: {p.partition}\tLeader: {leader}\t"
        f"Replicas: {_ids(p.replicas)}\tIsr: {_ids(p.isr)}"
    )
    if moving is not None:
        line += f"\tAdding Replicas: {_ids(moving.adding)}"
        line += f"\tRemoving Replicas: {_ids(moving.removing)}"
    return line


@topics.command("describe")
@click.argument("name", required=False)
@click.option(
    "--under-replicated-partitions", "under_replicated", is_flag=True,
    help="Only partitions whose ISR is smaller than their replication factor.",
)  # fmt: skip
@click.option(
    "--under-min-isr-partitions", "under_min_isr", is_flag=True,
    help="Only partitions with no leader or an ISR below min.insync.replicas.",
)  # fmt: skip
@click.option(
    "--at-min-isr-partitions", "at_min_isr", is_flag=True,
    help="Only partitions whose ISR is exactly min.insync.replicas.",
)  # fmt: skip
@click.option(
    "--unavailable-partitions", "unavailable", is_flag=True,
    help="Only partitions whose leader is missing or not a live broker.",
)  # fmt: skip
@bootstrap_options
@reports_errors
def describe(
    name: str | None,
    under_replicated: bool,
    under_min_isr: bool,
    at_min_isr: bool,
    unavailable: bool,
    bootstrap_server: str,
    timeout: float,
) -> None:
    """Partitions (leader, replicas, isr) and configs of topic NAME, or of every topic; with
    filters (any of them matching), only the partitions Kafka's kafka-topics would list."""
    chosen = (
        (health.UNDER_REPLICATED, under_replicated),
        (health.UNDER_MIN_ISR, under_min_isr),
        (health.AT_MIN_ISR, at_min_isr),
        (health.UNAVAILABLE, unavailable),
    )
    wanted = {flag for flag, on in chosen if on}
    with connect(bootstrap_server, timeout) as client:
        infos: list[TopicInfo] = client.metadata(None if name is None else [name])
        live_brokers = set(client.brokers)
        for info in infos:
            if info.error_code:
                message = f"Topic '{info.name}' does not exist." if name else None
                raise KafkaApiError(info.error_code, message)
        infos.sort(key=lambda t: t.name)
        configs, min_isr = _topic_configs(client, [t.name for t in infos]) if infos else ({}, {})
        moving = health.reassignments(client) if infos else {}
    for info in infos:
        if not wanted:
            rf = (
                health.replication_factor(info.partitions[0], moving.get((info.name, 0)))
                if info.partitions
                else 0
            )
            config_text = ",".join(
                f"{k}={v}" for k, v in sorted(configs.get(info.name, {}).items())
            )
            click.echo(
                f"Topic: {info.name}\tTopicId: {info.topic_id}\t"
                f"PartitionCount: {len(info.partitions)}\tReplicationFactor: {rf}\t"
                f"Configs: {config_text}"
            )
        for p in info.partitions:
            reassignment = moving.get((info.name, p.partition))
            if wanted and not health.matches(
                wanted, p, reassignment, min_isr[info.name], live_brokers
            ):
                continue
            click.echo(_partition_line(info.name, p, reassignment))


@topics.command("delete")
@click.argument("name")
@bootstrap_options
@reports_errors
def delete(name: str, bootstrap_server: str, timeout: float) -> None:
    """Delete topic NAME."""
    with connect(bootstrap_server, timeout) as client:
        request = DeleteTopicsRequest(
            # Names both ways: v0-5 send topic_names, v6+ the topics array.
            topic_names=[name],
            topics=[DeleteTopicsRequest.DeleteTopicState(name=name)],
            timeout_ms=_timeout_ms(timeout),
        )
        [result] = client.call(request).responses
        check(result.error_code, result.error_message)
    click.echo(f"Deleted topic {name}.")


@topics.command("alter")
@click.argument("name")
@click.option("--partitions", type=click.IntRange(min=1), help="New (larger) partition count.")
@click.option("--config", "configs", multiple=True, metavar="KEY=VALUE", help="Set a config.")
@click.option("--delete-config", "delete_configs", multiple=True, metavar="KEY")
@bootstrap_options
@reports_errors
def alter(
    name: str,
    partitions: int | None,
    configs: tuple[str, ...],
    delete_configs: tuple[str, ...],
    bootstrap_server: str,
    timeout: float,
) -> None:
    """Add partitions to topic NAME, or set or delete its configs."""
    config_map = parse_configs(configs)
    if partitions is None and not config_map and not delete_configs:
        raise click.UsageError("give --partitions, --config or --delete-config")
    with connect(bootstrap_server, timeout) as client:
        if partitions is not None:
            grow = CreatePartitionsRequest(
                topics=[
                    CreatePartitionsRequest.CreatePartitionsTopic(
                        name=name, count=partitions, assignments=None
                    )
                ],
                timeout_ms=_timeout_ms(timeout),
            )
            [result] = client.call(grow).results
            check(result.error_code, result.error_message)
        if config_map or delete_configs:
            alterations = [
                IncrementalAlterConfigsRequest.AlterableConfig(
                    name=k, config_operation=OP_SET, value=v
                )
                for k, v in config_map.items()
            ] + [
                IncrementalAlterConfigsRequest.AlterableConfig(
                    name=k, config_operation=OP_DELETE, value=None
                )
                for k in delete_configs
            ]
            change = IncrementalAlterConfigsRequest(
                resources=[
                    IncrementalAlterConfigsRequest.AlterConfigsResource(
                        resource_type=RESOURCE_TOPIC, resource_name=name, configs=alterations
                    )
                ]
            )
            [response] = client.call(change).responses
            check(response.error_code, response.error_message)
    click.echo(f"Altered topic {name}.")
