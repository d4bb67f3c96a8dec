//! Test helpers: record batches built by hand from the header constants (valid CRC, real
//! uncompressed records so timestamp searches see real record timestamps), small configs, a
//! brute-force batch parser and the index oracle.

use std::path::Path;

use crate::index::{OffsetPosition, TimestampOffset};
use crate::log::{AppendOrigin, Log, LogConfig};
use crate::record::header::{self, BatchHeader, Framed, HEADER_SIZE};

pub const TS0: i64 = 1_700_000_000_000;

fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        if z < 0x80 {
            out.push(z as u8);
            return;
        }
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
}

/// One batch with a record per timestamp, each with a `value_len`-byte value. `attributes`
/// may mark it gzip (codec 1: the records are really gzipped), control or LogAppendTime.
pub fn batch_with(
    base_offset: i64,
    timestamps: &[i64],
    value_len: usize,
    attributes: i16,
) -> Vec<u8> {
    assert!(!timestamps.is_empty());
    let mut records = Vec::new();
    for (i, ts) in timestamps.iter().enumerate() {
        let mut r = vec![0u8]; // attributes
        put_varint(&mut r, ts - timestamps[0]);
        put_varint(&mut r, i as i64);
        put_varint(&mut r, -1); // null key
        put_varint(&mut r, value_len as i64);
        r.extend((0..value_len).map(|j| (base_offset as usize + i + j) as u8));
        put_varint(&mut r, 0); // no headers
        put_varint(&mut records, r.len() as i64);
        records.extend(r);
    }
    let mut b = vec![0u8; HEADER_SIZE];
    match attributes & header::COMPRESSION_CODEC_MASK {
        0 => b.extend(records),
        1 => {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(&mut b, flate2::Compression::default());
            gz.write_all(&records).unwrap();
            gz.finish().unwrap();
        }
        other => panic!("test batches support gzip only, not codec {other}"),
    }
    let n = timestamps.len() as i32;
    let put =
        |b: &mut Vec<u8>, at: usize, bytes: &[u8]| b[at..at + bytes.len()].copy_from_slice(bytes);
    put(
        &mut b,
        header::BASE_OFFSET_OFFSET,
        &base_offset.to_be_bytes(),
    );
    let len = (b.len() - header::LOG_OVERHEAD) as i32;
    put(&mut b, header::LENGTH_OFFSET, &len.to_be_bytes());
    put(
        &mut b,
        header::PARTITION_LEADER_EPOCH_OFFSET,
        &(-1i32).to_be_bytes(),
    );
    b[header::MAGIC_OFFSET] = header::MAGIC_V2 as u8;
    put(&mut b, header::ATTRIBUTES_OFFSET, &attributes.to_be_bytes());
    put(
        &mut b,
        header::LAST_OFFSET_DELTA_OFFSET,
        &(n - 1).to_be_bytes(),
    );
    put(
        &mut b,
        header::BASE_TIMESTAMP_OFFSET,
        &timestamps[0].to_be_bytes(),
    );
    let max = *timestamps.iter().max().unwrap();
    put(&mut b, header::MAX_TIMESTAMP_OFFSET, &max.to_be_bytes());
    put(&mut b, header::PRODUCER_ID_OFFSET, &(-1i64).to_be_bytes());
    put(
        &mut b,
        header::PRODUCER_EPOCH_OFFSET,
        &(-1i16).to_be_bytes(),
    );
    put(&mut b, header::BASE_SEQUENCE_OFFSET, &(-1i32).to_be_bytes());
    put(&mut b, header::RECORDS_COUNT_OFFSET, &n.to_be_bytes());
    let crc = header::compute_crc(&b);
    put(&mut b, header::CRC_OFFSET, &crc.to_be_bytes());
    b
}

pub fn batch(base_offset: i64, timestamps: &[i64], value_len: usize) -> Vec<u8> {
    batch_with(base_offset, timestamps, value_len, 0)
}

/// `count` records with timestamps `first_ts`, `first_ts + 1`, ...
pub fn simple(count: usize, first_ts: i64, value_len: usize) -> Vec<u8> {
    let ts: Vec<i64> = (0..count as i64).map(|i| first_ts + i).collect();
    batch(0, &ts, value_len)
}

