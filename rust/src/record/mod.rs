//! Kafka record batch v2: header layout, CRC-32C, records, compression, validation, builder.
//! Pure functions on byte slices; no I/O.
//!
//! Layers, bottom up: [`varint`] → [`record`] (one record) → [`header`] (the 61-byte batch
//! header) → [`compression`] (records-section codecs) → [`inflate`]
//! (walking compressed records as they inflate) → [`batch`] (decoding a whole batch) →
//! [`builder`] (encoding one) → [`validate`] (what a leader checks on produce).

pub mod batch;
pub mod builder;
pub mod compression;
pub mod header;
pub mod inflate;
mod lz4_frame;
// The brief names this file record/record.rs: one record, inside the record-batch module.
#[allow(clippy::module_inception)]
pub mod record;
pub mod validate;
pub mod varint;

pub use batch::{BatchView, ControlRecord, ControlRecordType, Record};
pub use builder::{build_control_batch, BatchBuilder, BatchOptions, ControlBatchOptions};
pub use header::{BatchHeader, Compression, TimestampType};
pub use record::{Header, RecordView};
