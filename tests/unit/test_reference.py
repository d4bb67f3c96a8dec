"""Unit tests of the pure-Python record batch codec (ferrokafka.storage.reference) on its own:
CRC-32C vectors, varints, a batch laid out by hand from the spec, codec framing, corrupt input
and a round-trip property. Where kafka-python is installed its independent implementation is
used as a second opinion."""

from __future__ import annotations

import gzip
import struct

import cramjam
import lz4.frame
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from ferrokafka._ferrokafka import (
    CorruptRecordError,
    UnsupportedCompressionError,
    UnsupportedMagicError,
)
from ferrokafka.storage import reference as ref

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
TS = 1_700_000_000_000


def build(records, **kw) -> bytes:
    """records: (value, key, headers, timestamp) tuples."""
    b = ref.BatchBuilder(**kw)
    for value, key, headers, ts in records:
        b.append(value, key=key, headers=headers, timestamp=ts)
    return b.build()


def recrc(batch: bytearray) -> bytes:
    """Recompute the CRC after patching a field, so the damage reaches the record parser."""
    struct.pack_into(">I", batch, 17, ref.crc32c(bytes(batch[21:])))
    return bytes(batch)


def as_tuples(records):
    return [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in records]


SIMPLE = [(b"v%d" % i, b"k%d" % i, [], TS + i) for i in range(3)]

# ---------------------------------------------------------------------------------------------
# CRC-32C
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", 0x00000000),
        (b"123456789", 0xE3069283),  # the CRC catalogue's check value
        (bytes(32), 0x8A9136AA),  # RFC 3720 B.4: 32 bytes of zeros
        (b"\xff" * 32, 0x62A8AB43),  # RFC 3720 B.4: 32 bytes of ones
        (bytes(range(32)), 0x46DD794E),  # RFC 3720 B.4: incrementing
    ],
)
def test_crc32c_known_vectors(data, expected):
    assert ref.crc32c(data) == expected


def test_crc32c_continues_and_takes_any_buffer():
    data = bytes(range(256)) * 5
    for cut in (0, 1, 100, len(data)):
        assert ref.crc32c(data[cut:], ref.crc32c(data[:cut])) == ref.crc32c(data)
    assert ref.crc32c(bytearray(data)) == ref.crc32c(memoryview(data)) == ref.crc32c(data)


# ---------------------------------------------------------------------------------------------
# Varints
# ---------------------------------------------------------------------------------------------

VARINTS = [
    (0, "00"),
    (-1, "01"),
    (1, "02"),
    (63, "7e"),
    (-64, "7f"),
    (64, "8001"),
    (-65, "8101"),
    (2**31 - 1, "feffffff0f"),
    (-(2**31), "ffffffff0f"),
]


