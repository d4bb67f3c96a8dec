//! The fixed 61-byte header of a record batch v2, exactly as Apache Kafka lays it out
//! (`DefaultRecordBatch`), plus the in-place stamps a broker makes on append.
//!
//! ```text
//! baseOffset           int64   0
//! batchLength          int32   8    bytes after this field (whole batch = batchLength + 12)
//! partitionLeaderEpoch int32   12
//! magic                int8    16
//! crc                  uint32  17   CRC-32C of attributes..end of batch
//! attributes           int16   21
//! lastOffsetDelta      int32   23
//! baseTimestamp        int64   27
//! maxTimestamp         int64   35
//! producerId           int64   43
//! producerEpoch        int16   51
//! baseSequence         int32   53
//! recordCount          int32   57
//! records                      61
//! ```
//! baseOffset, batchLength and partitionLeaderEpoch sit before the CRC'd range, so the broker
//! can stamp offsets and leader epochs without recomputing the CRC.

use crate::error::{Error, Result};

pub const BASE_OFFSET_OFFSET: usize = 0;
pub const LENGTH_OFFSET: usize = 8;
pub const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
pub const MAGIC_OFFSET: usize = 16;
pub const CRC_OFFSET: usize = 17;
pub const ATTRIBUTES_OFFSET: usize = 21;
pub const LAST_OFFSET_DELTA_OFFSET: usize = 23;
pub const BASE_TIMESTAMP_OFFSET: usize = 27;
pub const MAX_TIMESTAMP_OFFSET: usize = 35;
pub const PRODUCER_ID_OFFSET: usize = 43;
pub const PRODUCER_EPOCH_OFFSET: usize = 51;
pub const BASE_SEQUENCE_OFFSET: usize = 53;
pub const RECORDS_COUNT_OFFSET: usize = 57;
/// Size of the batch header; the first record starts here.
pub const HEADER_SIZE: usize = 61;
/// baseOffset + batchLength: the part of the header not counted by batchLength.
pub const LOG_OVERHEAD: usize = 12;
/// The only magic Kafka 4.x reads and writes.
pub const MAGIC_V2: i8 = 2;

pub const COMPRESSION_CODEC_MASK: i16 = 0x07;
pub const TIMESTAMP_TYPE_MASK: i16 = 0x08;
pub const TRANSACTIONAL_FLAG_MASK: i16 = 0x10;
pub const CONTROL_FLAG_MASK: i16 = 0x20;
pub const DELETE_HORIZON_FLAG_MASK: i16 = 0x40;

/// No producer id / epoch / sequence (non-idempotent producers).
pub const NO_PRODUCER_ID: i64 = -1;
pub const NO_PRODUCER_EPOCH: i16 = -1;
pub const NO_SEQUENCE: i32 = -1;
pub const NO_PARTITION_LEADER_EPOCH: i32 = -1;
pub const NO_TIMESTAMP: i64 = -1;

/// Compression codec ids, as stored in the low three bits of the attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Compression {
    None = 0,
    Gzip = 1,
    Snappy = 2,
    Lz4 = 3,
    Zstd = 4,
}

impl Compression {
    pub fn from_id(id: u8) -> Result<Self> {
        Ok(match id {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            other => return Err(Error::UnsupportedCompression(format!("id {other}"))),
        })
    }

