//! Leader appends, reads across rolled segments, index lookups and read limits.

use std::sync::Arc;

use super::util::*;
use crate::error::Error;
use crate::log::segment::IOV_MAX;
use crate::log::{AppendOrigin, Log, LogConfig};
use crate::record::header::{self, BatchHeader, Compression};
use crate::record::validate::{validate_for_leader, PlannedBatch};

#[test]
fn append_assigns_offsets_and_stamps_the_leader_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    let first = log
        .append(&simple(3, TS0, 10), 7, TS0, AppendOrigin::Client)
        .unwrap();
    assert_eq!((first.first_offset, first.last_offset), (0, 2));
    assert_eq!(first.record_count, 3);
    // Two batches in one append get consecutive offsets and share one write.
    let mut two = simple(2, TS0 + 5, 4);
    two.extend(simple(4, TS0 + 1, 4));
    let second = log.append(&two, 8, TS0, AppendOrigin::Client).unwrap();
    assert_eq!((second.first_offset, second.last_offset), (3, 8));
    assert_eq!(second.batches.len(), 2);
    assert_eq!(second.max_timestamp, TS0 + 6);
    assert_eq!(second.offset_of_max_timestamp, 4);
    assert_eq!(log.log_end_offset(), 9);

    let all = read_all(&log);
    let batches = parse_all(&all);
    let got: Vec<(i64, i64, i32)> = batches
        .iter()
        .map(|(_, h)| (h.base_offset, h.last_offset(), h.partition_leader_epoch))
        .collect();
    assert_eq!(got, [(0, 2, 7), (3, 4, 8), (5, 8, 8)]);
    for (pos, h) in &batches {
        header::verify_crc(&all[*pos..*pos + h.total_size()], h, *pos as u64).unwrap();
    }
}

#[test]
fn batch_header_at_finds_the_batch_holding_an_offset() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        index_interval_bytes: 1,
        ..small_config()
    };
    let log = open(dir.path(), config);
    for epoch in 0..6 {
        log.append(
            &simple(3, TS0 + epoch as i64, 10),
            epoch,
            TS0,
            AppendOrigin::Client,
        )
        .unwrap();
        if epoch == 2 {
            log.roll(TS0).unwrap();
        }
    }
    assert!(log.segments().unwrap().len() >= 2);
    for offset in 0..18 {
        let h = log.batch_header_at(offset).unwrap().unwrap();
        let batch = offset / 3;
        assert_eq!((h.base_offset, h.last_offset()), (batch * 3, batch * 3 + 2));
        assert_eq!(h.partition_leader_epoch, batch as i32, "offset {offset}");
        assert_eq!(h.max_timestamp, TS0 + batch + 2);
    }
    assert_eq!(log.batch_header_at(18).unwrap(), None);
    assert_eq!(log.batch_header_at(-1).unwrap(), None);
    // Below the log start offset there is nothing; in the batch holding it, its header.
    log.advance_log_start_offset(4).unwrap();
    assert_eq!(log.batch_header_at(2).unwrap(), None);
    assert_eq!(log.batch_header_at(4).unwrap().unwrap().base_offset, 3);
    log.close().unwrap();
    assert!(matches!(log.batch_header_at(5), Err(Error::Closed)));
}

#[test]
fn restamping_moves_every_batch_and_keeps_crcs() {
    // A gzip batch kept as sent (a stamped header) and an uncompressed one rebuilt with gzip,
    // so that both kinds of planned batch are moved.
    let mut buf = batch_with(0, &[TS0, TS0 + 1], 3, 1);
    buf.extend(simple(3, TS0 + 9, 3));
    let config = LogConfig {
        compression_type: Some(Compression::Gzip),
        ..small_config()
    }
    .validation_config(TS0, false);
    let (mut summary, mut plan) = validate_for_leader(&buf, 5, 1, &config).unwrap();
    assert!(matches!(
        plan.batches[..],
        [PlannedBatch::Stamped { .. }, PlannedBatch::Rebuilt(_)]
    ));
    crate::log::log::restamp(&mut plan, &mut summary, 10);
    assert_eq!((summary.first_offset, summary.last_offset), (15, 19));
    assert_eq!(summary.offset_of_max_timestamp, 19);
    let buf = plan.to_vec();
    let batches = parse_all(&buf);
    let bases: Vec<i64> = batches.iter().map(|(_, h)| h.base_offset).collect();
    assert_eq!(bases, [15, 17]);
    for ((pos, h), b) in batches.iter().zip(&summary.batches) {
        assert_eq!(
            (b.base_offset, b.last_offset),
            (h.base_offset, h.last_offset())
        );
        header::verify_crc(&buf[*pos..*pos + h.total_size()], h, *pos as u64).unwrap();
    }
}

