//! One log segment, Kafka's `LogSegment`: a `.log` file of record batches plus its `.index`,
//! `.timeindex` and (once a transaction aborts in it) `.txnindex`, all named by the segment's
//! base offset as 20 zero-padded digits (`00000000000000000042.log`).
//!
//! Not thread-safe by itself: the partition log serialises writers and lets readers share.
//!
//! Index rule, used identically by append and by recovery so that a rebuilt index equals the
//! one written live: before each batch, if more than `index.interval.bytes` were written since
//! the last entry, add an offset index entry (batch last offset -> batch position) and a time
//! index entry (largest timestamp so far, offset of that batch), then count the batch's bytes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use super::config::LogConfig;
use super::scan::{read_at, BatchReader, HeaderScanner};
use crate::error::{Error, Result};
use crate::index::{AbortedTxn, OffsetIndex, OffsetPosition, TimeIndex, TimestampOffset, TxnIndex};
use crate::io::FileRegion;
use crate::record::header::{BatchHeader, HEADER_SIZE, NO_TIMESTAMP};
use crate::record::validate::BatchSummary;

mod read;

pub const LOG_FILE_SUFFIX: &str = ".log";
pub const INDEX_FILE_SUFFIX: &str = ".index";
pub const TIME_INDEX_FILE_SUFFIX: &str = ".timeindex";
pub const TXN_INDEX_FILE_SUFFIX: &str = ".txnindex";
/// Digits in a segment file name (Kafka zero-pads base offsets to the width of i64::MAX).
pub const FILE_NAME_DIGITS: usize = 20;
/// Most buffers one `pwritev` accepts (Linux and macOS `IOV_MAX`); longer appends are written
/// in chunks of this many.
pub const IOV_MAX: usize = 1024;

/// `00000000000000000042.log` for base offset 42 and suffix ".log".
pub fn file_name(base_offset: i64, suffix: &str) -> String {
    format!("{base_offset:0width$}{suffix}", width = FILE_NAME_DIGITS)
}

/// The base offset in a segment file name with this suffix, if it is one.
pub fn parse_file_name(name: &str, suffix: &str) -> Option<i64> {
    let stem = name.strip_suffix(suffix)?;
    if stem.len() != FILE_NAME_DIGITS || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// What a segment needs from the log's config.
#[derive(Clone, Copy, Debug)]
pub struct SegmentParams {
    /// Preallocated size of each index while the segment is active.
    pub index_capacity_bytes: u64,
    pub index_interval_bytes: u64,
}

impl SegmentParams {
    pub fn from_config(c: &LogConfig) -> Self {
        SegmentParams {
            index_capacity_bytes: c.segment_index_bytes,
            index_interval_bytes: c.index_interval_bytes,
        }
    }
}

/// An append about to happen, for the roll decision.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IncomingAppend {
    pub bytes: u64,
    pub batches: usize,
    pub max_timestamp: i64,
    pub last_offset: i64,
    pub now_ms: i64,
}

/// What opening an existing segment found.
#[derive(Debug, Default)]
pub(crate) struct OpenOutcome {
    /// Why the indexes were rebuilt (missing or failing their sanity check), if they were.
    pub rebuilt_because: Option<String>,
    /// Bytes cut from the end of the log by recovery.
    pub truncated_bytes: u64,
    /// Batch headers read to find a trusted segment's end and largest timestamp.
    pub tail_batches_read: usize,
    /// Bytes cut from the transaction index: a torn or insane tail, or entries whose ABORT
    /// marker is past the recovered end of the log.
    pub txn_index_cut_bytes: u64,
}

pub struct Segment {
    base_offset: i64,
    log_path: Arc<Path>,
    file: Arc<File>,
    /// Bytes of whole, valid batches: appends go here, reads stop here.
    size: u64,
    offset_index: OffsetIndex,
    time_index: TimeIndex,
    txn_index: TxnIndex,
    next_offset: i64,
    /// Largest batch max timestamp so far and the last offset of that batch.
    max_timestamp: TimestampOffset,
    bytes_since_last_index_entry: u64,
    /// When the segment was created or loaded, for time-based rolls without timestamps.
    created_ms: i64,
    /// Max timestamp of the first batch: time-based rolls count from it (Kafka's
    /// `rollingBasedTimestamp`).
    first_batch_timestamp: Option<i64>,
}

