//! Tests of produce validation: every rejection Kafka's LogValidator makes, offset and epoch
//! stamping, timestamp handling, atomicity, and recompression.

use super::*;
use crate::record::batch::BatchView;
use crate::record::builder::{build_control_batch, ControlBatchOptions};
use crate::record::header::{
    set_crc, ATTRIBUTES_OFFSET, BASE_OFFSET_OFFSET, LAST_OFFSET_DELTA_OFFSET, MAX_TIMESTAMP_OFFSET,
    RECORDS_COUNT_OFFSET,
};
use crate::record::record::{put_record, Header};

const NOW: i64 = 1_000_000;

fn cfg() -> ValidationConfig {
    ValidationConfig {
        max_message_bytes: 1 << 20,
        timestamp_type: TimestampType::CreateTime,
        timestamp_before_max_ms: None,
        timestamp_after_max_ms: None,
        target_compression: None,
        now_ms: NOW,
        allow_control: false,
    }
}

fn batch_with(opts: BatchOptions, timestamps: &[i64]) -> Vec<u8> {
    let mut b = BatchBuilder::new(opts).unwrap();
    for (i, ts) in timestamps.iter().enumerate() {
        let v = format!("value {i} {}", "abc".repeat(i % 40));
        let h = [Header {
            key: b"h",
            value: Some(b"x"),
        }];
        b.append(
            *ts,
            Some(format!("k{i}").as_bytes()),
            Some(v.as_bytes()),
            &h,
        )
        .unwrap();
    }
    b.build().unwrap()
}

fn batch(codec: Compression, n: usize) -> Vec<u8> {
    let ts: Vec<i64> = (0..n as i64).map(|i| NOW - 100 + i).collect();
    batch_with(
        BatchOptions {
            compression: codec,
            ..BatchOptions::default()
        },
        &ts,
    )
}

/// A hand-assembled uncompressed batch with the given (timestampDelta, offsetDelta) records,
/// for framing the builder would never produce.
fn raw_batch(records: &[(i64, i32)], record_count: i32) -> Vec<u8> {
    let mut out = vec![0u8; HEADER_SIZE];
    for (ts, od) in records {
        put_record(*ts, *od, None, Some(b"v"), 0, &[], &mut out).unwrap();
    }
    BatchHeader {
        base_offset: 0,
        batch_length: (out.len() - 12) as i32,
        partition_leader_epoch: -1,
        magic: 2,
        crc: 0,
        attributes: 0,
        last_offset_delta: record_count - 1,
        base_timestamp: NOW,
        max_timestamp: NOW,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        record_count,
    }
    .write(&mut out);
    set_crc(&mut out);
    out
}

fn records_of(buf: &[u8]) -> Vec<crate::record::Record> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let v = BatchView::parse(&buf[pos..], pos as u64).unwrap();
        v.verify_crc().unwrap();
        out.extend(v.records().unwrap());
        pos += v.header.total_size();
    }
    out
}

/// Validate as a leader: the summary and the bytes the plan writes, concatenated.
fn leader(
    buf: &[u8],
    first_offset: i64,
    leader_epoch: i32,
    cfg: &ValidationConfig,
) -> Result<(AppendSummary, Vec<u8>)> {
    let (s, plan) = validate_for_leader(buf, first_offset, leader_epoch, cfg)?;
    assert_eq!(plan.size(), s.valid_bytes);
    assert_eq!(plan.batches.len(), s.batches.len());
    Ok((s, plan.to_vec()))
}

/// Validation fails and leaves the buffer exactly as it was.
fn rejects(buf: Vec<u8>, cfg: &ValidationConfig) -> Error {
    let before = buf.clone();
    let e = validate_for_leader(&buf, 10, 3, cfg).unwrap_err();
    assert_eq!(buf, before, "nothing may be stamped on failure");
    e
}

#[test]
fn uncompressed_batch_is_stamped_in_place() {
    let original = batch(Compression::None, 20);
    let (s, buf) = leader(&original, 100, 7, &cfg()).unwrap();
    assert_eq!(
        (s.first_offset, s.last_offset, s.record_count),
        (100, 119, 20)
    );
    assert_eq!(
        (s.max_timestamp, s.offset_of_max_timestamp),
        (NOW - 81, 119)
    );
    assert_eq!((s.log_append_time, s.valid_bytes), (-1, buf.len()));
    let v = BatchView::parse(&buf, 0).unwrap();
    v.verify_crc().unwrap();
    assert_eq!(
        (v.header.base_offset, v.header.partition_leader_epoch),
        (100, 7)
    );
    // Everything from the magic on is untouched: no CRC recompute was needed.
    assert_eq!(buf[16..], original[16..]);
    assert_eq!(records_of(&buf)[5].offset, 105);
}

