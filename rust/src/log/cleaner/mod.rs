//! The log cleaner (Kafka's `LogCleaner` / `Cleaner`): compaction of one partition log, for
//! `cleanup.policy=compact` (and `compact,delete`).
//!
//! One clean, given the cleaner checkpoint (the first dirty offset):
//! 1. [`Log::cleanable_info`]: the dirty section runs from the first dirty offset to the first
//!    uncleanable one: the active segment's base offset, lowered to the base of the first dirty
//!    segment holding a record younger than `min.compaction.lag.ms` (batch max timestamps),
//!    and to an optional caller bound (the last stable offset).
//! 2. Map each key of the dirty section to its latest offset ([`offset_map`]), batch by batch,
//!    until the map's byte budget (`log.cleaner.dedupe.buffer.size`) is spent; the map's end
//!    becomes the next checkpoint, so a log larger than the budget is cleaned in several rounds.
//! 3. Group the segments from the log's start up to the map's end (never the active one) so
//!    that each group's files fit one segment (`segment.bytes`, an i32 offset span), and
//!    rewrite each group into one segment keeping what [`filter`] retains.
//! 4. Swap each rewritten segment in ([`swap`]): `.cleaned` -> `.swap` -> replace the old
//!    segments, crash-safe at every step; the log's lock is held only for step 4, so appends
//!    and reads go on while 2 and 3 run.
//!
//! Transactions (KIP-98, [`txn`]): the cleaner never reads past the caller's bound (the last
//! stable offset), so every transaction it sees is decided; the transaction indexes say which
//! aborted. Aborted batches are left out of the offset map and lose their records; markers go
//! once their transaction has no data left and their delete horizon has passed; each cleaned
//! segment's transaction index lists the aborted transactions whose markers it keeps.
//!
//! Not done (simplified from Kafka): there is no I/O throttle
//! (`log.cleaner.io.max.bytes.per.second`). (`max.compaction.lag.ms` also rolls the active
//! segment: `LogConfig::max_segment_ms`.)

mod filter;
mod offset_map;
pub(crate) mod swap;
mod txn;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod txn_tests;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use parking_lot::{Condvar, Mutex};

use super::log::Log;
use super::scan::{BatchReader, HeaderScanner};
use crate::error::{Error, Result};
use crate::index::AbortedTxn;
use crate::record::batch::{iter_records, BatchView};
use crate::record::header::{BatchHeader, HEADER_SIZE};
use crate::record::inflate::walk_batch_records;

use self::filter::{FilterContext, ProducerLastRecord};
use self::offset_map::OffsetMap;
pub use self::offset_map::ENTRY_OVERHEAD_BYTES;
use self::txn::TxnTracker;

/// Kafka's default `log.cleaner.dedupe.buffer.size`.
pub const DEFAULT_DEDUPE_BUFFER_BYTES: usize = 128 << 20;

/// Per-clean settings that are the broker's, not the topic's.
#[derive(Clone, Debug)]
pub struct CleanerOptions {
    /// `log.cleaner.dedupe.buffer.size` (per cleaner thread): the offset map's byte budget.
    pub dedupe_buffer_bytes: usize,
    /// Never clean at or past this offset (the last stable offset), if given.
    pub max_offset: Option<i64>,
    /// Tests only: fail (as a crash would) right after this step of a swap (1..=5).
    #[doc(hidden)]
    pub crash_after_step: Option<u8>,
}

impl Default for CleanerOptions {
    fn default() -> Self {
        CleanerOptions {
            dedupe_buffer_bytes: DEFAULT_DEDUPE_BUFFER_BYTES,
            max_offset: None,
            crash_after_step: None,
        }
    }
}

/// How dirty a log is (Kafka's `LogToClean`).
#[derive(Clone, Debug, PartialEq)]
pub struct CleanableInfo {
    /// The checkpoint, moved into [log start, log end] (Kafka resets an out-of-range one).
    pub first_dirty_offset: i64,
    pub first_uncleanable_offset: i64,
    /// Bytes of segments wholly below the first dirty offset.
    pub clean_bytes: u64,
    /// Bytes of closed segments in [first dirty, first uncleanable).
    pub cleanable_bytes: u64,
    /// cleanable / (clean + cleanable), 0 when both are 0.
    pub dirty_ratio: f64,
    /// A dirty record is older than `max.compaction.lag.ms` (KIP-354): clean whatever the
    /// ratio.
    pub needs_compaction_now: bool,
}

