//! Per-log settings, named after Kafka's topic configs (`segment.bytes` -> `segment_bytes`),
//! with Kafka's defaults and range checks, and the validation settings they imply.
//!
//! `None` means "unlimited" where Kafka uses -1 or Long.MAX_VALUE (retention, flush intervals,
//! timestamp bounds).

use crate::error::{Error, Result};
use crate::index::{OFFSET_INDEX_ENTRY_SIZE, TIME_INDEX_ENTRY_SIZE};
use crate::record::header::{Compression, TimestampType, HEADER_SIZE};
use crate::record::validate::ValidationConfig;

/// Kafka's defaults (topic-level configs, Kafka 4.x).
pub const DEFAULT_SEGMENT_BYTES: u64 = 1 << 30;
pub const DEFAULT_SEGMENT_MS: i64 = 7 * 24 * 60 * 60 * 1000;
pub const DEFAULT_SEGMENT_INDEX_BYTES: u64 = 10 << 20;
pub const DEFAULT_INDEX_INTERVAL_BYTES: u64 = 4096;
pub const DEFAULT_RETENTION_MS: i64 = 7 * 24 * 60 * 60 * 1000;
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 1_048_588;
pub const DEFAULT_TIMESTAMP_AFTER_MAX_MS: i64 = 60 * 60 * 1000;
pub const DEFAULT_DELETE_RETENTION_MS: i64 = 24 * 60 * 60 * 1000;
pub const DEFAULT_MIN_CLEANABLE_DIRTY_RATIO: f64 = 0.5;

/// Positions in a segment are 4-byte signed ints in the offset index, so no segment (or index)
/// may exceed this.
pub const SEGMENT_BYTES_MAX: u64 = i32::MAX as u64;
/// A segment must hold at least one batch header. (Kafka 4 asks for 1 MiB; tests and tools
/// want tiny segments, and nothing here depends on a larger minimum.)
pub const SEGMENT_BYTES_MIN: u64 = HEADER_SIZE as u64;
/// Room for at least one ordinary time index entry plus the slot reserved for the roll entry.
pub const SEGMENT_INDEX_BYTES_MIN: u64 = 2 * TIME_INDEX_ENTRY_SIZE as u64;
/// Batches are at most i32::MAX bytes (batchLength is an int32).
pub const MAX_MESSAGE_BYTES_MAX: u64 = i32::MAX as u64;

const _: () = assert!(SEGMENT_INDEX_BYTES_MIN >= OFFSET_INDEX_ENTRY_SIZE as u64);

