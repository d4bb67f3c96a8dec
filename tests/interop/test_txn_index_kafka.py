"""Apache Kafka's DumpLogSegments reads the ``.txnindex`` files ferrokafka writes.

ferrokafka writes a log with transactions (transactional batches of several producers, ABORT
and COMMIT markers, segments rolled between them) and records each aborted transaction in the
transaction index as the partition does when an ABORT marker completes it. Kafka's tool,
given the ``.txnindex`` files, prints the same entries (version 0, producer id, first offset,
last offset, last stable offset), and, given the ``.log`` files, shows an ABORT control
record of that producer at each entry's last offset. ``ferrokafka dump-log`` prints the same
lines for those files as Kafka's tool.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import kafka_support as ks
from ferrokafka.storage import BatchBuilder, Log, LogConfig, build_control_batch
from ferrokafka_cli.main import cli

pytestmark = [pytest.mark.kafka]

TIMESTAMP_MS = 1_700_000_000_000
PRODUCER_EPOCH = 1
COORDINATOR_EPOCH = 4
# (producer id, commit?) in marker order; the log rolls after the markers of ROLL_AFTER.
TRANSACTIONS = [(100, False), (101, True), (2**40, False), (100, False), (102, False)]
ROLL_AFTER = {1, 3}


def data_batch(log: Log, producer_id: int, sequence: int) -> int:
    builder = BatchBuilder(
        producer_id=producer_id,
        producer_epoch=PRODUCER_EPOCH,
        base_sequence=sequence,
        is_transactional=True,
    )
    for i in range(3):
        builder.append(b"value-%d" % i, key=b"key-%d" % i, timestamp=TIMESTAMP_MS)
    return log.append(builder.build()).first_offset


def marker(log: Log, producer_id: int, commit: bool) -> int:
    control = build_control_batch(
        commit=commit,
        producer_id=producer_id,
        producer_epoch=PRODUCER_EPOCH,
        coordinator_epoch=COORDINATOR_EPOCH,
        timestamp=TIMESTAMP_MS,
        base_offset=log.log_end_offset,
    )
    return log.append_as_follower(control).last_offset


def test_dump_log_segments_reads_our_txn_index(tmp_path: Path) -> None:
    log = Log(tmp_path / "txn-0", LogConfig())
    expected: dict[int, list[tuple[int, int, int, int, int]]] = {}
    sequences: dict[int, int] = {}
    for index, (producer_id, commit) in enumerate(TRANSACTIONS):
        # Two producers' transactions interleave: the LSO is the other's first offset.
        other = 999
        other_first = data_batch(log, other, sequences.get(other, 0))
        sequences[other] = sequences.get(other, 0) + 3
        first = data_batch(log, producer_id, sequences.get(producer_id, 0))
        sequences[producer_id] = sequences.get(producer_id, 0) + 3
        data_batch(log, producer_id, sequences[producer_id])
        sequences[producer_id] += 3
        last = marker(log, producer_id, commit)
        if not commit:
            log.append_aborted_txn(producer_id, first, last, other_first)
            segment = log.segments()[-1].base_offset
            expected.setdefault(segment, []).append((0, producer_id, first, last, other_first))
        marker(log, other, True)
        if index in ROLL_AFTER:
            log.roll()
    log.close()

    txn_files = ks.segment_files(tmp_path / "txn-0", ".txnindex")
    assert [int(p.name[:20]) for p in txn_files] == sorted(expected)
    dumped = ks.dump_log_segments(
        txn_files + ks.segment_files(tmp_path / "txn-0"),
        work_dir=tmp_path / "dump",
    )
    assert dumped.problems == []
    markers = {
        record.offset: (batch.producer_id, record.control)
        for path in ks.segment_files(tmp_path / "txn-0")
        for batch in dumped.file(path).batches
        for record in batch.records
        if batch.is_control
    }
    for path in txn_files:
        entries = dumped.file(path).aborted_txns
        assert entries == expected[int(path.name[:20])]
        for _, producer_id, _, last, _ in entries:
            assert markers[last] == (producer_id, ("ABORT", COORDINATOR_EPOCH))

    # Our dump-log prints each .txnindex as Kafka's tool does.
    result = CliRunner().invoke(cli, ["dump-log", *map(str, txn_files)])
    assert result.exit_code == 0, result.output
    theirs = [
        line
        for line in dumped.stdout.splitlines()
        if line.startswith("version: ") or line.endswith(".txnindex")
    ]
    assert result.output.splitlines() == theirs
