//! Replacing a group of segments by their cleaned rewrite, crash-safe (Kafka's
//! `replaceSegments` and the `.swap` handling of `LogLoader`).
//!
//! Steps, for a group whose first segment has base offset X:
//! 1. write the new segment, indexes included, with the ordinary segment code in the scratch
//!    directory [`SCRATCH_DIR`] inside the partition directory, fsync it, and move its log to
//!    `X.log.cleaned` and its transaction index to `X.txnindex.swap` (an empty file when it
//!    has no entries: its presence says the swap of the transaction indexes is still to do);
//!    no lock held;
//! 2. rename the log to `X.log.swap` and fsync the directory: the commit point;
//! 3. under the log's write lock, check the group is still in the log as snapshotted (else
//!    abort: delete the swap files), rename the other segments' `.log` files to `.log.deleted`,
//!    and put the new index files in place of the group's (`X.txnindex.swap` last: renamed
//!    over `X.txnindex`, or, empty, removed with it);
//! 4. rename `X.log.swap` to `X.log` (replacing the old one atomically), fsync the directory;
//! 5. remove the `.deleted` files, open the new segment (its indexes only sanity-checked, as on
//!    a clean start) and put it in the segment map in place of the group.
//!
//! A crash before 2 leaves a `.cleaned` file, which opening the log deletes: the old segments
//! are intact. A crash after 2 leaves a `.swap` file, which [`complete_swaps`] finishes: it
//! deletes every segment whose base offset lies inside the swap file's offsets, deletes the
//! offset and time index files named X (old or new: they are rebuilt), finishes the
//! transaction index swap if `X.txnindex.swap` is still there (the transaction index cannot be
//! rebuilt from the log) and renames the swap file into place;
//! leftover `.deleted` files are then deleted like any stray file, and the scratch directory
//! is removed. Either way the
//! log holds each offset once, and every record the clean kept.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use super::filter::{filter_batch, FilterContext, Filtered};
use super::txn::TxnTracker;
use super::{for_each_batch, CleanStats, CleanerOptions, SegmentSnapshot};
use crate::error::{Error, Result};
use crate::index::AbortedTxn;
use crate::log::log::{LoadStats, Log};
use crate::log::now_ms;
use crate::log::scan::{BatchReader, Stop};
use crate::log::segment::{
    self, file_name, Segment, SegmentParams, INDEX_FILE_SUFFIX, LOG_FILE_SUFFIX,
    TIME_INDEX_FILE_SUFFIX, TXN_INDEX_FILE_SUFFIX,
};
use crate::record::header::BatchHeader;
use crate::record::validate::BatchSummary;

pub const CLEANED_SUFFIX: &str = ".cleaned";
pub const SWAP_SUFFIX: &str = ".swap";
pub const DELETED_SUFFIX: &str = ".deleted";
/// Bytes of batches gathered before one write to the cleaned segment.
const WRITE_BUFFER_BYTES: usize = 1 << 20;
/// Where a cleaned segment is written before it is moved into the partition directory.
/// Opening the log deletes it (what is in it was never committed).
pub const SCRATCH_DIR: &str = ".cleaner-scratch";

/// The cleaned segment being written: whole batches, gathered and appended through the
/// ordinary segment code, so its indexes are exactly what recovery would rebuild.
struct CleanedWriter {
    segment: Segment,
    params: SegmentParams,
    pending: Vec<u8>,
    summaries: Vec<BatchSummary>,
    written: u64,
}

impl CleanedWriter {
    fn push(&mut self, batch: &[u8]) -> Result<()> {
        let h = BatchHeader::parse(batch, 0)?;
        self.summaries.push(BatchSummary {
            position: self.pending.len(),
            size: batch.len(),
            base_offset: h.base_offset,
            last_offset: h.last_offset(),
            max_timestamp: h.max_timestamp,
            record_count: h.record_count.max(0) as u32,
            producer: h.producer(),
        });
        self.pending.extend_from_slice(batch);
        self.written += batch.len() as u64;
        if self.pending.len() >= WRITE_BUFFER_BYTES {
            self.write_pending()?;
        }
        Ok(())
    }

    fn write_pending(&mut self) -> Result<()> {
        if self.summaries.is_empty() {
            return Ok(());
        }
        let mut bufs = [io::IoSlice::new(&self.pending)];
        self.segment
            .append(&mut bufs, &self.summaries, self.params)?;
        self.pending.clear();
        self.summaries.clear();
        Ok(())
    }

