"""The storage engine's Python face.

Everything here is implemented in Rust (:mod:`ferrokafka._ferrokafka`) and re-exported with
an explicit ``__all__``. :mod:`ferrokafka.storage.reference` is a pure-Python implementation
of the record batch codec: the oracle for property tests and the baseline for benchmarks.
:class:`LogManager` (``storage.manager``) owns a broker's log directories and partition logs;
``storage.checkpoints`` reads and writes Kafka's checkpoint and marker files.

Example::

    from ferrokafka.storage import BatchBuilder, Log, LogConfig

    with Log("/tmp/data/orders-0", LogConfig(segment_bytes=64 << 20)) as log:
        b = BatchBuilder(compression="zstd")
        b.append(b"hello", key=b"k", headers=[("trace", b"1")])
        info = log.append(b.build())
        for batch in log.read_batches(info.first_offset):
            for record in batch.records():
                print(record.offset, record.key, record.value)
"""

from ferrokafka._ferrokafka import (
    AppendInfo,
    BatchBuilder,
    BatchHeader,
    CorruptRecordError,
    FerrokafkaError,
    FetchInfo,
    FileRegion,
    InvalidOffsetError,
    InvalidRecordError,
    InvalidTimestampError,
    Log,
    LogClosedError,
    LogConfig,
    LogConfigError,
    OffsetOutOfRangeError,
    Record,
    RecordBatch,
    RecordTooLargeError,
    SegmentInfo,
    UnsupportedCompressionError,
    UnsupportedMagicError,
    build_control_batch,
    compress,
    crc32c,
    decode_batches,
    decompress,
    keyless_record_indexes,
    read_batch_header,
)
from ferrokafka.storage.checkpoints import CheckpointError, MetaProperties, TopicPartition
from ferrokafka.storage.dir_failure import LogDirOfflineError, fails_log_dir
from ferrokafka.storage.load_report import LoadReport, LogLoadInfo
from ferrokafka.storage.logdirs import LogDirError
from ferrokafka.storage.manager import LogManager, LogManagerSettings

__all__ = [
    "LogDirOfflineError",
    "fails_log_dir",
    "AppendInfo",
    "BatchBuilder",
    "BatchHeader",
    "CheckpointError",
    "CorruptRecordError",
    "FerrokafkaError",
    "FetchInfo",
    "FileRegion",
    "InvalidOffsetError",
    "InvalidRecordError",
    "InvalidTimestampError",
    "LoadReport",
    "Log",
    "LogClosedError",
    "LogConfig",
    "LogConfigError",
    "LogDirError",
    "LogLoadInfo",
    "LogManager",
    "LogManagerSettings",
    "MetaProperties",
    "OffsetOutOfRangeError",
    "Record",
    "RecordBatch",
    "RecordTooLargeError",
    "SegmentInfo",
    "TopicPartition",
    "UnsupportedCompressionError",
    "UnsupportedMagicError",
    "build_control_batch",
    "compress",
    "crc32c",
    "decode_batches",
    "decompress",
    "keyless_record_indexes",
    "read_batch_header",
]
