"""The native record codec (Rust, ferrokafka._ferrokafka) agrees with the pure-Python reference
(ferrokafka.storage.reference): CRC-32C, compression in both directions, byte-identical
uncompressed batches from the two builders, each side decoding the other's batches in every
codec, decode_batches on multi-batch and truncated buffers, and the same verdict on a batch
with one damaged byte. Hypothesis properties with bounded example counts.

Disagreements are compared as outcomes: ("ok", value) or ("error", exception class name,
.position), so a failure shows what each side did."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ferrokafka._ferrokafka as native
from ferrokafka._ferrokafka import CorruptRecordError, FerrokafkaError
from ferrokafka.storage import reference as ref

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
IMPLS = {"native": native, "reference": ref}
# Valid levels per codec, within Kafka's ranges (None: the codec's default).
LEVELS = {
    "none": [None],
    "gzip": [None, 1, 6, 9],
    "snappy": [None],
    "lz4": [None, 1, 9, 12],
    "zstd": [None, -5, 1, 3, 19],
}
# Every header property of the stub except those that depend on the compressed bytes.
STABLE_FIELDS = (
    "base_offset",
    "last_offset",
    "next_offset",
    "partition_leader_epoch",
    "magic",
    "attributes",
    "timestamp_type",
    "is_transactional",
    "is_control",
    "last_offset_delta",
    "base_timestamp",
    "max_timestamp",
    "producer_id",
    "producer_epoch",
    "base_sequence",
    "record_count",
    "position",
)
BYTE_FIELDS = ("crc", "size_in_bytes")

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Outcome = tuple[Any, ...]


def outcome(fn: Callable[[], Any]) -> Outcome:
    """What ``fn`` did; only ferrokafka errors are outcomes, anything else fails the test."""
    try:
        return ("ok", fn())
    except FerrokafkaError as e:
        return ("error", type(e).__name__, getattr(e, "position", None))


def record_tuples(records) -> list[tuple]:
    return [(r.offset, r.timestamp, r.key, r.value, list(r.headers)) for r in records]


def header(batch, fields=STABLE_FIELDS + BYTE_FIELDS) -> dict[str, Any]:
    out = {f: getattr(batch, f) for f in fields}
    out["compression"] = outcome(lambda: batch.compression)
    out["is_valid"] = batch.is_valid()
    return out


def decoded(impl, data: bytes, **kw) -> Outcome:
    """Everything ``impl`` reads from ``data``: per batch its header, bytes, records and
    control record, each as an outcome."""

    def run():
        return [
            (
                header(b),
                b.to_bytes(),
                outcome(lambda b=b: record_tuples(b.records())),
                outcome(b.control_record),
            )
            for b in impl.decode_batches(data, **kw)
        ]

    return outcome(run)


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------

blobs = st.none() | st.binary(max_size=48)
header_lists = st.lists(st.tuples(st.text(max_size=6), blobs), max_size=3)
# Timestamps in a realistic range, not ordered: base is the first, max the largest.
timestamps = st.integers(min_value=0, max_value=2**42)
record_lists = st.lists(st.tuples(blobs, blobs, header_lists, timestamps), min_size=1, max_size=25)
builder_args = st.fixed_dictionaries(
    {
        "base_offset": st.integers(min_value=0, max_value=2**40),
        "timestamp_type": st.sampled_from(["CreateTime", "LogAppendTime"]),
        "producer_id": st.integers(min_value=-1, max_value=2**63 - 1),
        "producer_epoch": st.integers(min_value=-1, max_value=2**15 - 1),
        "base_sequence": st.integers(min_value=-1, max_value=2**31 - 1),
        "is_transactional": st.booleans(),
        "partition_leader_epoch": st.integers(min_value=-1, max_value=2**31 - 1),
    }
)
# Somewhat compressible payloads: repeated words with random bytes mixed in.
payloads = st.lists(
    st.sampled_from([b"orders", b"user-", b"0", b"1", b'"id":', b"\x00", b"click,"])
    | st.binary(min_size=1, max_size=8),
    max_size=400,
).map(b"".join)


def build(impl, records, **kw) -> bytes:
    b = impl.BatchBuilder(**kw)
    deltas = [
        b.append(value, key=key, headers=hdrs, timestamp=ts) for value, key, hdrs, ts in records
    ]
    assert deltas == list(range(len(records))) and len(b) == len(records)
    return b.build()


# ---------------------------------------------------------------------------------------------
# CRC-32C and codecs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "crc"), [(b"123456789", 0xE3069283), (bytes(32), 0x8A9136AA)])
def test_crc32c_vectors_on_both(data, crc):
    assert native.crc32c(data) == ref.crc32c(data) == crc


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=4096), seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_crc32c_agrees(data, seed):
    assert native.crc32c(data) == ref.crc32c(data)
    assert native.crc32c(data, seed) == ref.crc32c(data, seed)


@PROPERTY
@given(data=payloads | st.binary(max_size=2048), codec=st.sampled_from(CODECS), pick=st.data())
def test_compression_crosses_over(data, codec, pick):
    level = pick.draw(st.sampled_from(LEVELS[codec]), label="level")
    assert native.decompress(codec, ref.compress(codec, data, level)) == data
    assert ref.decompress(codec, native.compress(codec, data, level)) == data


def test_compression_crosses_over_for_large_input():
    data = b"".join(
        b'{"order":%d,"sku":"s-%d","qty":%d},' % (i, i % 313, i % 7) for i in range(40000)
    )
    assert len(data) > 1 << 20  # more than one snappy (32 KiB) and lz4 (64 KiB) block
    for codec in CODECS:
        assert native.decompress(codec, ref.compress(codec, data)) == data
        assert ref.decompress(codec, native.compress(codec, data)) == data


@pytest.mark.parametrize("linked", [True, False], ids=["linked", "independent"])
@pytest.mark.parametrize("block_size", ["MAX64KB", "MAX4MB"])
def test_lz4_frames_of_every_shape_liblz4_writes(linked: bool, block_size: str) -> None:
    """librdkafka's and python-lz4's default frames link their blocks (a block's matches reach
    into the one before), unlike Kafka's; checksums and the content size are optional."""
    import lz4.frame

    data = b"".join(b"record %d of a batch;" % (i % 977) for i in range(120_000))
    frame = lz4.frame.compress(
        data,
        block_linked=linked,
        block_size=getattr(lz4.frame, f"BLOCKSIZE_{block_size}"),
        content_checksum=True,
        block_checksum=True,
        store_size=True,
    )
    assert native.decompress("lz4", frame) == data
    assert native.decompress("lz4", frame + lz4.frame.compress(b"next")) == data + b"next"
    damaged = bytearray(frame)
    damaged[len(frame) // 2] ^= 0x40
    with pytest.raises(CorruptRecordError):
        native.decompress("lz4", bytes(damaged))


def test_snappy_raw_input_on_both():
    data = b"snappy raw, not xerial framed " * 100
    raw = ref.compress("snappy", data)[20:]  # the single block of the xerial stream
    assert native.decompress("snappy", raw) == ref.decompress("snappy", raw) == data


# ---------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------


@PROPERTY
@given(records=record_lists, kw=builder_args)
def test_uncompressed_builders_are_byte_identical(records, kw):
    assert build(native, records, **kw) == build(ref, records, **kw)


@PROPERTY
@given(
    commit=st.booleans(),
    producer_id=st.integers(min_value=0, max_value=2**63 - 1),
    producer_epoch=st.integers(min_value=0, max_value=2**15 - 1),
    coordinator_epoch=st.integers(min_value=0, max_value=2**31 - 1),
    timestamp=timestamps,
    base_offset=st.integers(min_value=0, max_value=2**40),
    partition_leader_epoch=st.integers(min_value=-1, max_value=2**31 - 1),
)
def test_control_batches_are_byte_identical(**kw):
    ours, theirs = ref.build_control_batch(**kw), native.build_control_batch(**kw)
    assert theirs == ours
    expected = ("COMMIT" if kw["commit"] else "ABORT", kw["coordinator_epoch"])
    for impl in IMPLS.values():
        [batch] = impl.decode_batches(ours)
        assert batch.control_record() == expected


@PROPERTY
@given(records=record_lists, kw=builder_args, codec=st.sampled_from(CODECS))
def test_each_side_decodes_the_others_batches(records, kw, codec):
    built = {name: build(impl, records, compression=codec, **kw) for name, impl in IMPLS.items()}
    for maker, raw in built.items():
        views = {name: decoded(impl, raw) for name, impl in IMPLS.items()}
        assert views["native"] == views["reference"], f"decoding the {maker} batch"
        [(head, _, recs, control)] = views["native"][1]
        assert head["is_valid"] and head["compression"] == ("ok", codec)
        assert control == ("ok", None)
        log_append = kw["timestamp_type"] == "LogAppendTime"
        max_ts = max(ts for *_, ts in records)
        assert recs == (
            "ok",
            [
                (kw["base_offset"] + i, max_ts if log_append else ts, key, value, hdrs)
                for i, (value, key, hdrs, ts) in enumerate(records)
            ],
        )
    # Same header whichever side built it (crc and size may differ once compressed).
    heads = [
        header(impl.decode_batches(raw)[0], STABLE_FIELDS)
        for impl, raw in zip(IMPLS.values(), built.values(), strict=True)
    ]
    assert heads[0] == heads[1]


# ---------------------------------------------------------------------------------------------
# Framing
# ---------------------------------------------------------------------------------------------


@PROPERTY
@given(
    batches=st.lists(st.tuples(record_lists, st.sampled_from(CODECS)), min_size=1, max_size=4),
    cut=st.integers(min_value=0, max_value=200),
    allow_partial=st.booleans(),
)
def test_decode_batches_agree_on_multi_batch_and_truncated_buffers(batches, cut, allow_partial):
    data, offset = b"", 0
    for records, codec in batches:
        data += build(ref, records, compression=codec, base_offset=offset)
        offset += len(records)
    for view in (data, data[: max(0, len(data) - cut)]):
        theirs = decoded(native, view, allow_partial=allow_partial)
        assert theirs == decoded(ref, view, allow_partial=allow_partial)
        if view == data:
            assert theirs[0] == "ok" and len(theirs[1]) == len(batches)


@PROPERTY
@given(
    records=record_lists,
    codec=st.sampled_from(CODECS),
    maker=st.sampled_from(list(IMPLS)),
    prefix_records=st.integers(min_value=0, max_value=3),
    pick=st.data(),
)
def test_a_damaged_byte_gets_the_same_verdict(records, codec, maker, prefix_records, pick):
    prefix = b""
    if prefix_records:  # so that positions are not all 0
        prefix = build(ref, [(b"p", None, [], 1)] * prefix_records)
    raw = bytearray(build(IMPLS[maker], records, compression=codec))
    at = pick.draw(st.integers(min_value=0, max_value=len(raw) - 1), label="at")
    raw[at] ^= pick.draw(st.integers(min_value=1, max_value=255), label="mask")
    data = prefix + bytes(raw)

    # With the CRC checked both sides must reach the same verdict, in the same order.
    checked = decoded(native, data)
    assert checked == decoded(ref, data)
    outside_crc = at < 8 or 12 <= at < 16  # baseOffset, partitionLeaderEpoch
    if outside_crc:
        assert checked[0] == "ok" and all(h["is_valid"] for h, *_ in checked[1])
    else:
        assert checked[0] == "error" and checked[2] == len(prefix)
        assert issubclass(getattr(native, checked[1]), CorruptRecordError)

    # Without it, headers and is_valid() still agree; then the records.
    unchecked = {
        name: outcome(lambda impl=impl: impl.decode_batches(data, verify_crc=False))
        for name, impl in IMPLS.items()
    }
    shapes = {
        name: (o[0], [header(b) for b in o[1]]) if o[0] == "ok" else o
        for name, o in unchecked.items()
    }
    assert shapes["native"] == shapes["reference"]
    if unchecked["native"][0] != "ok":
        return
    pairs = zip(unchecked["native"][1], unchecked["reference"][1], strict=True)
    for theirs, ours in pairs:
        got = outcome(lambda b=theirs: record_tuples(b.records()))
        want = outcome(lambda b=ours: record_tuples(b.records()))
        if codec == "none" or got[0] == want[0] == "ok":
            assert got == want
        else:
            # Damaged compressed data: the codec libraries may differ in what they notice,
            # but a failure is always a CorruptRecordError at the batch's position.
            for o in (got, want):
                if o[0] == "error":
                    assert issubclass(getattr(native, o[1]), CorruptRecordError)
                    assert o[2] == ours.position