@pytest.mark.parametrize(("value", "hexed"), VARINTS)
def test_varint_encoding(value, hexed):
    assert ref.encode_varint(value).hex() == hexed
    assert ref.decode_varint(bytes.fromhex(hexed)) == (value, len(hexed) // 2)


@pytest.mark.parametrize(
    ("value", "hexed"),
    [*VARINTS[:7], (2**63 - 1, "feffffffffffffffff01"), (-(2**63), "ffffffffffffffffff01")],
)
def test_varlong_encoding(value, hexed):
    assert ref.encode_varlong(value).hex() == hexed
    assert ref.decode_varlong(bytes.fromhex(hexed)) == (value, len(hexed) // 2)


def test_varint_out_of_range_is_refused():
    with pytest.raises(OverflowError):
        ref.encode_varint(2**31)
    with pytest.raises(OverflowError):
        ref.encode_varlong(-(2**63) - 1)


@pytest.mark.parametrize(
    ("reader", "data"),
    [
        (ref.decode_varint, b""),
        (ref.decode_varint, b"\x80\x80"),  # continuation bit, then nothing
        (ref.decode_varint, b"\x80\x80\x80\x80\x80\x00"),  # six bytes
        (ref.decode_varlong, b"\x80" * 10 + b"\x00"),  # eleven bytes
    ],
)
def test_malformed_varints(reader, data):
    with pytest.raises(ref.MalformedError):
        reader(data)


def test_varint_overflow_bits_are_dropped_as_java_does():
    # 0x7f in the fifth byte sets bits past 32; Java's int keeps the low 32 -> 0xffffffff.
    assert ref.decode_varint(b"\xff\xff\xff\xff\x7f") == (-(2**31), 5)
    assert ref.decode_varint(b"\x01\x02", 1) == (1, 2)


# ---------------------------------------------------------------------------------------------
# A batch laid out by hand from the spec
# ---------------------------------------------------------------------------------------------

# Record 0: offsetDelta 0, timestampDelta 0, key b"k", value b"v1", header ("h", b"x").
# Record 1: offsetDelta 1, timestampDelta 7, key null, value b"", no headers.
HAND_RECORDS = bytes.fromhex(
    "1a"  # length 13
    "00"
    "00"
    "00"  # attributes, timestampDelta 0, offsetDelta 0
    "02"
    "6b"  # key length 1, "k"
    "04"
    "7631"  # value length 2, "v1"
    "02"
    "02"
    "68"
    "02"
    "78"  # 1 header: key length 1 "h", value length 1 "x"
    "0c"  # length 6
    "00"
    "0e"
    "02"  # attributes, timestampDelta 7, offsetDelta 1
    "01"
    "00"
    "00"  # key null, value length 0, 0 headers
)
# CRC-32C of attributes..end, computed by an independent implementation (kafka-python).
HAND_CRC = 0x85F19889
HAND_BATCH = (
    struct.pack(">qiib", 5, 49 + len(HAND_RECORDS), 3, 2)  # baseOffset, batchLength, PLE, magic
    + struct.pack(">I", HAND_CRC)
    + struct.pack(">hi", 0, 1)  # attributes (none, CreateTime), lastOffsetDelta
    + struct.pack(">qq", TS, TS + 7)  # baseTimestamp, maxTimestamp
    + struct.pack(">qhii", 42, 1, 10, 2)  # producerId, producerEpoch, baseSequence, count
    + HAND_RECORDS
)


def test_hand_built_batch_decodes_field_by_field():
    [batch] = ref.decode_batches(HAND_BATCH)
    assert len(HAND_BATCH) == 82 == batch.size_in_bytes
    assert ref.crc32c(HAND_BATCH[21:]) == HAND_CRC == batch.crc
    assert batch.is_valid()
    assert (batch.base_offset, batch.last_offset, batch.next_offset) == (5, 6, 7)
    assert (batch.partition_leader_epoch, batch.magic, batch.attributes) == (3, 2, 0)
    assert (batch.compression, batch.timestamp_type) == ("none", "CreateTime")
    assert not batch.is_transactional and not batch.is_control
    assert (batch.last_offset_delta, batch.base_timestamp, batch.max_timestamp) == (1, TS, TS + 7)
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (42, 1, 10)
    assert (batch.record_count, batch.position) == (2, 0)
    assert batch.control_record() is None
    assert batch.to_bytes() == HAND_BATCH
    assert as_tuples(batch.records()) == [
        (5, TS, b"k", b"v1", [("h", b"x")]),
        (6, TS + 7, None, b"", []),
    ]


def test_builder_reproduces_the_hand_built_batch():
    b = ref.BatchBuilder(
        base_offset=5, partition_leader_epoch=3, producer_id=42, producer_epoch=1, base_sequence=10
    )
    assert b.append(b"v1", key=b"k", headers=[("h", b"x")], timestamp=TS) == 0
    assert b.append(b"", timestamp=TS + 7) == 1
    assert len(b) == 2
    assert b.build() == HAND_BATCH


# ---------------------------------------------------------------------------------------------
# Builder
# ---------------------------------------------------------------------------------------------


def test_timestamps_base_is_first_max_is_largest():
    raw = build([(b"a", None, [], TS + 5), (b"b", None, [], TS + 9), (b"c", None, [], TS)])
    [batch] = ref.decode_batches(raw)
    assert (batch.base_timestamp, batch.max_timestamp) == (TS + 5, TS + 9)
    assert [r.timestamp for r in batch.records()] == [TS + 5, TS + 9, TS]


def test_default_timestamp_is_now():
    import time

    before = time.time_ns() // 1_000_000
    b = ref.BatchBuilder()
    b.append(b"x")
    [batch] = ref.decode_batches(b.build())
    assert before <= batch.records()[0].timestamp <= time.time_ns() // 1_000_000


def test_attributes_flags():
    raw = build(SIMPLE, compression="lz4", timestamp_type="LogAppendTime", is_transactional=True)
    [batch] = ref.decode_batches(raw)
    assert batch.attributes == 3 | 0x08 | 0x10
    assert (batch.compression, batch.timestamp_type, batch.is_transactional) == (
        "lz4",
        "LogAppendTime",
        True,
    )
    # Every record of a LogAppendTime batch reads as the batch's max timestamp.
    assert {r.timestamp for r in batch.records()} == {TS + 2}


def test_builder_refuses_bad_input_and_stays_usable():
    with pytest.raises(ValueError):
        ref.BatchBuilder().build()
    with pytest.raises(UnsupportedCompressionError):
        ref.BatchBuilder(compression="brotli")
    with pytest.raises(ValueError):
        ref.BatchBuilder(timestamp_type="Now")
    with pytest.raises(ValueError):
        ref.BatchBuilder(compression="gzip", compression_level=10)
    with pytest.raises(OverflowError):
        ref.BatchBuilder(producer_epoch=2**15)
    b = ref.BatchBuilder()
    with pytest.raises(TypeError):
        b.append("text")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        b.append(b"v", headers=[(b"bytes-key", b"v")])  # type: ignore[list-item]
    assert len(b) == 0
    assert b.append(b"ok", timestamp=TS) == 0
    assert len(b) == 1


# ---------------------------------------------------------------------------------------------
# Codecs
# ---------------------------------------------------------------------------------------------

# ~200 KiB, compressible, crossing several 32 KiB snappy and 64 KiB lz4 blocks.
BIG = b"".join(b'{"id":%d,"user":"u%d","event":"click"}' % (i, i % 97) for i in range(5000))


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("data", [b"", b"x", BIG], ids=["empty", "one", "big"])
def test_compress_round_trip(codec, data):
    packed = ref.compress(codec, data)
    assert ref.decompress(codec, packed) == data
    if codec != "none" and data is BIG:
        assert len(packed) < len(data) // 3


@pytest.mark.parametrize("codec", CODECS)
def test_batch_round_trip_per_codec(codec):
    records = [
        (BIG[i * 997 : i * 997 + 500], b"key-%d" % i, [("trace", b"%d" % i), ("n", None)], TS + i)
        for i in range(300)
    ] + [(None, None, [], TS), (b"", b"", [("", b"")], TS - 1)]
    raw = build(records, compression=codec, base_offset=100)
    [batch] = ref.decode_batches(raw)
    assert batch.compression == codec
    assert as_tuples(batch.records()) == [
        (100 + i, ts, key, value, headers) for i, (value, key, headers, ts) in enumerate(records)
    ]


def test_snappy_is_xerial_framed_in_32k_blocks():
    packed = ref.compress("snappy", BIG)
    assert packed[:16] == b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)
    pos, blocks = 16, []
    while pos < len(packed):
        (size,) = struct.unpack_from(">i", packed, pos)
        blocks.append(bytes(cramjam.snappy.decompress_raw(packed[pos + 4 : pos + 4 + size])))
        pos += 4 + size
    assert pos == len(packed) and b"".join(blocks) == BIG
    assert all(len(b) == 32768 for b in blocks[:-1]) and 0 < len(blocks[-1]) <= 32768


def test_snappy_reads_raw_and_xerial():
    raw = bytes(cramjam.snappy.compress_raw(BIG))
    assert ref.decompress("snappy", raw) == BIG
    # A hand-framed xerial stream whose blocks split the data differently.
    parts = [BIG[:1000], BIG[1000:]]
    blocks = [bytes(cramjam.snappy.compress_raw(p)) for p in parts]
    framed = b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)
    framed += b"".join(struct.pack(">i", len(b)) + b for b in blocks)
    assert ref.decompress("snappy", framed) == BIG
    with pytest.raises(CorruptRecordError):
        ref.decompress("snappy", framed[:-3])