#[test]
fn kept_batches_borrow_their_records_from_the_input() {
    let mut buf = batch(Compression::None, 20);
    buf.extend(batch(Compression::Lz4, 5));
    let (s, plan) = validate_for_leader(&buf, 0, 0, &cfg()).unwrap();
    for (planned, b) in plan.batches.iter().zip(&s.batches) {
        let PlannedBatch::Stamped { records, .. } = planned else {
            panic!("a batch in the topic's codec is not rebuilt");
        };
        // The very bytes of the request, not a copy of them.
        let input = &buf[b.position + HEADER_SIZE..b.position + b.size];
        assert!(std::ptr::eq(*records, input));
    }
}

#[test]
fn header_stamps_move_the_crc_as_a_full_recompute_does() {
    // Record sections from tiny to large, so the CRC shift covers many lengths.
    for n in [1, 2, 7, 100, 2000] {
        let original = batch(Compression::None, n);
        for (ts_type, max_ts) in [
            (TimestampType::LogAppendTime, NOW),
            (TimestampType::CreateTime, 42),
            (TimestampType::CreateTime, header::NO_TIMESTAMP),
        ] {
            let mut expected = original.clone();
            header::set_base_offset(&mut expected, 9);
            header::set_partition_leader_epoch(&mut expected, 3);
            header::set_max_timestamp(&mut expected, ts_type, max_ts);
            let mut hdr = original[..HEADER_SIZE].to_vec();
            let stamp = Stamp {
                base_offset: 9,
                leader_epoch: 3,
                timestamp_type: ts_type,
                max_timestamp: max_ts,
            };
            stamp_header(&mut hdr, original.len() - HEADER_SIZE, &stamp);
            assert_eq!(hdr[..], expected[..HEADER_SIZE], "{n} {ts_type:?} {max_ts}");
        }
    }
}

#[test]
fn several_batches_get_consecutive_offsets() {
    let mut buf = batch(Compression::None, 3);
    buf.extend(batch(Compression::Lz4, 4));
    buf.extend(batch(Compression::None, 2));
    let (s, buf) = leader(&buf, 0, 0, &cfg()).unwrap();
    let bases: Vec<i64> = s.batches.iter().map(|b| b.base_offset).collect();
    assert_eq!(bases, [0, 3, 7]);
    assert_eq!(s.last_offset, 8);
    let offsets: Vec<i64> = records_of(&buf).iter().map(|r| r.offset).collect();
    assert_eq!(offsets, (0..9).collect::<Vec<_>>());
}

#[test]
fn compressed_batches_are_kept_byte_for_byte() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        for target in [None, Some(codec)] {
            let original = batch(codec, 50);
            let c = ValidationConfig {
                target_compression: target,
                ..cfg()
            };
            let (_, buf) = leader(&original, 5, 1, &c).unwrap();
            assert_eq!(buf[16..], original[16..], "{codec:?} {target:?}");
        }
    }
}

#[test]
fn bad_crc() {
    let mut buf = batch(Compression::None, 3);
    let last = buf.len() - 1;
    buf[last] ^= 0xff;
    let e = rejects(buf, &cfg());
    assert!(e.to_string().contains("CRC mismatch"), "{e}");
}

#[test]
fn count_and_last_offset_delta_must_agree() {
    let mut buf = batch(Compression::None, 3);
    buf[RECORDS_COUNT_OFFSET..RECORDS_COUNT_OFFSET + 4].copy_from_slice(&2i32.to_be_bytes());
    set_crc(&mut buf);
    assert!(matches!(rejects(buf, &cfg()), Error::CorruptRecord { .. }));
}

#[test]
fn count_must_match_records_present() {
    // Header consistent (count 4, lastOffsetDelta 3) but only three records.
    let buf = raw_batch(&[(0, 0), (0, 1), (0, 2)], 4);
    let e = rejects(buf, &cfg());
    assert!(
        e.to_string().contains("declares 4 records but holds 3"),
        "{e}"
    );
    let buf = raw_batch(&[(0, 0), (0, 1), (0, 2)], 2);
    let e = rejects(buf, &cfg());
    assert!(e.to_string().contains("remain after the 2 records"), "{e}");
}

