"""Produce's per-partition records check (Kafka's ProduceRequest.validateRecords) reads the
batch header through the native parser; its answers, codes and messages included, are those
of Kafka's rules applied byte by byte, which the oracle below spells out: no batch in fewer
than 12 bytes, a batch length below 14 is corrupt, an incomplete batch is no batch, magic 2
only, no zstd before v7, and a second batch only when at least 12 more bytes follow."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from ferrokafka.partition import AppendResult
from ferrokafka.protocol import error_codes as ec
from ferrokafka.server.handlers.produce import check_records
from ferrokafka.storage import BatchBuilder, BatchHeader


def oracle(records: bytes, version: int) -> tuple[int, str] | None:
    """Kafka's ByteBufferLogInputStream framing and validateRecords, by byte offset."""
    no_batch = (
        ec.INVALID_RECORD,
        f"Produce requests with version {version} must have at least one record batch per "
        "partition",
    )
    if len(records) < 12:
        return no_batch
    (length,) = struct.unpack_from(">i", records, 8)
    if length < 14:
        return ec.CORRUPT_MESSAGE, f"Record size {length} is less than the minimum"
    if len(records) < 12 + length:
        return no_batch
    if records[16] != 2:
        return (
            ec.INVALID_RECORD,
            f"Produce requests with version {version} are only allowed to contain record "
            "batches with magic version 2",
        )
    (attributes,) = struct.unpack_from(">h", records, 21)
    if version < 7 and attributes & 0x07 == 4:
        return (
            ec.UNSUPPORTED_COMPRESSION_TYPE,
            f"Produce requests with version {version} are not allowed to use ZStandard compression",
        )
    if len(records) - 12 - length >= 12:
        return (
            ec.INVALID_RECORD,
            f"Produce requests with version {version} are only allowed to contain exactly one "
            "record batch per partition",
        )
    return None


def answer(records: bytes, version: int) -> tuple[int, str] | None:
    result = check_records(memoryview(records).toreadonly(), version)
    if isinstance(result, BatchHeader):
        # Passed: the header handed on is the batch's own.
        assert result.batch_length == struct.unpack_from(">i", records, 8)[0]
        return None
    return (result.code, result.message or "")


def batch(compression: str = "none") -> bytes:
    b = BatchBuilder(compression=compression)
    b.append(b"value", key=b"key", timestamp=1_700_000_000_000)
    return b.build()


def with_length(length: int, size: int, *, magic: int = 2, attributes: int = 0) -> bytes:
    out = bytearray(size)
    struct.pack_into(">i", out, 8, length)
    if size > 16:
        out[16] = magic
    if size >= 23:
        struct.pack_into(">h", out, 21, attributes)
    return bytes(out)


CASES = {
    "empty": b"",
    "11 bytes": bytes(11),
    "12 bytes, length 0": bytes(12),
    "length 13": with_length(13, 40),
    "negative length": with_length(-5, 70),
    "length 14, incomplete": with_length(14, 25),
    "length 14, whole, magic 2": with_length(14, 26),
    "length 14, whole, magic 1": with_length(14, 26, magic=1),
    "length 14, whole, zstd": with_length(14, 26, attributes=4),
    "length 40 + 11 trailing": with_length(40, 63),
    "length 40 + 12 trailing": with_length(40, 64),
    "length 48, header cut": with_length(48, 60),
    "one batch": batch(),
    "zstd batch": batch("zstd"),
    "one batch + 11 bytes": batch() + bytes(11),
    "two batches": batch() + batch(),
    "magic 1": bytes(batch()[:16]) + b"\x01" + bytes(batch()[17:]),
    "codec id 5": with_length(60, 72, attributes=5),
    "incomplete batch": batch()[:-1],
}


def test_answers_as_kafka_rules_byte_by_byte() -> None:
    for name, records in CASES.items():
        for version in (3, 6, 7, 9, 13):
            assert answer(records, version) == oracle(records, version), (name, version)


def test_missing_records() -> None:
    result = check_records(None, 9)
    assert isinstance(result, AppendResult) and result.code == ec.INVALID_RECORD


@given(
    base=st.sampled_from(sorted(CASES)),
    cut=st.integers(0, 200),
    patches=st.lists(st.tuples(st.integers(0, 90), st.integers(0, 255)), max_size=4),
    version=st.sampled_from([3, 6, 7, 11]),
)
def test_mutated_inputs_agree_with_the_oracle(
    base: str, cut: int, patches: list[tuple[int, int]], version: int
) -> None:
    data = bytearray(CASES[base][:cut] if cut < len(CASES[base]) else CASES[base])
    for at, value in patches:
        if at < len(data):
            data[at] = value
    records = bytes(data)
    assert answer(records, version) == oracle(records, version)
