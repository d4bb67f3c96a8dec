//! Building record batches v2 byte for byte as Kafka's `MemoryRecordsBuilder` does: records
//! are encoded as they are appended, the first record's timestamp becomes the base timestamp,
//! maxTimestamp is the largest record timestamp (the log append time for LogAppendTime
//! batches), the records section is compressed as one stream, and the CRC covers
//! attributes..end.
//!
//! The builder writes what it is given: producer state (id, epoch, sequence) is not checked
//! here, because produce validation ([`crate::record::validate`]) is where a broker rejects it,
//! and tests need to build the batches it rejects.

use crate::error::{Error, Result};
use crate::record::batch::{ControlRecord, ControlRecordType};
use crate::record::compression;
use crate::record::header::{
    self, BatchHeader, Compression, TimestampType, CONTROL_FLAG_MASK, HEADER_SIZE, LOG_OVERHEAD,
    MAGIC_V2, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE,
    NO_TIMESTAMP, TIMESTAMP_TYPE_MASK, TRANSACTIONAL_FLAG_MASK,
};
use crate::record::record::{self, Header, RecordView};

/// Everything in a batch header that is not derived from its records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchOptions {
    pub compression: Compression,
    /// None = the codec's Kafka default (gzip 6, zstd 3).
    pub compression_level: Option<i32>,
    pub base_offset: i64,
    pub timestamp_type: TimestampType,
    /// For LogAppendTime batches, the broker time stored as maxTimestamp. None = the largest
    /// record timestamp. Ignored for CreateTime.
    pub log_append_time_ms: Option<i64>,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub is_transactional: bool,
    pub is_control: bool,
    pub partition_leader_epoch: i32,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            compression: Compression::None,
            compression_level: None,
            base_offset: 0,
            timestamp_type: TimestampType::CreateTime,
            log_append_time_ms: None,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            is_transactional: false,
            is_control: false,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
        }
    }
}

/// Accumulates records (uncompressed) and produces one batch.
#[derive(Clone, Debug)]
pub struct BatchBuilder {
    opts: BatchOptions,
    /// Encoded records, uncompressed; compressed as a whole by `build`.
    records: Vec<u8>,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    /// Reused buffer for encoding one record's headers.
    header_scratch: Vec<u8>,
}

/// Largest batch we build: `batchLength` is an int32.
const MAX_BATCH_BYTES: usize = i32::MAX as usize;

impl BatchBuilder {
    /// Errors only for a compression level the codec does not have.
    pub fn new(opts: BatchOptions) -> Result<Self> {
        compression::check_level(opts.compression, opts.compression_level)?;
        Ok(BatchBuilder {
            opts,
            records: Vec::new(),
            count: 0,
            base_timestamp: NO_TIMESTAMP,
            max_timestamp: NO_TIMESTAMP,
            header_scratch: Vec::new(),
        })
    }