#[test]
fn an_append_of_more_buffers_than_one_pwritev_takes() {
    // Two buffers per kept batch: this append needs two pwritev calls.
    let count = IOV_MAX / 2 + 188;
    let mut records = Vec::new();
    for i in 0..count {
        records.extend(simple(1 + i % 3, TS0 + i as i64, i % 50));
    }
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), LogConfig::default());
    let s = log.append(&records, 4, TS0, AppendOrigin::Client).unwrap();
    assert_eq!(s.batches.len(), count);
    let all = read_all(&log);
    assert_eq!(all.len(), records.len());
    let batches = parse_all(&all);
    assert_eq!(batches.len(), count);
    for ((pos, h), b) in batches.iter().zip(&s.batches) {
        assert_eq!(
            (*pos, h.base_offset, h.partition_leader_epoch),
            (b.position, b.base_offset, 4)
        );
        let end = pos + h.total_size();
        header::verify_crc(&all[*pos..end], h, *pos as u64).unwrap();
        // Everything from the magic on is the producer's.
        assert_eq!(all[pos + 16..end], records[pos + 16..end]);
    }
}

#[test]
fn control_batches_only_from_coordinators() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    let control = batch_with(0, &[TS0], 0, header::CONTROL_FLAG_MASK);
    assert!(matches!(
        log.append(&control, 0, TS0, AppendOrigin::Client),
        Err(Error::InvalidRecord(_))
    ));
    log.append(&control, 0, TS0, AppendOrigin::Coordinator)
        .unwrap();
    assert_eq!(log.log_end_offset(), 1);
}

#[test]
fn round_trip_across_many_segments() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config();
    let log = open(dir.path(), config.clone());
    let expected = fill(&log, 400, &mut Rng(7));
    let segments = log.segments().unwrap();
    assert!(segments.len() > 20, "{} segments", segments.len());
    for s in &segments {
        assert!(s.size_in_bytes <= config.segment_bytes);
        assert_eq!(
            s.is_active,
            s.base_offset == segments.last().unwrap().base_offset
        );
    }
    for pair in segments.windows(2) {
        assert_eq!(pair[0].next_offset, pair[1].base_offset);
    }
    assert_eq!(read_all(&log), expected);
    assert_eq!(log.size_in_bytes(), expected.len() as u64);

    // Reading from any offset starts at the batch holding it and runs to the end.
    let model = parse_all(&expected);
    for offset in 0..log.log_end_offset() {
        let (pos, _) = model
            .iter()
            .find(|(_, h)| h.last_offset() >= offset)
            .unwrap();
        let got = log.read_batch_bytes(offset, u64::MAX, None).unwrap();
        assert_eq!(got, &expected[*pos..], "offset {offset}");
    }
}

#[test]
fn index_lookups_match_brute_force() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config();
    let log = open(dir.path(), config.clone());
    fill(&log, 300, &mut Rng(11));
    let per_segment = segment_batches(&log);
    let active = per_segment.last().unwrap().0;
    let mut indexed = 0;
    with_segments(&log, |segments| {
        for (base, batches) in &per_segment {
            let seg = segments.floor(*base).unwrap();
            let (offsets, times) =
                expected_indexes(batches, *base, config.index_interval_bytes, *base != active);
            assert_eq!(seg.offset_index_entries(), offsets, "segment {base}");
            assert_eq!(seg.time_index_entries(), times, "segment {base}");
            indexed += offsets.len();
            for offset in *base..seg.next_offset() {
                let expect = batches.iter().find(|(_, h)| h.last_offset() >= offset);
                let got = seg.translate_offset(offset).unwrap();
                assert_eq!(
                    got.map(|(p, h)| (p, h.base_offset)),
                    expect.map(|(p, h)| (*p as u64, h.base_offset)),
                    "offset {offset}"
                );
            }
            assert!(seg.translate_offset(seg.next_offset()).unwrap().is_none());
        }
    });
    assert!(indexed > per_segment.len(), "only {indexed} index entries");
}

