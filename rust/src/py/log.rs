//! Python wrapper of the partition log (`Log` in `_ferrokafka.pyi`) and the export list of
//! the log's types. Every call that touches files runs with the GIL released; the log's own
//! locks are only ever taken inside those sections, so no lock is held while Python runs.

use std::path::PathBuf;

use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::types::PyType;

use super::batch_header::PyBatchHeader;
use super::log_types::{PyAppendInfo, PyFetchInfo, PyFileRegion, PyLogConfig, PySegmentInfo};
use super::records::PyRecordBatch;
use crate::index::AbortedTxn;
use crate::log::{now_ms, AppendOrigin, Log};

#[pyclass(frozen, name = "Log", module = "ferrokafka._ferrokafka")]
pub struct PyLog {
    pub(crate) inner: Log,
}

#[pymethods]
impl PyLog {
    #[new]
    #[pyo3(signature = (dir, config = None, *, recovery_point = 0, log_start_offset = None))]
    fn new(
        py: Python<'_>,
        dir: PathBuf,
        config: Option<PyRef<'_, PyLogConfig>>,
        recovery_point: i64,
        log_start_offset: Option<i64>,
    ) -> PyResult<Self> {
        let config = config.map(|c| c.inner.clone()).unwrap_or_default();
        let inner =
            py.allow_threads(|| Log::open(dir, config, recovery_point, log_start_offset))?;
        Ok(PyLog { inner })
    }

    #[getter]
    fn dir(&self) -> String {
        self.inner.dir().to_string_lossy().into_owned()
    }
    // The getters below take the log's read lock, which waits while a writer (close, a
    // truncation) holds it over file work; they release the GIL so Python threads run meanwhile.
    #[getter]
    fn config(&self, py: Python<'_>) -> PyLogConfig {
        PyLogConfig {
            inner: py.allow_threads(|| self.inner.config()),
        }
    }
    #[getter]
    fn log_start_offset(&self, py: Python<'_>) -> i64 {
        py.allow_threads(|| self.inner.log_start_offset())
    }
    #[getter]
    fn log_end_offset(&self, py: Python<'_>) -> i64 {
        py.allow_threads(|| self.inner.log_end_offset())
    }
    #[getter]
    fn recovery_point(&self) -> i64 {
        self.inner.recovery_point()
    }
    #[getter]
    fn size_in_bytes(&self, py: Python<'_>) -> u64 {
        py.allow_threads(|| self.inner.size_in_bytes())
    }

    fn update_config(&self, py: Python<'_>, config: PyRef<'_, PyLogConfig>) -> PyResult<()> {
        let config = config.inner.clone();
        Ok(py.allow_threads(|| self.inner.update_config(config))?)
    }

