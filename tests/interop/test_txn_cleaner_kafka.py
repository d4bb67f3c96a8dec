"""The cleaner on a transactional log compared with Apache Kafka's, on the same input.

Kafka 4.4 writes the log: transactions of two confluent-kafka transactional producers (commits
and aborts over shared keys) among plain records, segments rolled by segment.ms, its own
``.txnindex`` files. The topic starts with ``cleanup.policy=delete`` so that nothing is cleaned
while the partition directory is copied; then it becomes ``compact`` and Kafka's cleaner runs.
ferrokafka opens the copy and cleans it (``clean_log``, the same checkpoint). Both results must
hold the same segments, the same batches (offsets, producer, control, record counts, whether a
delete horizon is set), the same records, and byte-identical ``.txnindex`` files; Kafka's
DumpLogSegments must read ours without complaint.

A second round overwrites the keys of a committed transaction so that its COMMIT marker has no
data left: the next clean stamps the marker with a delete horizon, on both sides.

Runs a real broker (about 10-20 s): marked ``kafka``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import confluent_kafka as ck
import pytest
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    OffsetSpec,
    ResourceType,
)

import kafka_support as ks
from ferrokafka._ferrokafka import clean_log
from ferrokafka.storage import Log, LogConfig
from ferrokafka.storage import checkpoints as ckpt
from ferrokafka.storage.checkpoints import TopicPartition
from ferrokafka.storage.cleaner import CLEANER_OFFSET_CHECKPOINT
from kafka_support.broker import KafkaBroker

pytestmark = [pytest.mark.kafka]

TOPIC = "txn-compared"
SEGMENT_MS = 400
CLIENT_TIMEOUT_S = 30
WAIT_S = 90  # bound on each wait for the broker (stable offset, cleaner)
POLL_S = 0.1
DELETE_HORIZON_FLAG = 0x40
CONFIGS = {"cleanup.policy": "delete", "segment.ms": str(SEGMENT_MS)}
BROKER = {"log.cleaner.backoff.ms": "100", "log.cleaner.min.cleanable.ratio": "0.01"}


def set_policy(admin: AdminClient, policy: str) -> None:
    resource = ConfigResource(
        ResourceType.TOPIC,
        TOPIC,
        incremental_configs=[
            ConfigEntry("cleanup.policy", policy, incremental_operation=AlterConfigOpType.SET)
        ],
    )
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(CLIENT_TIMEOUT_S)


def wait_stable(admin: AdminClient) -> int:
    """Wait until every transaction's marker is written (last stable offset == high
    watermark); returns the log end offset."""
    tp = ck.TopicPartition(TOPIC, 0)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        ends = []
        for level in (ck.IsolationLevel.READ_COMMITTED, ck.IsolationLevel.READ_UNCOMMITTED):
            futures = admin.list_offsets({tp: OffsetSpec.latest()}, isolation_level=level)
            ends.append(futures[tp].result(CLIENT_TIMEOUT_S).offset)
        if ends[0] == ends[1]:
            return ends[0]
        time.sleep(POLL_S)
    raise AssertionError(f"transactions still open after {WAIT_S} s")


def wait_cleaned(data_dir: Path, offset: int) -> None:
    path = data_dir / CLEANER_OFFSET_CHECKPOINT
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if path.exists():
            if ckpt.read_offset_checkpoint(path).get(TopicPartition(TOPIC, 0), -1) >= offset:
                return
        time.sleep(POLL_S)
    raise AssertionError(f"Kafka did not clean to {offset} within {WAIT_S} s")


class Writer:
    """A plain producer and two transactional ones."""

    def __init__(self, bootstrap: str) -> None:
        self.plain = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        self.txn = {}
        for name in ("t1", "t2"):
            producer = ck.Producer({"bootstrap.servers": bootstrap, "transactional.id": name})
            producer.init_transactions(CLIENT_TIMEOUT_S)
            self.txn[name] = producer

    def put(self, entries: list[tuple[str, str]], name: str | None = None) -> None:
        producer = self.plain if name is None else self.txn[name]
        for key, value in entries:
            producer.produce(TOPIC, key=key.encode(), value=value.encode())
        assert producer.flush(CLIENT_TIMEOUT_S) == 0

    def begin(self, name: str) -> None:
        self.txn[name].begin_transaction()

    def end(self, name: str, *, commit: bool) -> None:
        if commit:
            self.txn[name].commit_transaction(CLIENT_TIMEOUT_S)
        else:
            self.txn[name].abort_transaction(CLIENT_TIMEOUT_S)

    def roll(self, admin: AdminClient) -> int:
        """Close the segment holding everything so far: wait for the markers, wait out
        segment.ms, then one plain record opens a new segment. Returns its offset."""
        end = wait_stable(admin)
        time.sleep(SEGMENT_MS * 1.5 / 1000)
        self.put([("roll", str(end))])
        return end


def first_round(w: Writer, admin: AdminClient) -> int:
    w.put([(f"k{i}", "plain-0") for i in range(10)])
    w.begin("t1")
    w.put([(f"k{i}", "t1-committed") for i in range(5)], "t1")
    w.begin("t2")
    w.put([(f"k{i}", "t2-aborted") for i in range(5, 10)], "t2")
    w.end("t1", commit=True)
    w.end("t2", commit=False)
    time.sleep(SEGMENT_MS * 1.5 / 1000)  # the next transactions in a new segment
    w.begin("t1")
    w.put([("k5", "t1-aborted")], "t1")
    w.end("t1", commit=False)
    w.begin("t2")
    w.put([("k1", "t2-committed")], "t2")
    w.end("t2", commit=True)
    return w.roll(admin)


def second_round(w: Writer, admin: AdminClient) -> int:
    # t1's committed keys are overwritten: its first COMMIT marker loses its data.
    w.put([(f"k{i}", "plain-1") for i in range(5)])
    w.begin("t2")
    w.put([("k9", "t2-again")], "t2")
    w.end("t2", commit=True)
    return w.roll(admin)


def copy_partition(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def compact_config() -> LogConfig:
    return LogConfig(
        segment_ms=SEGMENT_MS,
        cleanup_policy=["compact"],
        message_timestamp_after_max_ms=None,
        message_timestamp_before_max_ms=None,
    )


def describe(partition_dir: Path) -> dict[str, object]:
    """Segments, batches, records and transaction index bytes of a log directory (opened
    through a copy: opening trims indexes)."""
    scratch = partition_dir.with_name(partition_dir.name + "-read")
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(partition_dir, scratch)
    log = Log(scratch, compact_config())
    try:
        batches = []
        records = []
        for batch in log.read_batches(log.log_start_offset, 1 << 24):
            batches.append(
                (
                    batch.base_offset,
                    batch.last_offset,
                    batch.producer_id,
                    batch.is_transactional,
                    batch.control_record()[0] if batch.is_control else None,
                    batch.record_count,
                    bool(batch.attributes & DELETE_HORIZON_FLAG),
                )
            )
            if not batch.is_control:
                records += [(r.offset, r.key, r.value) for r in batch.records()]
        segments = [s.base_offset for s in log.segments()]
    finally:
        log.close()
    txn_indexes = {
        path.name: path.read_bytes() for path in ks.segment_files(partition_dir, ".txnindex")
    }
    return {
        "segments": segments,
        "batches": batches,
        "records": records,
        "txn_indexes": txn_indexes,
    }


def clean_ours(src: Path, dst: Path, checkpoint: int | None) -> Path:
    copy_partition(src, dst)
    log = Log(dst, compact_config())
    try:
        clean_log(log, checkpoint)
    finally:
        log.close()
    return dst


def test_cleaned_like_kafka(tmp_path: Path) -> None:
    with KafkaBroker(tmp_path / "kafka", broker_config=BROKER) as kafka:
        kafka.create_topic(TOPIC, config=CONFIGS)
        admin = AdminClient(kafka.client_config())
        w = Writer(kafka.bootstrap_servers)
        partition = kafka.partition_dir(TOPIC)
        end1 = first_round(w, admin)
        before1 = copy_partition(partition, tmp_path / "before1")
        set_policy(admin, "compact")
        wait_cleaned(kafka.data_dir, end1)
        set_policy(admin, "delete")
        kafka1 = copy_partition(partition, tmp_path / "kafka1")
        end2 = second_round(w, admin)
        before2 = copy_partition(partition, tmp_path / "before2")
        set_policy(admin, "compact")
        wait_cleaned(kafka.data_dir, end2)
        kafka2 = copy_partition(partition, tmp_path / "kafka2")

    # Kafka's input had aborted transactions in its indexes, and its clean removed data.
    assert ks.segment_files(before1, ".txnindex")
    ours1 = clean_ours(before1, tmp_path / "ours1", None)
    expected1 = describe(kafka1)
    assert describe(ours1) == expected1
    values = [v for _, _, v in expected1["records"]]  # type: ignore[attr-defined]
    assert b"t2-aborted" not in values and b"t1-aborted" not in values

    ours2 = clean_ours(before2, tmp_path / "ours2", end1)
    expected2 = describe(kafka2)
    assert describe(ours2) == expected2
    horizons = [b for b in expected2["batches"] if b[6]]  # type: ignore[attr-defined]
    assert horizons, "a marker whose transaction lost its data got a delete horizon"

    # Kafka's tool reads our cleaned files as it reads its own: the same entries, and the
    # same report (a compacted log has offset gaps, which it lists).
    dumps = {}
    for side in (ours2, kafka2):
        files = ks.segment_files(side) + ks.segment_files(side, ".txnindex")
        dumped = ks.dump_log_segments(files, work_dir=tmp_path / f"dump-{side.name}")
        dumps[side.name] = (
            {Path(f).name: dumped.file(f).aborted_txns for f in files},
            [line.replace(str(side), "DIR") for line in dumped.problems],
        )
    assert dumps["ours2"] == dumps["kafka2"]
    assert any(dumps["ours2"][0].values()), "the cleaned .txnindex files hold entries"
