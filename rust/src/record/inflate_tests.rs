//! Tests of the streaming walk: per codec, round trips, truncated and corrupt streams, the
//! limit and the budget; and that every outcome (records seen, error and its text) is the one
//! of inflating the section whole and iterating it.

use super::*;
use crate::record::batch::iter_records;
use crate::record::compression::{compress, decompress_bounded, with_inflate_budget};
use crate::record::record::put_record;

const CODECS: [Compression; 4] = [
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];
const POSITION: u64 = 77;

/// `n` small records (offset deltas 0..n), values of `value_len` bytes.
fn section(n: i32, value_len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let value = format!("{i:08}").repeat(value_len / 8 + 1);
        put_record(
            i as i64 * 3,
            i,
            Some(b"key"),
            Some(&value.as_bytes()[..value_len]),
            0,
            &[],
            &mut out,
        )
        .unwrap();
    }
    out
}

/// What walking gives: (offset delta, value length) per record, or the error's text.
type Outcome = std::result::Result<Vec<(i32, usize)>, String>;

fn streamed(codec: Compression, packed: &[u8], count: i32, limit: usize) -> Outcome {
    let mut seen = Vec::new();
    walk_records(codec, packed, count, POSITION, limit, |_, r| {
        seen.push((r.offset_delta, r.value.map_or(0, <[u8]>::len)));
        Ok(())
    })
    .map(|()| seen)
    .map_err(|e| e.to_string())
}

/// The same walk over the section inflated whole (what validation did before streaming).
fn whole(codec: Compression, packed: &[u8], count: i32, limit: usize) -> Outcome {
    let at = |e: Error| match e {
        Error::CorruptRecord { reason, .. } => Error::corrupt(POSITION, reason).to_string(),
        other => other.to_string(),
    };
    let section = decompress_bounded(codec, packed, limit).map_err(at)?;
    iter_records(&section, count, POSITION)
        .map(|r| r.map(|r| (r.offset_delta, r.value.map_or(0, <[u8]>::len))))
        .collect::<Result<Vec<_>>>()
        .map_err(at)
}

#[test]
fn every_codec_round_trips_record_by_record() {
    for codec in CODECS {
        for (n, value_len) in [(1, 0), (3, 10), (2000, 100), (5, 200_000)] {
            let raw = section(n, value_len);
            let packed = compress(codec, &raw, None).unwrap();
            let got = streamed(codec, &packed, n, 1 << 27).unwrap();
            assert_eq!(got.len(), n as usize, "{codec:?}");
            assert!(got
                .iter()
                .enumerate()
                .all(|(i, &(d, l))| d == i as i32 && l == value_len));
        }
    }
}

#[test]
fn framing_errors_read_as_when_inflated_whole() {
    let good = section(10, 30);
    let mut cases: Vec<(Vec<u8>, i32)> = vec![
        (good.clone(), 10),
        (good.clone(), 11),                                    // a record missing
        (good.clone(), 9),                                     // bytes after the last record
        (good[..good.len() - 3].to_vec(), 10),                 // last record cut short
        ([good.clone(), vec![0x80, 0x80]].concat(), 11),       // truncated length varint
        ([good.clone(), vec![0xff; 5]].concat(), 11),          // overlong length varint
        ([good.clone(), vec![0x03]].concat(), 11),             // negative length (-2)
        ([good.clone(), vec![0xfe, 0xff, 0x7f]].concat(), 11), // length far past the rest
        (vec![], 1),
    ];
    // A record whose fields disagree with its length (key length past the record).
    let mut bad_field = good.clone();
    bad_field[4] = 0x7e; // the first record's key length: 63
    cases.push((bad_field, 10));
    for codec in CODECS {
        let packed = compress(codec, &good, None).unwrap();
        assert_eq!(
            streamed(codec, &packed, -1, 1 << 20),
            whole(codec, &packed, -1, 1 << 20)
        );
        for (raw, count) in &cases {
            let packed = compress(codec, raw, None).unwrap();
            for limit in [1 << 20, raw.len(), raw.len().saturating_sub(1), 100] {
                assert_eq!(
                    streamed(codec, &packed, *count, limit),
                    whole(codec, &packed, *count, limit),
                    "{codec:?} count {count} limit {limit} raw {}",
                    raw.len()
                );
            }
        }
    }
}

