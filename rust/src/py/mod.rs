//! Thin PyO3 wrappers. Everything Python-facing is registered here; nothing below `py` knows
//! about Python. Each wrapper releases the GIL (`py.allow_threads`) around file and CPU-heavy
//! work.

pub mod batch_header;
pub mod cleaner;
pub mod errors;
pub mod log;
pub mod log_types;
pub mod records;
pub mod response;
pub mod wire;

use pyo3::prelude::*;

/// The explicit export list of `ferrokafka._ferrokafka`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    records::register(m)?;
    batch_header::register(m)?;
    log::register(m)?;
    cleaner::register(m)?;
    wire::register(m)?;
    response::register(m)?;
    Ok(())
}
