//! Deciding, record by record, what a cleaned batch keeps (Kafka's `Cleaner.shouldRetainRecord`
//! and `MemoryRecords.filterTo`), and re-encoding the batch when it changes.
//!
//! A record is kept when its offset lies past the part of the log the offset map covers, or
//! when it is the latest for its key and not an expired tombstone. Records without a key are
//! dropped (Kafka counts them as invalid in a compacted log). A tombstone (null value) is kept
//! until its batch's delete horizon (KIP-534) has passed: the first clean that keeps it stamps
//! the horizon `now + delete.retention.ms` into the batch (attribute bit 6, base timestamp), and
//! a clean at or after that time drops it.
//!
//! A rewritten batch keeps its base offset, each record's offset delta and absolute
//! timestamp, the producer id, epoch, base sequence, partition leader epoch, flags and codec
//! (recompressed at the codec's default level) and its last offset: Kafka's
//! `overrideLastOffset`, so that the batch's last sequence still follows from its offsets for
//! the producer state rebuilt from the log.
//! Transactions (KIP-98, see [`super::txn`]): the batches of aborted transactions lose all
//! their records whatever their keys; a transaction marker keeps its record until its
//! transaction has no data left in the log, then gets a delete horizon like a tombstone and
//! goes in a clean after that time.
//!
//! Which batches survive with no records left, as Kafka's `BatchRetention`: a producer's last
//! batch (below) and the last batch of the cleaning round (its offsets say where the cleaned
//! log ends) are written empty; any other batch left empty is dropped.
//!
//! A batch of an idempotent producer that loses all its records is still written, empty (no
//! records, its offsets, producer id, epoch and sequences), when it is that producer's last
//! batch in the log: the producer state rebuilt from the log after a restart then still knows
//! the producer's last sequence, so its retries stay deduplicated (Kafka's
//! `BatchRetention.RETAIN_EMPTY`).

use std::collections::HashMap;

use crate::error::Result;
use crate::record::batch::{iter_records, BatchView};
use crate::record::compression;
use crate::record::header::{
    self, BatchHeader, TimestampType, DELETE_HORIZON_FLAG_MASK, HEADER_SIZE, LOG_OVERHEAD, MAGIC_V2,
};
use crate::record::record::{put_record, RecordView};

use super::offset_map::OffsetMap;
use super::txn::TxnTracker;

/// What the log says of a producer (Kafka's `LastRecord`): the last offset of its last data
/// batch, if it has one, and the epoch of its last batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProducerLastRecord {
    pub last_data_offset: Option<i64>,
    pub producer_epoch: i16,
}

/// What the filter needs to know besides the batch.
pub(crate) struct FilterContext<'a> {
    pub map: &'a OffsetMap,
    /// Offsets at or above this were not put in the map: their records are kept.
    pub map_end_offset: i64,
    pub now_ms: i64,
    pub delete_retention_ms: i64,
    /// Producer id -> its last batch in the log.
    pub producer_last_records: &'a HashMap<i64, ProducerLastRecord>,
    /// The first uncleanable offset of this clean: the batch ending just below it stays,
    /// even empty.
    pub upper_bound_offset: i64,
}

/// What becomes of one batch.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Filtered {
    /// Written as it is.
    Keep,
    /// Written as these bytes instead.
    Rewritten(Vec<u8>),
    /// Nothing left of it.
    Dropped,
}

impl FilterContext<'_> {
    /// The batch that keeps a producer's state (last sequence, or the epoch of a producer
    /// whose last word is a marker) for the producer state rebuilt from the log.
    fn is_last_of_producer(&self, h: &BatchHeader) -> bool {
        h.producer_id >= 0
            && self
                .producer_last_records
                .get(&h.producer_id)
                .is_some_and(|last| match last.last_data_offset {
                    Some(offset) => h.last_offset() == offset,
                    None => h.is_control() && h.producer_epoch == last.producer_epoch,
                })
    }

    fn retain(&self, h: &BatchHeader, offset: i64, r: &RecordView<'_>) -> bool {
        if offset >= self.map_end_offset {
            return true;
        }
        let Some(key) = r.key else {
            return false;
        };
        if self.map.get(key).is_some_and(|latest| offset < latest) {
            return false;
        }
        let expired_tombstone =
            r.value.is_none() && h.has_delete_horizon() && self.now_ms >= h.base_timestamp;
        !expired_tombstone
    }
}