def test_lz4_frame_is_what_kafka_writes():
    packed = ref.compress("lz4", BIG)
    assert packed[:4] == b"\x04\x22\x4d\x18"  # LZ4 frame magic
    # FLG: version 01, independent blocks, no block checksum, no content size or checksum.
    # BD: 64 KiB maximum block size.
    assert (packed[4], packed[5]) == (0x60, 0x40)
    assert packed[-4:] == bytes(4)  # end mark, no content checksum after it


def test_lz4_reads_frames_with_optional_fields():
    other = lz4.frame.compress(BIG, content_checksum=True, store_size=True, block_linked=True)
    assert ref.decompress("lz4", other) == BIG
    with pytest.raises(CorruptRecordError):
        ref.decompress("lz4", other[:-6])


def test_gzip_and_zstd_framing():
    assert ref.compress("gzip", BIG)[:3] == b"\x1f\x8b\x08"
    assert ref.decompress("gzip", gzip.compress(b"a") + gzip.compress(b"b")) == b"ab"
    streamed = zstandard.ZstdCompressor().compressobj()
    frame = streamed.compress(BIG) + streamed.flush()  # no content size in the frame header
    assert zstandard.get_frame_parameters(frame).content_size == zstandard.CONTENTSIZE_UNKNOWN
    assert ref.decompress("zstd", frame) == BIG


