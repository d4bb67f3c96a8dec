"""`ferrokafka groups`: list, describe, delete consumer groups and reset their offsets, like
Kafka's kafka-consumer-groups.sh, over the group APIs of any Kafka-compatible broker.

Resetting follows Kafka's tool: it only touches a group without members (Empty, or unknown to
the coordinator), shows the new offsets without changing anything unless ``--execute`` is given,
and clamps every new offset into the partition's [log start, log end].
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import NamedTuple

import click

from ferrokafka.protocol.error_codes import GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, NONE, error_name

from .bootstrap import bootstrap_options, group_bootstrap_option, reports_errors
from .client import (
    EARLIEST_TIMESTAMP,
    LATEST_TIMESTAMP,
    ClientError,
    KafkaApiError,
    KafkaClient,
    TopicInfo,
)
from .group_admin import (
    GroupDescription,
    commit_offsets,
    delete_group,
    describe_group,
    fetch_offsets,
    list_groups,
)
from .share_groups_view import echo_share_group, find_share_group
from .share_in_flight import in_flight_counts
from .topics import connect

# States in which Kafka's tool lets an admin rewrite a group's offsets: nobody consumes.
RESETTABLE_STATES = frozenset({"Empty", "Dead"})
# reset-offsets commits this many partitions per OffsetCommit, reporting progress between.
COMMIT_CHUNK_PARTITIONS = 500
# What Kafka's tool prints for a value it does not have.
MISSING = "-"
# A note for each strategy that clamped an offset (Kafka's tool warns the same way).
CLAMP_HIGH = "New offset ({new}) is higher than latest offset. Value will be set to {to}"
CLAMP_LOW = "New offset ({new}) is lower than earliest offset. Value will be set to {to}"


def echo_table(header: tuple[str, ...], rows: list[tuple[object, ...]]) -> None:
    """Columns padded to their widest cell, as kafka-consumer-groups prints them."""
    text_rows = [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(r[i]) for r in [header, *text_rows]) for i in range(len(header))]
    for row in [header, *text_rows]:
        click.echo(" ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@click.group("groups")
@group_bootstrap_option
def groups() -> None:
    """List, describe and delete consumer groups; reset their committed offsets."""


@groups.command("list")
@click.option(
    "--state",
    "states",
    multiple=True,
    metavar="STATE",
    help="Only groups in this state (e.g. Stable, Empty); repeat or comma-separate for several.",
)
@bootstrap_options
@reports_errors
def list_cmd(states: tuple[str, ...], bootstrap_server: str, timeout: float) -> None:
    """Every group with its type, protocol type and state."""
    wanted = {s.strip().lower() for arg in states for s in arg.split(",") if s.strip()}
    with connect(bootstrap_server, timeout) as client:
        listed = list_groups(client)
    rows: list[tuple[object, ...]] = [
        (g.group_id, g.group_type or MISSING, g.protocol_type or MISSING, g.state or MISSING)
        for g in listed
        if not wanted or g.state.lower() in wanted
    ]
    echo_table(("GROUP", "TYPE", "PROTOCOL-TYPE", "STATE"), rows)


def _topics(client: KafkaClient, names: set[str]) -> dict[str, TopicInfo]:
    """Metadata for the topics that exist among ``names``."""
    if not names:
        return {}
    return {t.name: t for t in client.metadata(sorted(names)) if t.error_code == NONE}


def _log_offsets(
    client: KafkaClient, infos: dict[str, TopicInfo], timestamp: int
) -> dict[tuple[str, int], int]:
    out: dict[tuple[str, int], int] = {}
    for name, info in infos.items():
        found = client.list_offsets(info, [p.partition for p in info.partitions], timestamp)
        out.update({(name, p): o for p, o in found.items()})
    return out


def _describe_one(client: KafkaClient, group: GroupDescription) -> None:
    all_topics = {t.topic_id: t.name for t in client.metadata(None)}
    committed = fetch_offsets(client, group.group_id, all_topics)
    owners: dict[tuple[str, int], tuple[str, str, str]] = {}
    for m in group.members:
        for topic, partitions in m.assignment.items():
            for p in partitions:
                owners[(topic, p)] = (m.member_id, m.host, m.client_id)
    keys = sorted(set(committed) | set(owners))
    infos = _topics(client, {t for t, _ in keys})
    ends = _log_offsets(client, infos, LATEST_TIMESTAMP)

    protocol = f"{group.protocol_type or MISSING}/{group.protocol or MISSING}"
    click.echo(
        f"Group '{group.group_id}' ({group.group_type}, protocol {protocol}) is {group.state} "
        f"with {len(group.members)} member(s)."
    )
    click.echo()
    rows: list[tuple[object, ...]] = []
    for key in keys:
        current = committed.get(key)
        end = ends.get(key)
        lag = end - current if current is not None and end is not None else MISSING
        owner = owners.get(key, (MISSING, MISSING, MISSING))
        rows.append(
            (
                group.group_id,
                key[0],
                key[1],
                MISSING if current is None else current,
                MISSING if end is None else end,
                lag,
                *owner,
            )
        )
    header = ("GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG")
    echo_table((*header, "CONSUMER-ID", "HOST", "CLIENT-ID"), rows)
    click.echo()
    if not group.members:
        click.echo(f"Consumer group '{group.group_id}' has no active members.")
        return
    member_rows: list[tuple[object, ...]] = []
    for m in group.members:
        assigned = ",".join(
            f"{t}:{'/'.join(str(p) for p in ps)}" for t, ps in sorted(m.assignment.items())
        )
        raw = m.raw_assignment
        member_rows.append(
            (
                m.member_id,
                m.instance_id or MISSING,
                m.host,
                m.client_id,
                sum(len(ps) for ps in m.assignment.values()),
                assigned or MISSING,
                MISSING if raw is None else raw.version,
                MISSING if raw is None or raw.user_data is None else len(raw.user_data),
            )
        )
    echo_table(
        (
            "CONSUMER-ID",
            "INSTANCE-ID",
            "HOST",
            "CLIENT-ID",
            "#PARTITIONS",
            "ASSIGNMENT",
            "ASSIGNMENT-VERSION",
            "USER-DATA-BYTES",
        ),
        member_rows,
    )


@groups.command("describe")
@click.argument("group_ids", metavar="GROUP...", nargs=-1, required=True)
@bootstrap_options
@click.option(
    "--metrics-url",
    "metrics_urls",
    multiple=True,
    metavar="URL",
    help="A broker's metrics endpoint (host:port of its metrics port, or a URL), repeatable: "
    "a share group's in-flight records per partition are read there (else n/a).",
)
@reports_errors
def describe(
    group_ids: tuple[str, ...], bootstrap_server: str, timeout: float, metrics_urls: tuple[str, ...]
) -> None:
    """State, members and per-partition offsets and lag of each GROUP (and, for a share
    group, the records in flight, from the brokers' metrics given by --metrics-url)."""
    missing = []
    with connect(bootstrap_server, timeout) as client:
        for i, group_id in enumerate(group_ids):
            share = find_share_group(client, group_id)
            if share is not None:
                if i:
                    click.echo()
                in_flight = in_flight_counts(metrics_urls, group_id, timeout)
                echo_share_group(client, share, echo_table, in_flight)
                continue
            group = describe_group(client, group_id)
            if not group.exists:
                missing.append(group_id)
                continue
            if i:
                click.echo()
            _describe_one(client, group)
    if missing:
        raise ClientError("; ".join(f"Consumer group '{g}' does not exist." for g in missing))


@groups.command("delete")
@click.argument("group_ids", metavar="GROUP...", nargs=-1, required=True)
@bootstrap_options
@reports_errors
def delete(group_ids: tuple[str, ...], bootstrap_server: str, timeout: float) -> None:
    """Delete each GROUP (only groups without members can be deleted)."""
    failed = []
    with connect(bootstrap_server, timeout) as client:
        for group_id in group_ids:
            code = delete_group(client, group_id)
            if code == NONE:
                click.echo(f"Deleted group '{group_id}'.")
                continue
            reason = {
                NON_EMPTY_GROUP: "the group has active members",
                GROUP_ID_NOT_FOUND: "the group does not exist",
            }.get(code)
            suffix = f" ({reason})" if reason else ""
            failed.append(f"group '{group_id}' could not be deleted: {error_name(code)}{suffix}")
    if failed:
        raise ClientError("; ".join(failed))


def parse_topic_partitions(values: tuple[str, ...]) -> dict[str, list[int] | None]:
    """``T`` (every partition) or ``T:0,1,2`` for each --topic."""
    out: dict[str, list[int] | None] = {}
    for value in values:
        name, sep, parts = value.partition(":")
        if not name:
            raise click.BadParameter(f"{value!r} names no topic", param_hint="--topic")
        if not sep:
            out[name] = None
            continue
        try:
            partitions = sorted({int(p) for p in parts.split(",") if p.strip()})
        except ValueError:
            raise click.BadParameter(
                f"{value!r} is not TOPIC:PARTITION[,PARTITION...]", param_hint="--topic"
            ) from None
        if not partitions or partitions[0] < 0:
            raise click.BadParameter(f"{value!r} has no valid partition", param_hint="--topic")
        out[name] = partitions
    return out


def parse_datetime_ms(text: str) -> int:
    """ISO-8601 date-time to epoch ms; without a zone it is local time, as Kafka's tool reads it."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO-8601 date-time (e.g. 2026-11-21T10:00:00.000)",
            param_hint="--to-datetime",
        ) from None
    return int(moment.timestamp() * 1000)


def _partitions_to_reset(
    client: KafkaClient,
    group_id: str,
    topic_args: dict[str, list[int] | None],
    committed: dict[tuple[str, int], int],
) -> tuple[list[tuple[str, int]], dict[str, TopicInfo]]:
    if not topic_args:  # --all-topics: the partitions the group has offsets for
        keys = sorted(committed)
        return keys, _topics(client, {t for t, _ in keys})
    keys = []
    infos: dict[str, TopicInfo] = {}
    for name, wanted in topic_args.items():
        info = client.topic_with_leaders(name, 0)
        infos[name] = info
        have = {p.partition for p in info.partitions}
        for p in wanted if wanted is not None else sorted(have):
            if p not in have:
                raise ClientError(f"Topic '{name}' has no partition {p}.")
            keys.append((name, p))
    return keys, infos


class Strategy(NamedTuple):
    name: str
    value: int | None


def _new_offsets(
    client: KafkaClient,
    strategy: Strategy,
    keys: list[tuple[str, int]],
    infos: dict[str, TopicInfo],
    committed: dict[tuple[str, int], int],
) -> dict[tuple[str, int], int]:
    missing = sorted({t for t, _ in keys} - set(infos))
    if missing:
        raise ClientError(f"Topic '{missing[0]}' does not exist.")
    starts = _log_offsets(client, infos, EARLIEST_TIMESTAMP)
    ends = _log_offsets(client, infos, LATEST_TIMESTAMP)
    by_time: dict[tuple[str, int], int] = {}
    if strategy.name == "to-datetime":
        assert strategy.value is not None
        by_time = _log_offsets(client, infos, strategy.value)
    out = {}
    for key in keys:
        start, end = starts[key], ends[key]
        if strategy.name == "to-earliest":
            target = start
        elif strategy.name == "to-latest":
            target = end
        elif strategy.name == "to-offset":
            assert strategy.value is not None
            target = strategy.value
        elif strategy.name == "shift-by":
            assert strategy.value is not None
            if key not in committed:
                raise ClientError(
                    f"Cannot shift the offset of {key[0]}-{key[1]}: the group has no "
                    "committed offset for it."
                )
            target = committed[key] + strategy.value
        else:  # to-datetime: the first offset at or after the time, else the log end
            found = by_time[key]
            target = end if found < 0 else found
        if target > end:
            click.echo(CLAMP_HIGH.format(new=target, to=end), err=True)
            target = end
        elif target < start:
            click.echo(CLAMP_LOW.format(new=target, to=start), err=True)
            target = start
        out[key] = target
    return out


def _commit_in_chunks(
    client: KafkaClient,
    group_id: str,
    offsets: dict[tuple[str, int], int],
    infos: dict[str, TopicInfo],
) -> dict[tuple[str, int], int]:
    """One OffsetCommit per COMMIT_CHUNK_PARTITIONS partitions, with progress on stderr when
    there is more than one (or stderr is a terminal)."""
    keys = sorted(offsets)
    show = len(keys) > COMMIT_CHUNK_PARTITIONS or sys.stderr.isatty()
    errors: dict[tuple[str, int], int] = {}
    for start in range(0, len(keys), COMMIT_CHUNK_PARTITIONS):
        chunk = {k: offsets[k] for k in keys[start : start + COMMIT_CHUNK_PARTITIONS]}
        errors.update(commit_offsets(client, group_id, chunk, infos))
        if show:
            done = min(start + COMMIT_CHUNK_PARTITIONS, len(keys))
            click.echo(f"Committed {done}/{len(keys)} offsets of group '{group_id}'", err=True)
    return errors


@groups.command("reset-offsets")
@click.option("--group", "group_id", required=True, help="The group whose offsets to reset.")
@click.option(
    "--topic",
    "topic_values",
    multiple=True,
    metavar="TOPIC[:P,...]",
    help="A topic (every partition) or some of its partitions; repeatable.",
)
@click.option("--all-topics", is_flag=True, help="Every partition the group has offsets for.")
@click.option("--to-earliest", is_flag=True, help="The log start offset.")
@click.option("--to-latest", is_flag=True, help="The log end offset.")
@click.option("--to-offset", type=int, metavar="N", help="Offset N (clamped to the log).")
@click.option("--shift-by", type=int, metavar="N", help="The committed offset plus N.")
@click.option(
    "--to-datetime",
    metavar="ISO-8601",
    help="The first offset with a timestamp at or after this time (local time without a zone).",
)
@click.option("--execute", is_flag=True, help="Commit the new offsets (default: dry run).")
@click.option("--dry-run", is_flag=True, help="Only show the new offsets (the default).")
@bootstrap_options
@reports_errors
def reset_offsets(
    group_id: str,
    topic_values: tuple[str, ...],
    all_topics: bool,
    to_earliest: bool,
    to_latest: bool,
    to_offset: int | None,
    shift_by: int | None,
    to_datetime: str | None,
    execute: bool,
    dry_run: bool,
    bootstrap_server: str,
    timeout: float,
) -> None:
    """Set the committed offsets of an inactive group, like kafka-consumer-groups
    --reset-offsets."""
    if bool(topic_values) == all_topics:
        raise click.UsageError("give --topic (one or more) or --all-topics")
    if execute and dry_run:
        raise click.UsageError("give --execute or --dry-run, not both")
    chosen = [
        Strategy(name, value)
        for name, given, value in (
            ("to-earliest", to_earliest, None),
            ("to-latest", to_latest, None),
            ("to-offset", to_offset is not None, to_offset),
            ("shift-by", shift_by is not None, shift_by),
            (
                "to-datetime",
                to_datetime is not None,
                parse_datetime_ms(to_datetime) if to_datetime is not None else None,
            ),
        )
        if given
    ]
    if len(chosen) != 1:
        raise click.UsageError(
            "give exactly one of --to-earliest, --to-latest, --to-offset, --shift-by, --to-datetime"
        )
    topic_args = parse_topic_partitions(topic_values)
    with connect(bootstrap_server, timeout) as client:
        group = describe_group(client, group_id)
        if not group.exists and not topic_args:
            # Kafka 4.4's kafka-consumer-groups prints an empty table and exits 0 here, which
            # reads like success: a group with no offsets has nothing --all-topics can select.
            raise KafkaApiError(
                GROUP_ID_NOT_FOUND,
                f"Group '{group_id}' not found: it has no committed offsets for --all-topics to "
                "reset (see `ferrokafka groups list`); name the topics with --topic to give a "
                "new group offsets.",
            )
        if group.state not in RESETTABLE_STATES:
            raise ClientError(
                f"Assignments can only be reset if the group '{group_id}' is inactive, "
                f"but the current state is {group.state}."
            )
        all_ids = {t.topic_id: t.name for t in client.metadata(None)}
        committed = fetch_offsets(client, group_id, all_ids)
        keys, infos = _partitions_to_reset(client, group_id, topic_args, committed)
        new = _new_offsets(client, chosen[0], keys, infos, committed)
        errors: dict[tuple[str, int], int] = {}
        if execute and new:
            errors = _commit_in_chunks(client, group_id, new, infos)
    echo_table(
        ("GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"),
        [(group_id, t, p, o) for (t, p), o in sorted(new.items())],
    )
    failed = {k: c for k, c in errors.items() if c != NONE}
    if failed:
        (topic, partition), code = sorted(failed.items())[0]
        raise KafkaApiError(
            code, f"committing {len(failed)} offset(s) failed, first {topic}-{partition}"
        )
    if not group.exists:
        # As Kafka's tool: --topic on a missing group gives it offsets (creating it).
        done = "was created with these offsets" if execute else "would be created"
        click.echo(f"Group '{group_id}' did not exist: it {done}.", err=True)
    if not execute:
        click.echo(
            "Dry run: nothing was changed (give --execute to commit these offsets).", err=True
        )
