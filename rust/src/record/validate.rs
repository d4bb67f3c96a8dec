//! Produce-time validation, as a Kafka leader does it before appending, and offset assignment.
//!
//! [`validate_for_leader`] checks every batch of a produce request's `records` and plans the
//! write: each batch either under a stamped copy of its header (baseOffset,
//! partitionLeaderEpoch, LogAppendTime), its records borrowed from the request, or rebuilt when
//! the topic's codec differs. [`summarize_assigned`] frames batches whose offsets a leader
//! already assigned (follower appends, recovery).

use std::borrow::Cow;
use std::io::IoSlice;

use crate::error::{Error, Result};
use crate::record::batch::{iter_records, record_timestamp, BatchView};
use crate::record::builder::{BatchBuilder, BatchOptions};
use crate::record::compression::MAX_DECOMPRESSED_BYTES;
use crate::record::header::{
    self, BatchHeader, BatchProducer, Compression, Framed, TimestampType, ATTRIBUTES_OFFSET,
    CRC_OFFSET, HEADER_SIZE, MAX_TIMESTAMP_OFFSET,
};
use crate::record::inflate::walk_records;
use crate::record::record::RecordView;

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
    /// Clients may not write control batches; the transaction coordinator may. True also
    /// marks the append as the coordinator's, skipping Kafka's client-only checks (base offset
    /// 0, a sequence number whenever there is a producer id).
    pub allow_control: bool,
}