/// What one clean did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanStats {
    pub first_dirty_offset: i64,
    /// The next cleaner checkpoint: everything below it is now clean.
    pub end_offset: i64,
    pub segments_cleaned: usize,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub records_read: u64,
    pub records_kept: u64,
    pub keys_mapped: usize,
    /// The log changed under the cleaner (truncation, retention): nothing was swapped in
    /// after that and `end_offset` stays at the first dirty offset.
    pub aborted: bool,
}

/// A closed segment as seen when the clean started.
#[derive(Debug)]
pub(crate) struct SegmentSnapshot {
    pub base_offset: i64,
    pub next_offset: i64,
    pub size: u64,
    pub log_path: PathBuf,
    pub file: File,
    /// The segment's transaction index entries (aborted transactions whose marker it holds).
    pub aborted_txns: Vec<AbortedTxn>,
}

/// Directories of the logs being cleaned: one clean per log at a time (they share the
/// scratch directory and would swap over each other). A second clean waits for the first.
static CLEANING: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
static CLEANING_DONE: Condvar = Condvar::new();

struct CleaningGuard(PathBuf);

impl CleaningGuard {
    fn acquire(dir: &Path) -> Self {
        let mut cleaning = CLEANING.lock();
        while cleaning.get_or_insert_with(HashSet::new).contains(dir) {
            CLEANING_DONE.wait(&mut cleaning);
        }
        cleaning
            .get_or_insert_with(HashSet::new)
            .insert(dir.to_path_buf());
        CleaningGuard(dir.to_path_buf())
    }
}

impl Drop for CleaningGuard {
    fn drop(&mut self) {
        if let Some(set) = CLEANING.lock().as_mut() {
            set.remove(&self.0);
        }
        CLEANING_DONE.notify_all();
    }
}

impl Log {
    /// How dirty the log is, for a cleaner checkpoint `checkpoint` (None: never cleaned).
    pub fn cleanable_info(
        &self,
        checkpoint: Option<i64>,
        max_offset: Option<i64>,
        now_ms: i64,
    ) -> Result<CleanableInfo> {
        let st = self.state.read();
        st.check_open()?;
        let start = st.log_start_offset;
        let first_dirty = match checkpoint {
            Some(c) if c >= start && c <= st.log_end_offset => c,
            _ => start,
        };
        let active_base = st.active().base_offset();
        let mut uncleanable = active_base.min(max_offset.unwrap_or(i64::MAX));
        let lag = st.config.min_compaction_lag_ms;
        let mut earliest_dirty_ts: Option<i64> = None;
        for s in st.segments.floor_onward(first_dirty) {
            if s.base_offset() >= uncleanable {
                break;
            }
            if lag > 0 && s.retention_timestamp()? > now_ms - lag {
                uncleanable = uncleanable.min(s.base_offset().max(first_dirty));
                break;
            }
            let first_ts = first_batch_timestamp(&s.region(0, HEADER_SIZE as u64), s.size())?;
            if let Some(ts) = first_ts.filter(|t| *t >= 0) {
                earliest_dirty_ts = Some(earliest_dirty_ts.map_or(ts, |e: i64| e.min(ts)));
            }
        }
        let (mut clean, mut cleanable) = (0u64, 0u64);
        for s in st.segments.iter() {
            if s.base_offset() == active_base {
                break;
            }
            if s.next_offset() <= first_dirty {
                clean += s.size();
            } else if s.base_offset() < uncleanable {
                cleanable += s.size();
            }
        }
        let total = clean + cleanable;
        let needs_compaction_now = uncleanable > first_dirty
            && st
                .config
                .max_compaction_lag_ms
                .zip(earliest_dirty_ts)
                .is_some_and(|(max_lag, ts)| now_ms - ts > max_lag);
        Ok(CleanableInfo {
            first_dirty_offset: first_dirty,
            first_uncleanable_offset: uncleanable.max(first_dirty),
            clean_bytes: clean,
            cleanable_bytes: cleanable,
            dirty_ratio: if total == 0 {
                0.0
            } else {
                cleanable as f64 / total as f64
            },
            needs_compaction_now,
        })
    }