    #[pyo3(
        signature = (records, *, leader_epoch = -1, now_ms = None, inflate_max = None),
        text_signature = "($self, records, *, leader_epoch=-1, now_ms=None, inflate_max=None)"
    )]
    fn append(
        &self,
        py: Python<'_>,
        records: PyBuffer<u8>,
        leader_epoch: i32,
        now_ms: Option<i64>,
        inflate_max: Option<usize>,
    ) -> PyResult<PyAppendInfo> {
        let now = now_ms.unwrap_or_else(crate::log::now_ms);
        let append = |bytes: &[u8]| {
            py.allow_threads(|| {
                crate::record::compression::with_inflate_budget(inflate_max, || {
                    self.inner
                        .append(bytes, leader_epoch, now, AppendOrigin::Client)
                })
            })
        };
        let summary = if records.readonly() && records.is_c_contiguous() {
            // SAFETY: a read-only, C-contiguous export of `len_bytes` bytes at `buf_ptr`,
            // kept alive (and its exporter unable to resize or free it) by `records` until
            // this function returns; read-only exporters (bytes, read-only memoryviews of
            // frames nobody writes) do not change it, so reading it without the GIL is sound.
            let bytes = unsafe {
                std::slice::from_raw_parts(records.buf_ptr() as *const u8, records.len_bytes())
            };
            append(bytes)
        } else {
            // A writable buffer (bytearray) could change while the GIL is released: copy it.
            append(&records.to_vec(py)?)
        }?;
        Ok(summary.into())
    }

    fn append_as_follower(&self, py: Python<'_>, records: &[u8]) -> PyResult<PyAppendInfo> {
        let summary = py.allow_threads(|| self.inner.append_as_follower(records, now_ms()))?;
        Ok(summary.into())
    }

    #[pyo3(signature = (offset, max_bytes, *, max_offset = None, min_one_batch = true, nowait = false))]
    fn read(
        &self,
        py: Python<'_>,
        offset: i64,
        max_bytes: u64,
        max_offset: Option<i64>,
        min_one_batch: bool,
        nowait: bool,
    ) -> PyResult<PyFetchInfo> {
        let data = py.allow_threads(|| {
            let read = || {
                self.inner
                    .read(offset, max_bytes, max_offset, min_one_batch)
            };
            if nowait {
                crate::log::without_waiting(read)
            } else {
                read()
            }
        })?;
        Ok(data.into())
    }

    /// Decoded batches of `read`, each with its byte position in its segment file. The copy
    /// and the framing run without the GIL.
    #[pyo3(signature = (offset, max_bytes = 1048576, *, max_offset = None))]
    fn read_batches(
        &self,
        py: Python<'_>,
        offset: i64,
        max_bytes: u64,
        max_offset: Option<i64>,
    ) -> PyResult<Vec<PyRecordBatch>> {
        let batches = py.allow_threads(|| -> crate::error::Result<Vec<PyRecordBatch>> {
            let fetch = self.inner.read(offset, max_bytes, max_offset, true)?;
            let mut out = Vec::new();
            for region in &fetch.regions {
                let data = region.read_to_vec()?;
                out.extend(PyRecordBatch::decode_owned(
                    data,
                    region.position(),
                    true,
                    false,
                )?);
            }
            Ok(out)
        })?;
        Ok(batches)
    }

    /// (offset, timestamp), the order the stub promises.
    fn offset_for_timestamp(&self, py: Python<'_>, timestamp: i64) -> PyResult<Option<(i64, i64)>> {
        let found = py.allow_threads(|| self.inner.offset_for_timestamp(timestamp))?;
        Ok(found.map(|t| (t.offset, t.timestamp)))
    }

    fn offset_for_max_timestamp(&self, py: Python<'_>) -> PyResult<Option<(i64, i64)>> {
        let found = py.allow_threads(|| self.inner.offset_for_max_timestamp())?;
        Ok(found.map(|t| (t.offset, t.timestamp)))
    }

    /// The header of the batch holding `offset`, or None outside the log's offsets.
    fn batch_header_at(&self, py: Python<'_>, offset: i64) -> PyResult<Option<PyBatchHeader>> {
        let header = py.allow_threads(|| self.inner.batch_header_at(offset))?;
        Ok(header.map(PyBatchHeader::from))
    }

    /// Record an aborted transaction in the transaction index of the segment holding its
    /// ABORT marker (`last_offset`).
    fn append_aborted_txn(
        &self,
        py: Python<'_>,
        producer_id: i64,
        first_offset: i64,
        last_offset: i64,
        last_stable_offset: i64,
    ) -> PyResult<()> {
        let txn = AbortedTxn {
            producer_id,
            first_offset,
            last_offset,
            last_stable_offset,
        };
        Ok(py.allow_threads(|| self.inner.append_aborted_txn(txn))?)
    }

    /// The ABORT marker offset of the latest transaction index entry, or None.
    #[getter]
    fn last_aborted_txn_offset(&self, py: Python<'_>) -> PyResult<Option<i64>> {
        Ok(py.allow_threads(|| self.inner.last_aborted_txn_offset())?)
    }

    /// (producer_id, first_offset) of each aborted transaction overlapping
    /// [start_offset, upper_bound_offset), in index order.
    fn collect_aborted_txns(
        &self,
        py: Python<'_>,
        start_offset: i64,
        upper_bound_offset: i64,
    ) -> PyResult<Vec<(i64, i64)>> {
        let txns = py.allow_threads(|| {
            self.inner
                .collect_aborted_txns(start_offset, upper_bound_offset)
        })?;
        Ok(txns
            .iter()
            .map(|t| (t.producer_id, t.first_offset))
            .collect())
    }

    fn segments(&self, py: Python<'_>) -> PyResult<Vec<PySegmentInfo>> {
        let infos = py.allow_threads(|| self.inner.segments())?;
        Ok(infos.into_iter().map(PySegmentInfo::from).collect())
    }

    fn roll(&self, py: Python<'_>) -> PyResult<()> {
        Ok(py.allow_threads(|| self.inner.roll(now_ms()))?)
    }

    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        Ok(py.allow_threads(|| self.inner.flush())?)
    }

    fn truncate_to(&self, py: Python<'_>, offset: i64) -> PyResult<()> {
        Ok(py.allow_threads(|| self.inner.truncate_to(offset, now_ms()))?)
    }

    fn truncate_fully(&self, py: Python<'_>, new_start_offset: i64) -> PyResult<()> {
        Ok(py.allow_threads(|| self.inner.truncate_fully(new_start_offset, now_ms()))?)
    }

    fn advance_log_start_offset(&self, py: Python<'_>, offset: i64) -> PyResult<()> {
        Ok(py.allow_threads(|| self.inner.advance_log_start_offset(offset))?)
    }

    #[pyo3(signature = (now_ms = None))]
    fn delete_old_segments(&self, py: Python<'_>, now_ms: Option<i64>) -> PyResult<usize> {
        let now = now_ms.unwrap_or_else(crate::log::now_ms);
        Ok(py.allow_threads(|| self.inner.delete_old_segments(now))?)
    }

    #[pyo3(signature = (now_ms = None))]
    fn maybe_flush(&self, py: Python<'_>, now_ms: Option<i64>) -> PyResult<bool> {
        let now = now_ms.unwrap_or_else(crate::log::now_ms);
        Ok(py.allow_threads(|| self.inner.maybe_flush(now))?)
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        Ok(py.allow_threads(|| self.inner.close())?)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<Bound<'_, PyType>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        self.close(py)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let (start, end) =
            py.allow_threads(|| (self.inner.log_start_offset(), self.inner.log_end_offset()));
        format!(
            "Log(dir={:?}, log_start_offset={start}, log_end_offset={end})",
            self.inner.dir()
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyLogConfig>()?;
    m.add_class::<PyAppendInfo>()?;
    m.add_class::<PyFileRegion>()?;
    m.add_class::<PyFetchInfo>()?;
    m.add_class::<PySegmentInfo>()?;
    m.add_class::<PyLog>()?;
    Ok(())
}
