"""A share group survives a broker restart: its ShareGroup* records on __consumer_offsets are
replayed at load (members, epochs, assignment, the initialized share-partitions), and its
member carries on with the epoch it had."""

from __future__ import annotations

from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic
from server_wire import RawClient
from tests.share.test_share_wire import coordinator_ready

from ferrokafka.protocol.messages.list_groups import ListGroupsRequest
from ferrokafka.protocol.messages.share_group_describe import ShareGroupDescribeRequest
from ferrokafka.protocol.messages.share_group_heartbeat import ShareGroupHeartbeatRequest
from ferrokafka.testing import run_broker

H = ShareGroupHeartbeatRequest


def test_share_group_reloaded_after_restart(tmp_path: Path) -> None:
    data = tmp_path / "broker"
    with run_broker(data) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        for future in admin.create_topics([NewTopic("reload-t", 2, 1)]).values():
            future.result(timeout=30)
        with RawClient(broker.bootstrap_servers) as c:
            coordinator_ready(c, "reload-g")
            for member in ("r1", "r2"):
                joined = c.call(
                    H(
                        group_id="reload-g",
                        member_id=member,
                        member_epoch=0,
                        subscribed_topic_names=["reload-t"],
                    ),
                    1,
                )
                assert joined.error_code == 0
            before = c.call(ShareGroupDescribeRequest(group_ids=["reload-g"]), 1).groups[0]
    with run_broker(data) as broker, RawClient(broker.bootstrap_servers) as c:
        coordinator_ready(c, "reload-g")
        after = c.call(ShareGroupDescribeRequest(group_ids=["reload-g"]), 1).groups[0]
        assert after.error_code == 0
        assert (after.group_epoch, after.assignment_epoch) == (
            before.group_epoch,
            before.assignment_epoch,
        )
        assert sorted((m.member_id, m.member_epoch, str(m.assignment)) for m in after.members) == (
            sorted((m.member_id, m.member_epoch, str(m.assignment)) for m in before.members)
        )
        listed = c.call(ListGroupsRequest(types_filter=["share"]), 5).groups
        assert [g.group_id for g in listed] == ["reload-g"]
        # r1 joined first (epoch 1) and has not heard of r2 yet: it moves to the assignment
        # epoch, with no new group epoch (the subscribed topics are what they were).
        epoch = next(m.member_epoch for m in after.members if m.member_id == "r1")
        again = c.call(H(group_id="reload-g", member_id="r1", member_epoch=epoch), 1)
        assert (again.error_code, again.member_epoch) == (0, after.assignment_epoch)
        described = c.call(ShareGroupDescribeRequest(group_ids=["reload-g"]), 1).groups[0]
        assert described.group_epoch == before.group_epoch


def test_kafka_decodes_the_share_group_records(tmp_path: Path) -> None:
    """Kafka 4.4's DumpLogSegments --offsets-decoder reads our ShareGroup* records."""
    import kafka_support as ks
    from ferrokafka.groups.coordinator import OFFSETS_TOPIC
    from kafka_support.jars import dump_log_segments_class, kafka_classpath

    ks.require_kafka()
    with run_broker(tmp_path / "broker", {"offsets.topic.num.partitions": 1}) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        for future in admin.create_topics([NewTopic("fmt-t", 1, 1)]).values():
            future.result(timeout=30)
        with RawClient(broker.bootstrap_servers) as c:
            coordinator_ready(c, "fmt-share-g")
            joined = c.call(
                H(
                    group_id="fmt-share-g",
                    member_id="fmt-member",
                    member_epoch=0,
                    subscribed_topic_names=["fmt-t"],
                ),
                1,
            )
            assert joined.error_code == 0
        directory = Path(broker.partition(OFFSETS_TOPIC, 0).log.dir)
    segments = sorted(str(p) for p in directory.glob("*.log"))
    out = ks.run_kafka_tool(
        dump_log_segments_class(kafka_classpath()),
        ["--offsets-decoder", "--deep-iteration", "--files", ",".join(segments)],
        work_dir=tmp_path,
    ).stdout
    assert "Exception" not in out and "Unknown" not in out, out[-3000:]
    # Record types 10-15: member metadata, group metadata, target assignment metadata and
    # member, current member assignment, state partition metadata.
    for record_type in range(10, 16):
        assert f'"type":"{record_type}"' in out, (record_type, out[-3000:])
    assert '"subscribedTopicNames":["fmt-t"]' in out, out[-3000:]
    assert '"memberId":"fmt-member"' in out, out[-3000:]
    assert '"topicName":"fmt-t"' in out, out[-3000:]  # initialized share-partitions
