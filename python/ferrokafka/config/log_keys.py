"""Broker keys of the ``log.*`` family (Kafka's ``ServerLogConfigs``): defaults for every topic.

Types, defaults and minimums are Apache Kafka 4.x's (KIP-1030 raised ``log.segment.bytes``'s
minimum to 1 MiB and set ``log.message.timestamp.after.max.ms`` to one hour). Durations and
sizes are plain integers in the unit the key's name ends with, as in Kafka.
"""

from __future__ import annotations

from ferrokafka.config.definitions import (
    LONG_MAX,
    ConfigKey,
    ConfigType,
    at_least,
    between,
    list_of,
    non_empty_distinct_list,
    one_of,
)

_B = ConfigType.BOOLEAN
_S = ConfigType.STRING
_I = ConfigType.INT
_L = ConfigType.LONG
_D = ConfigType.DOUBLE
_LIST = ConfigType.LIST

MIB = 1 << 20
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
DEFAULT_LOG_DIR = "/tmp/kafka-logs"
COMPRESSION_TYPES = ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")
TIMESTAMP_TYPES = ("CreateTime", "LogAppendTime")
CLEANUP_POLICIES = ("compact", "delete")


def _gzip_level(value: object) -> str | None:
    # Kafka's gzip level validator: -1 (zlib's default) or 1..9 (0, "no compression", is out).
    if value is None or value == -1 or (isinstance(value, int) and 1 <= value <= 9):
        return None
    return "Value must be -1 or in [1,...,9]"