def test_codec_names_and_levels():
    assert ref.compress("uncompressed", b"abc") == b"abc"
    with pytest.raises(UnsupportedCompressionError):
        ref.compress("brotli", b"abc")
    with pytest.raises(UnsupportedCompressionError):
        ref.decompress("", b"abc")
    for codec, good, bad in [("gzip", 9, 0), ("lz4", 17, 18), ("zstd", -5, 23)]:
        assert ref.decompress(codec, ref.compress(codec, BIG, good)) == BIG
        with pytest.raises(ValueError):
            ref.compress(codec, BIG, bad)


@pytest.mark.parametrize("codec", CODECS[1:])
def test_decompress_garbage_is_corrupt_at_position_0(codec):
    with pytest.raises(CorruptRecordError) as e:
        ref.decompress(codec, b"\x00not a valid frame at all\xff" * 3)
    assert e.value.position == 0


# ---------------------------------------------------------------------------------------------
# Framing and corrupt input
# ---------------------------------------------------------------------------------------------


def two_batches() -> tuple[bytes, bytes]:
    return build(SIMPLE), build(SIMPLE, base_offset=3, compression="gzip")


def test_positions_of_batches():
    a, b = two_batches()
    batches = ref.decode_batches(a + b)
    assert [x.position for x in batches] == [0, len(a)]
    assert [x.base_offset for x in batches] == [0, 3]
    assert ref.decode_batches(b"") == []


def test_crc_mismatch_reports_the_batch_position():
    a, b = two_batches()
    damaged = bytearray(a + b)
    damaged[len(a) + 30] ^= 0x01  # inside the second batch's CRC range
    with pytest.raises(CorruptRecordError) as e:
        ref.decode_batches(bytes(damaged))
    assert e.value.position == len(a)
    batches = ref.decode_batches(bytes(damaged), verify_crc=False)
    assert [x.is_valid() for x in batches] == [True, False]


def test_bytes_outside_the_crc_do_not_invalidate():
    damaged = bytearray(build(SIMPLE))
    damaged[3] ^= 0x10  # baseOffset: stamped by brokers, outside the CRC
    [batch] = ref.decode_batches(bytes(damaged))
    assert batch.is_valid() and batch.base_offset == 1 << 36


def test_bad_magic():
    a, b = two_batches()
    damaged = bytearray(a + b)
    damaged[len(a) + 16] = 1
    with pytest.raises(UnsupportedMagicError) as e:
        ref.decode_batches(bytes(damaged))
    assert (e.value.position, e.value.magic) == (len(a), 1)
    assert isinstance(e.value, CorruptRecordError)
    # A partial header still shows its magic, even when partial batches are allowed.
    damaged[len(a) + 16] = 0xFF
    with pytest.raises(UnsupportedMagicError) as e:
        ref.decode_batches(bytes(damaged[: len(a) + 20]), allow_partial=True)
    assert (e.value.position, e.value.magic) == (len(a), -1)