#[test]
fn empty_batch_is_rejected() {
    let buf = raw_batch(&[], 0);
    assert!(matches!(rejects(buf, &cfg()), Error::CorruptRecord { .. }));
}

#[test]
fn inner_offsets_must_be_0_to_n_minus_1() {
    for deltas in [[0, 0, 1], [1, 2, 3], [0, 2, 1]] {
        let recs: Vec<(i64, i32)> = deltas.iter().map(|&d| (0, d)).collect();
        let e = rejects(raw_batch(&recs, 3), &cfg());
        assert!(e.to_string().contains("offset delta"), "{deltas:?}: {e}");
    }
    let ok = raw_batch(&[(0, 0), (0, 1), (0, 2)], 3);
    leader(&ok, 0, 0, &cfg()).unwrap();
}

#[test]
fn truncated_record_is_corrupt() {
    let mut buf = batch(Compression::None, 2);
    // The first record's length claims the whole rest of the batch and more.
    buf[HEADER_SIZE] = 0x7e;
    set_crc(&mut buf);
    let e = rejects(buf, &cfg());
    assert!(
        matches!(e, Error::CorruptRecord { position: 0, ref reason } if reason.starts_with("record 0:")),
        "{e}"
    );
}

#[test]
fn trailing_garbage_after_a_batch_is_corrupt() {
    let mut buf = batch(Compression::None, 2);
    let whole = buf.clone();
    buf.extend_from_slice(&[0u8; 20]);
    assert!(matches!(
        rejects(buf, &cfg()),
        Error::UnsupportedMagic { position, magic: 0 } if position == whole.len() as u64
    ));
    // The start of a second batch, cut short.
    let mut buf = whole.clone();
    buf.extend_from_slice(&whole[..whole.len() - 1]);
    let e = rejects(buf, &cfg());
    assert!(e.to_string().contains("incomplete"), "{e}");
}

#[test]
fn oversize_batch() {
    let buf = batch(Compression::None, 10);
    let c = ValidationConfig {
        max_message_bytes: buf.len() - 1,
        ..cfg()
    };
    let size = buf.len() as u64;
    assert!(matches!(
        rejects(buf, &c),
        Error::RecordTooLarge { size: s, .. } if s == size
    ));
}

#[test]
fn unknown_codec() {
    let mut buf = batch(Compression::None, 2);
    buf[ATTRIBUTES_OFFSET + 1] |= 0x05;
    set_crc(&mut buf);
    let e = rejects(buf, &cfg());
    assert!(e.to_string().contains("unknown compression"), "{e}");
}

#[test]
fn corrupt_compressed_section() {
    let mut buf = batch(Compression::Gzip, 20);
    let mid = HEADER_SIZE + (buf.len() - HEADER_SIZE) / 2;
    buf[mid] ^= 0xff;
    set_crc(&mut buf);
    assert!(matches!(rejects(buf, &cfg()), Error::CorruptRecord { .. }));
}

fn marker() -> Vec<u8> {
    build_control_batch(&ControlBatchOptions {
        commit: true,
        producer_id: 4,
        producer_epoch: 1,
        coordinator_epoch: 0,
        timestamp_ms: NOW,
        base_offset: 0,
        partition_leader_epoch: -1,
    })
}

#[test]
fn control_batches_only_from_the_coordinator() {
    assert!(matches!(rejects(marker(), &cfg()), Error::InvalidRecord(_)));
    let coordinator = ValidationConfig {
        allow_control: true,
        target_compression: Some(Compression::Zstd),
        ..cfg()
    };
    let original = marker();
    let (s, buf) = leader(&original, 40, 2, &coordinator).unwrap();
    let p = s.batches[0].producer;
    assert_eq!((p.producer_id, p.producer_epoch), (4, 1));
    assert!(p.is_control && p.is_transactional);
    // Markers are never recompressed.
    assert_eq!(buf[16..], original[16..]);
}

#[test]
fn client_batches_start_at_offset_zero() {
    let mut buf = batch(Compression::None, 2);
    buf[BASE_OFFSET_OFFSET..8].copy_from_slice(&5i64.to_be_bytes());
    assert!(matches!(rejects(buf, &cfg()), Error::InvalidRecord(_)));
}

