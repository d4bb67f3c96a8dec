"""The generated ``__consumer_offsets`` record classes: every key and value round-trips at every
version through our framing, the table has Kafka's record types, and the committed modules are
what the generator makes from the kafka-group-coordinator jar."""

from __future__ import annotations

import importlib.util
import io
from contextlib import redirect_stderr
from pathlib import Path

import pytest

import kafka_support as ks
from ferrokafka.groups.records import RECORD_TYPES
from ferrokafka.groups.serde import decode_record, encode_key, encode_value

GENERATOR = Path(__file__).resolve().parents[2] / "scripts" / "gen_protocol.py"


def test_record_types_are_kafkas() -> None:
    # Kafka 4.3's CoordinatorRecordType ids (9 and 18 were never used or were removed).
    assert sorted(RECORD_TYPES) == [0, 1, 2, 3, 4, 5, 6, 7, 8, *range(10, 18), *range(19, 24)]
    assert RECORD_TYPES[1][0].__name__ == "OffsetCommitKey"
    assert RECORD_TYPES[2][1].__name__ == "GroupMetadataValue"


@pytest.mark.parametrize("record_type", sorted(set(RECORD_TYPES) - {0}))
def test_every_record_round_trips(record_type: int) -> None:
    key_class, value_class = RECORD_TYPES[record_type]
    key = key_class()
    lo, hi = value_class.valid_versions()
    for version in range(lo, hi + 1):
        value = value_class()
        decoded = decode_record(encode_key(key), encode_value(value, version))
        assert (decoded.record_type, decoded.key, decoded.value_version) == (
            record_type,
            key,
            version,
        )
        assert decoded.value == value


def test_regenerating_from_the_jar_changes_nothing() -> None:
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
        status = generator.main(["--groups", "--check"])
    assert status == 0, (
        "__consumer_offsets record modules are out of date; run python scripts/gen_protocol.py "
        "--groups\n" + errors.getvalue()
    )
