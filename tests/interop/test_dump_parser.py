"""The DumpLogSegments output parser in tests/kafka_support.py, on hand-written output.

No JVM: these pin the parts of Kafka's output format that real segments in the interop tests
rarely show (control records, keys containing " payload: ", empty keys, trailing garbage, the
stderr report) so a parser bug cannot pass for a ferrokafka bug or hide one.
"""

from __future__ import annotations

import pytest

import kafka_support as ks

BATCH = (
    "baseOffset: {base} lastOffset: {last} count: {count} baseSequence: -1 lastSequence: -1"
    " producerId: 7 producerEpoch: 2 partitionLeaderEpoch: 0 isTransactional: {txn}"
    " isControl: {control} deleteHorizonMs: OptionalLong.empty position: {pos}"
    " {ts_type}: {ts} size: {size} magic: 2 compresscodec: {codec} crc: 4294967295"
    " isvalid: true"
)


def batch_line(
    base: int = 0,
    last: int = 0,
    *,
    txn: bool = False,
    control: bool = False,
    pos: int = 0,
    ts_type: str = "CreateTime",
    ts: int = 1_700_000_000_000,
    size: int = 80,
    codec: str = "zstd",
) -> str:
    return BATCH.format(
        base=base,
        last=last,
        count=last - base + 1,
        txn=str(txn).lower(),
        control=str(control).lower(),
        pos=pos,
        ts_type=ts_type,
        ts=ts,
        size=size,
        codec=codec,
    )


def parse(*lines: str, stderr: str = "") -> ks.DumpResult:
    return ks.parse_dump_output("\n".join(lines) + "\n", stderr)


def test_batch_fields() -> None:
    result = parse(
        "Dumping /d/t-0/00000000000000000010.log",
        "Log starting offset: 10",
        batch_line(10, 12, txn=True, pos=0, ts_type="LogAppendTime", ts=5, size=120),
    )
    dumped = result.file("/d/t-0/00000000000000000010.log")
    assert dumped.start_offset == 10
    (batch,) = dumped.batches
    assert (batch.base_offset, batch.last_offset, batch.count) == (10, 12, 3)
    assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (7, 2, -1)
    assert batch.is_transactional and not batch.is_control
    assert (batch.timestamp_type, batch.max_timestamp) == ("LogAppendTime", 5)
    assert (batch.size, batch.magic, batch.compresscodec) == (120, 2, "zstd")
    assert batch.crc == 0xFFFFFFFF and batch.isvalid
    assert result.problems == []


def test_record_key_payload_and_header_keys() -> None:
    result = parse(
        "Dumping /d/a.log",
        batch_line(0, 3),
        "| offset: 0 CreateTime: 1 keySize: 3 valueSize: 5 sequence: 0 headerKeys: [a,b,a]"
        " key: k 1 payload: hello",
        "| offset: 1 CreateTime: 2 keySize: -1 valueSize: -1 sequence: 1 headerKeys: []",
        "| offset: 2 CreateTime: 3 keySize: 0 valueSize: 2 sequence: 2 headerKeys: [] key:"
        "  payload: hi",
        "| offset: 3 CreateTime: 4 keySize: 12 valueSize: 0 sequence: 3 headerKeys: [x]"
        " key: a payload: b payload: ",
    )
    records = result.file("/d/a.log").batches[0].records
    assert [(r.offset, r.timestamp) for r in records] == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert (records[0].key, records[0].payload, records[0].header_keys) == (
        "k 1",
        "hello",
        ["a", "b", "a"],
    )
    assert (records[1].key, records[1].payload, records[1].header_keys) == (None, None, [])
    assert (records[2].key, records[2].payload) == ("", "hi")
    # The key's byte size says where it ends, even when it contains " payload: ".
    assert (records[3].key, records[3].payload) == ("a payload: b", "")


def test_control_record() -> None:
    result = parse(
        "Dumping /d/a.log",
        batch_line(4, 4, txn=True, control=True),
        "| offset: 4 CreateTime: 9 keySize: 4 valueSize: 6 sequence: -1 headerKeys: []"
        " endTxnMarker: ABORT coordinatorEpoch: 3",
    )
    (record,) = result.file("/d/a.log").batches[0].records
    assert record.control == ("ABORT", 3)
    assert (record.key, record.payload) == (None, None)


def test_index_dumps_and_checks() -> None:
    result = parse(
        "Dumping /d/0.index",
        "offset: 36 position: 4000",
        "offset: 70 position: 8200",
        "Dumping /d/0.timeindex",
        "timestamp: 1700000000000 offset: 36",
        "Dumping /d/5.index",
        "/d/5.index is empty.",
        "Dumping /d/5.timeindex",
        "/d/5.timeindex passed sanity check.",
        "Dumping /d/9.log",
        "Log starting offset: 9",
        "Found 17 invalid bytes at the end of 9.log",
        "Dumping /d/9.txnindex",
        "version: 0 producerId: 1099511627776 firstOffset: 25 lastOffset: 31 lastStableOffset: -1",
    )
    assert result.file("/d/0.index").index_entries == [(36, 4000), (70, 8200)]
    assert result.file("/d/0.timeindex").index_entries == [(1700000000000, 36)]
    assert result.file("/d/5.index").is_empty
    assert result.file("/d/5.timeindex").sanity_check_passed
    assert result.file("/d/9.log").invalid_trailing_bytes == 17
    assert result.file("/d/9.txnindex").aborted_txns == [(0, 2**40, 25, 31, -1)]


def test_problems_keep_real_reports_and_drop_each_files_first_offset() -> None:
    stderr = "\n".join(
        [
            "Mismatches in :/d/0.index",
            "  Index offset: 36, log offset: 35",
            "Non-consecutive offsets in /d/00000000000000000100.log",
            "  -1 is followed by 100",
            "Non-consecutive offsets in /d/00000000000000000200.log",
            "  -1 is followed by 200",
            "  205 is followed by 207",
        ]
    )
    result = parse(
        "Dumping /d/00000000000000000100.log",
        batch_line(100, 100),
        "| offset: 100 CreateTime: 1 keySize: -1 valueSize: -1 sequence: -1 headerKeys: []",
        "Dumping /d/00000000000000000200.log",
        batch_line(200, 200),
        "| offset: 200 CreateTime: 1 keySize: -1 valueSize: -1 sequence: -1 headerKeys: []",
        stderr=stderr,
    )
    assert result.problems == [
        "Mismatches in :/d/0.index",
        "  Index offset: 36, log offset: 35",
        "Non-consecutive offsets in /d/00000000000000000200.log",
        "  205 is followed by 207",
    ]


@pytest.mark.parametrize(
    "lines",
    [
        ["baseOffset: 0 lastOffset: 0"],
        ["Dumping /d/a.log", "something Kafka never prints"],
        ["Dumping /d/a.log", "| offset: 0 CreateTime: 1 keySize: -1 valueSize: -1"],
    ],
)
def test_unexpected_output_is_an_error(lines: list[str]) -> None:
    with pytest.raises(ValueError):
        parse(*lines)
