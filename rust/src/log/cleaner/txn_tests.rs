//! Cleaner tests for transactional logs (Kafka's `LogCleanerTest` transaction cases): aborted
//! records go whatever their keys and never shadow committed ones, markers stay while their
//! transaction has data and go a delete horizon after it has none, the cleaned segments'
//! transaction indexes list exactly the aborted transactions whose markers stay, nothing at
//! or past the caller's bound (the LSO) is decided, and a crash during a swap keeps the
//! transaction index.

use std::path::Path;

use super::tests::{headers, open, produce, records, RETENTION, TS0};
use super::CleanerOptions;
use crate::index::AbortedTxn;
use crate::log::{AppendOrigin, Log};
use crate::record::batch::{BatchView, ControlRecordType};
use crate::record::builder::{
    build_control_batch, BatchBuilder, BatchOptions, ControlBatchOptions,
};
use crate::record::header::Compression;

const EPOCH: i16 = 3;

/// A transactional batch of `pid` with these (key, value) records; returns its offsets.
fn txn_batch(log: &Log, pid: i64, seq: i32, entries: &[(&str, &str)]) -> (i64, i64) {
    let mut b = BatchBuilder::new(BatchOptions {
        producer_id: pid,
        producer_epoch: EPOCH,
        base_sequence: seq,
        is_transactional: true,
        ..Default::default()
    })
    .unwrap();
    for (k, v) in entries {
        b.append(TS0, Some(k.as_bytes()), Some(v.as_bytes()), &[])
            .unwrap();
    }
    let info = log
        .append(&b.build().unwrap(), 0, TS0, AppendOrigin::Client)
        .unwrap();
    (info.first_offset, info.last_offset)
}

/// A COMMIT or ABORT marker of `pid` at the log end; an ABORT is recorded in the
/// transaction index (first offset `first`, LSO `first`), as the partition does.
fn marker(log: &Log, pid: i64, commit: bool, first: i64) -> i64 {
    let bytes = build_control_batch(&ControlBatchOptions {
        commit,
        producer_id: pid,
        producer_epoch: EPOCH,
        coordinator_epoch: 0,
        timestamp_ms: TS0,
        base_offset: 0,
        partition_leader_epoch: 0,
    });
    let last = log
        .append(&bytes, 0, TS0, AppendOrigin::Coordinator)
        .unwrap()
        .last_offset;
    if !commit {
        log.append_aborted_txn(aborted(pid, first, last)).unwrap();
    }
    last
}

fn aborted(pid: i64, first: i64, last: i64) -> AbortedTxn {
    AbortedTxn {
        producer_id: pid,
        first_offset: first,
        last_offset: last,
        last_stable_offset: first,
    }
}

fn plain(log: &Log, entries: &[(&str, &str)]) {
    let e: Vec<(String, Option<String>)> = entries
        .iter()
        .map(|(k, v)| (k.to_string(), Some(v.to_string())))
        .collect();
    produce(log, &e, Compression::None, TS0);
}

/// What a batch is, in short: (base offset, producer id, marker type, record count, whether
/// it carries a delete horizon).
type Shape = (i64, i64, Option<ControlRecordType>, i32, bool);

fn shapes(log: &Log) -> Vec<Shape> {
    let bytes = log
        .read_batch_bytes(log.log_start_offset(), u64::MAX, None)
        .unwrap();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let view = BatchView::parse(&bytes[pos..], pos as u64).unwrap();
        let h = view.header;
        let kind = view.control_record().unwrap().map(|c| c.kind);
        out.push((
            h.base_offset,
            h.producer_id,
            kind,
            h.record_count,
            h.has_delete_horizon(),
        ));
        pos += h.total_size();
    }
    out
}

/// (offset, value) of every data record (control records left out).
fn values(log: &Log) -> Vec<(i64, String)> {
    let markers: Vec<i64> = shapes(log)
        .into_iter()
        .filter(|b| b.2.is_some())
        .map(|b| b.0)
        .collect();
    records(log)
        .into_iter()
        .filter(|(o, _, _)| !markers.contains(o))
        .map(|(o, _, v)| (o, String::from_utf8(v.unwrap()).unwrap()))
        .collect()
}

fn clean(log: &Log, now: i64) {
    log.clean(None, &CleanerOptions::default(), now).unwrap();
}

fn entries(log: &Log) -> Vec<AbortedTxn> {
    log.collect_aborted_txns(0, i64::MAX).unwrap()
}

