//! Python value types of the partition log: LogConfig, AppendInfo, FileRegion, FetchInfo,
//! SegmentInfo (see "The partition log" in `_ferrokafka.pyi`). All frozen, so they are shared
//! between threads without locks.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::error::Error;
use crate::io::FileRegion;
use crate::log::config::{
    DEFAULT_DELETE_RETENTION_MS, DEFAULT_INDEX_INTERVAL_BYTES, DEFAULT_MAX_MESSAGE_BYTES,
    DEFAULT_MIN_CLEANABLE_DIRTY_RATIO, DEFAULT_RETENTION_MS, DEFAULT_SEGMENT_BYTES,
    DEFAULT_SEGMENT_INDEX_BYTES, DEFAULT_SEGMENT_MS, DEFAULT_TIMESTAMP_AFTER_MAX_MS,
};
use crate::log::{FetchData, LogConfig, SegmentInfo};
use crate::record::header::{BatchProducer, TimestampType};
use crate::record::validate::AppendSummary;

/// A non-negative config value, or LogConfigError naming it.
fn unsigned(name: &str, value: i64) -> Result<u64, Error> {
    u64::try_from(value)
        .map_err(|_| Error::InvalidConfig(format!("{name} = {value} must not be negative")))
}

#[pyclass(frozen, name = "LogConfig", module = "ferrokafka._ferrokafka")]
#[derive(Clone)]
pub struct PyLogConfig {
    pub(crate) inner: LogConfig,
}

