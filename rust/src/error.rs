//! The crate's single error type. Every layer returns `Result<T>`; `py::errors` maps each
//! variant to a typed Python exception (and the broker maps those to Kafka error codes).

use std::io;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A batch failed validation (bad CRC, bad length, bad record framing, ...).
    /// `position` is the byte position of the batch in its input buffer or segment file.
    #[error("corrupt record at position {position}: {reason}")]
    CorruptRecord { position: u64, reason: String },

    /// Magic byte other than 2. Kafka 4.x only reads and writes record batch v2.
    #[error(
        "unsupported record batch magic {magic} at position {position} (only magic 2 is supported)"
    )]
    UnsupportedMagic { position: u64, magic: i8 },

    /// Compression codec id outside 0..=4 or a codec name we do not know.
    #[error("unsupported compression codec {0}")]
    UnsupportedCompression(String),

    /// A batch larger than `max.message.bytes` (Kafka: RECORD_TOO_LARGE / MESSAGE_TOO_LARGE).
    #[error("record batch of {size} bytes exceeds the limit of {limit} bytes")]
    RecordTooLarge { size: u64, limit: u64 },

    /// Fetch or lookup offset outside [log_start_offset, log_end_offset].
    #[error("offset {offset} is out of range [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },

    /// Record timestamps rejected by validation (Kafka: INVALID_TIMESTAMP).
    #[error("invalid timestamp: {0}")]
    InvalidTimestamp(String),

    /// An append whose offsets do not follow the log (follower append going backwards, ...).
    #[error("invalid offset: {0}")]
    InvalidOffset(String),

    /// A record that is well-formed but not acceptable (Kafka: INVALID_RECORD).
    #[error("invalid record: {0}")]
    InvalidRecord(String),

    /// A configuration value out of range.
    #[error("invalid log config: {0}")]
    InvalidConfig(String),

    /// Operation on a closed log.
    #[error("log is closed")]
    Closed,

    #[error(transparent)]
    Io(#[from] io::Error),
}

impl Error {
    pub fn corrupt(position: u64, reason: impl Into<String>) -> Self {
        Error::CorruptRecord {
            position,
            reason: reason.into(),
        }
    }
}
