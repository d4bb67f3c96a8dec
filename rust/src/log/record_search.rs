//! Finding a record by timestamp inside one batch, for ListOffsets (`offset_for_timestamp`,
//! `offset_for_max_timestamp`).
//!
//! Kafka answers with the exact record, which needs each record's timestamp:
//! - LogAppendTime batches: every record carries the batch's max timestamp; no bytes needed.
//! - CreateTime batches: the records are walked with the record module's decoder (inflating
//!   compressed batches); keys, values and headers are skipped, not copied.

use crate::error::Result;
use crate::index::TimestampOffset;
use crate::record::batch::{iter_records, BatchView};
use crate::record::header::{BatchHeader, TimestampType};

/// Whether this batch can hold a record with timestamp >= `target` at an offset >= `min_offset`.
pub(crate) fn may_contain(h: &BatchHeader, target: i64, min_offset: i64) -> bool {
    h.max_timestamp >= target && h.last_offset() >= min_offset
}

/// Whether the answer for `h` needs the batch's bytes.
pub(crate) fn needs_bytes(h: &BatchHeader) -> bool {
    h.timestamp_type() == TimestampType::CreateTime
}

/// The first record of the batch with timestamp >= `target` and offset >= `min_offset`.
/// `batch` holds the whole batch (read from `position`) when [`needs_bytes`] says so,
/// otherwise it may be empty.
pub(crate) fn first_record_at_or_after(
    batch: &[u8],
    position: u64,
    h: &BatchHeader,
    target: i64,
    min_offset: i64,
) -> Result<Option<TimestampOffset>> {
    if !may_contain(h, target, min_offset) {
        return Ok(None);
    }
    if !needs_bytes(h) {
        return Ok(Some(TimestampOffset {
            timestamp: h.max_timestamp,
            offset: h.base_offset.max(min_offset),
        }));
    }
    let view = BatchView::parse(batch, position)?;
    let section = view.records_section()?;
    for r in iter_records(&section, h.record_count, position) {
        let r = r?;
        let (timestamp, offset) = (view.record_timestamp(&r), view.record_offset(&r));
        if timestamp >= target && offset >= min_offset {
            return Ok(Some(TimestampOffset { timestamp, offset }));
        }
    }
    Ok(None)
}