    /// Kafka's names (`compression.type`): none, gzip, snappy, lz4, zstd.
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "none" | "uncompressed" => Compression::None,
            "gzip" => Compression::Gzip,
            "snappy" => Compression::Snappy,
            "lz4" => Compression::Lz4,
            "zstd" => Compression::Zstd,
            other => return Err(Error::UnsupportedCompression(format!("'{other}'"))),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

impl TimestampType {
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "CreateTime" => Ok(TimestampType::CreateTime),
            "LogAppendTime" => Ok(TimestampType::LogAppendTime),
            other => Err(Error::InvalidConfig(format!(
                "timestamp type '{other}' (expected CreateTime or LogAppendTime)"
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TimestampType::CreateTime => "CreateTime",
            TimestampType::LogAppendTime => "LogAppendTime",
        }
    }
}

#[inline]
fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
#[inline]
fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}
#[inline]
fn i64_at(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

/// A decoded copy of the 61-byte header. Cheap to make (no allocation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

impl BatchHeader {
    /// Decode the header at the start of `b`. `position` is only used in errors.
    ///
    /// Checks only what is needed to frame the batch: enough bytes for a header, magic 2,
    /// and a batchLength that covers at least the header. It does not check the CRC or that
    /// the whole batch is present; see [`total_size`](Self::total_size) and [`verify_crc`].
    pub fn parse(b: &[u8], position: u64) -> Result<Self> {
        let h = Self::read(b, position)?;
        if h.magic != MAGIC_V2 {
            return Err(Error::UnsupportedMagic {
                position,
                magic: h.magic,
            });
        }
        if (h.batch_length as i64) < (HEADER_SIZE - LOG_OVERHEAD) as i64 {
            return Err(Error::corrupt(
                position,
                format!("batch length {} is smaller than the header", h.batch_length),
            ));
        }
        Ok(h)
    }

    /// The fields of the header at the start of `b` exactly as stored, judging nothing but
    /// that `b` holds [`HEADER_SIZE`] bytes (`position` is only used in that error). For
    /// callers that apply their own rules to a batch not yet validated (Kafka's produce request
    /// checks, a producer's sequence before the append); [`parse`](Self::parse) is this plus
    /// the framing checks.
    pub fn read(b: &[u8], position: u64) -> Result<Self> {
        if b.len() < HEADER_SIZE {
            return Err(Error::corrupt(
                position,
                format!(
                    "{} bytes is shorter than a batch header ({HEADER_SIZE})",
                    b.len()
                ),
            ));
        }
        Ok(BatchHeader {
            base_offset: i64_at(b, BASE_OFFSET_OFFSET),
            batch_length: i32_at(b, LENGTH_OFFSET),
            partition_leader_epoch: i32_at(b, PARTITION_LEADER_EPOCH_OFFSET),
            magic: b[MAGIC_OFFSET] as i8,
            crc: i32_at(b, CRC_OFFSET) as u32,
            attributes: i16_at(b, ATTRIBUTES_OFFSET),
            last_offset_delta: i32_at(b, LAST_OFFSET_DELTA_OFFSET),
            base_timestamp: i64_at(b, BASE_TIMESTAMP_OFFSET),
            max_timestamp: i64_at(b, MAX_TIMESTAMP_OFFSET),
            producer_id: i64_at(b, PRODUCER_ID_OFFSET),
            producer_epoch: i16_at(b, PRODUCER_EPOCH_OFFSET),
            base_sequence: i32_at(b, BASE_SEQUENCE_OFFSET),
            record_count: i32_at(b, RECORDS_COUNT_OFFSET),
        })
    }

    /// Encode into the first [`HEADER_SIZE`] bytes of `out`, `crc` as given (the builder writes
    /// the header with any CRC, then [`set_crc`] once the records follow).
    pub fn write(&self, out: &mut [u8]) {
        let out = &mut out[..HEADER_SIZE];
        out[BASE_OFFSET_OFFSET..LENGTH_OFFSET].copy_from_slice(&self.base_offset.to_be_bytes());
        out[LENGTH_OFFSET..PARTITION_LEADER_EPOCH_OFFSET]
            .copy_from_slice(&self.batch_length.to_be_bytes());
        out[PARTITION_LEADER_EPOCH_OFFSET..MAGIC_OFFSET]
            .copy_from_slice(&self.partition_leader_epoch.to_be_bytes());
        out[MAGIC_OFFSET] = self.magic as u8;
        out[CRC_OFFSET..ATTRIBUTES_OFFSET].copy_from_slice(&self.crc.to_be_bytes());
        out[ATTRIBUTES_OFFSET..LAST_OFFSET_DELTA_OFFSET]
            .copy_from_slice(&self.attributes.to_be_bytes());
        out[LAST_OFFSET_DELTA_OFFSET..BASE_TIMESTAMP_OFFSET]
            .copy_from_slice(&self.last_offset_delta.to_be_bytes());
        out[BASE_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET]
            .copy_from_slice(&self.base_timestamp.to_be_bytes());
        out[MAX_TIMESTAMP_OFFSET..PRODUCER_ID_OFFSET]
            .copy_from_slice(&self.max_timestamp.to_be_bytes());
        out[PRODUCER_ID_OFFSET..PRODUCER_EPOCH_OFFSET]
            .copy_from_slice(&self.producer_id.to_be_bytes());
        out[PRODUCER_EPOCH_OFFSET..BASE_SEQUENCE_OFFSET]
            .copy_from_slice(&self.producer_epoch.to_be_bytes());
        out[BASE_SEQUENCE_OFFSET..RECORDS_COUNT_OFFSET]
            .copy_from_slice(&self.base_sequence.to_be_bytes());
        out[RECORDS_COUNT_OFFSET..HEADER_SIZE].copy_from_slice(&self.record_count.to_be_bytes());
    }

    /// Size of the whole batch in bytes, header included.
    #[inline]
    pub fn total_size(&self) -> usize {
        self.batch_length as usize + LOG_OVERHEAD
    }
    #[inline]
    pub fn last_offset(&self) -> i64 {
        // Wrapping: these headers come off the wire, and a hostile base offset must not panic.
        self.base_offset.wrapping_add(self.last_offset_delta as i64)
    }
    #[inline]
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }
    pub fn compression(&self) -> Result<Compression> {
        Compression::from_id((self.attributes & COMPRESSION_CODEC_MASK) as u8)
    }
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & TIMESTAMP_TYPE_MASK != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_FLAG_MASK != 0
    }
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_FLAG_MASK != 0
    }
    pub fn has_delete_horizon(&self) -> bool {
        self.attributes & DELETE_HORIZON_FLAG_MASK != 0
    }
    /// Sequence number of the batch's last record (Kafka's `DefaultRecordBatch.lastSequence`):
    /// sequences wrap to 0 after `i32::MAX`; [`NO_SEQUENCE`] stays [`NO_SEQUENCE`].
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence == NO_SEQUENCE {
            return NO_SEQUENCE;
        }
        increment_sequence(self.base_sequence, self.last_offset_delta)
    }
    /// The fields the producer state of a partition follows.
    pub fn producer(&self) -> BatchProducer {
        BatchProducer {
            producer_id: self.producer_id,
            producer_epoch: self.producer_epoch,
            base_sequence: self.base_sequence,
            last_sequence: self.last_sequence(),
            is_transactional: self.is_transactional(),
            is_control: self.is_control(),
        }
    }
}

