//! A whole record batch v2: the header plus its records, inflated when compressed, with
//! absolute offsets and timestamps, and the control records of transaction markers.
//!
//! [`BatchView`] borrows a complete batch; [`RecordIter`] walks a records section without
//! copying; [`Record`] is an owned, absolute record for callers that keep records around.
//!
//! Control records (`attributes` control bit set) carry a key of `version int16, type int16`
//! (0 = ABORT, 1 = COMMIT; KRaft uses higher types) and, for transaction markers, a value of
//! `version int16, coordinatorEpoch int32`.

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::record::compression::{self, MAX_DECOMPRESSED_BYTES};
use crate::record::header::{self, BatchHeader, Compression, Framed, TimestampType, HEADER_SIZE};
use crate::record::record::RecordView;

/// A complete batch borrowed from a buffer or segment.
#[derive(Clone, Copy, Debug)]
pub struct BatchView<'a> {
    pub header: BatchHeader,
    /// The whole batch, `header.total_size()` bytes.
    pub bytes: &'a [u8],
    /// Byte position of the batch in its source (for errors and callers).
    pub position: u64,
}

/// Move a CorruptRecord error from "position 0 of some sub-buffer" to the batch's position.
fn at_position(e: Error, position: u64) -> Error {
    match e {
        Error::CorruptRecord { reason, .. } => Error::CorruptRecord { position, reason },
        other => other,
    }
}

impl<'a> BatchView<'a> {
    /// The complete batch at the front of `buf` (which starts at `position` of its source).
    /// Magic and length are checked, the CRC is not (see [`verify_crc`](Self::verify_crc)).
    pub fn parse(buf: &'a [u8], position: u64) -> Result<Self> {
        match header::next_batch(buf, position)? {
            Framed::Batch(h) => Ok(BatchView {
                header: h,
                bytes: &buf[..h.total_size()],
                position,
            }),
            Framed::Incomplete => Err(Error::corrupt(position, "incomplete record batch")),
        }
    }

    pub fn verify_crc(&self) -> Result<()> {
        header::verify_crc(self.bytes, &self.header, self.position)
    }

    pub fn is_valid(&self) -> bool {
        header::compute_crc(self.bytes) == self.header.crc
    }

    /// The records section as stored (compressed for compressed batches).
    pub fn raw_records(&self) -> &'a [u8] {
        &self.bytes[HEADER_SIZE..]
    }

    /// The records section, inflated for compressed batches (bounded by
    /// [`MAX_DECOMPRESSED_BYTES`]). Uncompressed batches are borrowed, not copied.
    pub fn records_section(&self) -> Result<Cow<'a, [u8]>> {
        self.records_section_bounded(MAX_DECOMPRESSED_BYTES)
    }

    /// The batch's codec. An unknown codec id in its attributes is a corrupt batch (as the
    /// produce path treats it), not a bad codec name from a caller.
    pub fn codec(&self) -> Result<Compression> {
        self.header.compression().map_err(|_| {
            Error::corrupt(
                self.position,
                format!(
                    "unknown compression codec id {} in attributes",
                    self.header.attributes & header::COMPRESSION_CODEC_MASK
                ),
            )
        })
    }

    pub fn records_section_bounded(&self, limit: usize) -> Result<Cow<'a, [u8]>> {
        match self.codec()? {
            Compression::None => Ok(Cow::Borrowed(self.raw_records())),
            codec => compression::decompress_bounded(codec, self.raw_records(), limit)
                .map(Cow::Owned)
                .map_err(|e| at_position(e, self.position)),
        }
    }

    /// Absolute offset of a record of this batch.
    #[inline]
    pub fn record_offset(&self, r: &RecordView<'_>) -> i64 {
        self.header.base_offset.wrapping_add(r.offset_delta as i64)
    }

    /// Timestamp of a record of this batch: the batch's max timestamp for LogAppendTime
    /// batches (the broker's clock overrides every record), else base + delta.
    #[inline]
    pub fn record_timestamp(&self, r: &RecordView<'_>) -> i64 {
        record_timestamp(&self.header, r)
    }

    /// Every record, owned, with absolute offsets and timestamps.
    pub fn records(&self) -> Result<Vec<Record>> {
        let section = self.records_section()?;
        let mut out = Vec::with_capacity(self.header.record_count.clamp(0, 4096) as usize);
        for r in iter_records(&section, self.header.record_count, self.position) {
            let r = r?;
            out.push(Record {
                offset: self.record_offset(&r),
                timestamp: self.record_timestamp(&r),
                key: r.key.map(<[u8]>::to_vec),
                value: r.value.map(<[u8]>::to_vec),
                headers: r
                    .headers()
                    .map(|h| (h.key_str().into_owned(), h.value.map(<[u8]>::to_vec)))
                    .collect(),
            });
        }
        Ok(out)
    }

    /// For a control batch, its (first and only) control record; None for data batches.
    pub fn control_record(&self) -> Result<Option<ControlRecord>> {
        if !self.header.is_control() {
            return Ok(None);
        }
        let section = self.records_section()?;
        let first = iter_records(&section, self.header.record_count, self.position)
            .next()
            .ok_or_else(|| Error::corrupt(self.position, "control batch without records"))??;
        ControlRecord::parse(&first, self.position).map(Some)
    }
}

/// See [`BatchView::record_timestamp`].
#[inline]
pub fn record_timestamp(h: &BatchHeader, r: &RecordView<'_>) -> i64 {
    match h.timestamp_type() {
        TimestampType::LogAppendTime => h.max_timestamp,
        TimestampType::CreateTime => h.base_timestamp.wrapping_add(r.timestamp_delta),
    }
}