fn paths(dir: &Path, base: i64) -> (PathBuf, PathBuf, PathBuf) {
    (
        dir.join(file_name(base, LOG_FILE_SUFFIX)),
        dir.join(file_name(base, INDEX_FILE_SUFFIX)),
        dir.join(file_name(base, TIME_INDEX_FILE_SUFFIX)),
    )
}

fn txn_index_path(dir: &Path, base: i64) -> PathBuf {
    dir.join(file_name(base, TXN_INDEX_FILE_SUFFIX))
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

/// Remove the files of the segment at `base_offset` without opening it.
pub(crate) fn delete_files(dir: &Path, base_offset: i64) -> Result<()> {
    let (log, index, time_index) = paths(dir, base_offset);
    remove_if_exists(&index)?;
    remove_if_exists(&time_index)?;
    remove_if_exists(&txn_index_path(dir, base_offset))?;
    remove_if_exists(&log)
}

/// Write all of `bufs`, in order, at `offset` of `file` with `pwritev` (std's `FileExt` has no
/// vectored positional write): the kernel gathers the buffers, so none is copied first.
/// Retries interrupted and short writes; more than [`IOV_MAX`] buffers take several calls.
pub(crate) fn write_all_vectored_at(
    file: &File,
    mut bufs: &mut [IoSlice<'_>],
    mut offset: u64,
) -> io::Result<()> {
    // Skip leading empty buffers so that a zero-byte write below always means no progress.
    IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        let count = bufs.len().min(IOV_MAX);
        let at = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file offset overflow"))?;
        // SAFETY: IoSlice is ABI-compatible with iovec on Unix; `count` buffers are valid and
        // borrowed for the call, and the fd stays open while `file` is borrowed.
        let written = unsafe {
            libc::pwritev(
                file.as_raw_fd(),
                bufs.as_ptr().cast::<libc::iovec>(),
                count as libc::c_int,
                at,
            )
        };
        if written < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut bufs, written as usize);
        offset += written as u64;
    }
    Ok(())
}

impl Segment {
    fn assemble(
        base_offset: i64,
        log_path: PathBuf,
        file: File,
        offset_index: OffsetIndex,
        time_index: TimeIndex,
        txn_index: TxnIndex,
        now_ms: i64,
    ) -> Result<Self> {
        let size = file.metadata()?.len();
        Ok(Segment {
            base_offset,
            log_path: Arc::from(log_path),
            file: Arc::new(file),
            size,
            offset_index,
            time_index,
            txn_index,
            next_offset: base_offset,
            max_timestamp: TimestampOffset {
                timestamp: NO_TIMESTAMP,
                offset: base_offset,
            },
            bytes_since_last_index_entry: 0,
            created_ms: now_ms,
            first_batch_timestamp: None,
        })
    }

