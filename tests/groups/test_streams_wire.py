"""StreamsGroupHeartbeat and StreamsGroupDescribe over the wire (our codecs against the
in-process broker): a join with a topology gets its internal topics created by the broker
and every task; bad requests get INVALID_REQUEST with Kafka's message, not a closed
connection; ListGroups reports the group as type "streams"; DeleteGroups deletes it once
empty; Kafka's DumpLogSegments decodes the StreamsGroup* records we write."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from server_wire import RawClient

from ferrokafka.groups.coordinator import OFFSETS_TOPIC
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.delete_groups import DeleteGroupsRequest
from ferrokafka.protocol.messages.find_coordinator import FindCoordinatorRequest
from ferrokafka.protocol.messages.list_groups import ListGroupsRequest
from ferrokafka.protocol.messages.streams_group_describe import StreamsGroupDescribeRequest
from ferrokafka.protocol.messages.streams_group_heartbeat import (
    StreamsGroupHeartbeatRequest as Req,
)
from ferrokafka.testing import RunningBroker, run_broker


@pytest.fixture(scope="module")
def broker() -> Iterator[RunningBroker]:
    # One standby per task (Kafka's group.streams.num.standby.replicas; 0 by default).
    overrides = {"offsets.topic.num.partitions": 1, "group.streams.num.standby.replicas": 1}
    with run_broker(None, overrides) as running:
        with RawClient(running.bootstrap_servers) as c:
            created = c.call(
                CreateTopicsRequest(
                    topics=[
                        CreateTopicsRequest.CreatableTopic(
                            name="in", num_partitions=3, replication_factor=1
                        )
                    ],
                    timeout_ms=10_000,
                ),
                5,
            )
            assert created.topics[0].error_code == 0
            assert c.call(FindCoordinatorRequest(key="app", key_type=0), 3).error_code == 0
        yield running


def topology(copartition_index: int = 0) -> Req.Topology:
    return Req.Topology(
        epoch=0,
        subtopologies=[
            Req.Subtopology(
                subtopology_id="0",
                source_topics=["in"],
                state_changelog_topics=[
                    Req.TopicInfo(
                        name="app-store-changelog",
                        topic_configs=[Req.KeyValue(key="cleanup.policy", value="compact")],
                    )
                ],
                copartition_groups=[Req.CopartitionGroup(source_topics=[copartition_index])],
            )
        ],
    )


def join(member_id: str, topo: Req.Topology, process_id: str = "p1") -> Req:
    return Req(
        group_id="app",
        member_id=member_id,
        member_epoch=0,
        rebalance_timeout_ms=30_000,
        topology=topo,
        active_tasks=[],
        standby_tasks=[],
        warmup_tasks=[],
        process_id=process_id,
    )


def test_join_creates_internal_topics_and_assigns_every_task(broker: RunningBroker) -> None:
    with RawClient(broker.bootstrap_servers) as c:
        response = c.call(join("m1", topology()), 1)
        assert response.error_code == ec.NONE, response.error_message
        assert response.status == []
        assert [(t.subtopology_id, t.partitions) for t in response.active_tasks] == [
            ("0", [0, 1, 2])
        ]
        listed = c.call(ListGroupsRequest(types_filter=["streams"]), 5)
        assert [(g.group_id, g.group_type) for g in listed.groups] == [("app", "streams")]
        described = c.call(StreamsGroupDescribeRequest(group_ids=["app"]), 1)
        group = described.groups[0]
        assert (group.error_code, group.group_state) == (ec.NONE, "Stable")
        changelog = group.topology.subtopologies[0].state_changelog_topics[0]
        assert (changelog.name, changelog.partitions) == ("app-store-changelog", 3)
        assert [m.member_id for m in group.members] == ["m1"]
        # The member leaves; the empty group can be deleted (its records are tombstoned).
        left = c.call(Req(group_id="app", member_id="m1", member_epoch=-1), 1)
        assert (left.error_code, left.member_epoch) == (ec.NONE, -1)
        deleted = c.call(DeleteGroupsRequest(groups_names=["app"]), 2)
        assert deleted.results[0].error_code == ec.NONE
        gone = c.call(StreamsGroupDescribeRequest(group_ids=["app"]), 1)
        assert gone.groups[0].error_code == ec.GROUP_ID_NOT_FOUND


def tasks(task_ids: list | None) -> set[tuple[str, int]]:
    return {(t.subtopology_id, p) for t in task_ids or () for p in t.partitions}


def test_standby_tasks_go_to_the_other_process(broker: RunningBroker) -> None:
    with RawClient(broker.bootstrap_servers) as c:
        x = c.call(replace(join("sx", topology(), "px"), group_id="sb"), 1)
        assert tasks(x.active_tasks) == {("0", 0), ("0", 1), ("0", 2)}
        assert tasks(x.standby_tasks) == set()  # no other process yet
        y = c.call(replace(join("sy", topology(), "py"), group_id="sb"), 1)
        # x gives up what moves to y, then y takes it; both report what they run.
        x_active = tasks(x.active_tasks)
        for _round in range(3):
            x = c.call(
                Req(
                    group_id="sb",
                    member_id="sx",
                    member_epoch=x.member_epoch,
                    active_tasks=(
                        [
                            Req.TaskIds(
                                subtopology_id="0", partitions=sorted(p for _s, p in x_active)
                            )
                        ]
                    ),
                ),
                1,
            )
            assert x.error_code == ec.NONE, x.error_message
            if x.active_tasks is not None:
                x_active = tasks(x.active_tasks)
            y = c.call(Req(group_id="sb", member_id="sy", member_epoch=y.member_epoch), 1)
            assert y.error_code == ec.NONE, y.error_message
        described = c.call(StreamsGroupDescribeRequest(group_ids=["sb"]), 1).groups[0]
        assert described.group_state == "Stable"
        by_member = {m.member_id: m.assignment for m in described.members}
        actives = [tasks(a.active_tasks) for a in by_member.values()]
        standbys = [tasks(a.standby_tasks) for a in by_member.values()]
        every = {("0", 0), ("0", 1), ("0", 2)}
        assert actives[0] | actives[1] == every and not actives[0] & actives[1]
        # Each task has its standby on the member of the other process.
        assert standbys[0] == actives[1] and standbys[1] == actives[0]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (join("m2", topology(copartition_index=5)), "copartition group"),
        (Req(group_id="app", member_id="", member_epoch=0), "MemberId can't be empty."),
        (join("m2", None), "Topology must be non-empty when (re-)joining."),  # type: ignore[arg-type]
        (Req(group_id="app", member_id="m2", member_epoch=-3), "MemberEpoch is -3"),
    ],
)
def test_bad_requests_get_invalid_request(
    broker: RunningBroker, request_: Req, message: str
) -> None:
    with RawClient(broker.bootstrap_servers) as c:
        response = c.call(request_, 1)
        assert response.error_code == ec.INVALID_REQUEST
        assert message in (response.error_message or "")
        # The connection still answers.
        again = c.call(StreamsGroupDescribeRequest(group_ids=["nope"]), 1)
        assert again.groups[0].error_code == ec.GROUP_ID_NOT_FOUND


_RECORD_LINE = re.compile(r"\| offset: (\d+) .*? key: (\{.*\}) payload: (.*)$")
STREAMS_RECORD_TYPES = {"17", "19", "20", "21", "22", "23"}


@pytest.mark.kafka
def test_kafka_decodes_the_streams_group_records(broker: RunningBroker, tmp_path: Path) -> None:
    """Kafka's DumpLogSegments ``--offsets-decoder`` reads our StreamsGroup* records."""
    from kafka_support.jars import dump_log_segments_class, kafka_classpath, run_kafka_tool

    with RawClient(broker.bootstrap_servers) as c:
        joined = c.call(replace(join("fmt-member", topology()), group_id="fmt"), 1)
        assert joined.error_code == ec.NONE, joined.error_message
    directory = broker.partition(OFFSETS_TOPIC, 0).log.dir
    segments = sorted(str(p) for p in Path(directory).glob("*.log"))
    out = run_kafka_tool(
        dump_log_segments_class(kafka_classpath()),
        ["--offsets-decoder", "--deep-iteration", "--files", ",".join(segments)],
        work_dir=tmp_path,
    ).stdout
    lines = [m for m in map(_RECORD_LINE.search, out.splitlines()) if m]
    assert "Exception" not in out and "Unknown" not in out, out[-3000:]
    ours = [(m.group(2), m.group(3)) for m in lines if '"groupId":"fmt"' in m.group(2)]
    types = {re.search(r'"type":"(\d+)"', key).group(1) for key, _ in ours}  # type: ignore[union-attr]
    assert types == STREAMS_RECORD_TYPES, out[-3000:]
    payloads = " ".join(p for _k, p in ours)
    assert '"processId":"p1"' in payloads, payloads
    assert '"name":"app-store-changelog"' in payloads, payloads