/// One batch of an append, after offset assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchSummary {
    /// Byte position of the batch in what the append writes (rebuilt batches change sizes).
    pub position: usize,
    /// Whole batch size in bytes.
    pub size: usize,
    pub base_offset: i64,
    pub last_offset: i64,
    /// Max timestamp of the batch as stored (the log append time for LogAppendTime).
    pub max_timestamp: i64,
    pub record_count: u32,
    /// Producer id, epoch, sequences and flags of the batch (a rebuilt batch keeps them).
    pub producer: BatchProducer,
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
    // Every batch carries the same append time; Kafka reports the append's last offset.
    if log_append_time != header::NO_TIMESTAMP {
        max_ts_offset = last.last_offset;
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

/// What phase one learned about a batch, to act on once every batch has passed.
struct Checked {
    /// Position and header in the input buffer.
    pos: usize,
    header: BatchHeader,
    /// Largest record timestamp (CreateTime), as Kafka recomputes it.
    max_record_timestamp: i64,
    /// Recompress to the topic's codec (a differing `compression.type`).
    rebuild: bool,
    /// The inflated records section, kept only when a compressed batch is rebuilt so that it
    /// is not inflated twice.
    inflated: Option<Vec<u8>>,
}

/// Header-level checks of one batch, as Kafka's `UnifiedLog.analyzeAndValidateRecords` and
/// `LogValidator.validateBatch` make them. `allow_control` marks the coordinator as the
/// writer; checks Kafka reserves for client appends are skipped for it.
fn check_header(pos: usize, h: &BatchHeader, cfg: &ValidationConfig) -> Result<Compression> {
    let at = pos as u64;
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
    if h.record_count <= 0 || h.last_offset_delta != h.record_count - 1 {
        return Err(Error::corrupt(
            at,
            format!(
                "record count {} does not match lastOffsetDelta {}",
                h.record_count, h.last_offset_delta
            ),
        ));
    }
    if !cfg.allow_control {
        // Clients always send batches at offset 0; anything else is a confused client.
        if h.base_offset != 0 {
            return Err(Error::InvalidRecord(format!(
                "batch at position {pos} has base offset {}; clients must send 0",
                h.base_offset
            )));
        }
        if h.producer_id != header::NO_PRODUCER_ID && h.base_sequence < 0 {
            return Err(Error::InvalidRecord(format!(
                "invalid sequence number {} in batch of producer {} at position {pos}",
                h.base_sequence, h.producer_id
            )));
        }
    }
    h.compression().map_err(|_| {
        Error::corrupt(
            at,
            format!("unknown compression in attributes {:#x}", h.attributes),
        )
    })
}

/// Kafka's `validateTimestamp`: CreateTime logs bound record timestamps around the broker
/// clock (-1, "no timestamp", is exempt); producers may never claim LogAppendTime.
#[inline]
fn check_timestamp(
    h: &BatchHeader,
    ts: i64,
    offset_delta: i32,
    cfg: &ValidationConfig,
    at: usize,
) -> Result<()> {
    if cfg.timestamp_type == TimestampType::CreateTime && ts != header::NO_TIMESTAMP {
        // i128: hostile timestamps must not overflow the subtraction.
        let behind = cfg.now_ms as i128 - ts as i128;
        let before = cfg.timestamp_before_max_ms.unwrap_or(i64::MAX) as i128;
        let after = cfg.timestamp_after_max_ms.unwrap_or(i64::MAX) as i128;
        if behind > before || -behind > after {
            return Err(Error::InvalidTimestamp(format!(
                "timestamp {ts} of record {offset_delta} of the batch at position {at} is out of \
                 range [{}, {}]",
                (cfg.now_ms as i128 - before).max(i64::MIN as i128),
                (cfg.now_ms as i128 + after).min(i64::MAX as i128),
            )));
        }
    } else if h.timestamp_type() == TimestampType::LogAppendTime {
        return Err(Error::InvalidTimestamp(format!(
            "batch at position {at}: producers may not set timestamp type LogAppendTime"
        )));
    }
    Ok(())
}

/// Phase one for one batch: every record framed, offset deltas exactly 0..n-1, timestamps in
/// bounds. Uncompressed batches are walked in place; compressed ones kept as sent are walked
/// as they inflate (one record held at a time); nothing is allocated per record.
fn check_batch(buf: &[u8], pos: usize, h: BatchHeader, cfg: &ValidationConfig) -> Result<Checked> {
    let codec = check_header(pos, &h, cfg)?;
    let view = BatchView {
        header: h,
        bytes: &buf[pos..pos + h.total_size()],
        position: pos as u64,
    };
    // Kafka leaves control batches uncompressed unless they were written compressed.
    let rebuild = cfg.target_compression.is_some_and(|t| t != codec) && !h.is_control();
    let mut max_record_timestamp = header::NO_TIMESTAMP;
    let mut check_record = |i: i32, r: &RecordView<'_>| -> Result<()> {
        if r.offset_delta != i {
            return Err(Error::corrupt(
                pos as u64,
                format!(
                    "record {i} has offset delta {}; expected {i}",
                    r.offset_delta
                ),
            ));
        }
        let ts = view.record_timestamp(r);
        check_timestamp(&h, ts, r.offset_delta, cfg, pos)?;
        max_record_timestamp = max_record_timestamp.max(ts);
        Ok(())
    };
    let mut inflated = None;
    if codec != Compression::None && !rebuild {
        // Kept as sent: checked as it inflates, one record at a time, never held whole.
        walk_records(
            codec,
            view.raw_records(),
            h.record_count,
            pos as u64,
            MAX_DECOMPRESSED_BYTES,
            &mut check_record,
        )?;
    } else {
        let section = view.records_section()?;
        for (i, r) in iter_records(&section, h.record_count, pos as u64).enumerate() {
            check_record(i as i32, &r?)?;
        }
        if let Cow::Owned(v) = section {
            inflated = rebuild.then_some(v);
        }
    }
    Ok(Checked {
        pos,
        header: h,
        max_record_timestamp,
        rebuild,
        inflated,
    })
}

/// Re-encode one validated batch with the topic's codec, keeping its producer state and
/// flags (Kafka's `buildRecordsAndAssignOffsets`).
fn rebuild_batch(
    buf: &[u8],
    c: &Checked,
    base_offset: i64,
    leader_epoch: i32,
    cfg: &ValidationConfig,
    target: Compression,
) -> Result<Vec<u8>> {
    let h = &c.header;
    let raw = &buf[c.pos + HEADER_SIZE..c.pos + h.total_size()];
    let section = c.inflated.as_deref().unwrap_or(raw);
    let mut b = BatchBuilder::new(BatchOptions {
        compression: target,
        compression_level: None,
        base_offset,
        timestamp_type: cfg.timestamp_type,
        log_append_time_ms: Some(cfg.now_ms),
        producer_id: h.producer_id,
        producer_epoch: h.producer_epoch,
        base_sequence: h.base_sequence,
        is_transactional: h.is_transactional(),
        is_control: false,
        partition_leader_epoch: leader_epoch,
    })?;
    for r in iter_records(section, h.record_count, c.pos as u64) {
        let r = r?;
        b.append_view(record_timestamp(h, &r), &r)?;
    }
    let out = b.build()?;
    if out.len() > cfg.max_message_bytes {
        return Err(Error::RecordTooLarge {
            size: out.len() as u64,
            limit: cfg.max_message_bytes as u64,
        });
    }
    Ok(out)
}

