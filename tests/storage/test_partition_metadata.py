"""Kafka's partition.metadata file: written as Kafka writes it, read back, refused when it is
not one."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ferrokafka.storage.checkpoints import kafka_uuid_string
from ferrokafka.storage.partition_metadata import (
    PARTITION_METADATA_FILE,
    PartitionMetadataError,
    read_topic_id,
    write_topic_id,
)


def test_written_as_kafka_writes_it_and_read_back(tmp_path: Path) -> None:
    topic_id = uuid.uuid4()
    write_topic_id(tmp_path, topic_id)
    text = (tmp_path / PARTITION_METADATA_FILE).read_text()
    assert text == f"version: 0\ntopic_id: {kafka_uuid_string(topic_id)}\n"
    assert read_topic_id(tmp_path) == topic_id


def test_a_directory_without_it_has_no_topic_id(tmp_path: Path) -> None:
    assert read_topic_id(tmp_path) is None


@pytest.mark.parametrize(
    "text",
    ["garbage", "version: 1\ntopic_id: AAAAAAAAAAAAAAAAAAAAAA\n", "version: 0\ntopic_id: %%%\n"],
)
def test_what_is_not_one_is_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / PARTITION_METADATA_FILE).write_text(text)
    with pytest.raises(PartitionMetadataError):
        read_topic_id(tmp_path)
