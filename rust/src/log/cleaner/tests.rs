//! Cleaner tests: latest value per key with offsets unchanged, every codec, tombstone expiry by
//! delete horizon, compaction lag, a small dedupe buffer, retention left alone, and a crash
//! after every step of the swap.

use std::collections::BTreeMap;
use std::path::Path;

use super::CleanerOptions;
use crate::log::{AppendOrigin, Log, LogConfig};
use crate::record::batch::BatchView;
use crate::record::builder::{BatchBuilder, BatchOptions};
use crate::record::header::{self, Compression, Framed};

pub(super) const TS0: i64 = 1_700_000_000_000;
pub(super) const RETENTION: i64 = 10_000;

pub(super) type Rec = (i64, Vec<u8>, Option<Vec<u8>>);

pub(super) fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 2048,
        segment_index_bytes: 1024,
        index_interval_bytes: 200,
        retention_ms: None,
        message_timestamp_after_max_ms: None,
        cleanup_compact: true,
        cleanup_delete: false,
        delete_retention_ms: RETENTION,
        ..LogConfig::default()
    }
}

pub(super) fn produce(
    log: &Log,
    entries: &[(String, Option<String>)],
    codec: Compression,
    ts: i64,
) {
    let mut b = BatchBuilder::new(BatchOptions {
        compression: codec,
        ..Default::default()
    })
    .unwrap();
    for (k, v) in entries {
        b.append(
            ts,
            Some(k.as_bytes()),
            v.as_ref().map(|v| v.as_bytes()),
            &[],
        )
        .unwrap();
    }
    log.append(&b.build().unwrap(), 0, ts, AppendOrigin::Client)
        .unwrap();
}

/// `rounds` updates of `keys` keys, 5 records a batch, values "k<key>-v<round>".
pub(super) fn fill(log: &Log, keys: usize, rounds: usize, codec: Compression) {
    let mut pending = Vec::new();
    for round in 0..rounds {
        for key in 0..keys {
            pending.push((
                format!("k{key}"),
                Some(format!("k{key}-v{round}-{}", "x".repeat(20))),
            ));
            if pending.len() == 5 {
                produce(log, &pending, codec, TS0 + round as i64);
                pending.clear();
            }
        }
    }
    if !pending.is_empty() {
        produce(log, &pending, codec, TS0 + rounds as i64);
    }
}

/// Every record from the log start, each batch's CRC checked.
pub(super) fn records(log: &Log) -> Vec<Rec> {
    let bytes = log
        .read_batch_bytes(log.log_start_offset(), u64::MAX, None)
        .unwrap();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let Framed::Batch(h) = header::next_batch(&bytes[pos..], 0).unwrap() else {
            panic!("torn batch at {pos}");
        };
        let view = BatchView::parse(&bytes[pos..], pos as u64).unwrap();
        view.verify_crc().unwrap();
        for r in view.records().unwrap() {
            out.push((r.offset, r.key.unwrap(), r.value));
        }
        pos += h.total_size();
    }
    out
}

fn latest(recs: &[Rec]) -> BTreeMap<Vec<u8>, (i64, Option<Vec<u8>>)> {
    recs.iter()
        .map(|(o, k, v)| (k.clone(), (*o, v.clone())))
        .collect()
}

/// What a correct clean leaves: a subset of the original records at their original offsets,
/// offsets strictly increasing, and the latest record of every key.
fn check_consistent(before: &[Rec], after: &[Rec]) {
    let original: BTreeMap<i64, &Rec> = before.iter().map(|r| (r.0, r)).collect();
    for pair in after.windows(2) {
        assert!(pair[0].0 < pair[1].0, "offsets not increasing: {pair:?}");
    }
    for r in after {
        assert_eq!(original.get(&r.0), Some(&r), "record at {} changed", r.0);
    }
    let kept = latest(after);
    for (k, (o, v)) in latest(before) {
        assert_eq!(kept.get(&k), Some(&(o, v)), "latest of {k:?} lost");
    }
}

pub(super) fn open(dir: &Path) -> Log {
    Log::open(dir, config(), 0, None).unwrap()
}

