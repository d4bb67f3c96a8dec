//! Tests of batch decoding: a hand-made Kafka batch, every codec, LogAppendTime, control
//! records and record-count framing.

use super::*;
use crate::record::builder::{
    build_control_batch, BatchBuilder, BatchOptions, ControlBatchOptions,
};
use crate::record::header::{set_crc, RECORDS_COUNT_OFFSET};
use crate::record::record::Header;

/// One record (null key, value "hello", no headers) at offset 0, CreateTime
/// 1_700_000_000_000, no producer, leader epoch -1. Written out field by field from the batch
/// v2 layout; the CRC was computed with an independent bitwise CRC-32C.
pub(crate) const KNOWN_BATCH_HEX: &str = concat!(
    "0000000000000000", // baseOffset 0
    "0000003d",         // batchLength 61
    "ffffffff",         // partitionLeaderEpoch -1
    "02",               // magic
    "e641a44b",         // crc
    "0000",             // attributes
    "00000000",         // lastOffsetDelta 0
    "0000018bcfe56800", // baseTimestamp
    "0000018bcfe56800", // maxTimestamp
    "ffffffffffffffff", // producerId -1
    "ffff",             // producerEpoch -1
    "ffffffff",         // baseSequence -1
    "00000001",         // recordCount 1
    "16",               // record length 11
    "00",               // attributes
    "00",               // timestampDelta 0
    "00",               // offsetDelta 0
    "01",               // key length -1
    "0a",               // value length 5
    "68656c6c6f",       // "hello"
    "00",               // headers 0
);

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn build(opts: BatchOptions, n: usize) -> Vec<u8> {
    let mut b = BatchBuilder::new(opts).unwrap();
    for i in 0..n {
        let key = format!("key-{i}");
        let value = format!("value-{i}-{}", "x".repeat(i % 50));
        let hv = i.to_string();
        let headers = [Header {
            key: b"i",
            value: Some(hv.as_bytes()),
        }];
        b.append(
            1_000 + (i as i64 % 7) * 10,
            Some(key.as_bytes()),
            Some(value.as_bytes()),
            &headers,
        )
        .unwrap();
    }
    b.build().unwrap()
}

#[test]
fn known_kafka_batch_decodes() {
    let bytes = unhex(KNOWN_BATCH_HEX);
    assert_eq!(bytes.len(), 73);
    let b = BatchView::parse(&bytes, 0).unwrap();
    assert_eq!(b.header.crc, 0xe641a44b);
    assert!(b.is_valid());
    b.verify_crc().unwrap();
    assert_eq!(b.header.base_timestamp, 1_700_000_000_000);
    assert_eq!(b.header.partition_leader_epoch, -1);
    assert_eq!(b.header.compression().unwrap(), Compression::None);
    assert_eq!(
        b.records().unwrap(),
        vec![Record {
            offset: 0,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(b"hello".to_vec()),
            headers: vec![],
        }]
    );
    assert_eq!(b.control_record().unwrap(), None);
}

#[test]
fn flipped_bit_fails_crc() {
    let mut bytes = unhex(KNOWN_BATCH_HEX);
    bytes[70] ^= 1;
    let b = BatchView::parse(&bytes, 5).unwrap();
    assert!(!b.is_valid());
    assert!(matches!(
        b.verify_crc(),
        Err(Error::CorruptRecord { position: 5, .. })
    ));
}

#[test]
fn truncated_batch_is_corrupt() {
    let bytes = unhex(KNOWN_BATCH_HEX);
    assert!(BatchView::parse(&bytes[..72], 0).is_err());
}

#[test]
fn every_codec_decodes_to_the_same_records() {
    let mut expected = None;
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let bytes = build(
            BatchOptions {
                compression: codec,
                base_offset: 100,
                ..BatchOptions::default()
            },
            300,
        );
        let b = BatchView::parse(&bytes, 0).unwrap();
        b.verify_crc().unwrap();
        assert_eq!(b.header.compression().unwrap(), codec);
        let records = b.records().unwrap();
        assert_eq!(records.len(), 300);
        assert_eq!(records[0].offset, 100);
        assert_eq!(records[299].offset, 399);
        assert_eq!(
            records[13].headers,
            vec![("i".into(), Some(b"13".to_vec()))]
        );
        match &expected {
            None => expected = Some(records),
            Some(e) => assert_eq!(&records, e, "{codec:?}"),
        }
    }
}

#[test]
fn log_append_time_overrides_record_timestamps() {
    let bytes = build(
        BatchOptions {
            timestamp_type: TimestampType::LogAppendTime,
            log_append_time_ms: Some(42_000),
            ..BatchOptions::default()
        },
        5,
    );
    let b = BatchView::parse(&bytes, 0).unwrap();
    assert_eq!(b.header.max_timestamp, 42_000);
    assert!(b.records().unwrap().iter().all(|r| r.timestamp == 42_000));
}

