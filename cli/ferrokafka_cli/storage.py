"""`ferrokafka storage`: format a node's directories, show what they hold, make an id.

The same subcommands, flags and rules as Kafka's ``kafka-storage.sh`` (``random-uuid``,
``format``, ``info``): a directory formatted by one tool is accepted by the other. Like
Kafka's tool, every failure is one line on stderr and exit code 1 (bad flags included).
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

from ferrokafka.cluster.storage_format import (
    FormatError,
    FormatOptions,
    format_storage,
    metadata_dir_of,
)
from ferrokafka.config import BrokerConfig, ConfigError, load_broker_config
from ferrokafka.storage.checkpoints import (
    META_PROPERTIES,
    CheckpointError,
    random_directory_id,
    read_meta_properties,
)
from ferrokafka.storage.meta_ensemble import MetaPropertiesError

EXIT_FAILED = 1


class _StorageGroup(click.Group):
    """Kafka's tool exits 1 on a usage error too (click's default is 2)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.show()
            ctx.exit(EXIT_FAILED)


@click.group("storage", cls=_StorageGroup)
def storage() -> None:
    """Format and inspect log directories (Kafka's kafka-storage)."""


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(EXIT_FAILED)


def _load_config(path: str) -> BrokerConfig:
    try:
        return load_broker_config(path)
    except ConfigError as exc:
        _fail(f"invalid configuration {path}: {exc}")
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror}")


_CONFIG = click.option(
    "--config", "-c", "config_path", required=True, help="The Kafka configuration file to use."
)


@storage.command("random-uuid")
def random_uuid() -> None:
    """Print a random UUID (a cluster or directory id)."""
    click.echo(random_directory_id())


@storage.command("format")
@_CONFIG
@click.option("--cluster-id", "-t", required=True, help="The cluster ID to use.")
@click.option(
    "--add-scram",
    "-S",
    multiple=True,
    metavar="MECHANISM=[name=..,password=..]",
    help="A SCRAM credential for the new cluster, as kafka-storage's --add-scram.",
)
@click.option(
    "--ignore-formatted",
    "-g",
    is_flag=True,
    help="Skip directories already formatted instead of failing.",
)
@click.option(
    "--release-version",
    "-r",
    help="The release version of the initial feature levels (default: 4.4-IV2).",
)
@click.option(
    "--feature", "-f", multiple=True, metavar="NAME=LEVEL", help="A feature's initial level."
)
@click.option("--standalone", "-s", is_flag=True, help="This controller alone as a dynamic quorum.")
@click.option(
    "--no-initial-controllers", "-N", is_flag=True, help="Join a dynamic quorum as a non-voter."
)
@click.option(
    "--initial-controllers",
    "-I",
    metavar="ID@HOST:PORT:DIRID,...",
    help="The initial voters of a dynamic quorum (the same on every node).",
)
def format_command(
    config_path: str,
    cluster_id: str,
    add_scram: tuple[str, ...],
    ignore_formatted: bool,
    release_version: str | None,
    feature: tuple[str, ...],
    standalone: bool,
    no_initial_controllers: bool,
    initial_controllers: str | None,
) -> None:
    """Format the log directories of this node."""
    config = _load_config(config_path)
    options = FormatOptions(
        cluster_id=cluster_id,
        standalone=standalone,
        initial_controllers=initial_controllers,
        no_initial_controllers=no_initial_controllers,
        ignore_formatted=ignore_formatted,
        release_version=release_version,
        features=feature,
        add_scram=add_scram,
    )
    try:
        format_storage(config, options, click.echo)
    except (FormatError, MetaPropertiesError, CheckpointError) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot format: {exc}")


@storage.command("info")
@_CONFIG
def info(config_path: str) -> None:
    """Show what the log directories of this node hold."""
    config = _load_config(config_path)
    directories = sorted({*config.log_dirs, metadata_dir_of(config)})
    lines, problems = info_report(directories)
    for line in lines:
        click.echo(line)
    sys.exit(EXIT_FAILED if problems else 0)


def info_report(directories: list[str]) -> tuple[list[str], int]:
    """Kafka's StorageTool.infoCommand: the lines it prints and how many problems it found."""
    problems: list[str] = []
    found: list[str] = []
    first: dict[str, str] | None = None
    first_ids: tuple[str, int] | None = None
    for directory in directories:
        if not os.path.isdir(directory):
            reason = "is not a directory" if os.path.exists(directory) else "does not exist"
            problems.append(f"{directory} {reason}")
            continue
        found.append(directory)
        path = os.path.join(directory, META_PROPERTIES)
        if not os.path.exists(path):
            problems.append(f"{directory} is not formatted.")
            continue
        try:
            meta = read_meta_properties(path)
        except (CheckpointError, OSError) as exc:
            problems.append(f"Error loading {path}: {exc}")
            continue
        assert meta is not None
        if first_ids is None:
            first_ids = (meta.cluster_id, meta.node_id)
            first = {"cluster.id": meta.cluster_id, "version": str(meta.version)}
            first["node.id" if meta.version == 1 else "broker.id"] = str(meta.node_id)
            if meta.directory_id is not None:
                first["directory.id"] = meta.directory_id
        elif first_ids[0] != meta.cluster_id:
            problems.append("Mismatched cluster IDs between storage directories.")
        elif first_ids[1] != meta.node_id:
            problems.append("Mismatched node IDs between storage directories.")
    if first is not None and "broker.id" in first:
        problems.append(
            "The kafka configuration file appears to be for a cluster in KRaft mode, "
            "but the directories are formatted for legacy mode."
        )
    if not directories:
        return ["No directories specified."], 0
    lines: list[str] = []
    if found:
        lines.append("Found log directory:" if len(found) == 1 else "Found log directories:")
        lines += [f"  {d}" for d in found]
        lines.append("")
    if first is not None:
        shown = ", ".join(f"{key}={value}" for key, value in sorted(first.items()))
        lines += [f"Found metadata: {{{shown}}}", ""]
    if problems:
        lines.append("Found problem:" if len(problems) == 1 else "Found problems:")
        lines += [f"  {p}" for p in problems]
        lines.append("")
    return lines, len(problems)