    /// Write what is left and the transaction index entries (whose markers are all written),
    /// trim the indexes as for a closed segment, fsync.
    fn finish(mut self, aborted_txns: &[AbortedTxn]) -> Result<u64> {
        self.write_pending()?;
        for txn in aborted_txns {
            self.segment.append_aborted_txn(*txn)?;
        }
        self.segment.on_become_inactive()?;
        self.segment.flush()?;
        Ok(self.written)
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name: OsString = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn crash_point(opts: &CleanerOptions, step: u8) -> Result<()> {
    if opts.crash_after_step == Some(step) {
        return Err(Error::Io(io::Error::other(format!(
            "simulated crash after cleaner swap step {step}"
        ))));
    }
    Ok(())
}

/// Rewrite one group and swap it in. Returns false if the log changed under the cleaner
/// (the group is then left alone).
pub(crate) fn clean_group(
    log: &Log,
    group: Vec<&SegmentSnapshot>,
    cx: &FilterContext<'_>,
    txns: &mut TxnTracker,
    opts: &CleanerOptions,
    stats: &mut CleanStats,
) -> Result<bool> {
    let dir = log.dir();
    let base = group[0].base_offset;
    let log_path = dir.join(file_name(base, LOG_FILE_SUFFIX));
    let cleaned = with_suffix(&log_path, CLEANED_SUFFIX);
    let swap = with_suffix(&log_path, SWAP_SUFFIX);

    // 1. The rewrite, while appends and reads go on.
    let scratch = dir.join(SCRATCH_DIR);
    if scratch.exists() {
        fs::remove_dir_all(&scratch)?;
    }
    fs::create_dir(&scratch)?;
    let params = log.state.read().params();
    let mut out = CleanedWriter {
        segment: Segment::create(&scratch, base, params, now_ms())?,
        params,
        pending: Vec::with_capacity(WRITE_BUFFER_BYTES),
        summaries: Vec::new(),
        written: 0,
    };
    let mut changed = group.len() > 1;
    let (mut read, mut records_in, mut records_out) = (0u64, 0u64, 0u64);
    for (i, s) in group.iter().enumerate() {
        read += s.size;
        // Kafka collects each segment's range whole: the cleaned index is rebuilt from it.
        let upper = group
            .get(i + 1)
            .map_or(s.next_offset, |next| next.base_offset);
        txns.add_aborted(log.collect_aborted_txns(s.base_offset, upper)?);
        for_each_batch(s, |view| {
            records_in += view.header.record_count.max(0) as u64;
            match filter_batch(view, cx, txns)? {
                Filtered::Keep => {
                    out.push(view.bytes)?;
                    records_out += view.header.record_count.max(0) as u64;
                }
                Filtered::Rewritten(bytes) => {
                    changed = true;
                    out.push(&bytes)?;
                    records_out += BatchHeader::parse(&bytes, 0)?.record_count.max(0) as u64;
                }
                Filtered::Dropped => changed = true,
            }
            Ok(true)
        })?;
    }
    let aborted_txns = txns.take_cleaned_index();
    changed |= aborted_txns != group[0].aborted_txns;
    let written = out.finish(&aborted_txns)?;
    stats.bytes_read += read;
    stats.records_read += records_in;
    if !changed {
        // A single segment the clean would copy byte for byte: leave it.
        fs::remove_dir_all(&scratch)?;
        stats.bytes_written += read;
        stats.records_kept += records_in;
        return Ok(true);
    }
    fs::rename(scratch.join(file_name(base, LOG_FILE_SUFFIX)), &cleaned)?;
    let txn_index = dir.join(file_name(base, TXN_INDEX_FILE_SUFFIX));
    let txn_swap = with_suffix(&txn_index, SWAP_SUFFIX);
    let scratch_txn = scratch.join(file_name(base, TXN_INDEX_FILE_SUFFIX));
    if scratch_txn.exists() {
        fs::rename(&scratch_txn, &txn_swap)?;
    } else {
        File::create(&txn_swap)?.sync_all()?;
    }
    sync_dir(dir)?;
    crash_point(opts, 1)?;

    // 2. Commit point.
    fs::rename(&cleaned, &swap)?;
    sync_dir(dir)?;
    crash_point(opts, 2)?;

    let mut st = log.state.write();
    st.check_open()?;
    let active = st.active().base_offset();
    let unchanged = group.iter().all(|s| {
        st.segments.floor(s.base_offset).is_some_and(|seg| {
            seg.base_offset() == s.base_offset
                && seg.base_offset() != active
                && seg.size() == s.size
                && seg.next_offset() == s.next_offset
                && seg.last_aborted_txn_offset() == s.aborted_txns.last().map(|t| t.last_offset)
        })
    });
    if !unchanged {
        drop(st);
        fs::remove_file(&swap)?;
        fs::remove_file(&txn_swap)?;
        fs::remove_dir_all(&scratch)?;
        return Ok(false);
    }
    // 3. Retire the old files.
    let mut deleted = Vec::new();
    for s in &group[1..] {
        let to = with_suffix(&s.log_path, DELETED_SUFFIX);
        fs::rename(&s.log_path, &to)?;
        deleted.push(to);
    }
    for s in &group[1..] {
        remove_if_exists(&dir.join(file_name(s.base_offset, INDEX_FILE_SUFFIX)))?;
        remove_if_exists(&dir.join(file_name(s.base_offset, TIME_INDEX_FILE_SUFFIX)))?;
        remove_if_exists(&dir.join(file_name(s.base_offset, TXN_INDEX_FILE_SUFFIX)))?;
    }
    for suffix in [INDEX_FILE_SUFFIX, TIME_INDEX_FILE_SUFFIX] {
        let name = file_name(base, suffix);
        fs::rename(scratch.join(&name), dir.join(&name))?;
    }
    finish_txn_index_swap(&txn_index)?;
    crash_point(opts, 3)?;
    // 4. The swap.
    fs::rename(&swap, &log_path)?;
    sync_dir(dir)?;
    crash_point(opts, 4)?;
    // 5. Clean up and update the map. Old segments are dropped, not deleted: their paths now
    // name the new segment or nothing; readers holding their regions keep the old data.
    for path in &deleted {
        remove_if_exists(path)?;
    }
    fs::remove_dir_all(&scratch)?;
    crash_point(opts, 5)?;
    for s in &group {
        st.segments.remove(s.base_offset);
    }
    let params = st.params();
    let (seg, _) = Segment::open_existing(dir, base, params, now_ms(), false)?;
    st.segments.insert(seg);
    stats.segments_cleaned += group.len();
    stats.bytes_written += written;
    stats.records_kept += records_out;
    Ok(true)
}

/// Put the cleaned transaction index `<txn_index>.swap` in place of `txn_index`: renamed
/// over it, or when empty (the cleaned segment has no aborted transactions) both removed, the
/// old index first. A missing swap file means this was already done.
fn finish_txn_index_swap(txn_index: &Path) -> Result<()> {
    let swap = with_suffix(txn_index, SWAP_SUFFIX);
    let len = match fs::metadata(&swap) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if len == 0 {
        remove_if_exists(txn_index)?;
        fs::remove_file(&swap)?;
    } else {
        fs::rename(&swap, txn_index)?;
    }
    Ok(())
}

/// The next offset after the last batch of a finished `.swap` file, or None if it holds an
/// invalid batch (it was fsynced before the rename, so that means it is not ours to trust).
fn swap_next_offset(path: &Path, base: i64) -> Result<Option<i64>> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut reader = BatchReader::new(&file, len);
    let mut next = base;
    loop {
        match reader.next_batch()? {
            Ok((_, h, _)) => next = h.next_offset(),
            Err(Stop::End) => return Ok(Some(next)),
            Err(Stop::Invalid) => return Ok(None),
        }
    }
}

/// Finish every swap a crash interrupted (see the module doc); run before the directory scan
/// of `loader`, which then deletes `.cleaned` and `.deleted` leftovers.
pub(crate) fn complete_swaps(dir: &Path, stats: &mut LoadStats) -> Result<()> {
    let scratch = dir.join(SCRATCH_DIR);
    if scratch.exists() {
        fs::remove_dir_all(&scratch)?;
    }
    let mut swaps = Vec::new();
    let mut logs = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(base) = name
            .strip_suffix(SWAP_SUFFIX)
            .and_then(|n| segment::parse_file_name(n, LOG_FILE_SUFFIX))
        {
            swaps.push((base, entry.path()));
        } else if let Some(base) = segment::parse_file_name(name, LOG_FILE_SUFFIX) {
            logs.push(base);
        }
    }
    swaps.sort();
    for (base, path) in swaps {
        let Some(next) = swap_next_offset(&path, base)? else {
            fs::remove_file(&path)?;
            stats.deleted_stray_files += 1;
            continue;
        };
        for &old in logs.iter().filter(|&&b| b > base && b < next) {
            segment::delete_files(dir, old)?;
            stats.deleted_segments += 1;
        }
        remove_if_exists(&dir.join(file_name(base, INDEX_FILE_SUFFIX)))?;
        remove_if_exists(&dir.join(file_name(base, TIME_INDEX_FILE_SUFFIX)))?;
        finish_txn_index_swap(&dir.join(file_name(base, TXN_INDEX_FILE_SUFFIX)))?;
        fs::rename(&path, dir.join(file_name(base, LOG_FILE_SUFFIX)))?;
        sync_dir(dir)?;
    }
    Ok(())
}
