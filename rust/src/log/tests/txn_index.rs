//! The transaction index through the partition log: entries land in the segment holding their
//! ABORT marker, collect spans segments, and truncation, retention, restarts and recovery
//! keep the `.txnindex` files consistent with the log.

use std::fs;
use std::path::{Path, PathBuf};

use super::util::*;
use crate::index::{AbortedTxn, TXN_INDEX_ENTRY_SIZE};
use crate::log::segment::{file_name, LOG_FILE_SUFFIX, TXN_INDEX_FILE_SUFFIX};
use crate::log::{Log, LogConfig};

fn txn(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
    AbortedTxn {
        producer_id: pid,
        first_offset: first,
        last_offset: last,
        last_stable_offset: lso,
    }
}

fn txn_path(dir: &Path, base: i64) -> PathBuf {
    dir.join(file_name(base, TXN_INDEX_FILE_SUFFIX))
}

fn entries_on_disk(dir: &Path, base: i64) -> Option<Vec<AbortedTxn>> {
    let bytes = fs::read(txn_path(dir, base)).ok()?;
    assert_eq!(bytes.len() % TXN_INDEX_ENTRY_SIZE, 0);
    Some(
        bytes
            .chunks_exact(TXN_INDEX_ENTRY_SIZE)
            .map(|b| AbortedTxn::decode(b).unwrap())
            .collect(),
    )
}

fn collect(log: &Log, from: i64, to: i64) -> Vec<AbortedTxn> {
    log.collect_aborted_txns(from, to).unwrap()
}

/// Segments [0, 10), [10, 20), [20, 30) and an active one from 30 (10 one-record batches
/// each), with aborted transactions whose markers are at 8, 15, 18 and 25.
fn three_segments(dir: &Path, config: LogConfig) -> (Log, Vec<AbortedTxn>) {
    let log = open(dir, config);
    let all = vec![
        txn(1, 2, 8, 2),
        txn(2, 5, 15, 5),
        txn(3, 16, 18, 9),
        txn(4, 19, 25, 19),
    ];
    let mut next = all.iter().peekable();
    for _ in 0..3 {
        for _ in 0..10 {
            append(&log, &simple(1, TS0, 1));
            while let Some(t) = next.next_if(|t| t.last_offset < log.log_end_offset()) {
                log.append_aborted_txn(*t).unwrap();
            }
        }
        log.roll(TS0).unwrap();
    }
    (log, all)
}

#[test]
fn entries_go_to_the_segment_holding_the_marker() {
    let dir = tempfile::tempdir().unwrap();
    let (log, all) = three_segments(dir.path(), small_config());
    let d = dir.path();
    assert_eq!(entries_on_disk(d, 0), Some(all[..1].to_vec()));
    assert_eq!(entries_on_disk(d, 10), Some(all[1..3].to_vec()));
    assert_eq!(entries_on_disk(d, 20), Some(all[3..].to_vec()));
    assert!(!txn_path(d, 30).exists(), "created only on the first entry");
    // A marker in a closed segment (the log rolled between the marker and its entry) still
    // goes to that segment, if it is the latest.
    append(&log, &simple(1, TS0, 1));
    log.roll(TS0).unwrap();
    log.append_aborted_txn(txn(5, 27, 30, 27)).unwrap();
    assert_eq!(entries_on_disk(d, 30), Some(vec![txn(5, 27, 30, 27)]));
    assert_eq!(log.log_end_offset(), 31);
}

#[test]
fn appends_are_refused_out_of_order_or_outside_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = three_segments(dir.path(), small_config());
    let refused = |t: AbortedTxn| log.append_aborted_txn(t).unwrap_err().to_string();
    // Below the latest entry, even in a segment without entries of its own.
    assert!(refused(txn(9, 20, 24, 20)).contains("not greater than the last recorded one, 25"));
    assert!(refused(txn(9, 20, 25, 20)).contains("not greater"));
    // Past the log end, below the log start, first after last.
    assert!(refused(txn(9, 29, 30, 29)).contains("outside the log"));
    assert!(refused(txn(9, 0, -1, 0)).contains("outside the log"));
    assert!(refused(txn(9, 29, 28, 28)).contains("do not fit"));
    log.append_aborted_txn(txn(9, 26, 29, 26)).unwrap();
    assert_eq!(collect(&log, 26, 30), vec![txn(9, 26, 29, 26)]);
}

#[test]
fn collect_spans_segments_until_the_lso_passes_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let (log, all) = three_segments(dir.path(), small_config());
    assert_eq!(collect(&log, 0, 30), all);
    // From the segment holding the start: the entry at 8 ends before 9.
    assert_eq!(collect(&log, 9, 30), all[1..]);
    assert_eq!(collect(&log, 12, 16), all[1..2]);
    // The search stops in segment 10: its entry at 15 has LSO 5 < 6 (goes on), the one at 18
    // has LSO 9 >= 6 (no later abort can overlap [.., 6)), so segment 20 is not read.
    assert_eq!(collect(&log, 0, 6), all[..2]);
    assert_eq!(collect(&log, 26, 30), vec![]);
    // Below the first segment: read from it.
    log.advance_log_start_offset(10).unwrap();
    assert_eq!(collect(&log, 0, 17), all[1..3]);
}

