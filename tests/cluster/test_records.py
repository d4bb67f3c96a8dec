"""Metadata record codecs: every record type round-trips at every version, the framing is
Kafka's byte for byte, bad values are refused, and the committed modules are what the
generator makes from the kafka-metadata jar."""

from __future__ import annotations

import importlib.util
import io
import uuid
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from ferrokafka.cluster import MetadataRecordError, decode_record, encode_record
from ferrokafka.cluster.records import (
    RECORD_TYPES,
    ConfigRecord,
    PartitionChangeRecord,
    PartitionRecord,
    RegisterBrokerRecord,
    TopicRecord,
)
from ferrokafka.cluster.serde import WRITE_VERSIONS
from ferrokafka.protocol import ProtocolEncodeError
from ferrokafka.protocol.messages.api_versions import ApiVersionsRequest

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "scripts" / "gen_protocol.py"
TOPIC_ID = uuid.UUID("b88d4c25-dc1f-4702-89cd-7f628d0e4f13")


def test_record_table_has_kafkas_types() -> None:
    assert RECORD_TYPES[0] is RegisterBrokerRecord
    assert RECORD_TYPES[2] is TopicRecord
    assert RECORD_TYPES[3] is PartitionRecord
    assert RECORD_TYPES[4] is ConfigRecord
    assert RECORD_TYPES[5] is PartitionChangeRecord
    assert all(cls.API_KEY == key for key, cls in RECORD_TYPES.items())
    assert set(WRITE_VERSIONS) <= {cls.__name__ for cls in RECORD_TYPES.values()}


@pytest.mark.parametrize("record_type", sorted(RECORD_TYPES))
def test_every_record_round_trips_at_every_version(record_type: int) -> None:
    cls = RECORD_TYPES[record_type]
    lo, hi = cls.valid_versions()
    for version in range(lo, hi + 1):
        message = cls()
        decoded = decode_record(encode_record(message, version))
        assert decoded.version == version
        assert decoded.message == message


def test_topic_record_bytes() -> None:
    value = encode_record(TopicRecord(name="orders", topic_id=TOPIC_ID))
    # frame version 1, type 2, version 0; compact string "orders"; 16-byte id; no tagged fields
    assert value == bytes([1, 2, 0, 7]) + b"orders" + TOPIC_ID.bytes + bytes([0])


def test_partition_record_with_tagged_fields_round_trips() -> None:
    record = PartitionRecord(
        partition_id=2,
        topic_id=TOPIC_ID,
        replicas=[1, 2, 3],
        isr=[1, 2],
        leader=1,
        leader_recovery_state=1,  # tag 0
        leader_epoch=4,
        partition_epoch=9,
        directories=[uuid.UUID(int=7)] * 3,
        eligible_leader_replicas=[3],  # tag 1
        last_known_elr=None,
    )
    decoded = decode_record(encode_record(record))
    assert decoded.version == 2 and decoded.message == record


def test_partition_change_defaults_mean_no_change() -> None:
    record = PartitionChangeRecord(partition_id=0, topic_id=TOPIC_ID)
    assert record.leader == -2 and record.isr is None and record.leader_recovery_state == -1
    value = encode_record(record)
    assert value[-1] == 0  # nothing tagged: every "no change" default is left out


def test_config_delete_is_a_null_value() -> None:
    record = ConfigRecord(resource_type=2, resource_name="t", name="retention.ms", value=None)
    assert decode_record(encode_record(record)).message.value is None


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (bytes([0, 2, 0]), "frame version 0"),
        (bytes([2, 2, 0]), "unknown frame version 2"),
        (bytes([1, 99, 0]), "unknown metadata record type 99"),
        (bytes([1, 2, 5]), "TopicRecord v5"),
        (bytes([1, 0xFF, 0xFF, 0x03, 0]), "type 65535 is too large"),
        (bytes([1]), "bad metadata record header"),
        (encode_record(TopicRecord(name="a")) + b"\x00", "1 bytes left over"),
        (encode_record(TopicRecord(name="abc"))[:-5], "cannot decode TopicRecord"),
    ],
)
def test_bad_values_are_refused(value: bytes, match: str) -> None:
    with pytest.raises(MetadataRecordError, match=match):
        decode_record(value)


def test_only_metadata_records_are_framed() -> None:
    with pytest.raises(ProtocolEncodeError, match="not a metadata record"):
        encode_record(ApiVersionsRequest())


def test_regenerating_from_the_jar_changes_nothing(kafka_classpath: str) -> None:
    spec = importlib.util.spec_from_file_location("gen_protocol", GENERATOR)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    errors = io.StringIO()
    with redirect_stderr(errors):
        status = generator.main(["--metadata", "--check"])
    assert status == 0, (
        "metadata record modules are out of date; run python scripts/gen_protocol.py "
        "--metadata\n" + errors.getvalue()
    )