#[test]
fn keeps_the_latest_record_per_key_at_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    fill(&log, 20, 10, Compression::None);
    log.roll(TS0).unwrap();
    let before = records(&log);
    let (leo, size) = (log.log_end_offset(), log.size_in_bytes());
    let info = log.cleanable_info(None, None, TS0 + 100).unwrap();
    assert_eq!(info.clean_bytes, 0);
    assert!(info.dirty_ratio > 0.99, "{info:?}");
    let stats = log
        .clean(None, &CleanerOptions::default(), TS0 + 100)
        .unwrap();
    let after = records(&log);
    check_consistent(&before, &after);
    assert_eq!(after.len(), 20, "one record per key: {after:?}");
    assert_eq!(stats.end_offset, leo);
    assert_eq!(stats.keys_mapped, 20);
    assert!(!stats.aborted);
    assert_eq!(log.log_end_offset(), leo);
    assert!(
        log.size_in_bytes() < size / 4,
        "{} of {size}",
        log.size_in_bytes()
    );
    let again = log
        .cleanable_info(Some(stats.end_offset), None, TS0 + 100)
        .unwrap();
    assert_eq!(again.cleanable_bytes, 0);
    // The cleaned segments' indexes are the ones a rebuild from the log makes, they reopen
    // as sane, and reads by offset still work.
    let indexes = |log: &Log| -> Vec<_> {
        let st = log.state.read();
        st.segments
            .iter()
            .map(|s| (s.offset_index_entries(), s.time_index_entries()))
            .collect()
    };
    let written = indexes(&log);
    assert!(written.iter().any(|(o, _)| !o.is_empty()), "{written:?}");
    log.close().unwrap();
    // Trusted (as after a clean shutdown): the written indexes pass the sanity checks.
    let log = Log::open(dir.path(), config(), i64::MAX, None).unwrap();
    assert_eq!(log.load_stats().rebuilt_indexes, 0);
    assert_eq!(log.load_stats().recovered_segments, 0);
    assert_eq!(indexes(&log), written);
    log.close().unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_some_and(|e| e == "index" || e == "timeindex")
        {
            std::fs::remove_file(path).unwrap();
        }
    }
    let log = open(dir.path());
    assert!(log.load_stats().rebuilt_indexes > 0);
    assert_eq!(indexes(&log), written);
    assert_eq!(records(&log), after);
    let last = after.last().unwrap();
    let tail = log.read_batch_bytes(last.0, u64::MAX, None).unwrap();
    assert!(!tail.is_empty());
}

#[test]
fn compressed_batches_keep_their_codec() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        fill(&log, 7, 12, codec);
        log.roll(TS0).unwrap();
        let before = records(&log);
        log.clean(None, &CleanerOptions::default(), TS0 + 100)
            .unwrap();
        let after = records(&log);
        check_consistent(&before, &after);
        assert_eq!(after.len(), 7, "{codec:?}");
        for s in log.segments().unwrap() {
            let bytes = std::fs::read(&s.path).unwrap();
            let mut pos = 0;
            while pos < bytes.len() {
                let h = header::BatchHeader::parse(&bytes[pos..], 0).unwrap();
                assert_eq!(h.compression().unwrap(), codec);
                pos += h.total_size();
            }
        }
    }
}

#[test]
fn tombstones_stay_until_their_delete_horizon_passes() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    fill(&log, 10, 6, Compression::None);
    produce(&log, &[("k3".into(), None)], Compression::None, TS0 + 50);
    log.roll(TS0).unwrap();
    let t1 = TS0 + 1_000;
    let s1 = log.clean(None, &CleanerOptions::default(), t1).unwrap();
    let after = records(&log);
    let tomb = after.iter().find(|r| r.1 == b"k3").unwrap();
    assert_eq!(tomb.2, None, "only the tombstone of k3 is left");
    assert_eq!(after.iter().filter(|r| r.1 == b"k3").count(), 1);
    // Its batch carries the delete horizon t1 + delete.retention.ms.
    let bytes = log.read_batch_bytes(tomb.0, u64::MAX, None).unwrap();
    let h = header::BatchHeader::parse(&bytes, 0).unwrap();
    assert!(h.has_delete_horizon());
    assert_eq!(h.base_timestamp, t1 + RETENTION);
    // A record's timestamp is still its own.
    let view = BatchView::parse(&bytes, 0).unwrap();
    assert_eq!(view.records().unwrap()[0].timestamp, TS0 + 50);
    // New dirty data; a clean before the horizon keeps the tombstone, one after drops it.
    fill(&log, 2, 2, Compression::None);
    log.roll(TS0).unwrap();
    let s2 = log
        .clean(
            Some(s1.end_offset),
            &CleanerOptions::default(),
            t1 + RETENTION - 1,
        )
        .unwrap();
    assert!(records(&log).iter().any(|r| r.1 == b"k3"));
    fill(&log, 2, 2, Compression::None);
    log.roll(TS0).unwrap();
    log.clean(
        Some(s2.end_offset),
        &CleanerOptions::default(),
        // Kafka keeps a tombstone while now < horizon: at the horizon it goes.
        t1 + RETENTION,
    )
    .unwrap();
    let last = records(&log);
    assert!(!last.iter().any(|r| r.1 == b"k3"), "{last:?}");
    assert_eq!(latest(&last).len(), 9);
}