    /// A new, empty, active segment. Stale index files with this base offset are replaced; an
    /// existing non-empty `.log` is an error (offsets are never reused).
    pub fn create(dir: &Path, base_offset: i64, p: SegmentParams, now_ms: i64) -> Result<Self> {
        let (log, index, time_index) = paths(dir, base_offset);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&log)?;
        if file.metadata()?.len() > 0 {
            return Err(Error::InvalidOffset(format!(
                "segment {} already exists and is not empty",
                log.display()
            )));
        }
        let txn_index = txn_index_path(dir, base_offset);
        remove_if_exists(&index)?;
        remove_if_exists(&time_index)?;
        remove_if_exists(&txn_index)?;
        let cap = Some(p.index_capacity_bytes);
        let oi = OffsetIndex::open(&index, base_offset, cap)?;
        let ti = TimeIndex::open(&time_index, base_offset, cap)?;
        let (xi, _) = TxnIndex::open(&txn_index, base_offset)?;
        Self::assemble(base_offset, log, file, oi, ti, xi, now_ms)
    }

    /// Open an existing segment. With `recover`, every batch is CRC-checked, the log is cut at
    /// the first invalid one and the indexes are rebuilt. Without it the segment is trusted
    /// (it was flushed), but its indexes are rebuilt anyway if missing or not sane.
    pub(crate) fn open_existing(
        dir: &Path,
        base_offset: i64,
        p: SegmentParams,
        now_ms: i64,
        recover: bool,
    ) -> Result<(Self, OpenOutcome)> {
        let (log, index, time_index) = paths(dir, base_offset);
        let file = OpenOptions::new().read(true).write(true).open(&log)?;
        let missing = !index.exists() || !time_index.exists();
        let oi = OffsetIndex::open(&index, base_offset, None)?;
        let ti = TimeIndex::open(&time_index, base_offset, None)?;
        let (xi, repair) = TxnIndex::open(&txn_index_path(dir, base_offset), base_offset)?;
        let mut seg = Self::assemble(base_offset, log, file, oi, ti, xi, now_ms)?;
        let mut outcome = OpenOutcome {
            txn_index_cut_bytes: repair.cut_bytes,
            ..OpenOutcome::default()
        };
        let problem = if recover {
            None
        } else if missing {
            Some("index file missing".to_string())
        } else {
            seg.offset_index
                .sanity_problem(seg.size)
                .or_else(|| seg.time_index.sanity_problem())
                .or_else(|| match seg.load_tail() {
                    Ok(read) => {
                        outcome.tail_batches_read = read;
                        None
                    }
                    Err(e) => Some(e.to_string()),
                })
        };
        let entries = seg.txn_index.entries();
        if recover || problem.is_some() {
            outcome.truncated_bytes = seg.recover(p)?;
            outcome.rebuilt_because = problem;
        }
        // An ABORT marker at or past the end is not in this log (recovery cut it, or the index
        // outlived its data): its entry goes.
        seg.txn_index.truncate_to(seg.next_offset)?;
        outcome.txn_index_cut_bytes +=
            ((entries - seg.txn_index.entries()) * crate::index::TXN_INDEX_ENTRY_SIZE) as u64;
        Ok((seg, outcome))
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }
    /// One past the last offset stored (the base offset when empty).
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }
    /// Largest batch max timestamp, -1 if none.
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp.timestamp
    }
    /// Last offset of the batch holding the largest timestamp.
    pub fn offset_of_max_timestamp(&self) -> i64 {
        self.max_timestamp.offset
    }
    pub fn offset_index_entries(&self) -> Vec<OffsetPosition> {
        self.offset_index.all_entries()
    }
    pub fn time_index_entries(&self) -> Vec<TimestampOffset> {
        self.time_index.all_entries()
    }
    /// Every aborted transaction whose ABORT marker is in this segment, in marker order.
    pub fn aborted_txns(&self) -> Result<Vec<AbortedTxn>> {
        self.txn_index.all()
    }
    /// The last entry's ABORT marker offset, if the transaction index has entries.
    pub fn last_aborted_txn_offset(&self) -> Option<i64> {
        self.txn_index.last_offset()
    }
    pub fn txn_index_path(&self) -> &Path {
        self.txn_index.path()
    }

    /// Record an aborted transaction whose ABORT marker (`txn.last_offset`) is in this
    /// segment (Kafka's `updateTxnIndex`).
    pub fn append_aborted_txn(&mut self, txn: AbortedTxn) -> Result<()> {
        if txn.last_offset >= self.next_offset {
            return Err(Error::InvalidOffset(format!(
                "aborted transaction marker offset {} is not in segment {} (next offset {})",
                txn.last_offset, self.base_offset, self.next_offset
            )));
        }
        self.txn_index.append(txn)
    }

    /// Kafka's `LogSegment.collectAbortedTxns` (see `TxnIndex::collect`).
    pub fn collect_aborted_txns(
        &self,
        fetch_offset: i64,
        upper_bound_offset: i64,
        out: &mut Vec<AbortedTxn>,
        limit: usize,
    ) -> Result<bool> {
        self.txn_index
            .collect(fetch_offset, upper_bound_offset, out, limit)
    }

    /// The timestamp retention compares with: the largest record timestamp, or the file's
    /// modification time when no record has one (Kafka's `largestTimestamp`).
    pub fn retention_timestamp(&self) -> Result<i64> {
        if self.max_timestamp.timestamp >= 0 {
            return Ok(self.max_timestamp.timestamp);
        }
        let modified = self.file.metadata()?.modified()?;
        Ok(modified
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64))
    }

    /// A region of this segment's file, holding the file open.
    pub fn region(&self, position: u64, length: u64) -> FileRegion {
        FileRegion::new(
            Arc::clone(&self.file),
            Arc::clone(&self.log_path),
            position,
            length,
        )
    }

    /// Count a batch (already written at `position`) into the max timestamp and the indexes.
    fn track_batch(
        &mut self,
        position: u64,
        size: u64,
        last_offset: i64,
        max_timestamp: i64,
        p: SegmentParams,
    ) -> Result<()> {
        if max_timestamp > self.max_timestamp.timestamp {
            self.max_timestamp = TimestampOffset {
                timestamp: max_timestamp,
                offset: last_offset,
            };
        }
        if self.bytes_since_last_index_entry > p.index_interval_bytes {
            // A full index only happens when one append brings more batches than the index
            // has room for; the entry is skipped (lookups then scan a little further).
            if !self.offset_index.is_full() {
                self.offset_index.append(last_offset, position)?;
            }
            self.time_index.maybe_append(
                self.max_timestamp.timestamp,
                self.max_timestamp.offset,
                false,
            )?;
            self.bytes_since_last_index_entry = 0;
        }
        self.bytes_since_last_index_entry += size;
        if self.first_batch_timestamp.is_none() {
            self.first_batch_timestamp = Some(max_timestamp);
        }
        self.next_offset = last_offset + 1;
        Ok(())
    }

    /// Append whole batches, the concatenation of `bufs` (described by `batches`, positions
    /// relative to its start), with one vectored write, then index them. `bufs` is consumed as
    /// `Write::write_all_vectored` consumes it. On failure the file is cut back to where it was.
    pub fn append(
        &mut self,
        bufs: &mut [IoSlice<'_>],
        batches: &[BatchSummary],
        p: SegmentParams,
    ) -> Result<()> {
        let last = batches.last().expect("an append has batches");
        if !self.offset_index.can_append_offset(last.last_offset)
            || batches[0].base_offset < self.next_offset
        {
            return Err(Error::InvalidOffset(format!(
                "offsets {}..={} do not fit segment {} (next offset {})",
                batches[0].base_offset, last.last_offset, self.base_offset, self.next_offset
            )));
        }
        // Each batch may add an entry to each index (and a roll one more to the time index):
        // their pages are allocated first, so that a full disk fails the append here, before
        // anything is written, and not as SIGBUS when an entry is written through the map.
        self.offset_index.reserve(batches.len())?;
        self.time_index.reserve(batches.len() + 1)?;
        let start = self.size;
        let len: u64 = bufs.iter().map(|b| b.len() as u64).sum();
        if let Err(e) = write_all_vectored_at(&self.file, bufs, start) {
            // Leave no partial batch behind for a reader or a later append to trip over.
            let _ = self.file.set_len(start);
            return Err(e.into());
        }
        self.size += len;
        for b in batches {
            let pos = start + b.position as u64;
            self.track_batch(pos, b.size as u64, b.last_offset, b.max_timestamp, p)?;
        }
        Ok(())
    }

    /// Whether the active segment must be rolled before `incoming` (Kafka's `shouldRoll`).
    pub(crate) fn should_roll(&self, incoming: &IncomingAppend, c: &LogConfig) -> bool {
        let overflow = !self.offset_index.can_append_offset(incoming.last_offset);
        if self.size == 0 {
            // Size, age and index room never justify leaving a segment empty.
            return overflow;
        }
        let full = self.size + incoming.bytes > c.segment_bytes;
        let age_ms = match self.first_batch_timestamp.filter(|t| *t >= 0) {
            Some(first) => incoming.max_timestamp - first,
            None => incoming.now_ms - self.created_ms,
        };
        // Each batch may add one entry to each index.
        let index_full = self.offset_index.remaining() < incoming.batches
            || self.time_index.remaining() < incoming.batches;
        overflow || full || age_ms > c.max_segment_ms() || index_full
    }

    /// Remove every batch whose last offset is >= `offset` (the batch holding `offset` goes
    /// whole). Returns the bytes removed.
    pub fn truncate_to(&mut self, offset: i64, now_ms: i64) -> Result<u64> {
        let Some((position, _)) = self.translate_offset(offset)? else {
            return Ok(0);
        };
        self.offset_index.truncate_to(offset);
        self.time_index.truncate_to(offset);
        let removed = self.size - position;
        self.file.set_len(position)?;
        self.size = position;
        if position == 0 {
            self.created_ms = now_ms;
        }
        self.load_tail()?;
        // The batch holding `offset` went whole: cut at the new end, which is <= `offset`.
        self.txn_index.truncate_to(self.next_offset.min(offset))?;
        Ok(removed)
    }

    /// Derive next offset, largest timestamp, bytes since the last index entry and the first
    /// batch's timestamp from the indexes plus a scan of the headers after their last entries.
    /// Also checks that the last offset index entry points at the batch it names: an error
    /// here means the indexes do not describe this log.
    /// Find the end and the largest timestamp of a trusted segment from its indexes and the
    /// batches after its last offset-index entry; returns how many batch headers it read.
    fn load_tail(&mut self) -> Result<usize> {
        let last_entry = self.offset_index.last_entry();
        let indexed = self.offset_index.entries() > 0;
        let time_last = self.time_index.last_entry();
        let mut max = time_last;
        let mut next = self.base_offset;
        let mut saw_last_entry = !indexed;
        // No batch before the last offset-index entry has a larger timestamp than the time
        // index's last entry: each offset-index entry is written with the time index brought
        // up to the largest timestamp so far (track_batch, which always has room: the segment
        // rolls first), and leaving the active role writes the largest into the reserved slot.
        // So the batches from that entry on are all that need reading (from the time entry's
        // place, a segment whose timestamps never grow was read header by header in full).
        let from = if indexed {
            last_entry.position
        } else {
            self.offset_index.lookup(time_last.offset).position
        };
        let mut read = 0;
        let mut scan = HeaderScanner::new(&self.file, from, self.size);
        while let Some((pos, h)) = scan.next_header()? {
            read += 1;
            if indexed && pos == last_entry.position {
                if h.last_offset() != last_entry.offset {
                    return Err(Error::corrupt(
                        pos,
                        "offset index entry names another batch",
                    ));
                }
                saw_last_entry = true;
            }
            if h.max_timestamp > max.timestamp {
                max = TimestampOffset {
                    timestamp: h.max_timestamp,
                    offset: h.last_offset(),
                };
            }
            next = h.next_offset();
        }
        if !saw_last_entry {
            return Err(Error::corrupt(
                last_entry.position,
                "offset index entry is not at a batch boundary",
            ));
        }
        if self.time_index.entries() > 0 && time_last.offset >= next {
            return Err(Error::corrupt(0, "time index entry past the log end"));
        }
        self.next_offset = next;
        self.max_timestamp = max;
        self.bytes_since_last_index_entry =
            self.size - if indexed { last_entry.position } else { 0 };
        self.first_batch_timestamp = None;
        if self.size >= HEADER_SIZE as u64 {
            let mut header = [0u8; HEADER_SIZE];
            read_at(&self.file, &mut header, 0)?;
            self.first_batch_timestamp = Some(BatchHeader::parse(&header, 0)?.max_timestamp);
        }
        Ok(read)
    }

    /// Rebuild the indexes from the log, CRC-checking every batch, and cut the log at the
    /// first torn, foreign or corrupt batch (Kafka's `LogSegment.recover`). Returns the bytes
    /// cut. Ends with the indexes trimmed and the roll entry written, as on a clean close.
    pub(crate) fn recover(&mut self, p: SegmentParams) -> Result<u64> {
        self.offset_index.reset(p.index_capacity_bytes)?;
        self.time_index.reset(p.index_capacity_bytes)?;
        self.size = 0;
        self.next_offset = self.base_offset;
        self.max_timestamp = TimestampOffset {
            timestamp: NO_TIMESTAMP,
            offset: self.base_offset,
        };
        self.bytes_since_last_index_entry = 0;
        self.first_batch_timestamp = None;
        let file = Arc::clone(&self.file);
        let file_len = file.metadata()?.len();
        let mut reader = BatchReader::new(&file, file_len);
        while let Ok((pos, h, _)) = reader.next_batch()? {
            let in_order = h.base_offset >= self.next_offset && h.last_offset_delta >= 0;
            if !in_order || !self.offset_index.can_append_offset(h.last_offset()) {
                break;
            }
            let size = h.total_size() as u64;
            self.track_batch(pos, size, h.last_offset(), h.max_timestamp, p)?;
            self.size = pos + size;
        }
        let truncated = file_len - self.size;
        if truncated > 0 {
            self.file.set_len(self.size)?;
        }
        // The transaction index cannot be rebuilt from this segment alone (see `TxnIndex`):
        // it keeps its entries but loses those whose marker was cut.
        self.txn_index.truncate_to(self.next_offset)?;
        self.on_become_inactive()?;
        Ok(truncated)
    }

    /// Leaving the active role (roll, close): write the roll entry into the time index's
    /// reserved slot and trim both indexes to their entries, as Kafka leaves them.
    pub fn on_become_inactive(&mut self) -> Result<()> {
        let max = self.max_timestamp;
        self.time_index
            .maybe_append(max.timestamp, max.offset, true)?;
        self.offset_index.trim()?;
        self.time_index.trim()
    }

    /// Becoming the active segment again (load, truncation): room for index entries.
    pub fn make_active(&mut self, p: SegmentParams) -> Result<()> {
        self.offset_index.resize(p.index_capacity_bytes)?;
        self.time_index.resize(p.index_capacity_bytes)
    }

    /// fsync the log and its indexes.
    pub fn flush(&self) -> Result<()> {
        self.file.sync_all()?;
        self.offset_index.flush()?;
        self.time_index.flush()?;
        self.txn_index.flush()
    }

    /// Remove the segment's files. Readers holding a region keep the log's data until done.
    pub fn delete(self) -> Result<()> {
        self.offset_index.delete()?;
        self.time_index.delete()?;
        self.txn_index.delete()?;
        remove_if_exists(&self.log_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectored_write_of_many_buffers_lands_in_order() {
        // Empty buffers among them, and more than one pwritev takes.
        let parts: Vec<Vec<u8>> = (0..3 * IOV_MAX)
            .map(|i| (0..i % 7).map(|j| (i * 7 + j) as u8).collect())
            .collect();
        let expected: Vec<u8> = parts.concat();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.log");
        let file = File::create_new(&path).unwrap();
        let mut bufs: Vec<IoSlice<'_>> = parts.iter().map(|p| IoSlice::new(p)).collect();
        write_all_vectored_at(&file, &mut bufs, 5).unwrap();
        let on_disk = fs::read(&path).unwrap();
        assert_eq!(on_disk[..5], [0u8; 5]);
        assert_eq!(on_disk[5..], expected[..]);
    }

    #[test]
    fn vectored_write_failure_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ro.log");
        fs::write(&path, b"x").unwrap();
        let read_only = File::open(&path).unwrap();
        let mut bufs = [IoSlice::new(b"abc")];
        assert!(write_all_vectored_at(&read_only, &mut bufs, 1).is_err());
    }
}