#[pymethods]
impl PyLogConfig {
    #[new]
    #[pyo3(signature = (
        *,
        segment_bytes = DEFAULT_SEGMENT_BYTES as i64,
        segment_ms = DEFAULT_SEGMENT_MS,
        segment_index_bytes = DEFAULT_SEGMENT_INDEX_BYTES as i64,
        index_interval_bytes = DEFAULT_INDEX_INTERVAL_BYTES as i64,
        retention_ms = Some(DEFAULT_RETENTION_MS),
        retention_bytes = None,
        flush_messages = None,
        flush_ms = None,
        max_message_bytes = DEFAULT_MAX_MESSAGE_BYTES as i64,
        message_timestamp_type = "CreateTime",
        message_timestamp_before_max_ms = None,
        message_timestamp_after_max_ms = Some(DEFAULT_TIMESTAMP_AFTER_MAX_MS),
        compression_type = "producer",
        cleanup_policy = vec!["delete".to_string()],
        delete_retention_ms = DEFAULT_DELETE_RETENTION_MS,
        min_compaction_lag_ms = 0,
        max_compaction_lag_ms = None,
        min_cleanable_dirty_ratio = DEFAULT_MIN_CLEANABLE_DIRTY_RATIO,
    ))]
    // Spelled out so that introspection (and stubtest) sees the real defaults.
    #[pyo3(
        text_signature = "(*, segment_bytes=1073741824, segment_ms=604800000, \
        segment_index_bytes=10485760, index_interval_bytes=4096, retention_ms=604800000, \
        retention_bytes=None, flush_messages=None, flush_ms=None, max_message_bytes=1048588, \
        message_timestamp_type='CreateTime', message_timestamp_before_max_ms=None, \
        message_timestamp_after_max_ms=3600000, compression_type='producer', \
        cleanup_policy=['delete'], delete_retention_ms=86400000, min_compaction_lag_ms=0, \
        max_compaction_lag_ms=None, min_cleanable_dirty_ratio=0.5)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        segment_bytes: i64,
        segment_ms: i64,
        segment_index_bytes: i64,
        index_interval_bytes: i64,
        retention_ms: Option<i64>,
        retention_bytes: Option<i64>,
        flush_messages: Option<i64>,
        flush_ms: Option<i64>,
        max_message_bytes: i64,
        message_timestamp_type: &str,
        message_timestamp_before_max_ms: Option<i64>,
        message_timestamp_after_max_ms: Option<i64>,
        compression_type: &str,
        cleanup_policy: Vec<String>,
        delete_retention_ms: i64,
        min_compaction_lag_ms: i64,
        max_compaction_lag_ms: Option<i64>,
        min_cleanable_dirty_ratio: f64,
    ) -> PyResult<Self> {
        for policy in &cleanup_policy {
            if policy != "delete" && policy != "compact" {
                return Err(Error::InvalidConfig(format!(
                    "cleanup_policy {policy:?} is neither \"delete\" nor \"compact\""
                ))
                .into());
            }
        }
        let inner = LogConfig {
            segment_bytes: unsigned("segment_bytes", segment_bytes)?,
            segment_ms,
            segment_index_bytes: unsigned("segment_index_bytes", segment_index_bytes)?,
            index_interval_bytes: unsigned("index_interval_bytes", index_interval_bytes)?,
            retention_ms,
            retention_bytes: retention_bytes
                .map(|v| unsigned("retention_bytes", v))
                .transpose()?,
            flush_messages: flush_messages
                .map(|v| unsigned("flush_messages", v))
                .transpose()?,
            flush_ms,
            max_message_bytes: unsigned("max_message_bytes", max_message_bytes)?,
            message_timestamp_type: TimestampType::from_name(message_timestamp_type)?,
            message_timestamp_before_max_ms,
            message_timestamp_after_max_ms,
            compression_type: LogConfig::parse_compression_type(compression_type)?,
            cleanup_delete: cleanup_policy.iter().any(|p| p == "delete"),
            cleanup_compact: cleanup_policy.iter().any(|p| p == "compact"),
            delete_retention_ms,
            min_compaction_lag_ms,
            max_compaction_lag_ms,
            min_cleanable_dirty_ratio,
        };
        inner.validate()?;
        Ok(PyLogConfig { inner })
    }

    #[getter]
    fn segment_bytes(&self) -> u64 {
        self.inner.segment_bytes
    }
    #[getter]
    fn segment_ms(&self) -> i64 {
        self.inner.segment_ms
    }
    #[getter]
    fn segment_index_bytes(&self) -> u64 {
        self.inner.segment_index_bytes
    }
    #[getter]
    fn index_interval_bytes(&self) -> u64 {
        self.inner.index_interval_bytes
    }
    #[getter]
    fn retention_ms(&self) -> Option<i64> {
        self.inner.retention_ms
    }
    #[getter]
    fn retention_bytes(&self) -> Option<u64> {
        self.inner.retention_bytes
    }
    #[getter]
    fn flush_messages(&self) -> Option<u64> {
        self.inner.flush_messages
    }
    #[getter]
    fn flush_ms(&self) -> Option<i64> {
        self.inner.flush_ms
    }
    #[getter]
    fn max_message_bytes(&self) -> u64 {
        self.inner.max_message_bytes
    }
    #[getter]
    fn message_timestamp_type(&self) -> &'static str {
        self.inner.message_timestamp_type.name()
    }
    #[getter]
    fn message_timestamp_before_max_ms(&self) -> Option<i64> {
        self.inner.message_timestamp_before_max_ms
    }
    #[getter]
    fn message_timestamp_after_max_ms(&self) -> Option<i64> {
        self.inner.message_timestamp_after_max_ms
    }
    #[getter]
    fn compression_type(&self) -> &'static str {
        self.inner.compression_type_name()
    }
    /// The policies in Kafka's order: "compact" before "delete".
    #[getter]
    fn cleanup_policy(&self) -> Vec<&'static str> {
        let c = &self.inner;
        [(c.cleanup_compact, "compact"), (c.cleanup_delete, "delete")]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect()
    }
    #[getter]
    fn delete_retention_ms(&self) -> i64 {
        self.inner.delete_retention_ms
    }
    #[getter]
    fn min_compaction_lag_ms(&self) -> i64 {
        self.inner.min_compaction_lag_ms
    }
    #[getter]
    fn max_compaction_lag_ms(&self) -> Option<i64> {
        self.inner.max_compaction_lag_ms
    }
    #[getter]
    fn min_cleanable_dirty_ratio(&self) -> f64 {
        self.inner.min_cleanable_dirty_ratio
    }
    fn __repr__(&self) -> String {
        format!("LogConfig({:?})", self.inner)
    }
}

#[pyclass(frozen, name = "AppendInfo", module = "ferrokafka._ferrokafka")]
pub struct PyAppendInfo {
    inner: AppendSummary,
}

impl From<AppendSummary> for PyAppendInfo {
    fn from(inner: AppendSummary) -> Self {
        PyAppendInfo { inner }
    }
}

impl PyAppendInfo {
    /// The producer fields of the append's last batch (a produce appends exactly one).
    fn producer(&self) -> &BatchProducer {
        // An append summary always has a batch (`summarize` refuses none).
        &self
            .inner
            .batches
            .last()
            .expect("an append has batches")
            .producer
    }
}