const ABORT: Option<ControlRecordType> = Some(ControlRecordType::Abort);
const COMMIT: Option<ControlRecordType> = Some(ControlRecordType::Commit);

/// Kafka's `testAbortMarkerRemoval`, `testCommitMarkerRemoval` and
/// `testDeletedBatchesWithNoMessagesRead`, as one history.
#[test]
fn aborted_data_goes_and_markers_follow_their_data() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let keys = [("k0", "a"), ("k1", "a"), ("k2", "a")];
    plain(&log, &keys); // 0..=2
    let (first7, _) = txn_batch(&log, 7, 0, &[("k0", "x"), ("k1", "x"), ("k2", "x")]); // 3..=5
    let abort7 = marker(&log, 7, false, first7); // 6
    txn_batch(&log, 8, 0, &[("k5", "c1")]); // 7
    let commit8a = marker(&log, 8, true, 7); // 8
    txn_batch(&log, 8, 1, &[("k5", "c2")]); // 9
    marker(&log, 8, true, 9); // 10
    let (first9, _) = txn_batch(&log, 9, 0, &[("k6", "y")]); // 11
    let abort9 = marker(&log, 9, false, first9); // 12
    plain(&log, &[("k7", "p")]); // 13
    log.roll(TS0).unwrap();
    assert_eq!((abort7, commit8a, abort9), (6, 8, 12));

    // 1: aborted records go (pid 7's and 9's batches stay empty: each is its producer's last
    // batch); their keys did not shadow k0..k2's committed values; all markers stay, the
    // ABORTs with their index entries (their data was read in this clean).
    clean(&log, TS0 + 100);
    let committed = vec![
        (0, "a".to_string()),
        (1, "a".into()),
        (2, "a".into()),
        (9, "c2".into()),
        (13, "p".into()),
    ];
    assert_eq!(values(&log), committed);
    assert_eq!(
        shapes(&log),
        vec![
            (0, -1, None, 3, false),
            (3, 7, None, 0, false),
            (6, 7, ABORT, 1, false),
            (8, 8, COMMIT, 1, false),
            (9, 8, None, 1, false),
            (10, 8, COMMIT, 1, false),
            (11, 9, None, 0, false),
            (12, 9, ABORT, 1, false),
            (13, -1, None, 1, false),
        ]
    );
    assert_eq!(entries(&log), vec![aborted(7, 3, 6), aborted(9, 11, 12)]);

    // 2: the first COMMIT of pid 8 has no data left: it gets a delete horizon.
    let now2 = TS0 + 200;
    clean(&log, now2);
    let s = shapes(&log);
    assert_eq!(s[3], (8, 8, COMMIT, 1, true));
    assert!(!s[5].4 && !s[2].4, "markers with data keep no horizon");
    let horizon = |log: &Log, offset: i64| {
        headers(log)
            .into_iter()
            .find(|h| h.base_offset == offset)
            .unwrap()
            .base_timestamp
    };
    assert_eq!(horizon(&log, 8), now2 + RETENTION);

    // 3: before the horizon it stays; at the horizon it goes.
    clean(&log, now2 + RETENTION - 1);
    assert!(shapes(&log).iter().any(|b| b.0 == 8));
    clean(&log, now2 + RETENTION);
    assert!(!shapes(&log).iter().any(|b| b.0 == 8));
    assert_eq!(values(&log), committed);

    // 4: pid 7 writes again: its empty aborted batch is no longer its last and goes. The
    // ABORT saw that batch in this clean, so it stays with its entry.
    let (first, _) = txn_batch(&log, 7, 3, &[("k8", "z")]);
    marker(&log, 7, true, first);
    log.roll(TS0).unwrap();
    let now4 = now2 + 2 * RETENTION;
    clean(&log, now4);
    let s = shapes(&log);
    assert!(!s.iter().any(|b| b.0 == 3), "{s:?}");
    assert!(s.contains(&(6, 7, ABORT, 1, false)));
    assert_eq!(entries(&log), vec![aborted(7, 3, 6), aborted(9, 11, 12)]);
    // 5: now the ABORT's transaction is empty: horizon, and its entry leaves the index.
    clean(&log, now4);
    assert!(shapes(&log).contains(&(6, 7, ABORT, 1, true)));
    assert_eq!(entries(&log), vec![aborted(9, 11, 12)]);
    // 6: after the horizon it goes.
    clean(&log, now4 + RETENTION);
    assert!(!shapes(&log).iter().any(|b| b.0 == 6));
    assert_eq!(entries(&log), vec![aborted(9, 11, 12)]);
    assert_eq!(values(&log).last(), Some(&(first, "z".to_string())));

    // The cleaned log and its indexes survive a restart as they are.
    let before = (shapes(&log), entries(&log));
    log.close().unwrap();
    let log = open(dir.path());
    assert_eq!((shapes(&log), entries(&log)), before);
}