/// An owned record with its absolute offset and timestamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Walk the records of a section: exactly `count` records, each consuming exactly its declared
/// length, and no bytes after the last (Kafka: "records still remaining"). After the first
/// error the iterator ends.
pub fn iter_records(section: &[u8], count: i32, position: u64) -> RecordIter<'_> {
    RecordIter {
        section,
        at: 0,
        index: 0,
        count,
        position,
        done: false,
    }
}

#[derive(Clone, Debug)]
pub struct RecordIter<'s> {
    section: &'s [u8],
    at: usize,
    index: i32,
    count: i32,
    position: u64,
    done: bool,
}

impl<'s> RecordIter<'s> {
    fn fail(&mut self, reason: String) -> Option<Result<RecordView<'s>>> {
        self.done = true;
        Some(Err(Error::corrupt(self.position, reason)))
    }

    /// Bytes of the section consumed so far.
    pub fn consumed(&self) -> usize {
        self.at
    }
}

impl<'s> Iterator for RecordIter<'s> {
    type Item = Result<RecordView<'s>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.count < 0 {
            return self.fail(format!("negative record count {}", self.count));
        }
        if self.index == self.count {
            self.done = true;
            if self.at != self.section.len() {
                let extra = self.section.len() - self.at;
                return self.fail(format!(
                    "{extra} bytes remain after the {} records the batch declares",
                    self.count
                ));
            }
            return None;
        }
        if self.at == self.section.len() {
            return self.fail(format!(
                "batch declares {} records but holds {}",
                self.count, self.index
            ));
        }
        match RecordView::decode(&self.section[self.at..], self.position) {
            Ok(r) => {
                self.at += r.encoded_size;
                self.index += 1;
                Some(Ok(r))
            }
            Err(Error::CorruptRecord { reason, .. }) => {
                let index = self.index;
                self.fail(format!("record {index}: {reason}"))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// The type of a control record (`ControlRecordType` in Kafka).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlRecordType {
    Abort,
    Commit,
    /// KRaft's types (leader change, snapshot header/footer, voters) and any future ones.
    Other(i16),
}

impl ControlRecordType {
    pub fn from_id(id: i16) -> Self {
        match id {
            0 => ControlRecordType::Abort,
            1 => ControlRecordType::Commit,
            other => ControlRecordType::Other(other),
        }
    }

    pub fn id(self) -> i16 {
        match self {
            ControlRecordType::Abort => 0,
            ControlRecordType::Commit => 1,
            ControlRecordType::Other(id) => id,
        }
    }

    /// "ABORT" / "COMMIT" / "UNKNOWN", as Kafka names them.
    pub fn name(self) -> &'static str {
        match self {
            ControlRecordType::Abort => "ABORT",
            ControlRecordType::Commit => "COMMIT",
            ControlRecordType::Other(_) => "UNKNOWN",
        }
    }
}

/// Version of the control record key and of the end-transaction marker value we write.
pub const CONTROL_RECORD_KEY_VERSION: i16 = 0;
pub const END_TXN_MARKER_VERSION: i16 = 0;
const CONTROL_KEY_BYTES: usize = 4;
const END_TXN_MARKER_VALUE_BYTES: usize = 6;

/// A decoded control record. `coordinator_epoch` is set for transaction markers (ABORT and
/// COMMIT) and None for other control types, whose values we do not interpret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlRecord {
    pub kind: ControlRecordType,
    pub coordinator_epoch: Option<i32>,
}

impl ControlRecord {
    /// Parse the key (and for markers the value) of a control record. Newer key or value
    /// versions are read by their version-0 prefix, as Kafka does.
    pub fn parse(r: &RecordView<'_>, position: u64) -> Result<Self> {
        let key = r
            .key
            .filter(|k| k.len() >= CONTROL_KEY_BYTES)
            .ok_or_else(|| {
                Error::corrupt(position, "control record key is shorter than 4 bytes")
            })?;
        let version = i16::from_be_bytes([key[0], key[1]]);
        if version < 0 {
            return Err(Error::corrupt(
                position,
                format!("negative control record key version {version}"),
            ));
        }
        let kind = ControlRecordType::from_id(i16::from_be_bytes([key[2], key[3]]));
        let coordinator_epoch = match kind {
            ControlRecordType::Other(_) => None,
            _ => {
                let v = r
                    .value
                    .filter(|v| v.len() >= END_TXN_MARKER_VALUE_BYTES)
                    .ok_or_else(|| {
                        Error::corrupt(position, "transaction marker value is shorter than 6 bytes")
                    })?;
                Some(i32::from_be_bytes(v[2..6].try_into().unwrap()))
            }
        };
        Ok(ControlRecord {
            kind,
            coordinator_epoch,
        })
    }

    /// The key bytes of a control record of type `kind`.
    pub fn key_bytes(kind: ControlRecordType) -> [u8; CONTROL_KEY_BYTES] {
        let mut k = [0u8; CONTROL_KEY_BYTES];
        k[..2].copy_from_slice(&CONTROL_RECORD_KEY_VERSION.to_be_bytes());
        k[2..].copy_from_slice(&kind.id().to_be_bytes());
        k
    }

    /// The value bytes of a transaction marker.
    pub fn end_txn_value_bytes(coordinator_epoch: i32) -> [u8; END_TXN_MARKER_VALUE_BYTES] {
        let mut v = [0u8; END_TXN_MARKER_VALUE_BYTES];
        v[..2].copy_from_slice(&END_TXN_MARKER_VERSION.to_be_bytes());
        v[2..].copy_from_slice(&coordinator_epoch.to_be_bytes());
        v
    }
}

#[cfg(test)]
#[path = "batch_tests.rs"]
pub(crate) mod tests;
