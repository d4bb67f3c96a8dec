//! Tests of the batch builder: byte-exact output against a hand-made Kafka batch, header
//! fields as Kafka's MemoryRecordsBuilder sets them, and decode-after-build.

use super::*;
use crate::record::batch::tests::{unhex, KNOWN_BATCH_HEX};
use crate::record::batch::BatchView;

#[test]
fn builds_the_known_kafka_batch_byte_for_byte() {
    let mut b = BatchBuilder::new(BatchOptions::default()).unwrap();
    assert_eq!(
        b.append(1_700_000_000_000, None, Some(b"hello"), &[])
            .unwrap(),
        0
    );
    assert_eq!(b.build().unwrap(), unhex(KNOWN_BATCH_HEX));
}

#[test]
fn header_fields_follow_kafka() {
    let mut b = BatchBuilder::new(BatchOptions {
        compression: Compression::Gzip,
        compression_level: Some(9),
        base_offset: 1000,
        producer_id: 77,
        producer_epoch: 5,
        base_sequence: 12,
        is_transactional: true,
        partition_leader_epoch: 4,
        ..BatchOptions::default()
    })
    .unwrap();
    // The first record's timestamp is the base even when later ones are smaller.
    for (i, ts) in [500i64, 400, 900, 600].into_iter().enumerate() {
        assert_eq!(b.append(ts, None, Some(b"v"), &[]).unwrap(), i as i32);
    }
    assert_eq!(b.len(), 4);
    let bytes = b.build().unwrap();
    let v = BatchView::parse(&bytes, 0).unwrap();
    v.verify_crc().unwrap();
    let h = v.header;
    assert_eq!(h.total_size(), bytes.len());
    assert_eq!(h.base_offset, 1000);
    assert_eq!(h.last_offset_delta, 3);
    assert_eq!(h.record_count, 4);
    assert_eq!(h.base_timestamp, 500);
    assert_eq!(h.max_timestamp, 900);
    assert_eq!(
        (h.producer_id, h.producer_epoch, h.base_sequence),
        (77, 5, 12)
    );
    assert_eq!(h.partition_leader_epoch, 4);
    assert_eq!(h.attributes, 0x10 | 1);
    assert_eq!(h.timestamp_type(), TimestampType::CreateTime);
    let ts: Vec<i64> = v.records().unwrap().iter().map(|r| r.timestamp).collect();
    assert_eq!(ts, [500, 400, 900, 600]);
}

#[test]
fn log_append_time_header() {
    let opts = BatchOptions {
        timestamp_type: TimestampType::LogAppendTime,
        ..BatchOptions::default()
    };
    let mut b = BatchBuilder::new(opts.clone()).unwrap();
    b.append(10, None, None, &[]).unwrap();
    b.append(30, None, None, &[]).unwrap();
    // Without an explicit append time the largest record timestamp stands in for it.
    let h = BatchView::parse(&b.build().unwrap(), 0).unwrap().header;
    assert_eq!(
        (h.attributes, h.max_timestamp, h.base_timestamp),
        (0x08, 30, 10)
    );
    let mut b = BatchBuilder::new(BatchOptions {
        log_append_time_ms: Some(99),
        ..opts
    })
    .unwrap();
    b.append(10, None, None, &[]).unwrap();
    let h = BatchView::parse(&b.build().unwrap(), 0).unwrap().header;
    assert_eq!(h.max_timestamp, 99);
}

#[test]
fn empty_builder_does_not_build() {
    let b = BatchBuilder::new(BatchOptions::default()).unwrap();
    assert!(b.is_empty());
    assert!(matches!(b.build(), Err(Error::InvalidRecord(_))));
}

#[test]
fn bad_level_is_rejected_up_front() {
    let e = BatchBuilder::new(BatchOptions {
        compression: Compression::Zstd,
        compression_level: Some(100),
        ..BatchOptions::default()
    });
    assert!(matches!(e, Err(Error::InvalidConfig(_))));
}

#[test]
fn no_timestamp_records() {
    let mut b = BatchBuilder::new(BatchOptions::default()).unwrap();
    b.append(header::NO_TIMESTAMP, None, Some(b"a"), &[])
        .unwrap();
    let v = b.build().unwrap();
    let h = BatchView::parse(&v, 0).unwrap().header;
    assert_eq!((h.base_timestamp, h.max_timestamp), (-1, -1));
}

#[test]
fn append_view_round_trips_every_field() {
    let mut b = BatchBuilder::new(BatchOptions::default()).unwrap();
    let headers = [
        Header {
            key: b"a",
            value: None,
        },
        Header {
            key: b"b",
            value: Some(b"2"),
        },
    ];
    b.append(7, Some(b"k"), None, &headers).unwrap();
    b.append(8, None, Some(b"v"), &[]).unwrap();
    let first = b.build().unwrap();
    let view = BatchView::parse(&first, 0).unwrap();
    let section = view.records_section().unwrap();
    let mut copy = BatchBuilder::new(BatchOptions {
        compression: Compression::Snappy,
        ..BatchOptions::default()
    })
    .unwrap();
    for r in crate::record::batch::iter_records(&section, 2, 0) {
        let r = r.unwrap();
        copy.append_view(view.record_timestamp(&r), &r).unwrap();
    }
    let second = copy.build().unwrap();
    let again = BatchView::parse(&second, 0).unwrap();
    assert_eq!(again.records().unwrap(), view.records().unwrap());
}

#[test]
fn control_batch_header() {
    let bytes = build_control_batch(&ControlBatchOptions {
        commit: true,
        producer_id: 9,
        producer_epoch: 2,
        coordinator_epoch: 1,
        timestamp_ms: 1234,
        base_offset: 50,
        partition_leader_epoch: 3,
    });
    let v = BatchView::parse(&bytes, 0).unwrap();
    v.verify_crc().unwrap();
    let h = v.header;
    assert_eq!(h.attributes, 0x20 | 0x10);
    assert_eq!(
        (h.producer_id, h.producer_epoch, h.base_sequence),
        (9, 2, -1)
    );
    assert_eq!((h.base_offset, h.partition_leader_epoch), (50, 3));
    assert_eq!(
        (h.base_timestamp, h.max_timestamp, h.record_count),
        (1234, 1234, 1)
    );
    // 61-byte header + one record: length 1, attrs, ts, offset, key 1+4, value 1+6, headers.
    assert_eq!(bytes.len(), 61 + 1 + 16);
}