/// Kafka's `DefaultRecordBatch.incrementSequence`: add `increment` to a sequence number,
/// wrapping to 0 after `i32::MAX`.
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX.wrapping_sub(increment) {
        increment
            .wrapping_sub(i32::MAX.wrapping_sub(sequence))
            .wrapping_sub(1)
    } else {
        sequence.wrapping_add(increment)
    }
}

/// The producer fields of a batch (idempotence and transactions), as an append reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchProducer {
    /// [`NO_PRODUCER_ID`] for batches of producers without idempotence.
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    /// See [`BatchHeader::last_sequence`].
    pub last_sequence: i32,
    pub is_transactional: bool,
    pub is_control: bool,
}

/// CRC-32C (Castagnoli) with hardware acceleration where the CPU has it.
#[inline]
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// Continue a CRC-32C over more data.
#[inline]
pub fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
    crc32c::crc32c_append(crc, data)
}

/// CRC-32C of a whole batch as stored in its header: attributes..end.
#[inline]
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c(&batch[ATTRIBUTES_OFFSET..])
}

/// Check the stored CRC of a complete batch (`batch.len() == header.total_size()`).
pub fn verify_crc(batch: &[u8], header: &BatchHeader, position: u64) -> Result<()> {
    let actual = compute_crc(batch);
    if actual != header.crc {
        return Err(Error::corrupt(
            position,
            format!(
                "CRC mismatch: stored {:#010x}, computed {:#010x}",
                header.crc, actual
            ),
        ));
    }
    Ok(())
}

/// Stamp the base offset in place (outside the CRC: no recompute).
#[inline]
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) {
    batch[BASE_OFFSET_OFFSET..BASE_OFFSET_OFFSET + 8].copy_from_slice(&base_offset.to_be_bytes());
}