/// The bytes one validated batch is written as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlannedBatch<'a> {
    /// The producer's batch under a stamped copy of its header. Every stamp lies in the header,
    /// so the records are written straight from the request, never copied.
    Stamped {
        header: [u8; HEADER_SIZE],
        records: &'a [u8],
    },
    /// The batch re-encoded with the topic's codec, header stamped: the only new bytes.
    Rebuilt(Vec<u8>),
}

impl PlannedBatch<'_> {
    /// Whole batch size in bytes.
    pub fn size(&self) -> usize {
        match self {
            PlannedBatch::Stamped { records, .. } => HEADER_SIZE + records.len(),
            PlannedBatch::Rebuilt(batch) => batch.len(),
        }
    }

    /// Move the batch to `base_offset` (outside the CRC: nothing else changes).
    pub fn set_base_offset(&mut self, base_offset: i64) {
        match self {
            PlannedBatch::Stamped { header, .. } => header::set_base_offset(header, base_offset),
            PlannedBatch::Rebuilt(batch) => header::set_base_offset(batch, base_offset),
        }
    }
}

/// What a leader append writes: its batches in log order, each stamped or rebuilt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WritePlan<'a> {
    pub batches: Vec<PlannedBatch<'a>>,
}

impl WritePlan<'_> {
    /// Bytes the plan writes.
    pub fn size(&self) -> usize {
        self.batches.iter().map(PlannedBatch::size).sum()
    }

    /// The plan as buffers for one vectored write, in order: two per stamped batch (header,
    /// records), one per rebuilt batch.
    pub fn io_slices(&self) -> Vec<IoSlice<'_>> {
        let mut out = Vec::with_capacity(self.batches.len() * 2);
        for b in &self.batches {
            match b {
                PlannedBatch::Stamped { header, records } => {
                    out.push(IoSlice::new(header));
                    out.push(IoSlice::new(records));
                }
                PlannedBatch::Rebuilt(batch) => out.push(IoSlice::new(batch)),
            }
        }
        out
    }

    /// The bytes the plan writes, concatenated (a copy: for tests and tools).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size());
        for s in self.io_slices() {
            out.extend_from_slice(&s);
        }
        out
    }
}

/// The stamps of one batch: where it goes in the log and what the topic says its time is.
struct Stamp {
    base_offset: i64,
    leader_epoch: i32,
    timestamp_type: TimestampType,
    max_timestamp: i64,
}

