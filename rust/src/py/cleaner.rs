//! Python face of the log cleaner (`clean_log`, `cleanable_info`, `keyless_record_indexes` in
//! `_ferrokafka.pyi`). The broker's cleaner thread (python `storage/cleaner.py`) picks the log
//! and keeps the checkpoints; the work itself runs here with the GIL released.

use pyo3::prelude::*;

use super::log::PyLog;
use crate::log::cleaner::{self, CleanStats, CleanableInfo, CleanerOptions};

#[pyclass(frozen, name = "CleanableInfo", module = "ferrokafka._ferrokafka")]
pub struct PyCleanableInfo {
    inner: CleanableInfo,
}

#[pymethods]
impl PyCleanableInfo {
    #[getter]
    fn first_dirty_offset(&self) -> i64 {
        self.inner.first_dirty_offset
    }
    #[getter]
    fn first_uncleanable_offset(&self) -> i64 {
        self.inner.first_uncleanable_offset
    }
    #[getter]
    fn clean_bytes(&self) -> u64 {
        self.inner.clean_bytes
    }
    #[getter]
    fn cleanable_bytes(&self) -> u64 {
        self.inner.cleanable_bytes
    }
    #[getter]
    fn dirty_ratio(&self) -> f64 {
        self.inner.dirty_ratio
    }
    #[getter]
    fn needs_compaction_now(&self) -> bool {
        self.inner.needs_compaction_now
    }
    fn __repr__(&self) -> String {
        format!("{:?}", self.inner)
    }
}

#[pyclass(frozen, name = "CleanStats", module = "ferrokafka._ferrokafka")]
pub struct PyCleanStats {
    inner: CleanStats,
}

#[pymethods]
impl PyCleanStats {
    #[getter]
    fn first_dirty_offset(&self) -> i64 {
        self.inner.first_dirty_offset
    }
    #[getter]
    fn end_offset(&self) -> i64 {
        self.inner.end_offset
    }
    #[getter]
    fn segments_cleaned(&self) -> usize {
        self.inner.segments_cleaned
    }
    #[getter]
    fn bytes_read(&self) -> u64 {
        self.inner.bytes_read
    }
    #[getter]
    fn bytes_written(&self) -> u64 {
        self.inner.bytes_written
    }
    #[getter]
    fn records_read(&self) -> u64 {
        self.inner.records_read
    }
    #[getter]
    fn records_kept(&self) -> u64 {
        self.inner.records_kept
    }
    #[getter]
    fn keys_mapped(&self) -> usize {
        self.inner.keys_mapped
    }
    #[getter]
    fn aborted(&self) -> bool {
        self.inner.aborted
    }
    fn __repr__(&self) -> String {
        format!("{:?}", self.inner)
    }
}

#[pyfunction]
#[pyo3(signature = (log, checkpoint, *, max_offset = None, now_ms = None))]
fn cleanable_info(
    py: Python<'_>,
    log: PyRef<'_, PyLog>,
    checkpoint: Option<i64>,
    max_offset: Option<i64>,
    now_ms: Option<i64>,
) -> PyResult<PyCleanableInfo> {
    let now = now_ms.unwrap_or_else(crate::log::now_ms);
    let log = &log.inner;
    let inner = py.allow_threads(|| log.cleanable_info(checkpoint, max_offset, now))?;
    Ok(PyCleanableInfo { inner })
}

#[pyfunction]
// The default is cleaner::DEFAULT_DEDUPE_BUFFER_BYTES, spelled out so introspection sees it.
#[pyo3(signature = (
    log, checkpoint, *, dedupe_buffer_bytes = 134_217_728, max_offset = None, now_ms = None,
))]
fn clean_log(
    py: Python<'_>,
    log: PyRef<'_, PyLog>,
    checkpoint: Option<i64>,
    dedupe_buffer_bytes: usize,
    max_offset: Option<i64>,
    now_ms: Option<i64>,
) -> PyResult<PyCleanStats> {
    let now = now_ms.unwrap_or_else(crate::log::now_ms);
    let opts = CleanerOptions {
        dedupe_buffer_bytes,
        max_offset,
        crash_after_step: None,
    };
    let log = &log.inner;
    let inner = py.allow_threads(|| log.clean(checkpoint, &opts, now))?;
    Ok(PyCleanStats { inner })
}

/// `inflate_max`: a compressed batch that would inflate to more raises BlockingIOError (for a
/// caller that must not wait), as `Log.append`'s.
#[pyfunction]
#[pyo3(signature = (records, *, inflate_max = None))]
fn keyless_record_indexes(
    py: Python<'_>,
    records: &[u8],
    inflate_max: Option<usize>,
) -> PyResult<Vec<i32>> {
    Ok(py.allow_threads(|| {
        crate::record::compression::with_inflate_budget(inflate_max, || {
            cleaner::keyless_record_indexes(records)
        })
    })?)
}

const _: () = assert!(cleaner::DEFAULT_DEDUPE_BUFFER_BYTES == 134_217_728);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyCleanableInfo>()?;
    m.add_class::<PyCleanStats>()?;
    m.add_function(wrap_pyfunction!(cleanable_info, m)?)?;
    m.add_function(wrap_pyfunction!(clean_log, m)?)?;
    m.add_function(wrap_pyfunction!(keyless_record_indexes, m)?)?;
    Ok(())
}