#[test]
fn young_segments_wait_for_min_compaction_lag() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(
        dir.path(),
        LogConfig {
            min_compaction_lag_ms: 60_000,
            ..config()
        },
        0,
        None,
    )
    .unwrap();
    fill(&log, 5, 20, Compression::None);
    log.roll(TS0).unwrap();
    let info = log.cleanable_info(None, None, TS0 + 1_000).unwrap();
    assert_eq!(info.first_uncleanable_offset, 0);
    let stats = log
        .clean(None, &CleanerOptions::default(), TS0 + 1_000)
        .unwrap();
    assert_eq!((stats.end_offset, stats.segments_cleaned), (0, 0));
    let info = log.cleanable_info(None, None, TS0 + 61_000).unwrap();
    assert_eq!(info.first_uncleanable_offset, log.log_end_offset());
}

#[test]
fn max_compaction_lag_forces_a_clean() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        max_compaction_lag_ms: Some(5_000),
        ..config()
    };
    let log = Log::open(dir.path(), cfg, 0, None).unwrap();
    fill(&log, 5, 4, Compression::None);
    log.roll(TS0).unwrap();
    assert!(
        !log.cleanable_info(None, None, TS0 + 1_000)
            .unwrap()
            .needs_compaction_now
    );
    assert!(
        log.cleanable_info(None, None, TS0 + 6_000)
            .unwrap()
            .needs_compaction_now
    );
}

#[test]
fn a_small_dedupe_buffer_cleans_in_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    fill(&log, 40, 5, Compression::None);
    log.roll(TS0).unwrap();
    let before = records(&log);
    let opts = CleanerOptions {
        dedupe_buffer_bytes: 12 * (3 + super::ENTRY_OVERHEAD_BYTES),
        ..Default::default()
    };
    let mut checkpoint = None;
    for round in 0.. {
        assert!(round < 100, "cleaning never finished");
        let stats = log.clean(checkpoint, &opts, TS0 + 100).unwrap();
        assert!(stats.keys_mapped <= 12);
        if Some(stats.end_offset) == checkpoint {
            break;
        }
        checkpoint = Some(stats.end_offset);
    }
    assert_eq!(checkpoint, Some(log.log_end_offset()));
    let after = records(&log);
    check_consistent(&before, &after);
    // A key's updates that never shared a round with its latest one may remain.
    assert!(after.len() < before.len());
    let tiny = CleanerOptions {
        dedupe_buffer_bytes: 10,
        ..Default::default()
    };
    fill(&log, 3, 1, Compression::None);
    log.roll(TS0).unwrap();
    assert!(log.clean(checkpoint, &tiny, TS0 + 100).is_err());
}

#[test]
fn retention_leaves_compact_only_logs_alone() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        retention_ms: Some(1),
        retention_bytes: Some(1),
        ..config()
    };
    let log = Log::open(dir.path(), cfg.clone(), 0, None).unwrap();
    fill(&log, 10, 10, Compression::None);
    log.roll(TS0).unwrap();
    let n = log.segments().unwrap().len();
    assert_eq!(log.delete_old_segments(TS0 + 1_000_000).unwrap(), 0);
    assert_eq!(log.segments().unwrap().len(), n);
    log.update_config(LogConfig {
        cleanup_delete: true,
        ..cfg
    })
    .unwrap();
    assert_eq!(log.delete_old_segments(TS0 + 1_000_000).unwrap(), n - 1);
}