#[test]
fn control_records() {
    for commit in [true, false] {
        let bytes = build_control_batch(&ControlBatchOptions {
            commit,
            producer_id: 7,
            producer_epoch: 3,
            coordinator_epoch: 11,
            timestamp_ms: 5,
            base_offset: 0,
            partition_leader_epoch: -1,
        });
        let b = BatchView::parse(&bytes, 0).unwrap();
        assert!(b.header.is_control() && b.header.is_transactional());
        let c = b.control_record().unwrap().unwrap();
        let kind = if commit {
            ControlRecordType::Commit
        } else {
            ControlRecordType::Abort
        };
        assert_eq!(
            c,
            ControlRecord {
                kind,
                coordinator_epoch: Some(11)
            }
        );
        // Key: version 0, type; value: version 0, epoch 11.
        let r = &b.records().unwrap()[0];
        assert_eq!(r.key.as_deref(), Some(&[0, 0, 0, commit as u8][..]));
        assert_eq!(r.value.as_deref(), Some(&[0, 0, 0, 0, 0, 11][..]));
    }
}

#[test]
fn other_control_types_and_short_keys() {
    let mut b = BatchBuilder::new(BatchOptions {
        is_control: true,
        ..BatchOptions::default()
    })
    .unwrap();
    b.append(0, Some(&[0, 0, 0, 2]), Some(b"leader change"), &[])
        .unwrap();
    let bytes = b.build().unwrap();
    let c = BatchView::parse(&bytes, 0)
        .unwrap()
        .control_record()
        .unwrap()
        .unwrap();
    assert_eq!(c.kind, ControlRecordType::Other(2));
    assert_eq!(c.coordinator_epoch, None);

    let mut b = BatchBuilder::new(BatchOptions {
        is_control: true,
        ..BatchOptions::default()
    })
    .unwrap();
    b.append(0, Some(&[0, 0, 1]), None, &[]).unwrap();
    let bytes = b.build().unwrap();
    let e = BatchView::parse(&bytes, 3).unwrap().control_record();
    assert!(matches!(e, Err(Error::CorruptRecord { position: 3, .. })));
}

/// Rewrite the declared record count (and fix the CRC) to test record framing.
fn with_count(mut bytes: Vec<u8>, count: i32) -> Vec<u8> {
    bytes[RECORDS_COUNT_OFFSET..RECORDS_COUNT_OFFSET + 4].copy_from_slice(&count.to_be_bytes());
    set_crc(&mut bytes);
    bytes
}

#[test]
fn declared_count_must_match_records() {
    let bytes = build(BatchOptions::default(), 3);
    let too_many = with_count(bytes.clone(), 4);
    let e = BatchView::parse(&too_many, 0)
        .unwrap()
        .records()
        .unwrap_err();
    assert!(
        e.to_string().contains("declares 4 records but holds 3"),
        "{e}"
    );
    let too_few = with_count(bytes.clone(), 2);
    let e = BatchView::parse(&too_few, 0)
        .unwrap()
        .records()
        .unwrap_err();
    assert!(e.to_string().contains("remain after the 2 records"), "{e}");
    let negative = with_count(bytes, -1);
    assert!(BatchView::parse(&negative, 0).unwrap().records().is_err());
}

#[test]
fn corrupt_record_reports_index_and_position() {
    let mut bytes = build(BatchOptions::default(), 3);
    // Make the last record's length prefix claim more than is left.
    let first = RecordView::decode(&bytes[HEADER_SIZE..], 0)
        .unwrap()
        .encoded_size;
    let second = RecordView::decode(&bytes[HEADER_SIZE + first..], 0)
        .unwrap()
        .encoded_size;
    bytes[HEADER_SIZE + first + second] = 0x7e;
    set_crc(&mut bytes);
    let e = BatchView::parse(&bytes, 77).unwrap().records().unwrap_err();
    match e {
        Error::CorruptRecord { position, reason } => {
            assert_eq!(position, 77);
            assert!(reason.starts_with("record 2:"), "{reason}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn corrupt_compressed_section_reports_position() {
    let mut bytes = build(
        BatchOptions {
            compression: Compression::Zstd,
            ..BatchOptions::default()
        },
        10,
    );
    let len = bytes.len();
    bytes[HEADER_SIZE..len].fill(0x33);
    set_crc(&mut bytes);
    let e = BatchView::parse(&bytes, 9).unwrap().records().unwrap_err();
    assert!(matches!(e, Error::CorruptRecord { position: 9, .. }), "{e}");
}

#[test]
fn unknown_codec_id_is_a_corrupt_batch() {
    let mut bytes = build(BatchOptions::default(), 3);
    let attributes = crate::record::header::ATTRIBUTES_OFFSET + 1;
    bytes[attributes] |= 5; // codec ids 5..7 do not exist
    set_crc(&mut bytes);
    let view = BatchView::parse(&bytes, 40).unwrap();
    assert!(matches!(
        view.records(),
        Err(Error::CorruptRecord { position: 40, .. })
    ));
}