    /// Clean the log once from cleaner checkpoint `checkpoint` (see the module doc). The
    /// caller decides whether the log is dirty enough; this cleans whatever is cleanable.
    pub fn clean(
        &self,
        checkpoint: Option<i64>,
        opts: &CleanerOptions,
        now_ms: i64,
    ) -> Result<CleanStats> {
        let _one_at_a_time = CleaningGuard::acquire(self.dir());
        let info = self.cleanable_info(checkpoint, opts.max_offset, now_ms)?;
        let mut stats = CleanStats {
            first_dirty_offset: info.first_dirty_offset,
            end_offset: info.first_dirty_offset,
            ..Default::default()
        };
        if info.first_uncleanable_offset <= info.first_dirty_offset {
            return Ok(stats);
        }
        let (segments, config) = self.snapshot_closed(info.first_uncleanable_offset)?;
        let mut map = OffsetMap::new(opts.dedupe_buffer_bytes);
        let mut map_txns = TxnTracker::default();
        map_txns.add_aborted(
            self.collect_aborted_txns(info.first_dirty_offset, info.first_uncleanable_offset)?,
        );
        let map_end = build_offset_map(
            &segments,
            info.first_dirty_offset,
            info.first_uncleanable_offset,
            &mut map,
            &mut map_txns,
        )?;
        stats.keys_mapped = map.len();
        if map_end <= info.first_dirty_offset {
            return Ok(stats);
        }
        let producer_last_records = self.producer_last_records()?;
        let cx = FilterContext {
            map: &map,
            map_end_offset: map_end,
            now_ms,
            delete_retention_ms: config.delete_retention_ms,
            producer_last_records: &producer_last_records,
            upper_bound_offset: info.first_uncleanable_offset,
        };
        // One transaction state for the whole clean: a transaction may span groups.
        let mut txns = TxnTracker::default();
        let in_range: Vec<&SegmentSnapshot> = segments
            .iter()
            .filter(|s| s.base_offset < map_end)
            .collect();
        for group in group_by_size(&in_range, config.segment_bytes) {
            let done = swap::clean_group(self, group, &cx, &mut txns, opts, &mut stats)?;
            if !done {
                stats.aborted = true;
                stats.end_offset = info.first_dirty_offset;
                return Ok(stats);
            }
        }
        stats.end_offset = map_end;
        Ok(stats)
    }

    /// Producer id -> its last data batch's last offset and its last batch's epoch, over the
    /// whole log as it is now (a batch appended later only makes an earlier one not the last;
    /// keeping that one empty is harmless). Headers only; the files are opened under the
    /// read lock, read after it.
    fn producer_last_records(&self) -> Result<HashMap<i64, ProducerLastRecord>> {
        let files: Vec<(File, u64)> = {
            let st = self.state.read();
            st.check_open()?;
            st.segments
                .iter()
                .map(|s| Ok((File::open(s.log_path())?, s.size())))
                .collect::<Result<_>>()?
        };
        let mut last = HashMap::new();
        for (file, size) in &files {
            let mut scan = HeaderScanner::new(file, 0, *size);
            while let Some((_, h)) = scan.next_header()? {
                if h.producer_id < 0 {
                    continue;
                }
                let entry = last.entry(h.producer_id).or_insert(ProducerLastRecord {
                    last_data_offset: None,
                    producer_epoch: h.producer_epoch,
                });
                entry.producer_epoch = h.producer_epoch;
                if !h.is_control() {
                    entry.last_data_offset = Some(h.last_offset());
                }
            }
        }
        Ok(last)
    }

    /// The closed segments below `below` (open files, so retention deleting one meanwhile
    /// does not pull it from under the cleaner) and the config, under the read lock.
    fn snapshot_closed(&self, below: i64) -> Result<(Vec<SegmentSnapshot>, super::LogConfig)> {
        let st = self.state.read();
        st.check_open()?;
        let active = st.active().base_offset();
        let mut out = Vec::new();
        for s in st.segments.iter() {
            if s.base_offset() == active || s.base_offset() >= below {
                break;
            }
            out.push(SegmentSnapshot {
                base_offset: s.base_offset(),
                next_offset: s.next_offset(),
                size: s.size(),
                log_path: s.log_path().to_path_buf(),
                file: File::open(s.log_path())?,
                aborted_txns: s.aborted_txns()?,
            });
        }
        Ok((out, st.config.clone()))
    }
}

/// The max timestamp of a segment's first batch (Kafka's `firstBatchTimestamp`), None if empty.
fn first_batch_timestamp(region: &crate::io::FileRegion, size: u64) -> Result<Option<i64>> {
    if size < HEADER_SIZE as u64 {
        return Ok(None);
    }
    let bytes = region.read_to_vec()?;
    Ok(Some(BatchHeader::parse(&bytes, 0)?.max_timestamp))
}

