//! Opening a partition directory (Kafka's `LogLoader`).
//!
//! 0. Finish cleaner swaps a crash interrupted (`*.log.swap`, see `cleaner::swap`).
//! 1. Delete leftovers of interrupted operations: `*.deleted`, `*.cleaned`, `*.swap`, and
//!    `.index` / `.timeindex` / `.txnindex` files without a `.log`. Files that are not ours
//!    (leader epoch checkpoint, producer snapshots, partition metadata) are left alone.
//! 2. Segments before the one holding the recovery point were flushed: trust their data, but
//!    rebuild their indexes if missing or not sane.
//! 3. From the segment holding the recovery point on, recover: CRC-check every batch, rebuild
//!    the indexes, cut at the first torn or corrupt batch, and delete every later segment (their
//!    offsets would no longer follow).
//! 4. The log end offset is the last segment's next offset; if that is below the checkpointed
//!    log start offset, the segments are stale and go. No offset is ever handed out twice: the
//!    empty active segment's file name keeps the log end offset across restarts.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use super::config::LogConfig;
use super::log::LoadStats;
use super::segment::{
    self, OpenOutcome, Segment, SegmentParams, INDEX_FILE_SUFFIX, LOG_FILE_SUFFIX,
    TIME_INDEX_FILE_SUFFIX, TXN_INDEX_FILE_SUFFIX,
};
use super::segments::Segments;
use crate::error::Result;

/// Suffixes Kafka appends to files being deleted, cleaned or swapped in by the cleaner.
pub const STRAY_FILE_SUFFIXES: [&str; 3] = [".deleted", ".cleaned", ".swap"];

pub(super) struct Loaded {
    pub segments: Segments,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    pub recovery_point: i64,
    pub stats: LoadStats,
}

/// Base offsets of the `.log` files, after removing stray and orphaned files.
fn scan_dir(dir: &Path, stats: &mut LoadStats) -> Result<BTreeSet<i64>> {
    let mut logs = BTreeSet::new();
    let mut indexes = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if STRAY_FILE_SUFFIXES.iter().any(|s| name.ends_with(s)) {
            fs::remove_file(entry.path())?;
            stats.deleted_stray_files += 1;
        } else if let Some(base) = segment::parse_file_name(name, LOG_FILE_SUFFIX) {
            logs.insert(base);
        } else if let Some(base) = segment::parse_file_name(name, INDEX_FILE_SUFFIX)
            .or_else(|| segment::parse_file_name(name, TIME_INDEX_FILE_SUFFIX))
            .or_else(|| segment::parse_file_name(name, TXN_INDEX_FILE_SUFFIX))
        {
            indexes.push((base, entry.path()));
        }
    }
    for (base, path) in indexes {
        if !logs.contains(&base) {
            fs::remove_file(path)?;
            stats.deleted_stray_files += 1;
        }
    }
    Ok(logs)
}

pub(super) fn load(
    dir: &Path,
    config: &LogConfig,
    recovery_point: i64,
    log_start_offset: Option<i64>,
    now_ms: i64,
) -> Result<Loaded> {
    fs::create_dir_all(dir)?;
    let mut stats = LoadStats::default();
    super::cleaner::swap::complete_swaps(dir, &mut stats)?;
    let bases = scan_dir(dir, &mut stats)?;
    let params = SegmentParams::from_config(config);
    let recover_from = bases
        .range(..=recovery_point)
        .next_back()
        .copied()
        .unwrap_or(i64::MIN);

    let mut segments = Segments::default();
    let mut bases = bases.into_iter();
    while let Some(base) = bases.next() {
        let (seg, outcome, recover) = if base == recover_from {
            open_holding_recovery_point(dir, base, params, now_ms, recovery_point)?
        } else {
            let recover = base > recover_from;
            let (seg, outcome) = Segment::open_existing(dir, base, params, now_ms, recover)?;
            (seg, outcome, recover)
        };
        stats.recovered_segments += recover as usize;
        stats.rebuilt_indexes += outcome.rebuilt_because.is_some() as usize;
        stats.truncated_bytes += outcome.truncated_bytes;
        stats.tail_batches_read += outcome.tail_batches_read;
        stats.txn_index_cut_bytes += outcome.txn_index_cut_bytes;
        segments.insert(seg);
        if recover && outcome.truncated_bytes > 0 {
            for later in bases.by_ref() {
                segment::delete_files(dir, later)?;
                stats.deleted_segments += 1;
            }
        }
    }

    let first_base = segments.first().map(Segment::base_offset);
    let checkpoint = log_start_offset.or(first_base).unwrap_or(0);
    let stale = segments
        .active()
        .is_some_and(|a| a.next_offset() < checkpoint);
    if stale {
        for seg in segments.take_all() {
            seg.delete()?;
            stats.deleted_segments += 1;
        }
    }
    if segments.is_empty() {
        segments.insert(Segment::create(dir, checkpoint, params, now_ms)?);
    }
    let first_base = segments.first().map_or(checkpoint, Segment::base_offset);
    let active = segments.active_mut().expect("a segment was just ensured");
    active.make_active(params)?;
    let log_end_offset = active.next_offset();
    stats.segments = segments.len();
    Ok(Loaded {
        segments,
        log_start_offset: checkpoint.max(first_base),
        log_end_offset,
        recovery_point: recovery_point.min(log_end_offset),
        stats,
    })
}

/// Open the segment that holds the recovery point. When every offset in it lies below the
/// recovery point it was flushed whole (a clean shutdown checkpoints the log end), so it is
/// trusted like the segments before it and a clean restart scans nothing; otherwise its tail
/// after the recovery point is unflushed and the segment is recovered. Returns whether it
/// was recovered.
fn open_holding_recovery_point(
    dir: &Path,
    base: i64,
    params: SegmentParams,
    now_ms: i64,
    recovery_point: i64,
) -> Result<(Segment, OpenOutcome, bool)> {
    let (seg, outcome) = Segment::open_existing(dir, base, params, now_ms, false)?;
    if seg.next_offset() <= recovery_point || outcome.rebuilt_because.is_some() {
        // Trusted, or its indexes were not sane and it was already recovered in full.
        let recovered = outcome.rebuilt_because.is_some();
        return Ok((seg, outcome, recovered));
    }
    drop(seg);
    // The first open may already have cut the transaction index; count that too.
    let cut_first = outcome.txn_index_cut_bytes;
    let (seg, mut outcome) = Segment::open_existing(dir, base, params, now_ms, true)?;
    outcome.txn_index_cut_bytes += cut_first;
    Ok((seg, outcome, true))
}
