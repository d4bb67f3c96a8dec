//! The partition log (Kafka's `UnifiedLog` + `LocalLog`): a directory `<topic>-<partition>` of
//! segments with a log start offset, a log end offset and a recovery point.
//!
//! Thread safety: all state sits behind one `RwLock`. Appends, rolls, truncation and
//! retention take it for writing; reads, lookups and fsyncs share it. CPU-heavy validation
//! (CRC-32C, and decompression once the record module validates records) runs before the write
//! lock is taken, against the log end offset seen at that moment; if another append got in
//! first, the batches are re-stamped (base offsets lie outside the CRC, so this is cheap).
//! Loading (recovery) lives in `loader.rs`, truncation and retention in `maintenance.rs`.

use std::fs::File;
use std::io::IoSlice;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};

use parking_lot::{RwLock, RwLockReadGuard};

use super::config::LogConfig;
use super::loader;
use super::now_ms;
use super::segment::{IncomingAppend, Segment, SegmentParams};
use super::segments::Segments;
use crate::error::{Error, Result};
use crate::index::{AbortedTxn, TimestampOffset};
use crate::io::FileRegion;
use crate::record::header::BatchHeader;
use crate::record::validate::{summarize_assigned, validate_for_leader, AppendSummary, WritePlan};

/// Most aborted transactions one `collect_aborted_txns` returns (34 MiB of entries). Kafka
/// has no bound; a fetch's answer must have one. A read_committed fetch of 50 MiB (the default
/// `fetch.max.bytes`) cannot overlap more than ~350,000 aborted transactions (each holds at
/// least a data batch and a marker, ~150 bytes), so this is only reached by a caller asking
/// about a range far wider than a fetch.
pub const MAX_ABORTED_TXNS_COLLECTED: usize = 1 << 20;

/// Who is appending (Kafka's `AppendOrigin`): only the coordinators may write control batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendOrigin {
    Client,
    Coordinator,
}

/// The result of a read: file regions in log order, never copied.
#[derive(Clone, Debug, Default)]
pub struct FetchData {
    pub regions: Vec<FileRegion>,
}

impl FetchData {
    pub fn size_in_bytes(&self) -> u64 {
        self.regions.iter().map(FileRegion::length).sum()
    }
    /// All regions concatenated (a copy).
    pub fn read_to_vec(&self) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.size_in_bytes() as usize);
        for r in &self.regions {
            r.read_into(&mut out)?;
        }
        Ok(out)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    pub base_offset: i64,
    pub next_offset: i64,
    pub size_in_bytes: u64,
    pub max_timestamp: i64,
    pub path: PathBuf,
    pub is_active: bool,
}

/// What opening the log found and did, for the broker's logs and for tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    pub segments: usize,
    /// Segments scanned batch by batch (from the one holding the recovery point on).
    pub recovered_segments: usize,
    /// Trusted segments whose indexes were missing or not sane, rebuilt from the log.
    pub rebuilt_indexes: usize,
    pub truncated_bytes: u64,
    /// Segments deleted after corruption, or because they end before the log start offset.
    pub deleted_segments: usize,
    /// Leftover `.deleted`, `.cleaned`, `.swap` files and index files without a `.log`.
    pub deleted_stray_files: usize,
    /// Batch headers read to find trusted segments' ends and largest timestamps.
    pub tail_batches_read: usize,
    /// Bytes cut from transaction indexes: torn or insane tails, entries past the log end.
    pub txn_index_cut_bytes: u64,
}

pub(super) struct State {
    pub config: LogConfig,
    pub segments: Segments,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    pub closed: bool,
}

pub struct Log {
    pub(super) dir: PathBuf,
    pub(super) state: RwLock<State>,
    /// Every offset below this is on disk. Raised by flushes (under the read lock), lowered by
    /// truncation (under the write lock), so the two never interleave.
    pub(super) recovery_point: AtomicI64,
    pub(super) last_flush_ms: AtomicI64,
    load_stats: LoadStats,
}

