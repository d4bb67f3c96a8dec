"""``__share_group_state`` records: the generated modules are what the kafka-share-coordinator
jar defines, and the framing round-trips (the real-client check of the format is
test_share_state_wire.py's DumpLogSegments run)."""

from __future__ import annotations

import importlib.util
import io
import uuid
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from ferrokafka.share import serde

GENERATOR = Path(__file__).resolve().parents[2] / "scripts" / "gen_protocol.py"


def test_regenerating_from_the_jar_changes_nothing() -> None:
    ks = pytest.importorskip("kafka_support.jars")
    try:
        ks.kafka_classpath()
    except ks.KafkaNotFetchedError as exc:
        pytest.fail(f"Apache Kafka is needed for this test: {exc}", pytrace=False)
    spec = importlib.util.spec_from_file_location("gen_protocol", GENERATOR)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    errors = io.StringIO()
    with redirect_stderr(errors):
        status = generator.main(["--share", "--check"])
    assert status == 0, "run python scripts/gen_protocol.py --share\n" + errors.getvalue()


def test_framing_round_trips_and_rejects_garbage() -> None:
    topic = uuid.uuid4()
    value = serde.ShareUpdateValue(
        snapshot_epoch=3,
        leader_epoch=5,
        start_offset=7,
        delivery_complete_count=2,
        state_batches=[
            serde.ShareUpdateValue.StateBatch(
                first_offset=7, last_offset=9, delivery_state=2, delivery_count=1
            )
        ],
    )
    key, raw = serde.update_record("g", topic, 4, value)
    assert key[:2] == b"\x00\x01" and raw[:2] == b"\x00\x00"
    record = serde.decode_record(key, raw)
    assert (record.record_type, record.group_id, record.topic_id, record.partition) == (
        serde.SHARE_UPDATE, "g", topic, 4,
    )  # fmt: skip
    assert record.value == value
    tomb_key, tomb = serde.tombstone_record("g", topic, 4)
    assert tomb is None and serde.decode_record(tomb_key, None).value is None
    for bad_key, bad_value in ((b"\x00", None), (b"\x00\x09" + key[2:], raw), (key, raw[:3])):
        with pytest.raises(serde.ShareRecordError):
            serde.decode_record(bad_key, bad_value)