/// Small segments and a dense index so a few hundred batches span many segments.
pub fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 4096,
        segment_index_bytes: 1024,
        index_interval_bytes: 300,
        retention_ms: None,
        message_timestamp_after_max_ms: None,
        ..LogConfig::default()
    }
}

pub fn open(dir: &Path, config: LogConfig) -> Log {
    Log::open(dir, config, 0, None).unwrap()
}

pub fn append(log: &Log, records: &[u8]) -> crate::record::validate::AppendSummary {
    log.append(records, 0, TS0, AppendOrigin::Client).unwrap()
}

/// Every batch in `buf` with its position (a brute-force frame walk).
pub fn parse_all(buf: &[u8]) -> Vec<(usize, BatchHeader)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        match header::next_batch(&buf[pos..], pos as u64).unwrap() {
            Framed::Batch(h) => {
                out.push((pos, h));
                pos += h.total_size();
            }
            Framed::Incomplete => panic!("incomplete batch at {pos}"),
        }
    }
    out
}

/// The whole log, read from its start.
pub fn read_all(log: &Log) -> Vec<u8> {
    log.read_batch_bytes(log.log_start_offset(), u64::MAX, None)
        .unwrap()
}

/// What the indexes of a segment holding `batches` (position, header) must contain after a
/// rebuild or a close: Kafka's rule, computed independently of the segment code.
pub fn expected_indexes(
    batches: &[(usize, BatchHeader)],
    base_offset: i64,
    interval: u64,
    closed: bool,
) -> (Vec<OffsetPosition>, Vec<TimestampOffset>) {
    let (mut offsets, mut times) = (Vec::new(), Vec::<TimestampOffset>::new());
    let mut max = TimestampOffset {
        timestamp: -1,
        offset: base_offset,
    };
    let mut since = 0u64;
    let push_time = |times: &mut Vec<TimestampOffset>, e: TimestampOffset| {
        if e.timestamp > times.last().map_or(-1, |l| l.timestamp) {
            times.push(e);
        }
    };
    for (pos, h) in batches {
        if h.max_timestamp > max.timestamp {
            max = TimestampOffset {
                timestamp: h.max_timestamp,
                offset: h.last_offset(),
            };
        }
        if since > interval {
            offsets.push(OffsetPosition {
                offset: h.last_offset(),
                position: *pos as u64,
            });
            push_time(&mut times, max);
            since = 0;
        }
        since += h.total_size() as u64;
    }
    if closed {
        push_time(&mut times, max);
    }
    (offsets, times)
}

/// Tiny deterministic PRNG (xorshift64*) so tests need no extra crate.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Run `f` on the log's segment map.
pub fn with_segments<R>(log: &Log, f: impl FnOnce(&crate::log::segments::Segments) -> R) -> R {
    f(&log.state.read().segments)
}

/// Copy the files of `src` into `dst` (a crash image to damage).
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dst.join(entry.file_name())).unwrap();
    }
}

/// Append `n` batches of 1..=5 records, values of 0..200 bytes and rising timestamps; returns
/// the bytes of every batch as the log must hold them.
pub fn fill(log: &Log, n: usize, rng: &mut Rng) -> Vec<u8> {
    let mut expected = Vec::new();
    for _ in 0..n {
        let count = 1 + rng.below(5) as usize;
        let value_len = rng.below(200) as usize;
        let first_ts = TS0 + log.log_end_offset() * 10;
        let mut b = simple(count, first_ts, value_len);
        let info = append(log, &b);
        header::set_base_offset(&mut b, info.first_offset);
        header::set_partition_leader_epoch(&mut b, 0);
        expected.extend(b);
    }
    expected
}

/// (segment base offset, batches with positions inside the segment) for every segment.
pub fn segment_batches(log: &Log) -> Vec<(i64, Vec<(usize, BatchHeader)>)> {
    log.segments()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s.base_offset,
                parse_all(&std::fs::read(&s.path).unwrap()[..s.size_in_bytes as usize]),
            )
        })
        .collect()
}