#[test]
fn a_crash_after_any_swap_step_leaves_a_consistent_log() {
    let mut expected_final = None;
    for step in 0..=5u8 {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        fill(&log, 15, 8, Compression::Lz4);
        log.roll(TS0).unwrap();
        log.flush().unwrap();
        let before = records(&log);
        let opts = CleanerOptions {
            crash_after_step: (step > 0).then_some(step),
            ..Default::default()
        };
        let result = log.clean(None, &opts, TS0 + 100);
        assert_eq!(result.is_err(), step > 0, "step {step}");
        drop(log); // the crash: no close
        let log = open(dir.path());
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(
            !names.iter().any(|n| n.ends_with(".swap")
                || n.ends_with(".cleaned")
                || n.ends_with(".deleted")
                || n == super::swap::SCRATCH_DIR),
            "step {step}: {names:?}"
        );
        let recovered = records(&log);
        check_consistent(&before, &recovered);
        log.clean(None, &CleanerOptions::default(), TS0 + 100)
            .unwrap();
        let cleaned = records(&log);
        check_consistent(&before, &cleaned);
        match &expected_final {
            None => expected_final = Some(cleaned),
            Some(e) => assert_eq!(&cleaned, e, "step {step}"),
        }
    }
}

/// Every batch header of the log, from its start.
pub(super) fn headers(log: &Log) -> Vec<header::BatchHeader> {
    let bytes = log
        .read_batch_bytes(log.log_start_offset(), u64::MAX, None)
        .unwrap();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let view = BatchView::parse(&bytes[pos..], pos as u64).unwrap();
        view.verify_crc().unwrap();
        out.push(view.header);
        pos += view.header.total_size();
    }
    out
}

#[test]
fn an_idempotent_producers_last_batch_stays_empty() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    for (i, seq) in [0, 5, 10].into_iter().enumerate() {
        let mut b = BatchBuilder::new(BatchOptions {
            compression: Compression::Gzip,
            producer_id: 7,
            producer_epoch: 2,
            base_sequence: seq,
            ..Default::default()
        })
        .unwrap();
        for k in 0..5 {
            b.append(
                TS0 + i as i64,
                Some(format!("k{k}").as_bytes()),
                Some(b"p"),
                &[],
            )
            .unwrap();
        }
        log.append(&b.build().unwrap(), 0, TS0, AppendOrigin::Client)
            .unwrap();
    }
    let entries: Vec<(String, Option<String>)> = (0..5)
        .map(|k| (format!("k{k}"), Some("new".into())))
        .collect();
    produce(&log, &entries, Compression::None, TS0 + 9);
    log.roll(TS0).unwrap();
    let stats = log
        .clean(None, &CleanerOptions::default(), TS0 + 100)
        .unwrap();
    let of_producer: Vec<_> = headers(&log)
        .into_iter()
        .filter(|h| h.producer_id == 7)
        .collect();
    assert_eq!(of_producer.len(), 1, "{of_producer:?}");
    let h = of_producer[0];
    assert_eq!(
        (h.base_offset, h.last_offset_delta, h.record_count),
        (10, 4, 0)
    );
    assert_eq!(
        (h.producer_epoch, h.base_sequence, h.max_timestamp),
        (2, 10, TS0 + 2)
    );
    assert_eq!(h.compression().unwrap(), Compression::None);
    assert_eq!(records(&log).len(), 5);
    // Cleaning again leaves the empty batch as it is.
    fill(&log, 1, 1, Compression::None);
    log.roll(TS0).unwrap();
    log.clean(
        Some(stats.end_offset),
        &CleanerOptions::default(),
        TS0 + 100,
    )
    .unwrap();
    assert!(headers(&log).contains(&h));
    // Once the producer writes again, the empty batch is no longer its last and goes.
    let mut b = BatchBuilder::new(BatchOptions {
        producer_id: 7,
        producer_epoch: 2,
        base_sequence: 15,
        ..Default::default()
    })
    .unwrap();
    b.append(TS0, Some(b"k9"), Some(b"p"), &[]).unwrap();
    log.append(&b.build().unwrap(), 0, TS0, AppendOrigin::Client)
        .unwrap();
    log.roll(TS0).unwrap();
    log.clean(None, &CleanerOptions::default(), TS0 + 100)
        .unwrap();
    assert!(!headers(&log).iter().any(|x| x.record_count == 0));
}

