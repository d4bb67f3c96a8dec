//! Python wrappers for record batches: crc32c, compress/decompress, decode, builder.
use pyo3::prelude::*;

pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
