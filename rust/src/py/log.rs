//! Python wrappers for the partition log: Log, LogConfig, FileRegion, sendfile.
use pyo3::prelude::*;

pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
