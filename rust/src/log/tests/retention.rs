//! Retention by time and by size, DeleteRecords, and regions outliving their segment.

use super::util::*;
use crate::error::Error;
use crate::log::{Log, LogConfig};

/// A log of `segments` closed segments plus the active one; segment i holds three batches
/// whose timestamps end at TS0 + i * 1000.
fn aged_log(dir: &std::path::Path, config: LogConfig, segments: i64) -> Log {
    let log = open(dir, config);
    for i in 0..=segments {
        for j in 0..3 {
            append(&log, &batch(0, &[TS0 + i * 1000 - 2 + j], 100));
        }
        if i < segments {
            log.roll(TS0).unwrap();
        }
    }
    log
}

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn retention_by_time_deletes_old_closed_segments() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_ms: Some(2500),
        ..small_config()
    };
    let log = aged_log(dir.path(), config, 6);
    assert_eq!(log.segments().unwrap().len(), 7);
    // Segment i is older than 2500 ms at TS0 + 5000 when TS0 + i*1000 < TS0 + 2500: i <= 2.
    assert_eq!(log.delete_old_segments(TS0 + 5000).unwrap(), 3);
    let bases: Vec<i64> = log
        .segments()
        .unwrap()
        .iter()
        .map(|s| s.base_offset)
        .collect();
    assert_eq!(bases, [9, 12, 15, 18]);
    assert_eq!(log.log_start_offset(), 9);
    assert!(matches!(
        log.read(8, 100, None, true),
        Err(Error::OffsetOutOfRange { .. })
    ));
    assert!(!files(dir.path())
        .iter()
        .any(|f| f.starts_with("00000000000000000000")));
    assert_eq!(log.delete_old_segments(TS0 + 5000).unwrap(), 0);
    // Even when everything is old, the active segment stays.
    assert_eq!(log.delete_old_segments(TS0 + 1_000_000).unwrap(), 3);
    assert_eq!(log.segments().unwrap().len(), 1);
    assert_eq!(log.log_start_offset(), 18);
    assert_eq!(log.log_end_offset(), 21);
}

#[test]
fn retention_by_time_uses_mtime_without_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_ms: Some(60_000),
        ..small_config()
    };
    let log = open(dir.path(), config);
    append(&log, &batch(0, &[-1], 10));
    log.roll(TS0).unwrap();
    append(&log, &batch(0, &[-1], 10));
    let now = crate::log::now_ms();
    assert_eq!(log.delete_old_segments(now).unwrap(), 0);
    assert_eq!(log.delete_old_segments(now + 120_000).unwrap(), 1);
}

#[test]
fn retention_by_bytes_keeps_the_newest_data() {
    let dir = tempfile::tempdir().unwrap();
    let log = aged_log(dir.path(), small_config(), 6);
    let sizes: Vec<u64> = log
        .segments()
        .unwrap()
        .iter()
        .map(|s| s.size_in_bytes)
        .collect();
    let total: u64 = sizes.iter().sum();
    let retention = total - sizes[0] - sizes[1] - sizes[2] / 2;
    log.update_config(LogConfig {
        retention_bytes: Some(retention),
        ..small_config()
    })
    .unwrap();
    // Segments go while the excess over the limit is at least their size: after two, the
    // excess is half a segment, so the third stays and the log remains over the limit.
    assert_eq!(log.delete_old_segments(TS0).unwrap(), 2);
    assert_eq!(log.log_start_offset(), 6);
    assert!(log.size_in_bytes() > retention);
    assert!(log.size_in_bytes() - retention < sizes[2]);
}

#[test]
fn advancing_the_log_start_deletes_segments_wholly_below() {
    let dir = tempfile::tempdir().unwrap();
    let log = aged_log(dir.path(), small_config(), 4);
    log.advance_log_start_offset(7).unwrap();
    assert_eq!(log.log_start_offset(), 7);
    let bases: Vec<i64> = log
        .segments()
        .unwrap()
        .iter()
        .map(|s| s.base_offset)
        .collect();
    assert_eq!(bases, [6, 9, 12]);
    // Reading at the start returns the batch holding it.
    let got = parse_all(&log.read_batch_bytes(7, 1, None).unwrap());
    assert_eq!(got[0].1.base_offset, 7);
    assert!(log.read(6, 100, None, true).is_err());
    log.advance_log_start_offset(3).unwrap(); // never goes back
    assert_eq!(log.log_start_offset(), 7);
    assert!(matches!(
        log.advance_log_start_offset(16),
        Err(Error::OffsetOutOfRange { .. })
    ));
    log.advance_log_start_offset(15).unwrap();
    assert_eq!(log.segments().unwrap().len(), 1);
    assert!(log.read(15, 100, None, true).unwrap().regions.is_empty());
}

#[test]
fn regions_outlive_deleted_segments() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_ms: Some(0),
        ..small_config()
    };
    let log = aged_log(dir.path(), config, 2);
    let fetch = log.read(0, 100_000, None, true).unwrap();
    let before = fetch.read_to_vec().unwrap();
    assert_eq!(log.delete_old_segments(TS0 + 10_000).unwrap(), 2);
    assert_eq!(fetch.read_to_vec().unwrap(), before);
    assert_eq!(parse_all(&before).len(), 9);
}
