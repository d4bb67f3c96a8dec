"""`ferrokafka groups describe` of a share group (KIP-932): its members and their assignments
(ShareGroupDescribe) and each share-partition's start offset and lag
(DescribeShareGroupOffsets v1, which answers the lag), asked of the group's coordinator, and
its in-flight records, read from the brokers' metrics endpoints when given
(:mod:`.share_in_flight`), else "n/a".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import click

from ferrokafka.protocol.error_codes import GROUP_ID_NOT_FOUND, NONE
from ferrokafka.protocol.messages.describe_share_group_offsets import (
    DescribeShareGroupOffsetsRequest,
)
from ferrokafka.protocol.messages.share_group_describe import ShareGroupDescribeRequest

from .client import Connection, KafkaClient, check
from .group_admin import GroupDescription, Member, at_coordinator

SHARE = "share"
# DescribeShareGroupOffsets answers -1 for a start offset or lag it does not have.
UNKNOWN = -1
MISSING = "-"
NOT_AVAILABLE = "n/a"


@dataclass(frozen=True)
class ShareOffset:
    start_offset: int
    lag: int
    leader_epoch: int


def describe_share_group(conn: Connection, group_id: str) -> GroupDescription | None:
    """The share group ``group_id`` at its coordinator ``conn``, or None when the broker has no
    ShareGroupDescribe or the group is not a share group."""
    if ShareGroupDescribeRequest.API_KEY not in conn.versions:
        return None
    [g] = conn.call(ShareGroupDescribeRequest(group_ids=[group_id])).groups
    if g.error_code == GROUP_ID_NOT_FOUND:
        return None
    check(g.error_code, g.error_message)
    members = [
        Member(
            m.member_id,
            None,
            m.client_id,
            m.client_host,
            {tp.topic_name: sorted(tp.partitions) for tp in m.assignment.topic_partitions},
        )
        for m in g.members
    ]
    return GroupDescription(group_id, g.group_state, SHARE, SHARE, g.assignor_name, members)


def share_offsets(client: KafkaClient, group_id: str) -> dict[tuple[str, int], ShareOffset]:
    """Every initialized share-partition of the group: (topic, partition) -> its offsets."""
    return at_coordinator(client, group_id, lambda conn: _share_offsets(conn, group_id))


def _share_offsets(conn: Connection, group_id: str) -> dict[tuple[str, int], ShareOffset]:
    R = DescribeShareGroupOffsetsRequest
    if R.API_KEY not in conn.versions:
        return {}
    request = R(groups=[R.DescribeShareGroupOffsetsRequestGroup(group_id=group_id, topics=None)])
    [g] = conn.call(request).groups
    check(g.error_code, g.error_message)
    out: dict[tuple[str, int], ShareOffset] = {}
    for t in g.topics:
        for p in t.partitions:
            if p.error_code == NONE:
                out[(t.topic_name, p.partition_index)] = ShareOffset(
                    p.start_offset, p.lag, p.leader_epoch
                )
    return out


Table = Callable[[tuple[str, ...], list[tuple[object, ...]]], None]


def find_share_group(client: KafkaClient, group_id: str) -> GroupDescription | None:
    return at_coordinator(client, group_id, lambda conn: describe_share_group(conn, group_id))


def echo_share_group(
    client: KafkaClient,
    group: GroupDescription,
    table: Table,
    in_flight: dict[tuple[str, int], int] | None = None,
) -> None:
    """The share group's offsets table, then its members (``table`` is groups.echo_table,
    passed in to keep the imports one-way); ``in_flight``: the in-flight records by
    partition, as far as known."""
    offsets = share_offsets(client, group.group_id)
    known = in_flight or {}
    click.echo(
        f"Group '{group.group_id}' (share, assignor {group.protocol or MISSING}) is "
        f"{group.state} with {len(group.members)} member(s)."
    )
    click.echo()
    rows: list[tuple[object, ...]] = [
        (
            group.group_id,
            topic,
            partition,
            MISSING if o.start_offset == UNKNOWN else o.start_offset,
            MISSING if o.lag == UNKNOWN else o.lag,
            known.get((topic, partition), NOT_AVAILABLE),
        )
        for (topic, partition), o in sorted(offsets.items())
    ]
    table(("GROUP", "TOPIC", "PARTITION", "START-OFFSET", "LAG", "IN-FLIGHT"), rows)
    click.echo()
    if not group.members:
        click.echo(f"Share group '{group.group_id}' has no active members.")
        return
    member_rows: list[tuple[object, ...]] = [
        (
            m.member_id,
            m.host,
            m.client_id,
            sum(len(ps) for ps in m.assignment.values()),
            ",".join(
                f"{t}:{'/'.join(str(p) for p in ps)}" for t, ps in sorted(m.assignment.items())
            )
            or MISSING,
        )
        for m in group.members
    ]
    table(("MEMBER-ID", "HOST", "CLIENT-ID", "#PARTITIONS", "ASSIGNMENT"), member_rows)