impl State {
    pub fn check_open(&self) -> Result<()> {
        if self.closed {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }
    pub fn params(&self) -> SegmentParams {
        SegmentParams::from_config(&self.config)
    }
    pub fn active(&self) -> &Segment {
        self.segments.active().expect("an open log has a segment")
    }
    pub fn active_mut(&mut self) -> &mut Segment {
        self.segments
            .active_mut()
            .expect("an open log has a segment")
    }
    pub fn out_of_range(&self, offset: i64) -> Error {
        Error::OffsetOutOfRange {
            offset,
            log_start_offset: self.log_start_offset,
            log_end_offset: self.log_end_offset,
        }
    }

    /// Close the active segment and start a new one at `base_offset` (>= the log end).
    pub fn roll_at(&mut self, dir: &Path, base_offset: i64, now_ms: i64) -> Result<()> {
        let active = self.active();
        if active.size() == 0 && active.base_offset() == base_offset {
            return Ok(());
        }
        if base_offset < active.next_offset() {
            return Err(Error::InvalidOffset(format!(
                "cannot roll to offset {base_offset} below the log end {}",
                active.next_offset()
            )));
        }
        // Create first: if that fails the active segment is left as it was.
        let segment = Segment::create(dir, base_offset, self.params(), now_ms)?;
        self.active_mut().on_become_inactive()?;
        self.segments.insert(segment);
        Ok(())
    }

    /// Append validated, offset-stamped batches, the concatenation of `bufs`: roll if needed,
    /// then one vectored write.
    fn append_batches(
        &mut self,
        dir: &Path,
        bufs: &mut [IoSlice<'_>],
        summary: &AppendSummary,
        now_ms: i64,
    ) -> Result<()> {
        let bytes: u64 = bufs.iter().map(|b| b.len() as u64).sum();
        if bytes > self.config.segment_bytes {
            return Err(Error::RecordTooLarge {
                size: bytes,
                limit: self.config.segment_bytes,
            });
        }
        let incoming = IncomingAppend {
            bytes,
            batches: summary.batches.len(),
            max_timestamp: summary.max_timestamp,
            last_offset: summary.last_offset,
            now_ms,
        };
        if self.active().should_roll(&incoming, &self.config) {
            self.roll_at(dir, summary.first_offset, now_ms)?;
        }
        let params = self.params();
        self.active_mut().append(bufs, &summary.batches, params)?;
        self.log_end_offset = summary.last_offset + 1;
        Ok(())
    }
}

/// Move every batch of a validated append by `delta` offsets: the plan's stamped headers and
/// rebuilt batches, and the summary.
pub(super) fn restamp(plan: &mut WritePlan<'_>, summary: &mut AppendSummary, delta: i64) {
    for (b, planned) in summary.batches.iter_mut().zip(&mut plan.batches) {
        b.base_offset += delta;
        b.last_offset += delta;
        planned.set_base_offset(b.base_offset);
    }
    summary.first_offset += delta;
    summary.last_offset += delta;
    summary.offset_of_max_timestamp += delta;
}

impl Log {
    /// Open (creating if needed) and recover the log in `dir`. Segments from the one holding
    /// `recovery_point` on are CRC-checked batch by batch and cut at the first invalid one;
    /// earlier segments are trusted but their indexes are rebuilt if missing or not sane.
    /// `log_start_offset` is the checkpointed value (None: the first segment's base offset).
    pub fn open(
        dir: impl AsRef<Path>,
        config: LogConfig,
        recovery_point: i64,
        log_start_offset: Option<i64>,
    ) -> Result<Log> {
        config.validate()?;
        let dir = dir.as_ref().to_path_buf();
        let now = now_ms();
        let loaded = loader::load(&dir, &config, recovery_point, log_start_offset, now)?;
        Ok(Log {
            dir,
            state: RwLock::new(State {
                config,
                segments: loaded.segments,
                log_start_offset: loaded.log_start_offset,
                log_end_offset: loaded.log_end_offset,
                closed: false,
            }),
            recovery_point: AtomicI64::new(loaded.recovery_point),
            last_flush_ms: AtomicI64::new(now),
            load_stats: loaded.stats,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn load_stats(&self) -> &LoadStats {
        &self.load_stats
    }
    pub fn config(&self) -> LogConfig {
        self.state.read().config.clone()
    }
    /// New settings apply to later appends and to segments created from now on.
    pub fn update_config(&self, config: LogConfig) -> Result<()> {
        config.validate()?;
        let mut st = self.state.write();
        st.check_open()?;
        st.config = config;
        Ok(())
    }
    pub fn log_start_offset(&self) -> i64 {
        self.state.read().log_start_offset
    }
    pub fn log_end_offset(&self) -> i64 {
        self.state.read().log_end_offset
    }
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point.load(Ordering::Acquire)
    }
    pub fn size_in_bytes(&self) -> u64 {
        self.state.read().segments.size_in_bytes()
    }
    pub fn is_closed(&self) -> bool {
        self.state.read().closed
    }

    fn open_state(&self) -> Result<RwLockReadGuard<'_, State>> {
        let st = self.state.read();
        st.check_open()?;
        Ok(st)
    }

    /// Validate `records` as a leader does on produce, assign offsets from the log end, stamp
    /// `leader_epoch` and append with one vectored write. The input is not copied: stamps go to
    /// header copies and the records are written from `records` itself (only recompression
    /// makes new bytes).
    pub fn append(
        &self,
        records: &[u8],
        leader_epoch: i32,
        now_ms: i64,
        origin: AppendOrigin,
    ) -> Result<AppendSummary> {
        let (expected_start, validation) = {
            let st = self.open_state()?;
            let allow_control = origin == AppendOrigin::Coordinator;
            (
                st.log_end_offset,
                st.config.validation_config(now_ms, allow_control),
            )
        };
        let (mut summary, mut plan) =
            validate_for_leader(records, expected_start, leader_epoch, &validation)?;
        {
            let mut st = self.state.write();
            st.check_open()?;
            let delta = st.log_end_offset - expected_start;
            if delta != 0 {
                restamp(&mut plan, &mut summary, delta);
            }
            st.append_batches(&self.dir, &mut plan.io_slices(), &summary, now_ms)?;
        }
        self.flush_if_due_by_count()?;
        Ok(summary)
    }

    /// Append batches whose offsets a leader assigned. They must start at or after the log
    /// end offset (Kafka: UnexpectedAppendOffsetException otherwise); gaps are allowed.
    pub fn append_as_follower(&self, records: &[u8], now_ms: i64) -> Result<AppendSummary> {
        let summary = summarize_assigned(records)?;
        {
            let mut st = self.state.write();
            st.check_open()?;
            if summary.first_offset < st.log_end_offset {
                return Err(Error::InvalidOffset(format!(
                    "follower append starts at offset {} below the log end offset {}",
                    summary.first_offset, st.log_end_offset
                )));
            }
            // The same write path as a leader's, with the leader's bytes as they are.
            let mut bufs = [IoSlice::new(&records[..summary.valid_bytes])];
            st.append_batches(&self.dir, &mut bufs, &summary, now_ms)?;
        }
        self.flush_if_due_by_count()?;
        Ok(summary)
    }

    /// Regions of whole batches from the one holding `offset` on: at most `max_bytes` (but the
    /// first batch whole when `min_one_batch`, KIP-74), and only batches entirely below
    /// `max_offset` (exclusive, e.g. the high watermark). May span segments.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: u64,
        max_offset: Option<i64>,
        min_one_batch: bool,
    ) -> Result<FetchData> {
        let st = self.open_state()?;
        if offset < st.log_start_offset || offset > st.log_end_offset {
            return Err(st.out_of_range(offset));
        }
        let limit = max_offset.map_or(st.log_end_offset, |m| m.min(st.log_end_offset));
        let mut data = FetchData::default();
        if offset >= limit {
            return Ok(data);
        }
        let mut remaining = max_bytes;
        for segment in st.segments.floor_onward(offset) {
            if segment.base_offset() >= limit {
                break;
            }
            let min_one = min_one_batch && data.regions.is_empty();
            let Some(slice) = segment.read(offset, remaining, limit, min_one)? else {
                continue;
            };
            if slice.length > 0 {
                data.regions
                    .push(segment.region(slice.position, slice.length));
                remaining = remaining.saturating_sub(slice.length);
            }
            if slice.stopped || remaining == 0 {
                break;
            }
        }
        Ok(data)
    }

    /// The bytes of [`read`](Self::read) with `min_one_batch` (a copy, for tools and tests).
    /// The Python `read_batches` returns these until it is wired to the record decoder.
    pub fn read_batch_bytes(
        &self,
        offset: i64,
        max_bytes: u64,
        max_offset: Option<i64>,
    ) -> Result<Vec<u8>> {
        Ok(self
            .read(offset, max_bytes, max_offset, true)?
            .read_to_vec()?)
    }

    /// (timestamp, offset) of the first record with timestamp >= `timestamp` at or after the
    /// log start offset, or None.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<TimestampOffset>> {
        let st = self.open_state()?;
        let start = st.log_start_offset;
        for segment in st.segments.iter() {
            if segment.next_offset() <= start || segment.max_timestamp() < timestamp {
                continue;
            }
            if let Some(found) = segment.find_offset_by_timestamp(timestamp, start)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// (timestamp, offset) of the record with the largest timestamp (the first such record),
    /// or None when no record at or after the log start offset has a timestamp.
    pub fn offset_for_max_timestamp(&self) -> Result<Option<TimestampOffset>> {
        let st = self.open_state()?;
        let mut best: Option<&Segment> = None;
        for segment in st.segments.iter() {
            if segment.next_offset() <= st.log_start_offset {
                continue;
            }
            if best.is_none_or(|b| segment.max_timestamp() > b.max_timestamp()) {
                best = Some(segment);
            }
        }
        match best {
            Some(s) if s.max_timestamp() >= 0 => s.find_max_timestamp_record(),
            _ => Ok(None),
        }
    }

    /// The header of the batch holding `offset` as stored (base offset and leader epoch as
    /// stamped on append), found through the offset index and a short header scan; None
    /// outside [log start offset, log end offset). Reads at most a few headers.
    pub fn batch_header_at(&self, offset: i64) -> Result<Option<BatchHeader>> {
        let st = self.open_state()?;
        if offset < st.log_start_offset || offset >= st.log_end_offset {
            return Ok(None);
        }
        for segment in st.segments.floor_onward(offset) {
            if let Some((_, h)) = segment.translate_offset(offset)? {
                return Ok(Some(h));
            }
        }
        Ok(None)
    }

    pub fn segments(&self) -> Result<Vec<SegmentInfo>> {
        let st = self.open_state()?;
        let active = st.active().base_offset();
        Ok(st
            .segments
            .iter()
            .map(|s| SegmentInfo {
                base_offset: s.base_offset(),
                next_offset: s.next_offset(),
                size_in_bytes: s.size(),
                max_timestamp: s.max_timestamp(),
                path: s.log_path().to_path_buf(),
                is_active: s.base_offset() == active,
            })
            .collect())
    }

    /// Record an aborted transaction in the transaction index of the segment holding its
    /// ABORT marker (`txn.last_offset`, already appended; normally the active segment), as
    /// Kafka's `updateTxnIndex` does when the marker completes the transaction. Markers go in
    /// offset order: a `last_offset` not above every recorded one is refused.
    pub fn append_aborted_txn(&self, txn: AbortedTxn) -> Result<()> {
        let mut st = self.state.write();
        st.check_open()?;
        if txn.last_offset < st.log_start_offset || txn.last_offset >= st.log_end_offset {
            return Err(Error::InvalidOffset(format!(
                "aborted transaction marker offset {} is outside the log [{}, {})",
                txn.last_offset, st.log_start_offset, st.log_end_offset
            )));
        }
        // Entries of earlier segments are below this segment's base offset, so the latest
        // entry is in the marker's segment or a later one.
        let latest = st
            .segments
            .floor_onward(txn.last_offset)
            .filter_map(Segment::last_aborted_txn_offset)
            .max();
        if let Some(latest) = latest.filter(|l| *l >= txn.last_offset) {
            return Err(Error::InvalidOffset(format!(
                "aborted transaction marker offset {} is not greater than the last recorded \
                 one, {latest}",
                txn.last_offset
            )));
        }
        st.segments
            .floor_mut(txn.last_offset)
            .expect("an offset inside the log is in a segment")
            .append_aborted_txn(txn)
    }

    /// The ABORT marker offset of the latest entry in the transaction indexes, if any: where
    /// a replay of the log (producer state rebuilt after a crash) resumes adding entries, since
    /// a crash can only lose the newest ones (markers reach the log before their entries).
    pub fn last_aborted_txn_offset(&self) -> Result<Option<i64>> {
        let st = self.open_state()?;
        let latest = st
            .segments
            .iter()
            .rev()
            .find_map(Segment::last_aborted_txn_offset);
        Ok(latest)
    }

    /// Kafka's `collectAbortedTransactions`: the aborted transactions with `last_offset >=
    /// start_offset` and `first_offset < upper_bound_offset`, in index order, read from the
    /// segment holding `start_offset` onward and stopping at the first segment whose index
    /// shows that no later abort can overlap (an entry with lastStableOffset >= the bound).
    /// At most [`MAX_ABORTED_TXNS_COLLECTED`]; more is an error (ask for a smaller range).
    pub fn collect_aborted_txns(
        &self,
        start_offset: i64,
        upper_bound_offset: i64,
    ) -> Result<Vec<AbortedTxn>> {
        let st = self.open_state()?;
        let mut out = Vec::new();
        for segment in st.segments.floor_onward(start_offset) {
            if segment.collect_aborted_txns(
                start_offset,
                upper_bound_offset,
                &mut out,
                MAX_ABORTED_TXNS_COLLECTED,
            )? {
                break;
            }
        }
        Ok(out)
    }

    /// Close the active segment and start a new one at the log end offset (no-op when the
    /// active segment is empty).
    pub fn roll(&self, now_ms: i64) -> Result<()> {
        let mut st = self.state.write();
        st.check_open()?;
        let leo = st.log_end_offset;
        st.roll_at(&self.dir, leo, now_ms)
    }

    /// fsync every segment holding offsets in [recovery point, `up_to`) and the directory,
    /// then raise the recovery point to `up_to` (default: the log end). Returns whether
    /// there was anything to flush. Runs under the read lock: reads continue meanwhile.
    pub(super) fn flush_to(&self, up_to: Option<i64>) -> Result<bool> {
        let st = self.open_state()?;
        let target = up_to.map_or(st.log_end_offset, |o| o.min(st.log_end_offset));
        let from = self.recovery_point();
        if target <= from {
            return Ok(false);
        }
        for segment in st.segments.floor_onward(from) {
            if segment.base_offset() >= target {
                break;
            }
            segment.flush()?;
        }
        // New and deleted segment files are directory entries: make them durable too.
        File::open(&self.dir)?.sync_all()?;
        self.recovery_point.fetch_max(target, Ordering::AcqRel);
        self.last_flush_ms.store(now_ms(), Ordering::Release);
        Ok(true)
    }

    /// fsync everything up to the log end offset and advance the recovery point.
    pub fn flush(&self) -> Result<()> {
        self.flush_to(None).map(|_| ())
    }

    fn flush_if_due_by_count(&self) -> Result<()> {
        let due = {
            let st = self.state.read();
            let unflushed = st.log_end_offset - self.recovery_point();
            !st.closed
                && st
                    .config
                    .flush_messages
                    .is_some_and(|n| unflushed as u64 >= n)
        };
        if due {
            self.flush_to(None)?;
        }
        Ok(())
    }

    /// Flush if `flush_messages` or `flush_ms` says so; otherwise flush segments rolled since
    /// the last flush (Kafka flushes a rolled segment in the background; the broker calls
    /// this periodically from a worker thread for that). Returns whether it flushed.
    pub fn maybe_flush(&self, now_ms: i64) -> Result<bool> {
        let (due, active_base) = {
            let st = self.open_state()?;
            let unflushed = st.log_end_offset - self.recovery_point();
            let by_count = st
                .config
                .flush_messages
                .is_some_and(|n| unflushed as u64 >= n);
            let since_flush = now_ms - self.last_flush_ms.load(Ordering::Acquire);
            let by_time = st.config.flush_ms.is_some_and(|ms| since_flush >= ms);
            (by_count || by_time, st.active().base_offset())
        };
        if due {
            return self.flush_to(None);
        }
        self.flush_to(Some(active_base))
    }

    /// Flush, write the active segment's roll entry, trim its indexes and release every file.
    /// Regions already handed out stay readable. Further use fails with `Error::Closed`.
    pub fn close(&self) -> Result<()> {
        let mut st = self.state.write();
        if st.closed {
            return Ok(());
        }
        st.active_mut().on_become_inactive()?;
        let from = self.recovery_point();
        for segment in st.segments.floor_onward(from) {
            segment.flush()?;
        }
        File::open(&self.dir)?.sync_all()?;
        self.recovery_point
            .fetch_max(st.log_end_offset, Ordering::AcqRel);
        st.segments.take_all();
        st.closed = true;
        Ok(())
    }
}
