"""The metadata log on disk: appends are flushed and committed at once with one voter,
a restart replays to an identical image, a torn batch replays to the last whole one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ferrokafka._ferrokafka import Log
from ferrokafka.cluster import (
    METADATA_VERSION_LEVEL,
    MetadataLogError,
    SingleVoterLog,
    decode_record,
)
from ferrokafka.cluster.metadata_log import RECORDS_PER_APPEND_MAX
from ferrokafka.cluster.records import BeginTransactionRecord, FeatureLevelRecord, NoOpRecord
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.delete_topics import DeleteTopicsRequest

CT = CreateTopicsRequest


def create(controller, *names: str, partitions: int = 2) -> None:
    topics = [CT.CreatableTopic(name=n, num_partitions=partitions, replication_factor=1)
              for n in names]  # fmt: skip
    response = controller.create_topics(CT(topics=topics))
    assert all(t.error_code == 0 for t in response.topics)


def test_first_start_writes_bootstrap_and_registration(make_controller, tmp_path: Path) -> None:
    controller = make_controller()
    image = controller.image
    assert image.metadata_version == METADATA_VERSION_LEVEL
    broker = image.broker(1)
    assert broker is not None and not broker.fenced and broker.broker_epoch == 3
    assert [ep.name for ep in broker.endpoints] == ["PLAINTEXT"]
    batches = list(controller.log.read_committed(0))
    first = batches[0].messages()
    assert isinstance(first[0], BeginTransactionRecord)
    assert first[1] == FeatureLevelRecord(name="metadata.version", feature_level=30)
    assert [b.base_offset for b in batches] == [0, 3]
    assert controller.log.committed_offset == controller.log.end_offset == 5


def test_each_append_is_one_batch_on_disk_with_null_keys(make_controller, tmp_path: Path):
    controller = make_controller()
    create(controller, "a", partitions=3)
    path = tmp_path / "data" / "__cluster_metadata-0"
    with Log(str(path)) as raw:
        batches = raw.read_batches(0)
    assert [b.record_count for b in batches] == [3, 2, 4]
    assert all(b.partition_leader_epoch == 1 for b in batches)
    for batch in batches:
        for record in batch.records():
            assert record.key is None
            decode_record(record.value)
    # Acknowledged means flushed: nothing committed is only in the page cache.
    assert controller.log.flushed_offset == controller.log.committed_offset == 9


def test_restart_replays_to_an_identical_image(make_controller) -> None:
    first = make_controller()
    create(first, "orders", "logs")
    first.delete_topics(DeleteTopicsRequest(topic_names=["logs"]))
    before = first.image
    first.log.close()
    second = make_controller(register=False)
    assert second.image == before
    # Registering again is a new incarnation with a new epoch, as Kafka does on restart.
    registration = second.register_broker()
    assert registration.incarnation_id != before.broker(1).incarnation_id
    assert registration.broker_epoch > before.broker(1).broker_epoch
    assert second.image.topic("orders") == before.topic("orders")


def test_torn_batch_replays_to_the_last_whole_batch(make_controller, tmp_path: Path) -> None:
    controller = make_controller()
    create(controller, "kept")
    kept = controller.image
    create(controller, "torn", partitions=5)
    controller.log.close()
    segment = tmp_path / "data" / "__cluster_metadata-0" / "00000000000000000000.log"
    size = segment.stat().st_size
    with open(segment, "r+b") as f:
        f.truncate(size - 17)  # the crash cut the last batch short
        os.fsync(f.fileno())
    restarted = make_controller(register=False)
    assert restarted.image == kept
    assert restarted.image.topic("torn") is None
    create(restarted, "torn")  # the log goes on from the last whole batch
    assert restarted.image.topic("torn") is not None


def test_append_limits(tmp_path: Path) -> None:
    with SingleVoterLog(tmp_path) as log:
        with pytest.raises(MetadataLogError, match="at least one"):
            log.append([])
        with pytest.raises(MetadataLogError, match="limit"):
            log.append([NoOpRecord()] * (RECORDS_PER_APPEND_MAX + 1))
        assert log.append([NoOpRecord()] * 3) == 3
        batches = list(log.read_committed(1))
        assert [(b.base_offset, len(b.records)) for b in batches] == [(0, 2)]
