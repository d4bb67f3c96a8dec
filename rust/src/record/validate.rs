//! Produce-time validation, as a Kafka leader does it before appending, and offset assignment.
//!
//! [`validate_for_leader`] checks every batch of a produce request's `records` and stamps
//! baseOffset / partitionLeaderEpoch (and LogAppendTime) in place. [`summarize_assigned`]
//! frames batches whose offsets a leader already assigned (follower appends, recovery).

use crate::error::{Error, Result};
use crate::record::header::{self, BatchHeader, Compression, Framed, TimestampType};

/// What the log's config says about the batches it accepts.
#[derive(Clone, Debug)]
pub struct ValidationConfig {
    /// `max.message.bytes`: the largest batch (header included) accepted.
    pub max_message_bytes: usize,
    /// `message.timestamp.type` of the topic.
    pub timestamp_type: TimestampType,
    /// `message.timestamp.before.max.ms` / `after.max.ms` (None = unlimited); CreateTime only.
    pub timestamp_before_max_ms: Option<i64>,
    pub timestamp_after_max_ms: Option<i64>,
    /// `compression.type`: None = "producer" (keep each batch as sent), Some(codec) =
    /// recompress batches whose codec differs.
    pub target_compression: Option<Compression>,
    /// Broker clock, for LogAppendTime and timestamp bounds.
    pub now_ms: i64,
    /// Clients may not write control batches; the transaction coordinator may.
    pub allow_control: bool,
}

/// One batch of an append, after offset assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSummary {
    /// Byte position of the batch in the (possibly rewritten) buffer.
    pub position: usize,
    /// Whole batch size in bytes.
    pub size: usize,
    pub base_offset: i64,
    pub last_offset: i64,
    /// Max timestamp of the batch as stored (the log append time for LogAppendTime).
    pub max_timestamp: i64,
    pub record_count: u32,
}

/// What an append will do, for the log (index entries, offsets) and for the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendSummary {
    pub batches: Vec<BatchSummary>,
    pub first_offset: i64,
    pub last_offset: i64,
    pub max_timestamp: i64,
    /// Offset of the record with the largest timestamp (Kafka returns the batch's last offset
    /// for v2 batches, "shallow" offset of max timestamp).
    pub offset_of_max_timestamp: i64,
    /// The time stamped for LogAppendTime, -1 for CreateTime.
    pub log_append_time: i64,
    pub record_count: u64,
    pub valid_bytes: usize,
}

fn summarize(batches: Vec<BatchSummary>, log_append_time: i64) -> Result<AppendSummary> {
    let first = batches
        .first()
        .ok_or_else(|| Error::corrupt(0, "no record batch"))?;
    let last = batches.last().unwrap();
    let (mut max_ts, mut max_ts_offset) = (header::NO_TIMESTAMP, first.last_offset);
    for b in &batches {
        if b.max_timestamp > max_ts {
            max_ts = b.max_timestamp;
            max_ts_offset = b.last_offset;
        }
    }
    Ok(AppendSummary {
        first_offset: first.base_offset,
        last_offset: last.last_offset,
        max_timestamp: max_ts,
        offset_of_max_timestamp: max_ts_offset,
        log_append_time,
        record_count: batches.iter().map(|b| b.record_count as u64).sum(),
        valid_bytes: last.position + last.size,
        batches,
    })
}

/// Frame every batch of `buf`: all must be complete, magic 2, CRC valid.
fn frame_all(buf: &[u8]) -> Result<Vec<(usize, BatchHeader)>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < buf.len() {
        match header::next_batch(&buf[pos..], pos as u64)? {
            Framed::Batch(h) => {
                let end = pos + h.total_size();
                header::verify_crc(&buf[pos..end], &h, pos as u64)?;
                out.push((pos, h));
                pos = end;
            }
            Framed::Incomplete => {
                return Err(Error::corrupt(pos as u64, "incomplete record batch"));
            }
        }
    }
    if out.is_empty() {
        return Err(Error::corrupt(0, "no record batch"));
    }
    Ok(out)
}

/// Leader-side validation of a produce request's records, then offset assignment from
/// `first_offset`, stamping `leader_epoch` (and LogAppendTime when configured) in place.
///
/// `buf` is a `Vec` because recompression (topic `compression.type` differing from the
/// batch's codec) rewrites it. Nothing is stamped unless every batch is valid.
pub fn validate_for_leader(
    buf: &mut Vec<u8>,
    first_offset: i64,
    leader_epoch: i32,
    cfg: &ValidationConfig,
) -> Result<AppendSummary> {
    let framed = frame_all(buf)?;
    for (pos, h) in &framed {
        if h.total_size() > cfg.max_message_bytes {
            return Err(Error::RecordTooLarge {
                size: h.total_size() as u64,
                limit: cfg.max_message_bytes as u64,
            });
        }
        if h.is_control() && !cfg.allow_control {
            return Err(Error::InvalidRecord(format!(
                "control batch at position {pos} may not be produced by clients"
            )));
        }
        if h.record_count < 0 || h.last_offset_delta != h.record_count - 1 {
            return Err(Error::corrupt(
                *pos as u64,
                format!(
                    "record count {} does not match lastOffsetDelta {}",
                    h.record_count, h.last_offset_delta
                ),
            ));
        }
        h.compression().map_err(|_| {
            Error::corrupt(
                *pos as u64,
                format!("unknown compression in attributes {:#x}", h.attributes),
            )
        })?;
    }
    let log_append_time = match cfg.timestamp_type {
        TimestampType::LogAppendTime => cfg.now_ms,
        TimestampType::CreateTime => header::NO_TIMESTAMP,
    };
    let mut next = first_offset;
    let mut batches = Vec::with_capacity(framed.len());
    for (pos, h) in framed {
        let end = pos + h.total_size();
        let batch = &mut buf[pos..end];
        header::set_base_offset(batch, next);
        header::set_partition_leader_epoch(batch, leader_epoch);
        let max_timestamp = if log_append_time != header::NO_TIMESTAMP {
            header::set_log_append_time(batch, log_append_time);
            log_append_time
        } else {
            h.max_timestamp
        };
        batches.push(BatchSummary {
            position: pos,
            size: h.total_size(),
            base_offset: next,
            last_offset: next + h.last_offset_delta as i64,
            max_timestamp,
            record_count: h.record_count as u32,
        });
        next += h.last_offset_delta as i64 + 1;
    }
    summarize(batches, log_append_time)
}

/// Frame batches whose offsets were already assigned (follower append, recovery): complete,
/// magic 2, CRC valid, offsets strictly increasing. Nothing is modified.
pub fn summarize_assigned(buf: &[u8]) -> Result<AppendSummary> {
    let framed = frame_all(buf)?;
    let mut batches = Vec::with_capacity(framed.len());
    let mut prev_last: Option<i64> = None;
    for (pos, h) in framed {
        if let Some(prev) = prev_last {
            if h.base_offset <= prev {
                return Err(Error::InvalidOffset(format!(
                    "batch at position {pos} starts at offset {} after offset {prev}",
                    h.base_offset
                )));
            }
        }
        prev_last = Some(h.last_offset());
        batches.push(BatchSummary {
            position: pos,
            size: h.total_size(),
            base_offset: h.base_offset,
            last_offset: h.last_offset(),
            max_timestamp: h.max_timestamp,
            record_count: h.record_count.max(0) as u32,
        });
    }
    summarize(batches, header::NO_TIMESTAMP)
}