#[pymethods]
impl PyAppendInfo {
    #[getter]
    fn first_offset(&self) -> i64 {
        self.inner.first_offset
    }
    #[getter]
    fn last_offset(&self) -> i64 {
        self.inner.last_offset
    }
    #[getter]
    fn max_timestamp(&self) -> i64 {
        self.inner.max_timestamp
    }
    #[getter]
    fn offset_of_max_timestamp(&self) -> i64 {
        self.inner.offset_of_max_timestamp
    }
    #[getter]
    fn log_append_time(&self) -> i64 {
        self.inner.log_append_time
    }
    #[getter]
    fn record_count(&self) -> u64 {
        self.inner.record_count
    }
    #[getter]
    fn batch_count(&self) -> usize {
        self.inner.batches.len()
    }
    #[getter]
    fn valid_bytes(&self) -> usize {
        self.inner.valid_bytes
    }
    #[getter]
    fn producer_id(&self) -> i64 {
        self.producer().producer_id
    }
    #[getter]
    fn producer_epoch(&self) -> i16 {
        self.producer().producer_epoch
    }
    #[getter]
    fn base_sequence(&self) -> i32 {
        self.producer().base_sequence
    }
    #[getter]
    fn last_sequence(&self) -> i32 {
        self.producer().last_sequence
    }
    #[getter]
    fn is_transactional(&self) -> bool {
        self.producer().is_transactional
    }
    #[getter]
    fn is_control(&self) -> bool {
        self.producer().is_control
    }
    fn __repr__(&self) -> String {
        format!(
            "AppendInfo(first_offset={}, last_offset={}, record_count={}, batch_count={})",
            self.inner.first_offset,
            self.inner.last_offset,
            self.inner.record_count,
            self.inner.batches.len()
        )
    }
}

#[pyclass(frozen, name = "FileRegion", module = "ferrokafka._ferrokafka")]
pub struct PyFileRegion {
    pub(crate) inner: FileRegion,
}

#[pymethods]
impl PyFileRegion {
    #[getter]
    fn path(&self) -> String {
        self.inner.path().to_string_lossy().into_owned()
    }
    #[getter]
    fn position(&self) -> u64 {
        self.inner.position()
    }
    #[getter]
    fn length(&self) -> u64 {
        self.inner.length()
    }
    fn read<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py.allow_threads(|| self.inner.read_to_vec())?;
        Ok(PyBytes::new(py, &bytes))
    }
    #[pyo3(signature = (out_fd, offset = 0, count = None))]
    fn sendfile(
        &self,
        py: Python<'_>,
        out_fd: i32,
        offset: u64,
        count: Option<u64>,
    ) -> PyResult<u64> {
        Ok(py.allow_threads(|| self.inner.sendfile(out_fd, offset, count))?)
    }
    fn __repr__(&self) -> String {
        format!(
            "FileRegion(path={:?}, position={}, length={})",
            self.inner.path(),
            self.inner.position(),
            self.inner.length()
        )
    }
}

#[pyclass(frozen, name = "FetchInfo", module = "ferrokafka._ferrokafka")]
pub struct PyFetchInfo {
    inner: FetchData,
}

impl From<FetchData> for PyFetchInfo {
    fn from(inner: FetchData) -> Self {
        PyFetchInfo { inner }
    }
}

#[pymethods]
impl PyFetchInfo {
    #[getter]
    fn regions(&self) -> Vec<PyFileRegion> {
        self.inner
            .regions
            .iter()
            .map(|r| PyFileRegion { inner: r.clone() })
            .collect()
    }
    #[getter]
    fn size_in_bytes(&self) -> u64 {
        self.inner.size_in_bytes()
    }
    fn read<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py.allow_threads(|| self.inner.read_to_vec())?;
        Ok(PyBytes::new(py, &bytes))
    }
}

#[pyclass(frozen, name = "SegmentInfo", module = "ferrokafka._ferrokafka")]
pub struct PySegmentInfo {
    inner: SegmentInfo,
}

impl From<SegmentInfo> for PySegmentInfo {
    fn from(inner: SegmentInfo) -> Self {
        PySegmentInfo { inner }
    }
}

#[pymethods]
impl PySegmentInfo {
    #[getter]
    fn base_offset(&self) -> i64 {
        self.inner.base_offset
    }
    #[getter]
    fn next_offset(&self) -> i64 {
        self.inner.next_offset
    }
    #[getter]
    fn size_in_bytes(&self) -> u64 {
        self.inner.size_in_bytes
    }
    #[getter]
    fn max_timestamp(&self) -> i64 {
        self.inner.max_timestamp
    }
    #[getter]
    fn path(&self) -> String {
        self.inner.path.to_string_lossy().into_owned()
    }
    #[getter]
    fn is_active(&self) -> bool {
        self.inner.is_active
    }
    fn __repr__(&self) -> String {
        format!(
            "SegmentInfo(base_offset={}, next_offset={}, size_in_bytes={}, is_active={})",
            self.inner.base_offset,
            self.inner.next_offset,
            self.inner.size_in_bytes,
            if self.inner.is_active {
                "True"
            } else {
                "False"
            }
        )
    }
}