/// The batches a read must return, by the rules, from a flat list of every batch.
fn model_read(
    model: &[(usize, BatchHeader)],
    offset: i64,
    max_bytes: u64,
    limit: i64,
    min_one: bool,
) -> Vec<i64> {
    let mut out = Vec::new();
    let mut used = 0u64;
    for (_, h) in model.iter().skip_while(|(_, h)| h.last_offset() < offset) {
        let size = h.total_size() as u64;
        let fits = used + size <= max_bytes || (out.is_empty() && min_one);
        if h.last_offset() >= limit || !fits {
            break;
        }
        used += size;
        out.push(h.base_offset);
    }
    out
}

#[test]
fn reads_honour_byte_and_offset_limits() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    let expected = fill(&log, 200, &mut Rng(3));
    let model = parse_all(&expected);
    let leo = log.log_end_offset();
    let mut rng = Rng(99);
    for _ in 0..3000 {
        let offset = rng.below(leo as u64) as i64;
        let max_bytes = rng.below(3000);
        let max_offset = if rng.below(3) == 0 {
            None
        } else {
            Some(rng.below(leo as u64 + 5) as i64)
        };
        let min_one = rng.below(4) != 0;
        let limit = max_offset.unwrap_or(leo).min(leo);
        let want = model_read(&model, offset, max_bytes, limit, min_one);
        let fetch = log.read(offset, max_bytes, max_offset, min_one).unwrap();
        let got: Vec<i64> = parse_all(&fetch.read_to_vec().unwrap())
            .iter()
            .map(|(_, h)| h.base_offset)
            .collect();
        assert_eq!(
            got, want,
            "read({offset}, {max_bytes}, {max_offset:?}, {min_one})"
        );
        assert!(fetch.size_in_bytes() <= max_bytes || (min_one && got.len() == 1));
    }
}

#[test]
fn reads_outside_the_log_are_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    fill(&log, 10, &mut Rng(1));
    let leo = log.log_end_offset();
    assert!(log.read(leo, 1000, None, true).unwrap().regions.is_empty());
    assert!(matches!(
        log.read(leo + 1, 1000, None, true),
        Err(Error::OffsetOutOfRange { offset, log_start_offset: 0, log_end_offset }) if offset == leo + 1 && log_end_offset == leo
    ));
    assert!(matches!(
        log.read(-1, 1000, None, true),
        Err(Error::OffsetOutOfRange { .. })
    ));
}

#[test]
fn oversized_appends_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        max_message_bytes: 1000,
        ..small_config()
    };
    let log = open(dir.path(), config);
    assert!(matches!(
        append_err(&log, &simple(1, TS0, 2000)),
        Error::RecordTooLarge { limit: 1000, .. }
    ));
    // Each batch fits, the whole append does not fit a segment.
    let mut many = Vec::new();
    for _ in 0..6 {
        many.extend(simple(1, TS0, 800));
    }
    assert!(matches!(
        append_err(&log, &many),
        Error::RecordTooLarge { limit: 4096, .. }
    ));
    assert!(matches!(
        append_err(&log, b"\0\0\0"),
        Error::CorruptRecord { .. }
    ));
    assert_eq!(log.log_end_offset(), 0);
}

fn append_err(log: &Log, records: &[u8]) -> Error {
    log.append(records, 0, TS0, AppendOrigin::Client)
        .unwrap_err()
}

#[test]
fn concurrent_appends_and_reads_keep_offsets_dense() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(open(dir.path(), small_config()));
    const WRITERS: usize = 4;
    const BATCHES_PER_WRITER: usize = 100;
    let mut threads = Vec::new();
    for w in 0..WRITERS {
        let log = Arc::clone(&log);
        threads.push(std::thread::spawn(move || {
            for i in 0..BATCHES_PER_WRITER {
                let info = append(&log, &simple(1 + (i + w) % 3, TS0, 50));
                assert_eq!(info.last_offset - info.first_offset, ((i + w) % 3) as i64);
            }
        }));
    }
    let reader = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || {
            for _ in 0..200 {
                let bytes = read_all(&log);
                let batches = parse_all(&bytes);
                for pair in batches.windows(2) {
                    assert_eq!(pair[0].1.next_offset(), pair[1].1.base_offset);
                }
            }
        })
    };
    for t in threads {
        t.join().unwrap();
    }
    reader.join().unwrap();
    let batches = parse_all(&read_all(&log));
    assert_eq!(batches.len(), WRITERS * BATCHES_PER_WRITER);
    let mut next = 0;
    for (_, h) in &batches {
        assert_eq!(h.base_offset, next);
        next = h.next_offset();
    }
    assert_eq!(next, log.log_end_offset());
}