/// Nothing at or past the bound is decided: an open transaction's records there neither go
/// nor shadow older values of their keys.
#[test]
fn the_bound_keeps_open_transactions_out_of_the_clean() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    plain(&log, &[("k0", "old")]); // 0
    plain(&log, &[("k1", "old")]); // 1
    let (open_first, _) = txn_batch(&log, 10, 0, &[("k0", "open")]); // 2
    plain(&log, &[("k1", "new")]); // 3
    log.roll(TS0).unwrap();
    let opts = CleanerOptions {
        max_offset: Some(open_first),
        ..Default::default()
    };
    log.clean(None, &opts, TS0 + 100).unwrap();
    assert_eq!(
        values(&log),
        vec![
            (0, "old".to_string()),
            (1, "old".into()),
            (2, "open".into()),
            (3, "new".into())
        ]
    );
    // Once the transaction commits and the bound moves past it, k0 and k1 are compacted.
    marker(&log, 10, true, open_first);
    log.roll(TS0).unwrap();
    clean(&log, TS0 + 100);
    assert_eq!(
        values(&log),
        vec![(2, "open".to_string()), (3, "new".into())]
    );
}

/// A compacted log of several segments with aborted transactions in three of them: each a
/// transactional batch and its ABORT marker among plain updates.
fn log_with_aborted_txns(dir: &Path) -> (Log, Vec<AbortedTxn>) {
    let log = open(dir);
    let mut txns = Vec::new();
    for pid in 0..3 {
        super::tests::fill(&log, 15, 3, Compression::None);
        let (first, _) = txn_batch(&log, pid, 0, &[("k1", "aborted"), ("k2", "aborted")]);
        let last = marker(&log, pid, false, first);
        txns.push(aborted(pid, first, last));
    }
    super::tests::fill(&log, 15, 2, Compression::None);
    log.roll(TS0).unwrap();
    log.flush().unwrap();
    (log, txns)
}

fn txn_index_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().contains(".txnindex")
        })
        .count()
}

#[test]
fn cleaned_segments_keep_the_transaction_index_entries() {
    let dir = tempfile::tempdir().unwrap();
    let (log, txns) = log_with_aborted_txns(dir.path());
    assert_eq!(entries(&log), txns);
    let segments_before = log.segments().unwrap().len();
    // The first clean shrinks the segments, the second merges them. The aborted batches
    // stay, empty (each is its producer's last), so their markers and entries stay.
    for _ in 0..2 {
        clean(&log, TS0 + 100);
        assert_eq!(entries(&log), txns);
        assert!(!values(&log).iter().any(|(_, v)| v == "aborted"));
    }
    assert!(log.segments().unwrap().len() < segments_before);
    // One file per segment holding a marker, none left over from the merged segments.
    let holding: std::collections::BTreeSet<i64> = txns
        .iter()
        .map(|t| {
            log.segments()
                .unwrap()
                .iter()
                .rev()
                .find(|s| s.base_offset <= t.last_offset)
                .unwrap()
                .base_offset
        })
        .collect();
    assert_eq!(txn_index_files(dir.path()), holding.len());
    log.close().unwrap();
    let log = open(dir.path());
    assert_eq!(entries(&log), txns);
}

#[test]
fn a_crash_during_a_swap_keeps_the_transaction_index() {
    for step in 1..=5u8 {
        let dir = tempfile::tempdir().unwrap();
        let (log, txns) = log_with_aborted_txns(dir.path());
        let opts = CleanerOptions {
            crash_after_step: Some(step),
            ..Default::default()
        };
        assert!(log.clean(None, &opts, TS0 + 100).is_err());
        drop(log);
        let log = open(dir.path());
        assert_eq!(entries(&log), txns, "step {step}");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(!names.iter().any(|n| n.ends_with(".swap")), "{names:?}");
        clean(&log, TS0 + 100);
        assert_eq!(entries(&log), txns);
    }
}