/// Stamp the header `hdr` (the first [`HEADER_SIZE`] bytes of a batch whose CRC is valid and
/// whose records are `records_len` bytes long).
///
/// baseOffset and partitionLeaderEpoch lie outside the CRC. Attributes and maxTimestamp lie
/// inside it, so when Kafka's `setMaxTimestamp` changes them the CRC must move, but only by the
/// header's change: CRC-32C is linear, so crc(A'‖B) = crc(A‖B) ^ combine(crc(A) ^ crc(A'), 0,
/// |B|). The records are not read a second time (combine costs O(log |B|)).
fn stamp_header(hdr: &mut [u8], records_len: usize, s: &Stamp) {
    let hdr = &mut hdr[..HEADER_SIZE];
    header::set_base_offset(hdr, s.base_offset);
    header::set_partition_leader_epoch(hdr, s.leader_epoch);
    let parsed = BatchHeader::parse(hdr, 0).expect("the header of a framed batch");
    let attributes = match s.timestamp_type {
        TimestampType::LogAppendTime => parsed.attributes | header::TIMESTAMP_TYPE_MASK,
        TimestampType::CreateTime => parsed.attributes & !header::TIMESTAMP_TYPE_MASK,
    };
    if attributes == parsed.attributes && parsed.max_timestamp == s.max_timestamp {
        return;
    }
    let crc_range = ATTRIBUTES_OFFSET..HEADER_SIZE;
    let before = header::crc32c(&hdr[crc_range.clone()]);
    hdr[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
    hdr[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8]
        .copy_from_slice(&s.max_timestamp.to_be_bytes());
    let after = header::crc32c(&hdr[crc_range]);
    let crc = parsed.crc ^ crc32c::crc32c_combine(before ^ after, 0, records_len);
    hdr[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Leader-side validation of a produce request's records, then offset assignment from
/// `first_offset`: the summary, and the plan that writes the batches stamped with their offsets,
/// `leader_epoch` and, when configured, LogAppendTime.
///
/// Checks what Kafka's `LogValidator` checks: size, CRC, magic, record count against
/// lastOffsetDelta, inner offset deltas exactly 0..n-1, every record framed to its declared
/// length (compressed batches are inflated for this), control batches only from the
/// coordinator, client batches at base offset 0 with a sequence when they have a producer id,
/// and CreateTime timestamps within `timestamp_before_max_ms` / `timestamp_after_max_ms`.
/// For CreateTime the stored maxTimestamp is set to the largest record timestamp, as Kafka
/// does. Batches keep their bytes unless the topic's codec differs from theirs, in which case
/// they are rebuilt with it (producer id, epoch, sequence and transactional flag kept).
///
/// `records` is never modified: stamps go to header copies in the plan, which borrows the rest.
/// No plan is made unless every batch is valid.
pub fn validate_for_leader<'a>(
    records: &'a [u8],
    first_offset: i64,
    leader_epoch: i32,
    cfg: &ValidationConfig,
) -> Result<(AppendSummary, WritePlan<'a>)> {
    let framed = frame_all(records)?;
    let checked = framed
        .into_iter()
        .map(|(pos, h)| check_batch(records, pos, h, cfg))
        .collect::<Result<Vec<_>>>()?;
    let log_append_time = match cfg.timestamp_type {
        TimestampType::LogAppendTime => cfg.now_ms,
        TimestampType::CreateTime => header::NO_TIMESTAMP,
    };
    let target = cfg.target_compression.unwrap_or(Compression::None);
    let mut next = first_offset;
    let mut position = 0usize;
    let mut batches = Vec::with_capacity(checked.len());
    let mut plan = WritePlan {
        batches: Vec::with_capacity(checked.len()),
    };
    // By value: each inflated section is freed once its batch is rebuilt.
    for c in checked {
        let h = c.header;
        let stamp = Stamp {
            base_offset: next,
            leader_epoch,
            timestamp_type: cfg.timestamp_type,
            max_timestamp: match cfg.timestamp_type {
                TimestampType::LogAppendTime => log_append_time,
                TimestampType::CreateTime => c.max_record_timestamp,
            },
        };
        let planned = if c.rebuild {
            let mut batch = rebuild_batch(records, &c, next, leader_epoch, cfg, target)?;
            let records_len = batch.len() - HEADER_SIZE;
            stamp_header(&mut batch, records_len, &stamp);
            PlannedBatch::Rebuilt(batch)
        } else {
            let mut hdr = [0u8; HEADER_SIZE];
            hdr.copy_from_slice(&records[c.pos..c.pos + HEADER_SIZE]);
            let body = &records[c.pos + HEADER_SIZE..c.pos + h.total_size()];
            stamp_header(&mut hdr, body.len(), &stamp);
            PlannedBatch::Stamped {
                header: hdr,
                records: body,
            }
        };
        // A rebuilt batch keeps the record count but not the size.
        let size = planned.size();
        batches.push(BatchSummary {
            position,
            size,
            base_offset: next,
            last_offset: next + h.last_offset_delta as i64,
            max_timestamp: stamp.max_timestamp,
            record_count: h.record_count as u32,
            producer: h.producer(),
        });
        plan.batches.push(planned);
        position += size;
        next += h.last_offset_delta as i64 + 1;
    }
    Ok((summarize(batches, log_append_time)?, plan))
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
            producer: h.producer(),
        });
    }
    summarize(batches, header::NO_TIMESTAMP)
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