#[test]
fn truncated_and_corrupt_streams_are_corrupt() {
    let raw = section(500, 50);
    for codec in CODECS {
        let packed = compress(codec, &raw, None).unwrap();
        for cut in [1, packed.len() / 2, packed.len() - 1] {
            let got = streamed(codec, &packed[..cut], 500, 1 << 20).unwrap_err();
            assert!(
                got.contains("decompression failed") || got.contains("record"),
                "{got}"
            );
            // snappy's last block may end inside a raw block: both say corrupt the same way.
            assert_eq!(
                Err(got),
                whole(codec, &packed[..cut], 500, 1 << 20),
                "{codec:?} {cut}"
            );
        }
        let garbage = b"definitely not compressed data";
        let got = streamed(codec, garbage, 1, 1 << 20).unwrap_err();
        assert!(got.contains("decompression failed"), "{codec:?}: {got}");
    }
}

#[test]
fn the_limit_holds_exactly_and_a_bomb_is_never_buffered() {
    let raw = section(300, 100);
    for codec in CODECS {
        let packed = compress(codec, &raw, None).unwrap();
        assert_eq!(streamed(codec, &packed, 300, raw.len()).unwrap().len(), 300);
        let over = streamed(codec, &packed, 300, raw.len() - 1).unwrap_err();
        assert!(over.contains("inflates to more than"), "{codec:?}: {over}");
        // One record of 8 MiB of zeros under a 4 MiB limit: refused as too big.
        let mut bomb = Vec::new();
        put_record(0, 0, None, Some(&vec![0u8; 8 << 20]), 0, &[], &mut bomb).unwrap();
        let packed = compress(codec, &bomb, None).unwrap();
        let err = streamed(codec, &packed, 1, 4 << 20).unwrap_err();
        assert!(
            err.contains("inflates to more than 4194304 bytes"),
            "{codec:?}: {err}"
        );
    }
}

#[test]
fn the_inflate_budget_turns_a_big_section_into_would_block() {
    let raw = section(4000, 300); // ~1.2 MiB
    for codec in CODECS {
        let packed = compress(codec, &raw, None).unwrap();
        let ok = with_inflate_budget(Some(2 << 20), || streamed(codec, &packed, 4000, 1 << 27));
        assert_eq!(ok.unwrap().len(), 4000);
        let mut seen = 0;
        let err = with_inflate_budget(Some(64 << 10), || {
            walk_records(codec, &packed, 4000, 0, 1 << 27, |_, _| {
                seen += 1;
                Ok(())
            })
        })
        .unwrap_err();
        assert!(
            matches!(&err, Error::Io(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "{codec:?}: {err}"
        );
        assert!(seen < 4000);
    }
}

#[test]
fn lz4_linked_frames_stream_with_their_window() {
    use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
    use std::io::Write;
    let raw = section(3000, 120);
    for (mode, checks) in [(BlockMode::Linked, true), (BlockMode::Linked, false)] {
        let info = FrameInfo::new()
            .block_mode(mode)
            .block_size(BlockSize::Max64KB)
            .block_checksums(checks)
            .content_checksum(checks);
        let mut enc = FrameEncoder::with_frame_info(info, Vec::new());
        enc.write_all(&raw).unwrap();
        let mut packed = enc.finish().unwrap();
        // Two frames back to back read as one stream.
        packed.extend(compress(Compression::Lz4, &section(1, 5), None).unwrap());
        let got = streamed(Compression::Lz4, &packed, 3000, 1 << 27);
        // 3000 records, then the second frame's record is one too many.
        assert_eq!(got, whole(Compression::Lz4, &packed, 3000, 1 << 27));
        assert!(got
            .unwrap_err()
            .contains("bytes remain after the 3000 records"));
        if checks {
            let mid = packed.len() / 2;
            packed[mid] ^= 0x55;
            let err = streamed(Compression::Lz4, &packed, 3000, 1 << 27).unwrap_err();
            assert!(err.contains("lz4 decompression failed"), "{err}");
        }
    }
}

#[test]
fn damaged_streams_pass_or_fail_as_when_inflated_whole() {
    // Flipped bytes anywhere in the compressed section: the streamed walk never panics, accepts
    // exactly what the whole inflation accepts, with the same records; errors may differ only
    // in which of two faults is reported first.
    let raw = section(60, 40);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for codec in CODECS {
        let packed = compress(codec, &raw, None).unwrap();
        for _ in 0..1500 {
            let mut bad = packed.clone();
            for _ in 0..1 + next() % 3 {
                let at = (next() as usize) % bad.len();
                bad[at] ^= 1 << (next() % 8);
            }
            let limit = if next() % 4 == 0 {
                raw.len() / 2
            } else {
                1 << 20
            };
            let (s, w) = (
                streamed(codec, &bad, 60, limit),
                whole(codec, &bad, 60, limit),
            );
            assert_eq!(s.is_ok(), w.is_ok(), "{codec:?}: {s:?} vs {w:?}");
            if s.is_ok() {
                assert_eq!(s, w, "{codec:?}");
            }
        }
    }
}