#[test]
fn producer_id_needs_a_sequence() {
    let opts = BatchOptions {
        producer_id: 3,
        producer_epoch: 0,
        base_sequence: -1,
        ..BatchOptions::default()
    };
    let buf = batch_with(opts.clone(), &[NOW]);
    assert!(matches!(rejects(buf, &cfg()), Error::InvalidRecord(_)));
    let buf = batch_with(
        BatchOptions {
            base_sequence: 0,
            ..opts
        },
        &[NOW],
    );
    leader(&buf, 0, 0, &cfg()).unwrap();
}

#[test]
fn create_time_bounds() {
    let c = ValidationConfig {
        timestamp_before_max_ms: Some(1000),
        timestamp_after_max_ms: Some(10),
        ..cfg()
    };
    for ts in [NOW - 1001, NOW + 11, i64::MIN + 5] {
        let buf = batch_with(BatchOptions::default(), &[NOW, ts]);
        assert!(
            matches!(rejects(buf, &c), Error::InvalidTimestamp(_)),
            "{ts}"
        );
    }
    // The edges, and "no timestamp", pass.
    let buf = batch_with(BatchOptions::default(), &[NOW - 1000, NOW + 10, -1]);
    leader(&buf, 0, 0, &c).unwrap();
}

#[test]
fn producers_may_not_claim_log_append_time() {
    let opts = BatchOptions {
        timestamp_type: TimestampType::LogAppendTime,
        log_append_time_ms: Some(NOW),
        ..BatchOptions::default()
    };
    let lat = ValidationConfig {
        timestamp_type: TimestampType::LogAppendTime,
        ..cfg()
    };
    let e = rejects(batch_with(opts, &[NOW]), &lat);
    assert!(matches!(e, Error::InvalidTimestamp(_)), "{e}");
}

#[test]
fn create_time_max_timestamp_is_recomputed() {
    let mut buf = batch_with(BatchOptions::default(), &[NOW - 5, NOW - 1, NOW - 9]);
    // A producer that wrote a wrong maxTimestamp.
    buf[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8].copy_from_slice(&7i64.to_be_bytes());
    set_crc(&mut buf);
    let (s, buf) = leader(&buf, 0, 0, &cfg()).unwrap();
    assert_eq!(s.max_timestamp, NOW - 1);
    let v = BatchView::parse(&buf, 0).unwrap();
    v.verify_crc().unwrap();
    assert_eq!(v.header.max_timestamp, NOW - 1);
}

#[test]
fn log_append_time_is_stamped() {
    let lat = ValidationConfig {
        timestamp_type: TimestampType::LogAppendTime,
        ..cfg()
    };
    for codec in [Compression::None, Compression::Snappy] {
        // Far-off producer timestamps are not checked for LogAppendTime topics.
        let mut buf = batch_with(
            BatchOptions {
                compression: codec,
                ..BatchOptions::default()
            },
            &[5, 6],
        );
        buf.extend(batch(Compression::None, 3));
        let (s, buf) = leader(&buf, 0, 0, &lat).unwrap();
        assert_eq!((s.log_append_time, s.max_timestamp), (NOW, NOW));
        assert_eq!(s.offset_of_max_timestamp, 4);
        let v = BatchView::parse(&buf, 0).unwrap();
        v.verify_crc().unwrap();
        assert_eq!(v.header.timestamp_type(), TimestampType::LogAppendTime);
        assert!(v.records().unwrap().iter().all(|r| r.timestamp == NOW));
    }
}

#[test]
fn failure_in_a_later_batch_stamps_nothing() {
    let mut buf = batch(Compression::None, 3);
    let mut bad = batch(Compression::None, 3);
    bad[LAST_OFFSET_DELTA_OFFSET + 3] = 9;
    set_crc(&mut bad);
    buf.extend(bad);
    rejects(buf, &cfg());
}