@pytest.mark.parametrize("cut", [1, 17, 60, 61, 70])
def test_truncated_tail(cut):
    a, b = two_batches()
    data = a + b[: min(cut, len(b) - 1)]
    with pytest.raises(CorruptRecordError) as e:
        ref.decode_batches(data)
    assert e.value.position == len(a)
    assert [x.to_bytes() for x in ref.decode_batches(data, allow_partial=True)] == [a]


def test_batch_length_smaller_than_the_header():
    a, b = two_batches()
    damaged = bytearray(a + b)
    struct.pack_into(">i", damaged, len(a) + 8, 48)
    with pytest.raises(CorruptRecordError) as e:
        ref.decode_batches(bytes(damaged), allow_partial=True)
    assert e.value.position == len(a)


def corrupt_records_of(raw: bytes, patch) -> CorruptRecordError:
    """Patch a valid batch (placed second in the buffer), fix its CRC, decode its records."""
    first = build(SIMPLE)
    damaged = bytearray(raw)
    patch(damaged)
    [_, batch] = ref.decode_batches(first + recrc(damaged))
    with pytest.raises(CorruptRecordError) as e:
        batch.records()
    assert e.value.position == len(first) == batch.position
    return e.value


def test_record_count_larger_than_the_records():
    corrupt_records_of(build(SIMPLE), lambda b: struct.pack_into(">i", b, 57, 4))


def test_bytes_after_the_last_record():
    raw = build(SIMPLE)
    extra = bytearray(raw + b"\x00")
    struct.pack_into(">i", extra, 8, len(raw) - 12 + 1)
    corrupt_records_of(bytes(extra), lambda b: None)


def test_unknown_codec_id():
    raw = bytearray(build(SIMPLE))
    struct.pack_into(">h", raw, 21, 5)
    [batch] = ref.decode_batches(recrc(raw))
    with pytest.raises(UnsupportedCompressionError):
        batch.compression  # noqa: B018
    corrupt_records_of(bytes(raw), lambda b: None)


@pytest.mark.parametrize("codec", CODECS[1:])
def test_compressed_payload_damaged_under_a_valid_crc(codec):
    raw = build(SIMPLE * 20, compression=codec)
    corrupt_records_of(raw, lambda b: b.__setitem__(slice(61, None), b"\x07" * (len(b) - 61)))


def test_record_level_damage():
    raw = build([(b"v", b"k", [("h", b"x")], TS)])  # record body starts at byte 62
    corrupt_records_of(raw, lambda b: b.__setitem__(61, 0x7E))  # length 63 overruns
    corrupt_records_of(raw, lambda b: b.__setitem__(62 + 7, 0x03))  # header count -2


def test_header_key_not_utf8_is_replaced_like_kafka():
    raw = bytearray(build([(b"v", b"k", [("h", b"x")], TS)]))
    raw[62 + 9] = 0xFF  # the header key byte
    [batch] = ref.decode_batches(recrc(raw))
    assert batch.records()[0].headers == [("\ufffd", b"x")]


def test_negative_key_length_reads_as_null_like_kafka():
    raw = bytearray(build([(b"v", None, [], TS)]))
    assert raw[62 + 3] == 0x01  # key length -1
    raw[62 + 3] = 0x09  # -5
    [batch] = ref.decode_batches(recrc(raw))
    assert batch.records()[0].key is None


# ---------------------------------------------------------------------------------------------
# Control batches
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("commit", [True, False])
def test_control_batch(commit):
    raw = ref.build_control_batch(
        commit=commit, producer_id=7, producer_epoch=3, coordinator_epoch=11, timestamp=TS
    )
    [batch] = ref.decode_batches(raw)
    assert batch.is_control and batch.is_transactional and batch.attributes == 0x30
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (7, 3, -1)
    assert (batch.base_timestamp, batch.max_timestamp, batch.record_count) == (TS, TS, 1)
    assert batch.control_record() == ("COMMIT" if commit else "ABORT", 11)
    [record] = batch.records()
    assert record.key == struct.pack(">hh", 0, int(commit))
    assert record.value == struct.pack(">hi", 0, 11)