// PartialEq only: `min_cleanable_dirty_ratio` is a float.
#[derive(Clone, Debug, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`: roll when the active segment would grow past this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll when the active segment's first batch is this old.
    pub segment_ms: i64,
    /// `segment.index.bytes`: preallocated size of each index of the active segment.
    pub segment_index_bytes: u64,
    /// `index.interval.bytes`: bytes of log between offset index entries.
    pub index_interval_bytes: u64,
    /// `retention.ms`: delete closed segments whose newest record is older (None = forever).
    pub retention_ms: Option<i64>,
    /// `retention.bytes`: delete oldest closed segments while the log is larger (None = no cap).
    pub retention_bytes: Option<u64>,
    /// `flush.messages`: fsync after this many unflushed records (None = leave it to the OS).
    pub flush_messages: Option<u64>,
    /// `flush.ms`: fsync when the last flush is this old (None = leave it to the OS).
    pub flush_ms: Option<i64>,
    /// `max.message.bytes`: largest batch accepted from producers.
    pub max_message_bytes: u64,
    /// `message.timestamp.type`.
    pub message_timestamp_type: TimestampType,
    /// `message.timestamp.before.max.ms` / `after.max.ms` (None = unlimited).
    pub message_timestamp_before_max_ms: Option<i64>,
    pub message_timestamp_after_max_ms: Option<i64>,
    /// `compression.type`: None = "producer" (keep each batch's codec).
    pub compression_type: Option<Compression>,
    /// `cleanup.policy` holds "delete": retention by time and size applies.
    pub cleanup_delete: bool,
    /// `cleanup.policy` holds "compact": the log cleaner keeps the latest record per key.
    pub cleanup_compact: bool,
    /// `delete.retention.ms`: how long a cleaned tombstone stays (its batch's delete horizon).
    pub delete_retention_ms: i64,
    /// `min.compaction.lag.ms`: segments with newer records are not cleaned yet.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: dirty records older than this force a clean (None = never).
    pub max_compaction_lag_ms: Option<i64>,
    /// `min.cleanable.dirty.ratio`: dirty share of the log above which it is cleaned.
    pub min_cleanable_dirty_ratio: f64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            segment_ms: DEFAULT_SEGMENT_MS,
            segment_index_bytes: DEFAULT_SEGMENT_INDEX_BYTES,
            index_interval_bytes: DEFAULT_INDEX_INTERVAL_BYTES,
            retention_ms: Some(DEFAULT_RETENTION_MS),
            retention_bytes: None,
            flush_messages: None,
            flush_ms: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            message_timestamp_type: TimestampType::CreateTime,
            message_timestamp_before_max_ms: None,
            message_timestamp_after_max_ms: Some(DEFAULT_TIMESTAMP_AFTER_MAX_MS),
            compression_type: None,
            cleanup_delete: true,
            cleanup_compact: false,
            delete_retention_ms: DEFAULT_DELETE_RETENTION_MS,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: None,
            min_cleanable_dirty_ratio: DEFAULT_MIN_CLEANABLE_DIRTY_RATIO,
        }
    }
}

fn check_range(name: &str, value: u64, min: u64, max: u64) -> Result<()> {
    if value < min || value > max {
        return Err(Error::InvalidConfig(format!(
            "{name} = {value} is outside [{min}, {max}]"
        )));
    }
    Ok(())
}

fn check_at_least(name: &str, value: Option<i64>, min: i64) -> Result<()> {
    match value {
        Some(v) if v < min => Err(Error::InvalidConfig(format!(
            "{name} = {v} must be at least {min} (or unset for unlimited)"
        ))),
        _ => Ok(()),
    }
}

impl LogConfig {
    /// Check every value against Kafka's ranges (tightened where our formats need it).
    pub fn validate(&self) -> Result<()> {
        check_range(
            "segment_bytes",
            self.segment_bytes,
            SEGMENT_BYTES_MIN,
            SEGMENT_BYTES_MAX,
        )?;
        check_at_least("segment_ms", Some(self.segment_ms), 1)?;
        check_range(
            "segment_index_bytes",
            self.segment_index_bytes,
            SEGMENT_INDEX_BYTES_MIN,
            SEGMENT_BYTES_MAX,
        )?;
        check_range(
            "index_interval_bytes",
            self.index_interval_bytes,
            0,
            SEGMENT_BYTES_MAX,
        )?;
        check_at_least("retention_ms", self.retention_ms, 0)?;
        check_at_least(
            "flush_messages",
            self.flush_messages.map(|v| v.min(i64::MAX as u64) as i64),
            1,
        )?;
        check_at_least("flush_ms", self.flush_ms, 0)?;
        check_range(
            "max_message_bytes",
            self.max_message_bytes,
            0,
            MAX_MESSAGE_BYTES_MAX,
        )?;
        check_at_least(
            "message_timestamp_before_max_ms",
            self.message_timestamp_before_max_ms,
            0,
        )?;
        check_at_least(
            "message_timestamp_after_max_ms",
            self.message_timestamp_after_max_ms,
            0,
        )?;
        check_at_least("delete_retention_ms", Some(self.delete_retention_ms), 0)?;
        check_at_least("min_compaction_lag_ms", Some(self.min_compaction_lag_ms), 0)?;
        check_at_least("max_compaction_lag_ms", self.max_compaction_lag_ms, 1)?;
        if !(0.0..=1.0).contains(&self.min_cleanable_dirty_ratio) {
            return Err(Error::InvalidConfig(format!(
                "min_cleanable_dirty_ratio = {} is outside [0, 1]",
                self.min_cleanable_dirty_ratio
            )));
        }
        Ok(())
    }

