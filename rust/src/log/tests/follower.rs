//! Follower appends: offsets come from the leader and must follow the log.

use super::util::*;
use crate::error::Error;
use crate::index::MAX_RELATIVE_OFFSET;
use crate::log::Log;

#[test]
fn a_follower_copies_the_leader_byte_for_byte() {
    let (ld, fd) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let leader = open(ld.path(), small_config());
    let follower = open(fd.path(), small_config());
    fill(&leader, 150, &mut Rng(41));
    // Fetch in chunks as a replica fetcher does.
    while follower.log_end_offset() < leader.log_end_offset() {
        let chunk = leader
            .read_batch_bytes(follower.log_end_offset(), 1500, None)
            .unwrap();
        let info = follower.append_as_follower(&chunk, TS0).unwrap();
        assert_eq!(info.first_offset, parse_all(&chunk)[0].1.base_offset);
    }
    assert_eq!(read_all(&follower), read_all(&leader));
    assert_eq!(follower.log_end_offset(), leader.log_end_offset());
}

#[test]
fn follower_appends_below_the_log_end_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    log.append_as_follower(&batch(0, &[TS0, TS0], 5), TS0)
        .unwrap();
    assert_eq!(log.log_end_offset(), 2);
    assert!(matches!(
        log.append_as_follower(&batch(1, &[TS0], 5), TS0),
        Err(Error::InvalidOffset(_))
    ));
    // Batches inside one append must not overlap either.
    let mut overlapping = batch(2, &[TS0, TS0], 5);
    overlapping.extend(batch(3, &[TS0], 5));
    assert!(log.append_as_follower(&overlapping, TS0).is_err());
    assert_eq!(log.log_end_offset(), 2);
}

#[test]
fn follower_gaps_are_kept_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    log.append_as_follower(&batch(0, &[TS0], 5), TS0).unwrap();
    log.append_as_follower(&batch(10, &[TS0, TS0], 5), TS0)
        .unwrap();
    assert_eq!(log.log_end_offset(), 12);
    // Reading in the gap starts at the next batch.
    let got = parse_all(&log.read_batch_bytes(5, 1000, None).unwrap());
    assert_eq!(got[0].1.base_offset, 10);
    drop(log);
    let log = Log::open(dir.path(), small_config(), 0, None).unwrap();
    assert_eq!(log.log_end_offset(), 12);
    assert_eq!(append(&log, &simple(1, TS0, 1)).first_offset, 12);
}

#[test]
fn offsets_too_far_for_the_index_roll_a_new_segment() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    log.append_as_follower(&batch(0, &[TS0], 5), TS0).unwrap();
    let far = MAX_RELATIVE_OFFSET + 100;
    log.append_as_follower(&batch(far, &[TS0], 5), TS0).unwrap();
    let bases: Vec<i64> = log
        .segments()
        .unwrap()
        .iter()
        .map(|s| s.base_offset)
        .collect();
    assert_eq!(bases, [0, far]);
    assert_eq!(log.log_end_offset(), far + 1);
}