#[test]
fn appends_and_reads_go_on_while_cleaning() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::sync::Arc::new(open(dir.path()));
    fill(&log, 30, 20, Compression::Zstd);
    log.roll(TS0).unwrap();
    let writer = {
        let log = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            for i in 0..200 {
                let e = vec![(format!("w{}", i % 7), Some(format!("w-{i}")))];
                produce(&log, &e, Compression::None, TS0 + 1);
                if i % 50 == 0 {
                    log.roll(TS0).unwrap();
                }
            }
        })
    };
    let mut checkpoint = None;
    for _ in 0..20 {
        let stats = log
            .clean(checkpoint, &CleanerOptions::default(), TS0 + 100)
            .unwrap();
        checkpoint = Some(stats.end_offset);
        let recs = records(&log);
        for pair in recs.windows(2) {
            assert!(pair[0].0 < pair[1].0);
        }
    }
    writer.join().unwrap();
    log.roll(TS0).unwrap();
    log.clean(checkpoint, &CleanerOptions::default(), TS0 + 100)
        .unwrap();
    let last = latest(&records(&log));
    for i in 193..200 {
        let want = format!("w-{i}").into_bytes();
        assert_eq!(
            last[format!("w{}", i % 7).as_bytes()].1.as_deref(),
            Some(&want[..])
        );
    }
    assert_eq!(last.len(), 30 + 7);
}

#[test]
fn concurrent_cleans_of_one_log_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::sync::Arc::new(open(dir.path()));
    fill(&log, 20, 10, Compression::Gzip);
    log.roll(TS0).unwrap();
    let before = records(&log);
    let cleaners: Vec<_> = (0..4)
        .map(|_| {
            let log = std::sync::Arc::clone(&log);
            std::thread::spawn(move || {
                log.clean(None, &CleanerOptions::default(), TS0 + 100)
                    .unwrap()
            })
        })
        .collect();
    for c in cleaners {
        assert!(!c.join().unwrap().aborted);
    }
    let after = records(&log);
    check_consistent(&before, &after);
    assert_eq!(after.len(), 20);
    drop(log);
    let log = open(dir.path());
    assert_eq!(records(&log), after);
}

#[test]
fn max_compaction_lag_rolls_the_active_segment() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_bytes: 1 << 20,
        max_compaction_lag_ms: Some(1_000),
        ..config()
    };
    let log = Log::open(dir.path(), cfg.clone(), 0, None).unwrap();
    let e = vec![("k".to_string(), Some("v".to_string()))];
    produce(&log, &e, Compression::None, TS0);
    produce(&log, &e, Compression::None, TS0 + 500);
    assert_eq!(log.segments().unwrap().len(), 1);
    produce(&log, &e, Compression::None, TS0 + 1_500);
    assert_eq!(
        log.segments().unwrap().len(),
        2,
        "rolled once the lag passed"
    );
    // Not for a log that is not compacted: segment.ms (7 days) rules.
    let plain = tempfile::tempdir().unwrap();
    let log = Log::open(
        plain.path(),
        LogConfig {
            cleanup_compact: false,
            cleanup_delete: true,
            ..cfg
        },
        0,
        None,
    )
    .unwrap();
    produce(&log, &e, Compression::None, TS0);
    produce(&log, &e, Compression::None, TS0 + 1_500);
    assert_eq!(log.segments().unwrap().len(), 1);
}

#[test]
fn a_rewritten_batch_keeps_its_last_offset() {
    // Kafka's overrideLastOffset: the batch [0, 2] loses its last record, not its offsets.
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path());
    let e = |keys: &[&str]| -> Vec<(String, Option<String>)> {
        keys.iter()
            .map(|k| (k.to_string(), Some("v".to_string())))
            .collect()
    };
    produce(&log, &e(&["k0", "k1", "k2"]), Compression::Gzip, TS0);
    produce(&log, &e(&["k2"]), Compression::None, TS0);
    log.roll(TS0).unwrap();
    log.clean(None, &CleanerOptions::default(), TS0 + 100)
        .unwrap();
    let h = headers(&log)[0];
    assert_eq!((h.base_offset, h.last_offset(), h.record_count), (0, 2, 2));
    assert_eq!(records(&log).len(), 3);
}