/// Call `each` with every CRC-checked batch of a snapshot segment, in order; stops early
/// when `each` returns false. A batch failing its CRC is corruption here (the segment is
/// closed and was checked when loaded or written).
pub(crate) fn for_each_batch(
    s: &SegmentSnapshot,
    mut each: impl FnMut(&BatchView<'_>) -> Result<bool>,
) -> Result<()> {
    let mut reader = BatchReader::new(&s.file, s.size);
    loop {
        let pos = reader.position();
        match reader.next_batch()? {
            Ok((pos, h, bytes)) => {
                let view = BatchView {
                    header: h,
                    bytes,
                    position: pos,
                };
                if !each(&view)? {
                    return Ok(());
                }
            }
            Err(super::scan::Stop::End) => return Ok(()),
            Err(super::scan::Stop::Invalid) => {
                return Err(Error::corrupt(
                    pos,
                    format!("invalid batch in {} while cleaning", s.log_path.display()),
                ))
            }
        }
    }
}

/// Put the keys of the dirty section's data batches in `map` (not those of aborted
/// transactions, which `txns` knows), whole batches only, until the budget runs out. Returns the offset below which every dirty record was mapped.
fn build_offset_map(
    segments: &[SegmentSnapshot],
    first_dirty: i64,
    first_uncleanable: i64,
    map: &mut OffsetMap,
    txns: &mut TxnTracker,
) -> Result<i64> {
    let mut end = first_dirty;
    let mut full = false;
    for s in segments {
        if s.next_offset <= first_dirty {
            continue;
        }
        if s.base_offset >= first_uncleanable || full {
            break;
        }
        for_each_batch(s, |view| {
            let h = view.header;
            if h.next_offset() <= first_dirty {
                return Ok(true);
            }
            if h.base_offset >= first_uncleanable {
                return Ok(false);
            }
            let aborted = if h.is_control() {
                let kind = match h.record_count {
                    0 => None,
                    _ => view.control_record()?.map(|c| c.kind),
                };
                txns.on_control_batch(&h, kind);
                false
            } else {
                txns.on_batch(&h)
            };
            // Aborted records are not candidates for their keys' latest value.
            if !h.is_control() && !aborted {
                let section = view.records_section()?;
                let mut keys: Vec<(&[u8], i64)> = Vec::new();
                let mut cost = 0usize;
                for r in iter_records(&section, h.record_count, view.position) {
                    let r = r?;
                    let offset = view.record_offset(&r);
                    if let (Some(k), true) = (r.key, offset >= first_dirty) {
                        cost += map.cost_of(k);
                        keys.push((k, offset));
                    }
                }
                if !map.has_room_for(cost) {
                    if end == first_dirty {
                        return Err(Error::InvalidConfig(format!(
                            "log.cleaner.dedupe.buffer.size of {} bytes cannot hold the keys of \
                             one batch at offset {} ({cost} bytes needed)",
                            map.limit_bytes(),
                            h.base_offset
                        )));
                    }
                    full = true;
                    return Ok(false);
                }
                for (k, offset) in keys {
                    map.put(k, offset);
                }
            }
            end = h.next_offset();
            Ok(true)
        })?;
    }
    Ok(if full {
        end
    } else {
        end.max(first_uncleanable)
    })
}

/// Index, within its batch, of every record without a key in `buf` (whole batches, as a
/// produce request carries them; control batches skipped): what a compacted topic refuses.
pub fn keyless_record_indexes(buf: &[u8]) -> Result<Vec<i32>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < buf.len() {
        let view = BatchView::parse(&buf[pos..], pos as u64)?;
        if !view.header.is_control() {
            // As it inflates: never the whole section (a produce path check, like validation).
            walk_batch_records(&view, |i, r| {
                if r.key.is_none() {
                    out.push(i);
                }
                Ok(())
            })?;
        }
        pos += view.header.total_size();
    }
    Ok(out)
}

/// Consecutive segments whose sizes add up to at most `max_bytes` and whose offsets span at
/// most i32::MAX (index entries hold 4-byte relative offsets), as Kafka's
/// `groupSegmentsBySize` (every group has at least one segment).
fn group_by_size<'a>(
    segments: &[&'a SegmentSnapshot],
    max_bytes: u64,
) -> Vec<Vec<&'a SegmentSnapshot>> {
    let mut groups: Vec<Vec<&SegmentSnapshot>> = Vec::new();
    let mut size = 0u64;
    for s in segments {
        let fits = groups.last().is_some_and(|g| {
            size + s.size <= max_bytes && s.next_offset - 1 - g[0].base_offset <= i32::MAX as i64
        });
        if fits {
            groups.last_mut().unwrap().push(s);
            size += s.size;
        } else {
            groups.push(vec![s]);
            size = s.size;
        }
    }
    groups
}
