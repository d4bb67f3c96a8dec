"""Producer state snapshots (v1) with transactions, both ways with Apache Kafka 4.4.

- Ours to Kafka: a snapshot ferrokafka writes (an open transaction, a coordinator epoch, a
  producer known by its marker only) is read by Kafka's ``ProducerStateManager.readSnapshot``
  as DumpLogSegments prints it.
- Kafka to ours: a snapshot written by Kafka's ``ProducerStateManager.writeSnapshot`` (from a
  small Java program run against Kafka's jars) loads into our producer state with the same
  producers, open transactions and coordinator epochs.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import kafka_support as ks
from ferrokafka.partition.producer_state import ProducerState
from ferrokafka.storage import producer_snapshot as snap
from kafka_support.jars import dump_log_segments_class

pytestmark = [pytest.mark.kafka]

JAVA_TIMEOUT_S = 120.0
SNAPSHOT_OFFSET = 42
# (producer id, epoch, last seq, last offset, offset delta, timestamp, coordinator epoch,
# current txn first offset): an open transaction, a closed one, a marker-only producer.
ENTRIES = [
    snap.SnapshotEntry(1000, 3, 9, 40, 4, 1_700_000_000_123, 7, 30),
    snap.SnapshotEntry(2**40, 0, 2, 12, 2, 1_700_000_000_456, 2, -1),
    snap.SnapshotEntry(77, 5, -1, -1, 0, 1_700_000_000_789, 11, -1),
]

_DUMPED = re.compile(
    r"^producerId: (-?\d+) producerEpoch: (-?\d+) coordinatorEpoch: (-?\d+) "
    r"currentTxnFirstOffset: (OptionalLong\.empty|OptionalLong\[(\d+)\]) "
    r"lastTimestamp: (-?\d+) ?"
    r"(?:firstSequence: (-?\d+) lastSequence: (-?\d+) lastOffset: (-?\d+) "
    r"offsetDelta: (-?\d+) timestamp: (-?\d+))?$"
)

WRITER = """
import java.io.File;
import java.lang.reflect.Method;
import java.util.*;
import org.apache.kafka.storage.internals.log.*;

public class SnapshotWriter {
    // ProducerStateEntry.addBatch is package-private in Kafka 4.4: reached by reflection.
    static void addBatch(ProducerStateEntry entry, short epoch, int lastSeq, long lastOffset,
                         int offsetDelta, long timestamp) throws Exception {
        Method add = ProducerStateEntry.class.getDeclaredMethod(
            "addBatch", short.class, int.class, long.class, int.class, long.class);
        add.setAccessible(true);
        add.invoke(entry, epoch, lastSeq, lastOffset, offsetDelta, timestamp);
    }

    public static void main(String[] args) throws Exception {
        Map<Long, ProducerStateEntry> entries = new LinkedHashMap<>();
        // An open transaction at 30, coordinator epoch 7.
        ProducerStateEntry open = new ProducerStateEntry(
            1000L, (short) 3, 7, 1700000000123L, OptionalLong.of(30L));
        addBatch(open, (short) 3, 9, 40L, 4, 1700000000123L);
        entries.put(1000L, open);
        // A producer whose last transaction ended.
        ProducerStateEntry closed = new ProducerStateEntry(
            1L << 40, (short) 0, 2, 1700000000456L, OptionalLong.empty());
        addBatch(closed, (short) 0, 2, 12L, 2, 1700000000456L);
        entries.put(1L << 40, closed);
        // Known by its marker only: no batch.
        entries.put(77L, new ProducerStateEntry(
            77L, (short) 5, 11, 1700000000789L, OptionalLong.empty()));
        ProducerStateManager.writeSnapshot(new File(args[0]), entries, true);
    }
}
"""


def dumped_entries(path: Path, work_dir: Path) -> list[snap.SnapshotEntry]:
    work_dir.mkdir(exist_ok=True)
    main_class = dump_log_segments_class(ks.kafka_classpath())
    result = ks.run_kafka_tool(main_class, ["--files", str(path)], work_dir=work_dir)
    out = []
    for line in result.stdout.splitlines():
        match = _DUMPED.match(line.strip())
        if match is None:
            continue
        pid, epoch, coord, _, txn, _, first_seq, last_seq, last_off, delta, ts = match.groups()
        out.append(
            snap.SnapshotEntry(
                int(pid),
                int(epoch),
                int(last_seq) if last_seq is not None else -1,
                int(last_off) if last_off is not None else -1,
                int(delta) if delta is not None else 0,
                int(match.group(6)),
                int(coord),
                int(txn) if txn is not None else -1,
            )
        )
    assert out, result.stdout
    return out


def test_kafka_reads_our_snapshot(tmp_path: Path, kafka_tool_dir: Path) -> None:
    path = snap.write_snapshot(tmp_path, SNAPSHOT_OFFSET, ENTRIES)
    assert sorted(dumped_entries(path, tmp_path / "dump"), key=lambda e: e.producer_id) == sorted(
        ENTRIES, key=lambda e: e.producer_id
    )


def test_we_read_kafkas_snapshot(tmp_path: Path, kafka_classpath: str) -> None:
    source = tmp_path / "SnapshotWriter.java"
    source.write_text(WRITER)
    log_dir = tmp_path / "t-0"
    log_dir.mkdir()
    path = snap.snapshot_path(log_dir, SNAPSHOT_OFFSET)
    result = subprocess.run(
        [ks.java_executable(), "-cp", kafka_classpath, str(source), str(path)],
        capture_output=True,
        text=True,
        timeout=JAVA_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    entries = snap.read_snapshot(log_dir, SNAPSHOT_OFFSET)
    assert sorted(entries, key=lambda e: e.producer_id) == sorted(
        ENTRIES, key=lambda e: e.producer_id
    )
    state = ProducerState(str(log_dir))
    state.load_snapshot(entries)
    assert state.txns.ongoing == {30: 1000}
    assert state.producers[77].coordinator_epoch == 11 and not state.producers[77].batches
    assert state.producers[1000].last_seq == 9
    assert sorted(state.snapshot_entries(), key=lambda e: e.producer_id) == sorted(
        ENTRIES, key=lambda e: e.producer_id
    )
