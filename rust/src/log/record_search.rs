//! Finding a record by timestamp inside one batch, for ListOffsets (`offset_for_timestamp`,
//! `offset_for_max_timestamp`).
//!
//! Kafka answers with the exact record, which needs each record's timestamp:
//! - LogAppendTime batches: every record carries the batch's max timestamp; no decoding.
//! - Uncompressed CreateTime batches: the record prefixes (length, attributes, timestampDelta,
//!   offsetDelta) are walked here; keys, values and headers are skipped by length.
//! - Compressed CreateTime batches: decoding needs the record module's decompression. Until the
//!   log is wired to it, [`compressed_batch_answer`] gives the exact answer when the batch's
//!   first record qualifies (baseTimestamp is the first record's timestamp) and otherwise the
//!   first offset of the batch, which never skips a matching record.

use crate::error::{Error, Result};
use crate::index::TimestampOffset;
use crate::record::header::{BatchHeader, Compression, TimestampType, HEADER_SIZE};

/// Longest varint encoding of an i32 / i64 (zigzag, 7 bits per byte).
const VARINT_MAX_BYTES: usize = 5;
const VARLONG_MAX_BYTES: usize = 10;

/// Whether this batch can hold a record with timestamp >= `target` at an offset >= `min_offset`.
pub(crate) fn may_contain(h: &BatchHeader, target: i64, min_offset: i64) -> bool {
    h.max_timestamp >= target && h.last_offset() >= min_offset
}

/// Whether the answer for `h` needs the batch's bytes.
pub(crate) fn needs_bytes(h: &BatchHeader) -> bool {
    h.timestamp_type() == TimestampType::CreateTime
        && h.compression().ok() == Some(Compression::None)
}

/// The first record of the batch with timestamp >= `target` and offset >= `min_offset`.
/// `batch` holds the whole batch when [`needs_bytes`] says so, otherwise it may be empty.
pub(crate) fn first_record_at_or_after(
    batch: &[u8],
    h: &BatchHeader,
    target: i64,
    min_offset: i64,
) -> Result<Option<TimestampOffset>> {
    if !may_contain(h, target, min_offset) {
        return Ok(None);
    }
    if h.timestamp_type() == TimestampType::LogAppendTime {
        return Ok(Some(TimestampOffset {
            timestamp: h.max_timestamp,
            offset: h.base_offset.max(min_offset),
        }));
    }
    if !needs_bytes(h) {
        return Ok(Some(compressed_batch_answer(h, target, min_offset)));
    }
    let mut cur = Cursor {
        buf: batch,
        pos: HEADER_SIZE,
        batch_position: 0,
    };
    for _ in 0..h.record_count.max(0) {
        let length = cur.varint()? as i64;
        let record_start = cur.pos;
        let record_end = record_start as i64 + length;
        if length < 0 || record_end > batch.len() as i64 {
            return Err(Error::corrupt(
                0,
                format!("record length {length} out of bounds"),
            ));
        }
        cur.pos += 1; // attributes
        let timestamp = h.base_timestamp + cur.varlong()?;
        let offset = h.base_offset + cur.varint()? as i64;
        if timestamp >= target && offset >= min_offset {
            return Ok(Some(TimestampOffset { timestamp, offset }));
        }
        cur.pos = record_end as usize;
    }
    Ok(None)
}

/// Best answer for a compressed CreateTime batch without decompressing it (see module doc).
pub(crate) fn compressed_batch_answer(
    h: &BatchHeader,
    target: i64,
    min_offset: i64,
) -> TimestampOffset {
    if h.base_timestamp >= target && h.base_offset >= min_offset {
        TimestampOffset {
            timestamp: h.base_timestamp,
            offset: h.base_offset,
        }
    } else {
        TimestampOffset {
            timestamp: h.max_timestamp,
            offset: h.base_offset.max(min_offset),
        }
    }
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    batch_position: u64,
}

impl Cursor<'_> {
    fn raw(&mut self, max_bytes: usize) -> Result<u64> {
        let mut value = 0u64;
        for i in 0..max_bytes {
            let b = *self.buf.get(self.pos).ok_or_else(|| {
                Error::corrupt(self.batch_position, "varint runs past the batch end")
            })?;
            self.pos += 1;
            value |= ((b & 0x7f) as u64) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Error::corrupt(self.batch_position, "varint too long"))
    }
    fn varint(&mut self) -> Result<i32> {
        let v = self.raw(VARINT_MAX_BYTES)? as u32;
        Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
    }
    fn varlong(&mut self) -> Result<i64> {
        let v = self.raw(VARLONG_MAX_BYTES)?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }
}
