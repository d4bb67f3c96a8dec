//! Segments, the segment map and the partition log, in Apache Kafka's on-disk format.
//!
//! - [`config`]: `LogConfig`, Kafka's topic settings with defaults and range checks.
//! - [`segment`]: one `.log` + `.index` + `.timeindex` (+ `.txnindex` once a transaction
//!   aborts in it); append, read, recover, truncate.
//! - [`segments`]: the ordered map base offset -> segment.
//! - [`log`](self::log): the partition log; `loader` opens and recovers it, `maintenance`
//!   truncates and applies retention.
//! - [`cleaner`]: compaction (`cleanup.policy=compact`), Kafka's log cleaner.
//! - `scan` walks batch headers or whole batches of a segment file; `record_search` finds a
//!   record by timestamp inside a batch.

pub mod cleaner;
pub mod config;
mod loader;
#[allow(clippy::module_inception)]
pub mod log;
mod maintenance;
mod record_search;
mod scan;
pub mod segment;
pub mod segments;

#[cfg(test)]
mod tests;

pub use self::config::LogConfig;
pub use self::log::{AppendOrigin, FetchData, LoadStats, Log, SegmentInfo};
pub use self::scan::without_waiting;

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock milliseconds since the epoch: Kafka timestamps, segment ages, flush intervals.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