#[test]
fn recompression_to_the_topic_codec() {
    let cases = [
        (Compression::None, Compression::Gzip),
        (Compression::Gzip, Compression::None),
        (Compression::Lz4, Compression::Zstd),
        (Compression::Zstd, Compression::Snappy),
        (Compression::Snappy, Compression::Lz4),
    ];
    for (from, to) in cases {
        let ts: Vec<i64> = (0..200).map(|i| NOW - 300 + (i * 7) % 50).collect();
        let original = batch_with(
            BatchOptions {
                compression: from,
                producer_id: 12,
                producer_epoch: 3,
                base_sequence: 40,
                is_transactional: true,
                ..BatchOptions::default()
            },
            &ts,
        );
        let mut buf = original.clone();
        buf.extend(batch(Compression::None, 2));
        let c = ValidationConfig {
            target_compression: Some(to),
            ..cfg()
        };
        let (s, buf) = leader(&buf, 1000, 6, &c).unwrap();
        let v = BatchView::parse(&buf, 0).unwrap();
        v.verify_crc().unwrap();
        let h = v.header;
        assert_eq!(h.compression().unwrap(), to, "{from:?} -> {to:?}");
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (12, 3, 40)
        );
        assert!(h.is_transactional());
        // The summary reports each batch's producer as written (a rebuilt one keeps it).
        let p = s.batches[0].producer;
        assert_eq!(
            (
                p.producer_id,
                p.producer_epoch,
                p.base_sequence,
                p.last_sequence
            ),
            (12, 3, 40, 239)
        );
        assert!(p.is_transactional && !p.is_control);
        assert_eq!(s.batches[1].producer.producer_id, header::NO_PRODUCER_ID);
        assert_eq!((h.base_offset, h.partition_leader_epoch), (1000, 6));
        assert_eq!(h.max_timestamp, s.batches[0].max_timestamp);
        assert_eq!(s.batches[0].size, h.total_size());
        assert_eq!(s.batches[1].position, h.total_size());
        assert_eq!(s.batches[1].base_offset, 1200);
        assert_eq!(s.valid_bytes, buf.len());
        let old = BatchView::parse(&original, 0).unwrap().records().unwrap();
        let new = records_of(&buf);
        assert_eq!(new.len(), 202);
        for (o, n) in old.iter().zip(&new) {
            assert_eq!(n.offset, o.offset + 1000);
            assert_eq!(
                (&n.key, &n.value, &n.headers),
                (&o.key, &o.value, &o.headers)
            );
            assert_eq!(n.timestamp, o.timestamp);
        }
    }
}

#[test]
fn recompression_with_log_append_time() {
    let c = ValidationConfig {
        target_compression: Some(Compression::Zstd),
        timestamp_type: TimestampType::LogAppendTime,
        ..cfg()
    };
    let (_, buf) = leader(&batch(Compression::None, 10), 0, 0, &c).unwrap();
    let v = BatchView::parse(&buf, 0).unwrap();
    v.verify_crc().unwrap();
    assert_eq!(v.header.compression().unwrap(), Compression::Zstd);
    assert_eq!(v.header.timestamp_type(), TimestampType::LogAppendTime);
    assert_eq!(v.header.max_timestamp, NOW);
}

#[test]
fn recompressed_batch_must_still_fit() {
    // Incompressible values grow under gzip framing; the limit sits between the sizes.
    let mut b = BatchBuilder::new(BatchOptions::default()).unwrap();
    let mut x = 1u32;
    let noise: Vec<u8> = (0..4000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    b.append(NOW, None, Some(&noise), &[]).unwrap();
    let buf = b.build().unwrap();
    let c = ValidationConfig {
        target_compression: Some(Compression::Gzip),
        max_message_bytes: buf.len(),
        ..cfg()
    };
    assert!(matches!(rejects(buf, &c), Error::RecordTooLarge { .. }));
}

#[test]
fn empty_input_is_corrupt() {
    assert!(matches!(
        rejects(Vec::new(), &cfg()),
        Error::CorruptRecord { .. }
    ));
}

#[test]
fn follower_summaries_need_increasing_offsets() {
    let (_, a) = leader(&batch(Compression::None, 3), 10, 1, &cfg()).unwrap();
    let (_, b) = leader(&batch(Compression::None, 2), 13, 1, &cfg()).unwrap();
    let mut both = a.clone();
    both.extend_from_slice(&b);
    let s = summarize_assigned(&both).unwrap();
    assert_eq!((s.first_offset, s.last_offset, s.record_count), (10, 14, 5));
    assert_eq!(
        s.batches[1].producer,
        BatchView::parse(&b, 0).unwrap().header.producer()
    );
    let mut backwards = b;
    backwards.extend_from_slice(&a);
    assert!(matches!(
        summarize_assigned(&backwards),
        Err(Error::InvalidOffset(_))
    ));
}
