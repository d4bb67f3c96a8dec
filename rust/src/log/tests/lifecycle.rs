//! Flushing, the recovery point, rolling, config updates and closing.

use super::util::*;
use crate::error::Error;
use crate::log::{now_ms, Log, LogConfig};

#[test]
fn flush_messages_fsyncs_on_append() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        flush_messages: Some(5),
        ..small_config()
    };
    let log = open(dir.path(), config);
    for _ in 0..4 {
        append(&log, &simple(1, TS0, 1));
    }
    assert_eq!(log.recovery_point(), 0);
    append(&log, &simple(1, TS0, 1));
    assert_eq!(log.recovery_point(), 5);
    assert!(!log.maybe_flush(now_ms()).unwrap());
}

#[test]
fn maybe_flush_by_time_and_after_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        flush_ms: Some(10_000),
        ..small_config()
    };
    let log = open(dir.path(), config);
    append(&log, &simple(3, TS0, 1));
    let now = now_ms();
    assert!(!log.maybe_flush(now).unwrap());
    assert!(log.maybe_flush(now + 20_000).unwrap());
    assert_eq!(log.recovery_point(), 3);

    // Without flush settings, rolled segments are still flushed (Kafka does it in the
    // background after a roll), but not the active one.
    log.update_config(small_config()).unwrap();
    append(&log, &simple(2, TS0, 1));
    log.roll(TS0).unwrap();
    append(&log, &simple(2, TS0, 1));
    assert!(log.maybe_flush(now).unwrap());
    assert_eq!(log.recovery_point(), 5);
    assert!(!log.maybe_flush(now).unwrap());
    log.flush().unwrap();
    assert_eq!(log.recovery_point(), 7);
}

#[test]
fn roll_is_a_no_op_on_an_empty_segment() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    log.roll(TS0).unwrap();
    assert_eq!(log.segments().unwrap().len(), 1);
    append(&log, &simple(2, TS0, 1));
    log.roll(TS0).unwrap();
    log.roll(TS0).unwrap();
    let segments = log.segments().unwrap();
    assert_eq!(segments.len(), 2);
    assert_eq!(segments[1].base_offset, 2);
    assert!(segments[1].is_active && !segments[0].is_active);
    assert_eq!(segments[0].max_timestamp, TS0 + 1);
}

#[test]
fn closed_logs_refuse_work() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    append(&log, &simple(1, TS0, 1));
    let fetch = log.read(0, 1000, None, true).unwrap();
    log.close().unwrap();
    log.close().unwrap();
    assert!(log.is_closed());
    assert!(matches!(log.read(0, 10, None, true), Err(Error::Closed)));
    assert!(matches!(
        log.append(&simple(1, TS0, 1), 0, TS0, crate::log::AppendOrigin::Client),
        Err(Error::Closed)
    ));
    assert!(matches!(log.truncate_to(0, TS0), Err(Error::Closed)));
    assert!(matches!(log.flush(), Err(Error::Closed)));
    // Regions handed out before the close still read.
    assert_eq!(parse_all(&fetch.read_to_vec().unwrap()).len(), 1);
    // Offsets stay readable for the broker's bookkeeping.
    assert_eq!(log.log_end_offset(), 1);
}

#[test]
fn invalid_configs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bad = LogConfig {
        segment_bytes: 1,
        ..small_config()
    };
    assert!(matches!(
        Log::open(dir.path(), bad.clone(), 0, None),
        Err(Error::InvalidConfig(_))
    ));
    let log = open(dir.path(), small_config());
    assert!(log.update_config(bad).is_err());
    assert_eq!(log.config(), small_config());
}

#[test]
fn a_full_index_rolls_the_segment() {
    let dir = tempfile::tempdir().unwrap();
    // Room for 3 offset entries and 2 time entries (one of them reserved for the roll entry);
    // with no interval every batch after a segment's first gets an entry.
    let config = LogConfig {
        segment_index_bytes: 24,
        index_interval_bytes: 0,
        ..small_config()
    };
    let log = open(dir.path(), config);
    for i in 0..10 {
        append(&log, &simple(1, TS0 + i, 10));
    }
    let segments = segment_batches(&log);
    assert_eq!(segments.len(), 5);
    with_segments(&log, |s| {
        for (base, batches) in &segments {
            assert_eq!(batches.len(), 2);
            let seg = s.floor(*base).unwrap();
            assert_eq!(seg.offset_index_entries().len(), 1);
            assert!(seg.time_index_entries().len() <= 2);
        }
    });
    assert_eq!(parse_all(&read_all(&log)).len(), 10);
}

#[test]
fn recovery_starts_at_the_segment_holding_the_recovery_point() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    fill(&log, 100, &mut Rng(51));
    let bases: Vec<i64> = log
        .segments()
        .unwrap()
        .iter()
        .map(|s| s.base_offset)
        .collect();
    let leo = log.log_end_offset();
    log.close().unwrap();
    for (k, base) in bases.iter().enumerate() {
        let log = Log::open(dir.path(), small_config(), base + 1, None).unwrap();
        assert_eq!(log.load_stats().recovered_segments, bases.len() - k);
        assert_eq!(log.log_end_offset(), leo);
        log.close().unwrap();
    }
}