    pub fn options(&self) -> &BatchOptions {
        &self.opts
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes of encoded records so far (before compression).
    pub fn uncompressed_bytes(&self) -> usize {
        self.records.len()
    }

    /// Append a record; returns its offset delta.
    pub fn append(
        &mut self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header<'_>],
    ) -> Result<i32> {
        let mut scratch = std::mem::take(&mut self.header_scratch);
        scratch.clear();
        let n = record::put_headers(headers, &mut scratch);
        let result = self.append_encoded(timestamp_ms, key, value, n, &scratch);
        self.header_scratch = scratch;
        result
    }

    /// Append a decoded record with a new absolute timestamp (recompression keeps key, value
    /// and the encoded headers as they are).
    pub fn append_view(&mut self, timestamp_ms: i64, r: &RecordView<'_>) -> Result<i32> {
        self.append_encoded(timestamp_ms, r.key, r.value, r.header_count, r.headers_raw)
    }

    fn append_encoded(
        &mut self,
        timestamp_ms: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        header_count: i32,
        headers_raw: &[u8],
    ) -> Result<i32> {
        if self.count == i32::MAX {
            return Err(Error::InvalidRecord(
                "batch already holds i32::MAX records".into(),
            ));
        }
        if self.count == 0 {
            self.base_timestamp = timestamp_ms;
        }
        let offset_delta = self.count;
        record::put_record(
            timestamp_ms.wrapping_sub(self.base_timestamp),
            offset_delta,
            key,
            value,
            header_count,
            headers_raw,
            &mut self.records,
        )?;
        self.count += 1;
        self.max_timestamp = self.max_timestamp.max(timestamp_ms);
        Ok(offset_delta)
    }

    /// The encoded batch. Errors if no record was appended or the batch would not fit an
    /// int32 length.
    pub fn build(&self) -> Result<Vec<u8>> {
        if self.count == 0 {
            return Err(Error::InvalidRecord(
                "a record batch needs at least one record".into(),
            ));
        }
        let o = &self.opts;
        let mut out = Vec::with_capacity(HEADER_SIZE + self.records.len() / 2 + 64);
        out.resize(HEADER_SIZE, 0);
        compression::compress_into(o.compression, &self.records, o.compression_level, &mut out)?;
        if out.len() - LOG_OVERHEAD > MAX_BATCH_BYTES {
            return Err(Error::RecordTooLarge {
                size: out.len() as u64,
                limit: (MAX_BATCH_BYTES + LOG_OVERHEAD) as u64,
            });
        }
        let mut attributes = o.compression as i16;
        if o.timestamp_type == TimestampType::LogAppendTime {
            attributes |= TIMESTAMP_TYPE_MASK;
        }
        if o.is_transactional {
            attributes |= TRANSACTIONAL_FLAG_MASK;
        }
        if o.is_control {
            attributes |= CONTROL_FLAG_MASK;
        }
        let max_timestamp = match o.timestamp_type {
            TimestampType::LogAppendTime => o.log_append_time_ms.unwrap_or(self.max_timestamp),
            TimestampType::CreateTime => self.max_timestamp,
        };
        BatchHeader {
            base_offset: o.base_offset,
            batch_length: (out.len() - LOG_OVERHEAD) as i32,
            partition_leader_epoch: o.partition_leader_epoch,
            magic: MAGIC_V2,
            crc: 0,
            attributes,
            last_offset_delta: self.count - 1,
            base_timestamp: self.base_timestamp,
            max_timestamp,
            producer_id: o.producer_id,
            producer_epoch: o.producer_epoch,
            base_sequence: o.base_sequence,
            record_count: self.count,
        }
        .write(&mut out);
        header::set_crc(&mut out);
        Ok(out)
    }
}

/// What a transaction marker batch says and where it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlBatchOptions {
    pub commit: bool,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub coordinator_epoch: i32,
    pub timestamp_ms: i64,
    pub base_offset: i64,
    pub partition_leader_epoch: i32,
}

/// A transaction marker batch (Kafka's `MemoryRecords.withEndTransactionMarker`): one
/// COMMIT or ABORT control record, uncompressed, CreateTime, transactional, no sequence.
pub fn build_control_batch(c: &ControlBatchOptions) -> Vec<u8> {
    let kind = if c.commit {
        ControlRecordType::Commit
    } else {
        ControlRecordType::Abort
    };
    let mut b = BatchBuilder::new(BatchOptions {
        base_offset: c.base_offset,
        producer_id: c.producer_id,
        producer_epoch: c.producer_epoch,
        is_transactional: true,
        is_control: true,
        partition_leader_epoch: c.partition_leader_epoch,
        ..BatchOptions::default()
    })
    .expect("uncompressed batches have no level to reject");
    b.append(
        c.timestamp_ms,
        Some(&ControlRecord::key_bytes(kind)),
        Some(&ControlRecord::end_txn_value_bytes(c.coordinator_epoch)),
        &[],
    )
    .expect("a single small record always fits");
    b.build().expect("a one-record batch always builds")
}

#[cfg(test)]
#[path = "builder_tests.rs"]
mod tests;