# fmt: off
LOG_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("log.dir", _LIST, [DEFAULT_LOG_DIR],
              "Directory for partition data, used when log.dirs is not set.",
              non_empty_distinct_list),
    ConfigKey("log.dirs", _LIST, None,
              "Comma-separated directories for partition data; takes precedence over log.dir.",
              non_empty_distinct_list),
    ConfigKey("log.segment.bytes", _I, 1 << 30,
              "Size at which the active segment is rolled (topic default for segment.bytes).",
              at_least(MIB), dynamic=True),
    ConfigKey("log.roll.ms", _L, None,
              "Age at which the active segment is rolled, in ms; if unset log.roll.hours is used.",
              dynamic=True),
    ConfigKey("log.roll.hours", _I, 168,
              "Age at which the active segment is rolled, in hours; secondary to log.roll.ms.",
              at_least(1), dynamic=True),
    ConfigKey("log.roll.jitter.ms", _L, None,
              "Largest random amount subtracted from the roll time, in ms; if unset "
              "log.roll.jitter.hours is used.", dynamic=True),
    ConfigKey("log.roll.jitter.hours", _I, 0,
              "Largest random amount subtracted from the roll time, in hours; secondary to "
              "log.roll.jitter.ms.", at_least(0), dynamic=True),
    ConfigKey("log.retention.ms", _L, None,
              "How long closed segments are kept, in ms (-1: forever); takes precedence over "
              "log.retention.minutes and log.retention.hours.", dynamic=True),
    ConfigKey("log.retention.minutes", _I, None,
              "How long closed segments are kept, in minutes; used when log.retention.ms is "
              "unset, before log.retention.hours.", dynamic=True),
    ConfigKey("log.retention.hours", _I, 168,
              "How long closed segments are kept, in hours; used when neither log.retention.ms "
              "nor log.retention.minutes is set.", dynamic=True),
    ConfigKey("log.retention.bytes", _L, -1,
              "Size a partition may reach before its oldest segments are deleted (-1: no limit).",
              dynamic=True),
    ConfigKey("log.retention.check.interval.ms", _L, 300_000,
              "How often, in ms, logs are checked for segments to delete by retention.",
              at_least(1)),
    ConfigKey("log.cleanup.policy", _LIST, ["delete"],
              "Default cleanup policy of topics: delete, compact, or both.",
              list_of(*CLEANUP_POLICIES), dynamic=True),
    ConfigKey("log.index.size.max.bytes", _I, 10 * MIB,
              "Largest size of a segment's offset index (topic default for segment.index.bytes).",
              at_least(4), dynamic=True),
    ConfigKey("log.index.interval.bytes", _I, 4096,
              "Bytes appended between two offset index entries.", at_least(0), dynamic=True),
    ConfigKey("log.flush.interval.messages", _L, LONG_MAX,
              "Records appended to a partition before it is fsynced (default: never; the OS "
              "writes back and replication provides durability).", at_least(1), dynamic=True),
    ConfigKey("log.flush.interval.ms", _L, None,
              "Longest time, in ms, appended data waits before an fsync; if unset "
              "log.flush.scheduler.interval.ms is used.", dynamic=True),
    ConfigKey("log.flush.scheduler.interval.ms", _L, LONG_MAX,
              "How often, in ms, logs are checked for a time-based flush.", dynamic=True),
    ConfigKey("log.flush.offset.checkpoint.interval.ms", _I, 60_000,
              "How often, in ms, the recovery-point checkpoint is written.", at_least(0)),
    ConfigKey("log.flush.start.offset.checkpoint.interval.ms", _I, 60_000,
              "How often, in ms, the log-start-offset checkpoint is written.", at_least(0)),
    ConfigKey("log.segment.delete.delay.ms", _L, 60_000,
              "How long, in ms, a deleted segment's files stay on disk (so in-flight reads "
              "finish).", at_least(0), dynamic=True),
    ConfigKey("log.preallocate", _B, False,
              "Whether new segment files are preallocated to log.segment.bytes.", dynamic=True),
    ConfigKey("log.message.timestamp.type", _S, "CreateTime",
              "Whether record timestamps are the producer's (CreateTime) or the broker's append "
              "time (LogAppendTime).", one_of(*TIMESTAMP_TYPES), dynamic=True),
    ConfigKey("log.message.timestamp.before.max.ms", _L, LONG_MAX,
              "How far, in ms, a CreateTime timestamp may lie before the broker's clock.",
              at_least(0), dynamic=True),
    ConfigKey("log.message.timestamp.after.max.ms", _L, HOUR_MS,
              "How far, in ms, a CreateTime timestamp may lie after the broker's clock.",
              at_least(0), dynamic=True),
    ConfigKey("log.cleaner.enable", _B, True, "Whether the log cleaner (compaction) runs."),
    ConfigKey("log.cleaner.threads", _I, 1, "Threads compacting logs.", at_least(0),
              dynamic=True),
    ConfigKey("log.cleaner.dedupe.buffer.size", _L, 128 * MIB,
              "Memory for the cleaner's key deduplication, over all cleaner threads.",
              dynamic=True),
    ConfigKey("log.cleaner.backoff.ms", _L, 15_000,
              "How long, in ms, the cleaner sleeps when no log needs cleaning.", at_least(0),
              dynamic=True),
    ConfigKey("log.cleaner.delete.retention.ms", _L, 86_400_000,
              "How long, in ms, tombstones are kept in compacted topics.", at_least(0),
              dynamic=True),
    ConfigKey("log.cleaner.min.compaction.lag.ms", _L, 0,
              "Youngest age, in ms, at which a record may be compacted.", at_least(0),
              dynamic=True),
    ConfigKey("log.cleaner.max.compaction.lag.ms", _L, LONG_MAX,
              "Oldest age, in ms, an uncompacted record may reach.", at_least(1), dynamic=True),
    ConfigKey("log.cleaner.min.cleanable.ratio", _D, 0.5,
              "Dirty share of a log above which it is compacted.", between(0, 1), dynamic=True),
    ConfigKey("log.dir.failure.timeout.ms", _L, 30_000,
              "How long, in ms, a failed log directory may go unreported to the controller "
              "before the broker shuts down.", at_least(1)),
    ConfigKey("num.recovery.threads.per.data.dir", _I, 2,
              "Accepted for compatibility; does not apply: ferrokafka recovers each log in the "
              "native engine, not on a JVM thread pool per directory.", at_least(1),
              dynamic=True, applies=False),
    ConfigKey("num.partitions", _I, 1, "Partitions of a topic created without a count.",
              at_least(1)),
    ConfigKey("auto.create.topics.enable", _B, True,
              "Whether a Metadata or Produce request for a missing topic creates it."),
    ConfigKey("min.insync.replicas", _I, 1,
              "Replicas that must have a write before an acks=all produce succeeds.",
              at_least(1), dynamic=True),
    ConfigKey("compression.type", _S, "producer",
              "Codec batches are stored with: producer keeps each batch's own; uncompressed, "
              "gzip, snappy, lz4 or zstd recompresses.", one_of(*COMPRESSION_TYPES),
              dynamic=True),
    ConfigKey("compression.gzip.level", _I, -1,
              "gzip level when compression.type=gzip (-1: zlib's default).", _gzip_level,
              dynamic=True),
    ConfigKey("compression.lz4.level", _I, 9, "lz4 level when compression.type=lz4.",
              between(1, 17), dynamic=True),
    ConfigKey("compression.zstd.level", _I, 3, "zstd level when compression.type=zstd.",
              between(-131072, 22), dynamic=True),
    ConfigKey("message.max.bytes", _I, MIB + 12,
              "Largest record batch a topic accepts (topic default for max.message.bytes).",
              at_least(0), dynamic=True),
    ConfigKey("unclean.leader.election.enable", _B, False,
              "Whether a replica outside the ISR may become leader, losing data, when no ISR "
              "member is alive.", dynamic=True),
)
# fmt: on