/// Filter one whole, CRC-checked batch; `txns` sees every batch of the clean in order.
pub(crate) fn filter_batch(
    view: &BatchView<'_>,
    cx: &FilterContext<'_>,
    txns: &mut TxnTracker,
) -> Result<Filtered> {
    let h = view.header;
    let control = h.is_control();
    // Kafka's checkBatchRetention: may the batch go as far as transactions are concerned?
    let can_discard = if control {
        let kind = match h.record_count {
            0 => None,
            _ => view.control_record()?.map(|c| c.kind),
        };
        txns.on_control_batch(&h, kind)
    } else {
        txns.on_batch(&h)
    };
    // Aborted data goes now; a marker of an empty transaction once its horizon has passed.
    let discard_records = if control {
        can_discard && h.has_delete_horizon() && h.base_timestamp <= cx.now_ms
    } else {
        can_discard
    };
    let retain_empty = cx.is_last_of_producer(&h) || h.next_offset() == cx.upper_bound_offset;
    let section = view.records_section()?;
    let mut kept: Vec<RecordView<'_>> = Vec::new();
    let mut total = 0usize;
    let mut tombstones = false;
    for r in iter_records(&section, h.record_count, view.position) {
        let r = r?;
        total += 1;
        let keep = !discard_records && (control || cx.retain(&h, view.record_offset(&r), &r));
        if keep {
            tombstones |= r.value.is_none();
            kept.push(r);
        }
    }
    if kept.is_empty() {
        return Ok(match (retain_empty, total) {
            (false, _) => Filtered::Dropped,
            (true, 0) => Filtered::Keep, // already the empty batch
            (true, _) => Filtered::Rewritten(empty_batch(&h)),
        });
    }
    let marker_of_empty_txn = control && can_discard;
    let set_horizon = (tombstones || marker_of_empty_txn) && !h.has_delete_horizon();
    if kept.len() == total && !set_horizon {
        return Ok(Filtered::Keep);
    }
    let horizon = if set_horizon {
        Some(cx.now_ms.saturating_add(cx.delete_retention_ms))
    } else if h.has_delete_horizon() {
        Some(h.base_timestamp)
    } else {
        None
    };
    rebuild(&h, &kept, horizon).map(Filtered::Rewritten)
}

/// A batch without records standing for `h` (Kafka's `writeEmptyHeader`): same offsets,
/// producer fields, leader epoch and flags, no compression, both timestamps `h`'s max.
fn empty_batch(h: &BatchHeader) -> Vec<u8> {
    let mut out = vec![0u8; HEADER_SIZE];
    BatchHeader {
        batch_length: (HEADER_SIZE - LOG_OVERHEAD) as i32,
        crc: 0,
        attributes: h.attributes
            & !(DELETE_HORIZON_FLAG_MASK | crate::record::header::COMPRESSION_CODEC_MASK),
        base_timestamp: h.max_timestamp,
        record_count: 0,
        ..*h
    }
    .write(&mut out);
    header::set_crc(&mut out);
    out
}

/// Encode the kept records as a batch with `h`'s identity (see the module doc).
fn rebuild(h: &BatchHeader, kept: &[RecordView<'_>], horizon: Option<i64>) -> Result<Vec<u8>> {
    let absolute = |r: &RecordView<'_>| h.base_timestamp.wrapping_add(r.timestamp_delta);
    let base_timestamp = horizon.unwrap_or_else(|| absolute(&kept[0]));
    let mut records = Vec::new();
    let mut max_timestamp = header::NO_TIMESTAMP;
    for r in kept {
        let ts = absolute(r);
        max_timestamp = max_timestamp.max(ts);
        put_record(
            ts.wrapping_sub(base_timestamp),
            r.offset_delta,
            r.key,
            r.value,
            r.header_count,
            r.headers_raw,
            &mut records,
        )?;
    }
    if h.timestamp_type() == TimestampType::LogAppendTime {
        max_timestamp = h.max_timestamp;
    }
    let mut out = vec![0u8; HEADER_SIZE];
    compression::compress_into(h.compression()?, &records, None, &mut out)?;
    let mut attributes = h.attributes & !DELETE_HORIZON_FLAG_MASK;
    if horizon.is_some() {
        attributes |= DELETE_HORIZON_FLAG_MASK;
    }
    BatchHeader {
        base_offset: h.base_offset,
        batch_length: (out.len() - LOG_OVERHEAD) as i32,
        partition_leader_epoch: h.partition_leader_epoch,
        magic: MAGIC_V2,
        crc: 0,
        attributes,
        last_offset_delta: h.last_offset_delta,
        base_timestamp,
        max_timestamp,
        producer_id: h.producer_id,
        producer_epoch: h.producer_epoch,
        base_sequence: h.base_sequence,
        record_count: kept.len() as i32,
    }
    .write(&mut out);
    header::set_crc(&mut out);
    Ok(out)
}