def test_control_record_of_other_kinds():
    raw = bytearray(ref.build_control_batch(commit=True, producer_id=1, producer_epoch=0))
    key_type_at = 62 + 6  # attributes, tsDelta, offsetDelta, key length, version (2 bytes)
    assert raw[key_type_at : key_type_at + 2] == b"\x00\x01"
    raw[key_type_at + 1] = 2  # LEADER_CHANGE: a control batch, not a transaction marker
    assert ref.decode_batches(recrc(raw))[0].control_record() is None
    short = build([(b"\x00" * 6, b"\x00", [], TS)])
    flagged = bytearray(short)
    struct.pack_into(">h", flagged, 21, 0x30)
    with pytest.raises(CorruptRecordError):
        ref.decode_batches(recrc(flagged))[0].control_record()


# ---------------------------------------------------------------------------------------------
# Property: whatever goes in comes out
# ---------------------------------------------------------------------------------------------

blobs = st.none() | st.binary(max_size=64)
headers = st.lists(st.tuples(st.text(max_size=8), blobs), max_size=3)
records = st.lists(
    st.tuples(blobs, blobs, headers, st.integers(min_value=0, max_value=2**42)),
    min_size=1,
    max_size=20,
)


@settings(max_examples=150, deadline=None)
@given(
    records=records,
    codec=st.sampled_from(CODECS),
    base_offset=st.integers(min_value=0, max_value=2**40),
    producer=st.tuples(
        st.integers(-1, 2**63 - 1), st.integers(-1, 2**15 - 1), st.integers(-1, 2**31 - 1)
    ),
)
def test_round_trip_property(records, codec, base_offset, producer):
    pid, epoch, seq = producer
    raw = build(
        records,
        compression=codec,
        base_offset=base_offset,
        producer_id=pid,
        producer_epoch=epoch,
        base_sequence=seq,
    )
    [batch] = ref.decode_batches(raw)
    assert batch.is_valid() and batch.size_in_bytes == len(raw)
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == producer
    assert batch.record_count == len(records) == batch.last_offset_delta + 1
    assert batch.base_timestamp == records[0][3]
    assert batch.max_timestamp == max(r[3] for r in records)
    assert as_tuples(batch.records()) == [
        (base_offset + i, ts, key, value, hdrs) for i, (value, key, hdrs, ts) in enumerate(records)
    ]


# ---------------------------------------------------------------------------------------------
# Second opinion: kafka-python's independent implementation of the same format
# ---------------------------------------------------------------------------------------------


def test_kafka_python_agrees():
    kp = pytest.importorskip("kafka.record.default_records")
    kp_crc = pytest.importorskip("kafka.record.util").calc_crc32c
    assert kp_crc(BIG) == ref.crc32c(BIG)
    data = [
        (b"val-%d" % i if i % 4 else None, b"k" if i % 2 else None, [("h", b"%d" % i)], TS + i % 7)
        for i in range(200)
    ]
    expected = [(i, ts, k, v, h) for i, (v, k, h, ts) in enumerate(data)]
    for codec_id, codec in enumerate(CODECS):
        theirs = kp.DefaultRecordBatchBuilder(
            magic=2,
            compression_type=codec_id,
            is_transactional=False,
            producer_id=-1,
            producer_epoch=-1,
            base_sequence=-1,
            batch_size=1 << 20,
        )
        for i, (v, k, h, ts) in enumerate(data):
            theirs.append(i, timestamp=ts, key=k, value=v, headers=h)
        their_bytes = bytes(theirs.build())
        # kafka-python writes partitionLeaderEpoch 0.
        ours = build(data, compression=codec, partition_leader_epoch=0)
        if codec == "none":
            assert ours == their_bytes
        [batch] = ref.decode_batches(their_bytes)
        assert as_tuples(batch.records()) == expected
        decoded = kp.DefaultRecordBatch(ours)
        assert decoded.validate_crc()
        assert [
            (m.offset, m.timestamp, m.key, m.value, list(m.headers)) for m in decoded
        ] == expected
