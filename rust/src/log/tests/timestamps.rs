//! Timestamp lookups (ListOffsets), LogAppendTime and time-based rolls.

use super::util::*;
use crate::index::TimestampOffset;
use crate::log::{AppendOrigin, LogConfig};
use crate::record::header::{TimestampType, NO_TIMESTAMP};

/// Append batches whose record timestamps jump around (including going back in time);
/// returns every record as (offset, timestamp).
fn fill_with_jumpy_timestamps(log: &crate::log::Log, batches: usize) -> Vec<(i64, i64)> {
    let mut rng = Rng(5);
    let mut records = Vec::new();
    for _ in 0..batches {
        let count = 1 + rng.below(6) as usize;
        let ts: Vec<i64> = (0..count)
            .map(|_| TS0 + rng.below(100_000) as i64)
            .collect();
        let info = append(log, &batch(0, &ts, rng.below(150) as usize));
        for (i, t) in ts.iter().enumerate() {
            records.push((info.first_offset + i as i64, *t));
        }
    }
    records
}

fn first_at_or_after(
    records: &[(i64, i64)],
    target: i64,
    min_offset: i64,
) -> Option<TimestampOffset> {
    records
        .iter()
        .find(|(o, t)| *t >= target && *o >= min_offset)
        .map(|&(offset, timestamp)| TimestampOffset { timestamp, offset })
}

#[test]
fn offset_for_timestamp_matches_brute_force() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    let records = fill_with_jumpy_timestamps(&log, 300);
    assert!(log.segments().unwrap().len() > 10);
    let mut rng = Rng(17);
    for _ in 0..2000 {
        let target = TS0 - 10 + rng.below(100_020) as i64;
        assert_eq!(
            log.offset_for_timestamp(target).unwrap(),
            first_at_or_after(&records, target, 0),
            "target {target}"
        );
    }
    assert_eq!(log.offset_for_timestamp(TS0 + 200_000).unwrap(), None);

    // Records below the log start offset are not answers.
    let start = records[records.len() / 2].0;
    log.advance_log_start_offset(start).unwrap();
    for _ in 0..500 {
        let target = TS0 + rng.below(100_000) as i64;
        assert_eq!(
            log.offset_for_timestamp(target).unwrap(),
            first_at_or_after(&records, target, start),
            "target {target} from {start}"
        );
    }
}

#[test]
fn offset_for_max_timestamp_finds_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    assert_eq!(log.offset_for_max_timestamp().unwrap(), None);
    let records = fill_with_jumpy_timestamps(&log, 200);
    let max = records.iter().map(|r| r.1).max().unwrap();
    let want = first_at_or_after(&records, max, 0);
    assert_eq!(log.offset_for_max_timestamp().unwrap(), want);
    // It survives a reopen (largest timestamps come back from the time indexes).
    let rp = log.log_end_offset();
    log.close().unwrap();
    let log = crate::log::Log::open(dir.path(), small_config(), rp, None).unwrap();
    assert_eq!(log.offset_for_max_timestamp().unwrap(), want);
}

#[test]
fn records_without_timestamps_have_no_max() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    append(&log, &batch(0, &[NO_TIMESTAMP, NO_TIMESTAMP], 5));
    assert_eq!(log.offset_for_max_timestamp().unwrap(), None);
    assert_eq!(log.offset_for_timestamp(0).unwrap(), None);
}

#[test]
fn log_append_time_stamps_the_broker_clock() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        message_timestamp_type: TimestampType::LogAppendTime,
        ..small_config()
    };
    let log = open(dir.path(), config);
    let now = TS0 + 5000;
    let info = log
        .append(&simple(3, TS0, 5), 0, now, AppendOrigin::Client)
        .unwrap();
    assert_eq!(info.log_append_time, now);
    assert_eq!(info.max_timestamp, now);
    log.append(&simple(2, TS0, 5), 0, now + 10, AppendOrigin::Client)
        .unwrap();
    let (_, h) = parse_all(&read_all(&log))[0];
    assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(
        log.offset_for_timestamp(now + 1).unwrap(),
        Some(TimestampOffset {
            timestamp: now + 10,
            offset: 3
        })
    );
    assert_eq!(
        log.offset_for_max_timestamp().unwrap(),
        Some(TimestampOffset {
            timestamp: now + 10,
            offset: 3
        })
    );
}

#[test]
fn compressed_batches_answer_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    let gzip = 1;
    let info = append(
        &log,
        &batch_with(0, &[TS0 + 10, TS0 + 20, TS0 + 30], 5, gzip),
    );
    assert_eq!(info.first_offset, 0);
    // The first record qualifies.
    assert_eq!(
        log.offset_for_timestamp(TS0 + 5).unwrap(),
        Some(TimestampOffset {
            timestamp: TS0 + 10,
            offset: 0
        })
    );
    // A later record qualifies: the batch is inflated and the exact record returned.
    assert_eq!(
        log.offset_for_timestamp(TS0 + 25).unwrap(),
        Some(TimestampOffset {
            timestamp: TS0 + 30,
            offset: 2
        })
    );
}

#[test]
fn segments_roll_by_age() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_ms: 1000,
        ..small_config()
    };
    let log = open(dir.path(), config);
    append(&log, &batch(0, &[TS0], 1));
    append(&log, &batch(0, &[TS0 + 1000], 1)); // exactly segment_ms old: no roll
    assert_eq!(log.segments().unwrap().len(), 1);
    append(&log, &batch(0, &[TS0 + 1001], 1));
    assert_eq!(log.segments().unwrap().len(), 2);
    assert_eq!(log.segments().unwrap()[1].base_offset, 2);

    // Without record timestamps the segment's age counts from its creation.
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_ms: 1000,
        ..small_config()
    };
    let log = crate::log::Log::open(dir.path(), config, 0, None).unwrap();
    let created = log.segments().unwrap()[0].base_offset;
    assert_eq!(created, 0);
    let now = crate::log::now_ms();
    let none = batch(0, &[NO_TIMESTAMP], 1);
    log.append(&none, 0, now, AppendOrigin::Client).unwrap();
    log.append(&none, 0, now + 500, AppendOrigin::Client)
        .unwrap();
    assert_eq!(log.segments().unwrap().len(), 1);
    log.append(&none, 0, now + 60_000, AppendOrigin::Client)
        .unwrap();
    assert_eq!(log.segments().unwrap().len(), 2);
}
