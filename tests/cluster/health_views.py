"""The partition-health view two ways: Kafka's own ``kafka-topics --describe`` (TopicCommand)
and ``ferrokafka topics describe``, each with one of the four filters, reduced to the
partitions they list so that the two can be compared (Kafka's lines also carry ELR columns
ours do not: only topic, partition, leader, replicas and ISR are compared)."""

from __future__ import annotations

import re
from pathlib import Path

from kraft_processes import ferrokafka_cli

import kafka_support as ks

TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"
FILTERS = (
    "--under-replicated-partitions",
    "--under-min-isr-partitions",
    "--at-min-isr-partitions",
    "--unavailable-partitions",
)
PARTITION_LINE = re.compile(
    r"^\s*Topic: (\S+)\tPartition: (\d+)\tLeader: (\S+)\tReplicas: ([\d,]*)\tIsr: ([\d,]*)"
)
# (topic, partition, leader, replicas, isr) as the tools print them.
Listed = tuple[str, int, str, str, str]


def listed(output: str) -> set[Listed]:
    """The partition lines of a describe output; any other line but a topic summary is an
    error (a tool that printed something we do not understand)."""
    found = set()
    for line in output.splitlines():
        match = PARTITION_LINE.match(line)
        if match is not None:
            topic, partition, leader, replicas, isr = match.groups()
            found.add((topic, int(partition), leader, replicas, isr))
        elif line.strip():
            assert line.startswith("Topic: "), line
    return found


def kafka_view(bootstrap: str, flag: str, work_dir: Path) -> set[Listed]:
    work_dir.mkdir(parents=True, exist_ok=True)
    done = ks.run_kafka_tool(
        TOPIC_COMMAND, ["--bootstrap-server", bootstrap, "--describe", flag], work_dir=work_dir
    )
    return listed(done.stdout)


def ferrokafka_view(bootstrap: str, flag: str) -> set[Listed]:
    done = ferrokafka_cli("topics", "describe", flag, "--bootstrap-server", bootstrap)
    assert done.returncode == 0, done.stderr
    assert not any(line.startswith("Topic: ") for line in done.stdout.splitlines()), done.stdout
    return listed(done.stdout)


def both_views(bootstrap: str, work_dir: Path) -> dict[str, tuple[set[Listed], set[Listed]]]:
    """flag -> (Kafka's list, ours)."""
    return {
        flag: (kafka_view(bootstrap, flag, work_dir), ferrokafka_view(bootstrap, flag))
        for flag in FILTERS
    }