#[test]
fn the_index_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (log, all) = three_segments(dir.path(), small_config());
    log.close().unwrap();
    let log = Log::open(dir.path(), small_config(), 30, None).unwrap();
    assert_eq!(collect(&log, 0, 30), all);
    assert_eq!(log.load_stats().txn_index_cut_bytes, 0);
    assert_eq!(log.last_aborted_txn_offset().unwrap(), Some(25));
    assert!(log.append_aborted_txn(txn(9, 20, 25, 20)).is_err());
    // An unclean restart recovers the active segment: its entries stay.
    append(&log, &simple(1, TS0, 1));
    log.append_aborted_txn(txn(9, 26, 30, 26)).unwrap();
    drop(log);
    let log = Log::open(dir.path(), small_config(), 0, None).unwrap();
    assert_eq!(collect(&log, 0, 31).len(), 5);
}

#[test]
fn truncation_removes_entries_of_cut_markers() {
    let dir = tempfile::tempdir().unwrap();
    let (log, all) = three_segments(dir.path(), small_config());
    let d = dir.path();
    log.truncate_to(18, TS0).unwrap();
    assert_eq!(collect(&log, 0, 100), all[..2]);
    assert!(
        !txn_path(d, 20).exists(),
        "a deleted segment takes its index"
    );
    assert_eq!(entries_on_disk(d, 10), Some(all[1..2].to_vec()));
    // The index of the new active segment takes entries again, after the kept ones.
    append(&log, &simple(1, TS0, 1));
    assert!(log.append_aborted_txn(txn(7, 16, 15, 15)).is_err());
    log.append_aborted_txn(txn(7, 16, 18, 16)).unwrap();
    assert_eq!(collect(&log, 16, 100), vec![txn(7, 16, 18, 16)]);
    log.truncate_fully(100, TS0).unwrap();
    for base in [0, 10, 20] {
        assert!(!txn_path(d, base).exists());
    }
    assert_eq!(collect(&log, 100, 200), vec![]);
}

#[test]
fn retention_deletes_the_indexes_of_deleted_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (log, all) = three_segments(dir.path(), small_config());
    log.advance_log_start_offset(12).unwrap();
    assert!(!txn_path(dir.path(), 0).exists());
    assert_eq!(collect(&log, 12, 30), all[1..]);
    let config = LogConfig {
        retention_bytes: Some(0),
        ..small_config()
    };
    log.update_config(config).unwrap();
    log.delete_old_segments(TS0).unwrap();
    for base in [0, 10, 20] {
        assert!(!txn_path(dir.path(), base).exists());
    }
    assert_eq!(collect(&log, 30, 40), vec![]);
}

#[test]
fn recovery_cuts_torn_tails_and_entries_past_the_log_end() {
    let dir = tempfile::tempdir().unwrap();
    let (log, all) = three_segments(dir.path(), small_config());
    let d = dir.path();
    // Entries at 31 and 33 in the active segment, then a crash tears the log after offset 32
    // and the index in the middle of a third entry.
    for _ in 0..4 {
        append(&log, &simple(1, TS0, 1));
    }
    log.append_aborted_txn(txn(5, 30, 31, 30)).unwrap();
    log.append_aborted_txn(txn(6, 30, 33, 30)).unwrap();
    drop(log);
    let active_log = d.join(file_name(30, LOG_FILE_SUFFIX));
    let len = fs::metadata(&active_log).unwrap().len();
    let one_batch = len / 4;
    fs::OpenOptions::new()
        .write(true)
        .open(&active_log)
        .unwrap()
        .set_len(len - one_batch - 3)
        .unwrap();
    let mut index = fs::read(txn_path(d, 30)).unwrap();
    index.extend(&txn(7, 34, 35, 34).encode()[..11]);
    fs::write(txn_path(d, 30), &index).unwrap();
    // A stray index without its log goes.
    fs::write(txn_path(d, 777), txn(1, 777, 777, 0).encode()).unwrap();

    let log = Log::open(d, small_config(), 30, None).unwrap();
    assert_eq!(log.log_end_offset(), 32);
    assert_eq!(
        log.load_stats().txn_index_cut_bytes,
        11 + TXN_INDEX_ENTRY_SIZE as u64
    );
    let mut expected = all.clone();
    expected.push(txn(5, 30, 31, 30));
    assert_eq!(collect(&log, 0, 100), expected);
    assert!(!txn_path(d, 777).exists());
}
