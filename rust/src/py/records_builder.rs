//! Python wrappers for building batches: `BatchBuilder` and `build_control_batch` (part of
//! the "Record batches (no I/O)" section of `_ferrokafka.pyi`; registered by `py::records`).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::PyBytes;

use super::{arg_error, maybe_allow_threads, now_ms};
use crate::record::builder::{self, BatchBuilder, BatchOptions, ControlBatchOptions};
use crate::record::header::{Compression, TimestampType};
use crate::record::record::Header;

/// Builds one record batch v2.
#[pyclass(name = "BatchBuilder", module = "ferrokafka._ferrokafka")]
pub struct PyBatchBuilder {
    inner: BatchBuilder,
}

#[pymethods]
impl PyBatchBuilder {
    #[new]
    #[pyo3(signature = (
        *,
        compression = "none",
        compression_level = None,
        base_offset = 0,
        timestamp_type = "CreateTime",
        producer_id = -1,
        producer_epoch = -1,
        base_sequence = -1,
        is_transactional = false,
        partition_leader_epoch = -1
    ),
    // Spelled out because pyo3 renders negative defaults as "...".
    text_signature = "(*, compression='none', compression_level=None, base_offset=0, \
        timestamp_type='CreateTime', producer_id=-1, producer_epoch=-1, base_sequence=-1, \
        is_transactional=False, partition_leader_epoch=-1)")]
    #[allow(clippy::too_many_arguments)]
    fn new(
        compression: &str,
        compression_level: Option<i32>,
        base_offset: i64,
        timestamp_type: &str,
        producer_id: i64,
        producer_epoch: i16,
        base_sequence: i32,
        is_transactional: bool,
        partition_leader_epoch: i32,
    ) -> PyResult<Self> {
        let opts = BatchOptions {
            compression: Compression::from_name(compression)?,
            compression_level,
            base_offset,
            timestamp_type: TimestampType::from_name(timestamp_type).map_err(arg_error)?,
            log_append_time_ms: None,
            producer_id,
            producer_epoch,
            base_sequence,
            is_transactional,
            is_control: false,
            partition_leader_epoch,
        };
        Ok(PyBatchBuilder {
            inner: BatchBuilder::new(opts).map_err(arg_error)?,
        })
    }

    #[pyo3(
        signature = (value, *, key = None, headers = None, timestamp = None),
        text_signature = "(self, value, *, key=None, headers=(), timestamp=None)"
    )]
    fn append(
        &mut self,
        value: Option<&[u8]>,
        key: Option<&[u8]>,
        headers: Option<Vec<(PyBackedStr, Option<PyBackedBytes>)>>,
        timestamp: Option<i64>,
    ) -> PyResult<i32> {
        let headers = headers.unwrap_or_default();
        let headers: Vec<Header<'_>> = headers
            .iter()
            .map(|(k, v)| Header {
                key: k.as_bytes(),
                value: v.as_deref(),
            })
            .collect();
        Ok(self
            .inner
            .append(timestamp.unwrap_or_else(now_ms), key, value, &headers)?)
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn build<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        if self.inner.is_empty() {
            return Err(PyValueError::new_err(
                "cannot build a record batch: no record was appended",
            ));
        }
        let inner = &self.inner;
        let out = maybe_allow_threads(py, inner.uncompressed_bytes(), || inner.build())?;
        Ok(PyBytes::new(py, &out))
    }
}

/// `build_control_batch(*, commit, producer_id, producer_epoch, coordinator_epoch=0,
/// timestamp=None, base_offset=0, partition_leader_epoch=-1)`: a transaction marker.
#[pyfunction]
#[pyo3(signature = (
    *,
    commit,
    producer_id,
    producer_epoch,
    coordinator_epoch = 0,
    timestamp = None,
    base_offset = 0,
    partition_leader_epoch = -1
),
text_signature = "(*, commit, producer_id, producer_epoch, coordinator_epoch=0, timestamp=None, \
    base_offset=0, partition_leader_epoch=-1)")]
#[allow(clippy::too_many_arguments)]
fn build_control_batch<'py>(
    py: Python<'py>,
    commit: bool,
    producer_id: i64,
    producer_epoch: i16,
    coordinator_epoch: i32,
    timestamp: Option<i64>,
    base_offset: i64,
    partition_leader_epoch: i32,
) -> Bound<'py, PyBytes> {
    let out = builder::build_control_batch(&ControlBatchOptions {
        commit,
        producer_id,
        producer_epoch,
        coordinator_epoch,
        timestamp_ms: timestamp.unwrap_or_else(now_ms),
        base_offset,
        partition_leader_epoch,
    });
    PyBytes::new(py, &out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(build_control_batch, m)?)?;
    m.add_class::<PyBatchBuilder>()?;
    Ok(())
}
