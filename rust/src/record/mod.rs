//! Kafka record batch v2: header layout, CRC-32C, records, compression, validation, builder.
//! Pure functions on byte slices; no I/O.

pub mod header;
pub mod validate;

pub use header::{BatchHeader, Compression, TimestampType};