/// Stamp the partition leader epoch in place (outside the CRC: no recompute).
#[inline]
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) {
    batch[PARTITION_LEADER_EPOCH_OFFSET..PARTITION_LEADER_EPOCH_OFFSET + 4]
        .copy_from_slice(&epoch.to_be_bytes());
}

/// Recompute and store the CRC of a complete batch after changing bytes inside the CRC'd range.
pub fn set_crc(batch: &mut [u8]) {
    let crc = compute_crc(batch);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Set the timestamp type bit and the max timestamp, as Kafka's `setMaxTimestamp` does after
/// validation. Both are inside the CRC, so the CRC is recomputed, but only when something
/// changed: a producer that already wrote the right values costs no second pass over the batch.
/// Returns whether the batch changed.
pub fn set_max_timestamp(
    batch: &mut [u8],
    timestamp_type: TimestampType,
    max_timestamp_ms: i64,
) -> bool {
    let old_attributes = i16_at(batch, ATTRIBUTES_OFFSET);
    let attributes = match timestamp_type {
        TimestampType::LogAppendTime => old_attributes | TIMESTAMP_TYPE_MASK,
        TimestampType::CreateTime => old_attributes & !TIMESTAMP_TYPE_MASK,
    };
    if attributes == old_attributes && i64_at(batch, MAX_TIMESTAMP_OFFSET) == max_timestamp_ms {
        return false;
    }
    batch[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8]
        .copy_from_slice(&max_timestamp_ms.to_be_bytes());
    set_crc(batch);
    true
}

/// Switch a batch to LogAppendTime with `timestamp_ms` as its max timestamp, as a broker does
/// for topics with `message.timestamp.type=LogAppendTime`. Both fields are inside the CRC, so
/// the CRC is recomputed.
pub fn set_log_append_time(batch: &mut [u8], timestamp_ms: i64) {
    set_max_timestamp(batch, TimestampType::LogAppendTime, timestamp_ms);
}

/// What [`next_batch`] found at the front of a buffer.
#[derive(Debug)]
pub enum Framed {
    /// A complete batch of `header.total_size()` bytes.
    Batch(BatchHeader),
    /// Not enough bytes for the header or for the batch it announces. When reading a log
    /// tail or a fetch response this is control flow (a torn write, a partial batch at the end
    /// of a fetch), not an error.
    Incomplete,
}

/// Frame the batch at the front of `buf` (which starts at byte `position` of its source).
/// Magic and length are checked; the CRC is not.
pub fn next_batch(buf: &[u8], position: u64) -> Result<Framed> {
    if buf.len() < HEADER_SIZE {
        // Even a partial header must not hide a bad magic when enough bytes are there.
        if buf.len() > MAGIC_OFFSET && buf[MAGIC_OFFSET] as i8 != MAGIC_V2 {
            return Err(Error::UnsupportedMagic {
                position,
                magic: buf[MAGIC_OFFSET] as i8,
            });
        }
        return Ok(Framed::Incomplete);
    }
    let h = BatchHeader::parse(buf, position)?;
    if buf.len() < h.total_size() {
        return Ok(Framed::Incomplete);
    }
    Ok(Framed::Batch(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_known_vector() {
        // RFC 3720 test vector: 32 bytes of zeros.
        assert_eq!(crc32c(&[0u8; 32]), 0x8a9136aa);
        assert_eq!(crc32c(b"123456789"), 0xe3069283);
    }

    #[test]
    fn short_buffer_is_incomplete() {
        assert!(matches!(
            next_batch(&[0u8; 10], 0).unwrap(),
            Framed::Incomplete
        ));
    }

    fn sample_header() -> BatchHeader {
        BatchHeader {
            base_offset: 0x0102_0304_0506_0708,
            batch_length: (HEADER_SIZE - LOG_OVERHEAD) as i32,
            partition_leader_epoch: 9,
            magic: MAGIC_V2,
            crc: 0,
            attributes: 0x13,
            last_offset_delta: -1,
            base_timestamp: 1_700_000_000_000,
            max_timestamp: 1_700_000_000_500,
            producer_id: 77,
            producer_epoch: 3,
            base_sequence: 12,
            record_count: 0,
        }
    }

    #[test]
    fn write_then_parse_round_trips() {
        let h = sample_header();
        let mut b = vec![0u8; HEADER_SIZE];
        h.write(&mut b);
        assert_eq!(&b[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(b[MAGIC_OFFSET], 2);
        assert_eq!(BatchHeader::parse(&b, 0).unwrap(), h);
        assert_eq!(h.compression().unwrap(), Compression::Lz4);
        assert!(h.is_transactional() && !h.is_control());
    }

    #[test]
    fn max_timestamp_stamp_recomputes_crc_only_on_change() {
        let mut b = vec![0u8; HEADER_SIZE];
        sample_header().write(&mut b);
        set_crc(&mut b);
        let before = b.clone();
        assert!(!set_max_timestamp(
            &mut b,
            TimestampType::CreateTime,
            1_700_000_000_500
        ));
        assert_eq!(b, before);
        assert!(set_max_timestamp(&mut b, TimestampType::LogAppendTime, 5));
        let h = BatchHeader::parse(&b, 0).unwrap();
        assert_eq!(
            (h.timestamp_type(), h.max_timestamp),
            (TimestampType::LogAppendTime, 5)
        );
        verify_crc(&b, &h, 0).unwrap();
        assert!(set_max_timestamp(&mut b, TimestampType::CreateTime, 5));
        let h = BatchHeader::parse(&b, 0).unwrap();
        assert_eq!(h.attributes, 0x13);
        verify_crc(&b, &h, 0).unwrap();
    }

    #[test]
    fn read_takes_fields_as_stored_and_parse_judges_them() {
        let mut b = vec![0u8; HEADER_SIZE + 3];
        let h = BatchHeader {
            magic: 1,
            batch_length: 20,
            ..sample_header()
        };
        h.write(&mut b);
        // `read` only needs the bytes; `parse` frames the batch and refuses both.
        assert_eq!(BatchHeader::read(&b, 0).unwrap(), h);
        assert!(matches!(
            BatchHeader::parse(&b, 5),
            Err(Error::UnsupportedMagic {
                position: 5,
                magic: 1
            })
        ));
        b[MAGIC_OFFSET] = MAGIC_V2 as u8;
        assert!(matches!(
            BatchHeader::parse(&b, 0),
            Err(Error::CorruptRecord { reason, .. }) if reason.contains("batch length 20")
        ));
        match BatchHeader::read(&b[..HEADER_SIZE - 1], 9) {
            Err(Error::CorruptRecord { position, reason }) => {
                assert_eq!(position, 9);
                assert_eq!(reason, "60 bytes is shorter than a batch header (61)");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn last_sequence_wraps_as_kafka_does() {
        let with = |base_sequence, last_offset_delta| BatchHeader {
            base_sequence,
            last_offset_delta,
            ..sample_header()
        };
        assert_eq!(with(12, 4).last_sequence(), 16);
        assert_eq!(with(0, 0).last_sequence(), 0);
        assert_eq!(with(i32::MAX - 1, 1).last_sequence(), i32::MAX);
        assert_eq!(with(i32::MAX - 1, 2).last_sequence(), 0);
        assert_eq!(with(i32::MAX, 5).last_sequence(), 4);
        assert_eq!(with(NO_SEQUENCE, 7).last_sequence(), NO_SEQUENCE);
        // A hostile delta must not panic (Java's int arithmetic wraps).
        with(5, i32::MIN).last_sequence();
        with(-5, i32::MAX).last_sequence();
    }

    #[test]
    fn producer_fields_and_flags() {
        let p = BatchHeader {
            last_offset_delta: 2,
            attributes: 0x30,
            ..sample_header()
        }
        .producer();
        assert_eq!(
            p,
            BatchProducer {
                producer_id: 77,
                producer_epoch: 3,
                base_sequence: 12,
                last_sequence: 14,
                is_transactional: true,
                is_control: true,
            }
        );
    }

    #[test]
    fn bad_magic_is_reported() {
        let mut b = vec![0u8; HEADER_SIZE];
        b[MAGIC_OFFSET] = 1;
        assert!(matches!(
            next_batch(&b, 7),
            Err(Error::UnsupportedMagic {
                position: 7,
                magic: 1
            })
        ));
    }
}
