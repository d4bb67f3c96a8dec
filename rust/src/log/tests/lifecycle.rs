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
