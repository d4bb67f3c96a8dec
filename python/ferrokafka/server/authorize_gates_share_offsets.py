"""The authorization gates of the share-group offset admin APIs, as Kafka 4.4's
``KafkaApis``:

- DescribeShareGroupOffsets: DESCRIBE on each group (else the group answers
  GROUP_AUTHORIZATION_FAILED); with topics named, a topic without DESCRIBE answers
  TOPIC_AUTHORIZATION_FAILED on each partition; without (all offsets), the topics the
  principal may not describe are left out of the answer.
- AlterShareGroupOffsets: READ on the group (else GROUP_AUTHORIZATION_FAILED, top level);
  a topic without READ answers TOPIC_AUTHORIZATION_FAILED on each partition and is not altered.
- DeleteShareGroupOffsets: DELETE on the group (else GROUP_AUTHORIZATION_FAILED, top level);
  a topic without READ answers TOPIC_AUTHORIZATION_FAILED and is not deleted.
"""

from __future__ import annotations

from typing import Any

from ferrokafka.cluster.acls.model import AclOperation
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages import (
    alter_share_group_offsets as alter,
)
from ferrokafka.protocol.messages import (
    delete_share_group_offsets as delete,
)
from ferrokafka.protocol.messages import (
    describe_share_group_offsets as describe,
)
from ferrokafka.server.authorize import StandardAuthorizer
from ferrokafka.server.authorize_gate_kit import GROUP, TOPIC, Gate, Inner, allows
from ferrokafka.server.dispatcher import RequestContext

_TOPIC_DENIED = "Topic authorization failed."


async def _describe(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    R = describe.DescribeShareGroupOffsetsResponse
    asked = [g.group_id for g in request.groups]
    denied_groups = {g for g in asked if not allows(auth, ctx, AclOperation.DESCRIBE, GROUP, g)}
    denied_topics: dict[str, list[Any]] = {}
    for g in request.groups:
        if g.group_id in denied_groups or g.topics is None:
            continue
        kept = []
        for t in g.topics:
            if allows(auth, ctx, AclOperation.DESCRIBE, TOPIC, t.topic_name):
                kept.append(t)
            else:
                denied_topics.setdefault(g.group_id, []).append(t)
        g.topics = kept
    request.groups = [g for g in request.groups if g.group_id not in denied_groups]
    answered = {}
    if request.groups:
        for group in (await inner(ctx, request)).groups:
            answered[group.group_id] = group
    out = []
    for group_id in asked:
        if group_id in denied_groups or group_id not in answered:
            out.append(
                R.DescribeShareGroupOffsetsResponseGroup(
                    group_id=group_id, error_code=ec.GROUP_AUTHORIZATION_FAILED
                )
            )
            continue
        group = answered[group_id]
        group.topics = [
            t
            for t in group.topics
            if group.error_code or allows(auth, ctx, AclOperation.DESCRIBE, TOPIC, t.topic_name)
        ]
        group.topics.extend(
            R.DescribeShareGroupOffsetsResponseTopic(
                topic_name=t.topic_name,
                partitions=[
                    R.DescribeShareGroupOffsetsResponsePartition(
                        partition_index=p,
                        error_code=ec.TOPIC_AUTHORIZATION_FAILED,
                        error_message=_TOPIC_DENIED,
                    )
                    for p in t.partitions
                ],
            )
            for t in denied_topics.get(group_id, ())
        )
        out.append(group)
    return R(groups=out)


async def _alter(auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner) -> Any:
    R = alter.AlterShareGroupOffsetsResponse
    if not allows(auth, ctx, AclOperation.READ, GROUP, request.group_id):
        return R(error_code=ec.GROUP_AUTHORIZATION_FAILED)
    denied = [
        t for t in request.topics if not allows(auth, ctx, AclOperation.READ, TOPIC, t.topic_name)
    ]
    request.topics = [t for t in request.topics if t not in denied]
    response = await inner(ctx, request) if request.topics else R()
    response.responses.extend(
        R.AlterShareGroupOffsetsResponseTopic(
            topic_name=t.topic_name,
            partitions=[
                R.AlterShareGroupOffsetsResponsePartition(
                    partition_index=p.partition_index,
                    error_code=ec.TOPIC_AUTHORIZATION_FAILED,
                    error_message=_TOPIC_DENIED,
                )
                for p in t.partitions
            ],
        )
        for t in denied
    )
    return response


async def _delete(auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner) -> Any:
    R = delete.DeleteShareGroupOffsetsResponse
    if not allows(auth, ctx, AclOperation.DELETE, GROUP, request.group_id):
        return R(error_code=ec.GROUP_AUTHORIZATION_FAILED)
    denied = [
        t for t in request.topics if not allows(auth, ctx, AclOperation.READ, TOPIC, t.topic_name)
    ]
    request.topics = [t for t in request.topics if t not in denied]
    response = await inner(ctx, request) if request.topics else R()
    response.responses.extend(
        R.DeleteShareGroupOffsetsResponseTopic(
            topic_name=t.topic_name,
            error_code=ec.TOPIC_AUTHORIZATION_FAILED,
            error_message=_TOPIC_DENIED,
        )
        for t in denied
    )
    return response


SHARE_OFFSETS_GATES: dict[type, Gate] = {
    describe.DescribeShareGroupOffsetsRequest: _describe,
    alter.AlterShareGroupOffsetsRequest: _alter,
    delete.DeleteShareGroupOffsetsRequest: _delete,
}
