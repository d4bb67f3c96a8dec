//! ferrokafka's native core: every byte of the data path.
//!
//! # Layout
//! - [`record`]: Kafka record batch v2 (header, records, varints), CRC-32C, compression codecs,
//!   produce-time validation and a batch builder. Pure functions on byte slices, no I/O.
//! - [`index`]: the sparse offset index (8-byte entries) and time index (12-byte entries), both
//!   memory-mapped and binary-searched, and the transaction index of aborted transactions
//!   (34-byte entries, created on the first one).
//! - [`log`]: segments (`.log` + indexes), the ordered segment map, and the partition log:
//!   append, read, roll, truncate, recover, retention, flush.
//! - [`io`]: file regions and `sendfile` to sockets.
//! - [`wire`]: Produce request bodies read and response frames written (the hottest API's
//!   codec; the Python schema codec handles every other case). Pure, no I/O.
//! - [`py`]: thin PyO3 wrappers and the Python exception types. This module and
//!   `#[pymodule]` below are the only places that know about Python.
//!
//! Errors from every layer are one [`error::Error`] enum, mapped to typed Python exceptions
//! in [`py::errors`].
//!
//! Who drives this crate: `python/ferrokafka/storage/` (the `LogManager`) opens the logs, and
//! `python/ferrokafka/partition/` owns each one: `Partition` (high watermark, producer state,
//! leader-epoch cache, leader/follower state; the only caller of `Log.append`) and
//! `ReplicaManager` (the hosted partitions and the purgatory). Coordinators write through
//! `python/ferrokafka/coordinator/runtime.py`; `protocol/native.py` uses [`wire`].

pub mod error;
pub mod index;
pub mod io;
pub mod log;
pub mod py;
pub mod record;
pub mod wire;

use pyo3::prelude::*;

/// The native module `ferrokafka._ferrokafka`. The export list lives in `py::register`.
#[pymodule]
fn _ferrokafka(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    py::register(m)
}