    /// Parse Kafka's `compression.type` value: "producer" or a codec name.
    pub fn parse_compression_type(name: &str) -> Result<Option<Compression>> {
        match name {
            "producer" => Ok(None),
            codec => Compression::from_name(codec).map(Some),
        }
    }

    /// Age at which the active segment rolls: `segment.ms`, or `max.compaction.lag.ms` when
    /// that is smaller on a compacted log, so no record waits longer than the lag to become
    /// cleanable (Kafka's `LogConfig.maxSegmentMs`, KIP-354).
    pub fn max_segment_ms(&self) -> i64 {
        match self.max_compaction_lag_ms {
            Some(lag) if self.cleanup_compact => self.segment_ms.min(lag),
            _ => self.segment_ms,
        }
    }

    /// The `compression.type` value as Kafka spells it.
    pub fn compression_type_name(&self) -> &'static str {
        self.compression_type.map_or("producer", Compression::name)
    }

    /// What produce-time validation needs from this config, at broker time `now_ms`.
    /// `allow_control`: only the transaction coordinator may append control batches.
    pub fn validation_config(&self, now_ms: i64, allow_control: bool) -> ValidationConfig {
        ValidationConfig {
            max_message_bytes: self.max_message_bytes as usize,
            timestamp_type: self.message_timestamp_type,
            timestamp_before_max_ms: self.message_timestamp_before_max_ms,
            timestamp_after_max_ms: self.message_timestamp_after_max_ms,
            target_compression: self.compression_type,
            now_ms,
            allow_control,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kafkas_and_valid() {
        let c = LogConfig::default();
        c.validate().unwrap();
        assert_eq!(c.segment_bytes, 1_073_741_824);
        assert_eq!(c.segment_ms, 604_800_000);
        assert_eq!(c.segment_index_bytes, 10_485_760);
        assert_eq!(c.retention_ms, Some(604_800_000));
        assert_eq!(c.compression_type_name(), "producer");
    }

    #[test]
    fn rejects_out_of_range_values() {
        let bad = [
            LogConfig {
                segment_bytes: 10,
                ..Default::default()
            },
            LogConfig {
                segment_bytes: 1 << 31,
                ..Default::default()
            },
            LogConfig {
                segment_ms: 0,
                ..Default::default()
            },
            LogConfig {
                segment_index_bytes: 4,
                ..Default::default()
            },
            LogConfig {
                retention_ms: Some(-1),
                ..Default::default()
            },
            LogConfig {
                flush_messages: Some(0),
                ..Default::default()
            },
            LogConfig {
                message_timestamp_after_max_ms: Some(-5),
                ..Default::default()
            },
        ];
        for c in bad {
            assert!(
                matches!(c.validate(), Err(Error::InvalidConfig(_))),
                "{c:?}"
            );
        }
    }

    #[test]
    fn compression_type_names() {
        assert_eq!(LogConfig::parse_compression_type("producer").unwrap(), None);
        assert_eq!(
            LogConfig::parse_compression_type("zstd").unwrap(),
            Some(Compression::Zstd)
        );
        assert!(LogConfig::parse_compression_type("brotli").is_err());
        let v = LogConfig {
            compression_type: Some(Compression::Lz4),
            message_timestamp_type: TimestampType::LogAppendTime,
            ..Default::default()
        }
        .validation_config(42, false);
        assert_eq!(v.target_compression, Some(Compression::Lz4));
        assert_eq!(v.timestamp_type, TimestampType::LogAppendTime);
        assert_eq!(v.now_ms, 42);
        assert!(!v.allow_control);
    }
}
