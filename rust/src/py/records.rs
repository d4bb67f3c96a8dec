//! Python wrappers for record batches: crc32c, compress/decompress, decode_batches, the
//! RecordBatch and Record views (the "Record batches (no I/O)" section of `_ferrokafka.pyi`;
//! BatchBuilder and build_control_batch live in `records_builder.rs`).
//!
//! Batches decoded from a `bytes` object keep a reference to it instead of copying it; records
//! keep a reference to the batch's bytes (or to the inflated section of a compressed batch) and
//! copy a key or value out only when it is asked for. CPU work on more than a few KiB runs with
//! the GIL released.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

#[path = "records_builder.rs"]
mod builder;

use crate::error::{Error, Result};
use crate::record::batch::{iter_records, BatchView, ControlRecordType};
use crate::record::compression;
use crate::record::header::{self, BatchHeader, Compression, Framed, HEADER_SIZE};
use crate::record::record::HeaderIter;

/// Below this many bytes, releasing and re-taking the GIL costs more than the work itself.
const GIL_RELEASE_BYTES: usize = 4096;

/// Run `f` without the GIL when the input is big enough to be worth it.
fn maybe_allow_threads<T, F>(py: Python<'_>, input_bytes: usize, f: F) -> T
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    if input_bytes >= GIL_RELEASE_BYTES {
        py.allow_threads(f)
    } else {
        f()
    }
}

/// Bad arguments (a level the codec lacks, an unknown timestamp type) are the caller's
/// mistake, so they surface as ValueError rather than as a log configuration error.
fn arg_error(e: Error) -> PyErr {
    match e {
        Error::InvalidConfig(msg) => PyValueError::new_err(msg),
        other => other.into(),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Bytes shared by batches and their records.
enum Backing {
    /// The caller's `bytes` object, referenced rather than copied. `bytes` is immutable, so
    /// reading it without the GIL is safe while we hold the reference.
    Py(Py<PyBytes>),
    /// An owned buffer: an inflated records section, or batches read from a segment file.
    Owned(Vec<u8>),
}

impl Backing {
    fn bytes<'a>(&'a self, py: Python<'_>) -> &'a [u8] {
        match self {
            Backing::Py(b) => b.as_bytes(py),
            Backing::Owned(v) => v,
        }
    }
}

/// `crc32c(data, crc=0)`: CRC-32C of `data`, continuing from `crc`.
#[pyfunction]
#[pyo3(signature = (data, crc = 0))]
fn crc32c(py: Python<'_>, data: &[u8], crc: u32) -> u32 {
    maybe_allow_threads(py, data.len(), || header::crc32c_append(crc, data))
}

/// `compress(codec, data, level=None)`: compress as Kafka frames a records section.
#[pyfunction]
#[pyo3(signature = (codec, data, level = None))]
fn compress<'py>(
    py: Python<'py>,
    codec: &str,
    data: &[u8],
    level: Option<i32>,
) -> PyResult<Bound<'py, PyBytes>> {
    let codec = Compression::from_name(codec)?;
    let out = maybe_allow_threads(py, data.len(), || compression::compress(codec, data, level))
        .map_err(arg_error)?;
    Ok(PyBytes::new(py, &out))
}

/// `decompress(codec, data)`: inverse of `compress`; snappy also accepts raw blocks.
#[pyfunction]
fn decompress<'py>(py: Python<'py>, codec: &str, data: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let codec = Compression::from_name(codec)?;
    let out = maybe_allow_threads(py, data.len(), || compression::decompress(codec, data))?;
    Ok(PyBytes::new(py, &out))
}

/// Byte range of `inner` within `outer` (a key or value slice of a records section).
fn range_in(outer: &[u8], inner: &[u8]) -> (usize, usize) {
    let start = inner.as_ptr() as usize - outer.as_ptr() as usize;
    (start, start + inner.len())
}

/// One record: absolute offset and timestamp, with key, value and headers located in a
/// shared records section and copied out on access.
#[pyclass(frozen, name = "Record", module = "ferrokafka._ferrokafka")]
pub struct PyRecord {
    section: Arc<Backing>,
    /// Where the records section starts inside `section`.
    base: usize,
    offset: i64,
    timestamp: i64,
    key: Option<(usize, usize)>,
    value: Option<(usize, usize)>,
    header_count: i32,
    headers: (usize, usize),
}

impl PyRecord {
    fn slice<'a>(&'a self, py: Python<'_>, r: (usize, usize)) -> &'a [u8] {
        &self.section.bytes(py)[self.base + r.0..self.base + r.1]
    }

    fn bytes_at<'py>(
        &self,
        py: Python<'py>,
        r: Option<(usize, usize)>,
    ) -> Option<Bound<'py, PyBytes>> {
        r.map(|r| PyBytes::new(py, self.slice(py, r)))
    }
}

#[pymethods]
impl PyRecord {
    #[getter]
    fn offset(&self) -> i64 {
        self.offset
    }
    #[getter]
    fn timestamp(&self) -> i64 {
        self.timestamp
    }
    #[getter]
    fn key<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.bytes_at(py, self.key)
    }
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyBytes>> {
        self.bytes_at(py, self.value)
    }
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> Vec<(String, Option<Bound<'py, PyBytes>>)> {
        HeaderIter::new(self.slice(py, self.headers), self.header_count)
            .map(|h| {
                (
                    h.key_str().into_owned(),
                    h.value.map(|v| PyBytes::new(py, v)),
                )
            })
            .collect()
    }
    fn __repr__(&self) -> String {
        let len =
            |r: Option<(usize, usize)>| r.map_or("None".to_string(), |r| (r.1 - r.0).to_string());
        format!(
            "Record(offset={}, timestamp={}, key_len={}, value_len={}, headers={})",
            self.offset,
            self.timestamp,
            len(self.key),
            len(self.value),
            self.header_count
        )
    }
}

/// Where each record's parts lie in its section; produced without the GIL.
struct RecordRanges {
    offset: i64,
    timestamp: i64,
    key: Option<(usize, usize)>,
    value: Option<(usize, usize)>,
    header_count: i32,
    headers: (usize, usize),
}

/// Inflate (if compressed) and frame every record of `batch`.
fn decode_ranges(batch: &BatchView<'_>) -> Result<(Option<Vec<u8>>, Vec<RecordRanges>)> {
    let section = batch.records_section()?;
    let mut out = Vec::with_capacity(batch.header.record_count.clamp(0, 1 << 16) as usize);
    for r in iter_records(&section, batch.header.record_count, batch.position) {
        let r = r?;
        out.push(RecordRanges {
            offset: batch.record_offset(&r),
            timestamp: batch.record_timestamp(&r),
            key: r.key.map(|k| range_in(&section, k)),
            value: r.value.map(|v| range_in(&section, v)),
            header_count: r.header_count,
            headers: range_in(&section, r.headers_raw),
        });
    }
    Ok((section.into_owned_if_inflated(), out))
}

/// `Cow::into_owned` without copying a borrowed (uncompressed) section.
trait IntoOwnedIfInflated {
    fn into_owned_if_inflated(self) -> Option<Vec<u8>>;
}

impl IntoOwnedIfInflated for std::borrow::Cow<'_, [u8]> {
    fn into_owned_if_inflated(self) -> Option<Vec<u8>> {
        match self {
            std::borrow::Cow::Owned(v) => Some(v),
            std::borrow::Cow::Borrowed(_) => None,
        }
    }
}

/// A record batch v2: its header decoded, its bytes shared with the buffer it came from.
#[pyclass(frozen, name = "RecordBatch", module = "ferrokafka._ferrokafka")]
pub struct PyRecordBatch {
    backing: Arc<Backing>,
    /// Where the batch starts inside `backing`.
    start: usize,
    header: BatchHeader,
    /// Position in the caller's buffer or segment file.
    position: u64,
}

impl PyRecordBatch {
    /// Frame the batches of an owned buffer (for example bytes read from a segment), whose
    /// first byte sits at `base_position` of its source. For the log's `read_batches`; this
    /// needs no GIL, so callers may run it inside `allow_threads`.
    pub fn decode_owned(
        data: Vec<u8>,
        base_position: u64,
        verify_crc: bool,
        allow_partial: bool,
    ) -> Result<Vec<PyRecordBatch>> {
        let framed = frame(&data, base_position, verify_crc, allow_partial)?;
        let backing = Arc::new(Backing::Owned(data));
        Ok(framed
            .into_iter()
            .map(|(start, header)| PyRecordBatch {
                backing: backing.clone(),
                start,
                header,
                position: base_position + start as u64,
            })
            .collect())
    }

    fn bytes<'a>(&'a self, py: Python<'_>) -> &'a [u8] {
        &self.backing.bytes(py)[self.start..self.start + self.header.total_size()]
    }

    fn view<'a>(&self, bytes: &'a [u8]) -> BatchView<'a> {
        BatchView {
            header: self.header,
            bytes,
            position: self.position,
        }
    }
}

/// Split `data` into complete batches: (start, header) pairs.
fn frame(
    data: &[u8],
    base_position: u64,
    verify_crc: bool,
    allow_partial: bool,
) -> Result<Vec<(usize, BatchHeader)>> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < data.len() {
        let position = base_position + at as u64;
        match header::next_batch(&data[at..], position)? {
            Framed::Batch(h) => {
                let end = at + h.total_size();
                if verify_crc {
                    header::verify_crc(&data[at..end], &h, position)?;
                }
                out.push((at, h));
                at = end;
            }
            // A fetch response may end inside a batch; that is not corruption.
            Framed::Incomplete if allow_partial => break,
            Framed::Incomplete => {
                return Err(Error::corrupt(position, "incomplete record batch"));
            }
        }
    }
    Ok(out)
}

#[pymethods]
impl PyRecordBatch {
    #[getter]
    fn base_offset(&self) -> i64 {
        self.header.base_offset
    }
    #[getter]
    fn last_offset(&self) -> i64 {
        self.header.last_offset()
    }
    #[getter]
    fn next_offset(&self) -> i64 {
        self.header.next_offset()
    }
    #[getter]
    fn partition_leader_epoch(&self) -> i32 {
        self.header.partition_leader_epoch
    }
    #[getter]
    fn magic(&self) -> i8 {
        self.header.magic
    }
    #[getter]
    fn crc(&self) -> u32 {
        self.header.crc
    }
    #[getter]
    fn attributes(&self) -> i16 {
        self.header.attributes
    }
    #[getter]
    fn compression(&self) -> PyResult<&'static str> {
        Ok(self.header.compression()?.name())
    }
    #[getter]
    fn timestamp_type(&self) -> &'static str {
        self.header.timestamp_type().name()
    }
    #[getter]
    fn is_transactional(&self) -> bool {
        self.header.is_transactional()
    }
    #[getter]
    fn is_control(&self) -> bool {
        self.header.is_control()
    }
    #[getter]
    fn last_offset_delta(&self) -> i32 {
        self.header.last_offset_delta
    }
    #[getter]
    fn base_timestamp(&self) -> i64 {
        self.header.base_timestamp
    }
    #[getter]
    fn max_timestamp(&self) -> i64 {
        self.header.max_timestamp
    }
    #[getter]
    fn producer_id(&self) -> i64 {
        self.header.producer_id
    }
    #[getter]
    fn producer_epoch(&self) -> i16 {
        self.header.producer_epoch
    }
    #[getter]
    fn base_sequence(&self) -> i32 {
        self.header.base_sequence
    }
    #[getter]
    fn record_count(&self) -> i32 {
        self.header.record_count
    }
    #[getter]
    fn size_in_bytes(&self) -> usize {
        self.header.total_size()
    }
    #[getter]
    fn position(&self) -> u64 {
        self.position
    }

    fn is_valid(&self, py: Python<'_>) -> bool {
        let bytes = self.bytes(py);
        let stored = self.header.crc;
        maybe_allow_threads(py, bytes.len(), || header::compute_crc(bytes) == stored)
    }

    fn records(&self, py: Python<'_>) -> PyResult<Vec<PyRecord>> {
        let bytes = self.bytes(py);
        let view = self.view(bytes);
        let (inflated, ranges) = maybe_allow_threads(py, bytes.len(), || decode_ranges(&view))?;
        let (section, base) = match inflated {
            Some(v) => (Arc::new(Backing::Owned(v)), 0),
            None => (self.backing.clone(), self.start + HEADER_SIZE),
        };
        Ok(ranges
            .into_iter()
            .map(|r| PyRecord {
                section: section.clone(),
                base,
                offset: r.offset,
                timestamp: r.timestamp,
                key: r.key,
                value: r.value,
                header_count: r.header_count,
                headers: r.headers,
            })
            .collect())
    }

    fn control_record(&self, py: Python<'_>) -> PyResult<Option<(&'static str, i32)>> {
        let bytes = self.bytes(py);
        let view = self.view(bytes);
        let control = maybe_allow_threads(py, bytes.len(), || view.control_record())?;
        Ok(control.and_then(|c| match (c.kind, c.coordinator_epoch) {
            (ControlRecordType::Other(_), _) | (_, None) => None,
            (kind, Some(epoch)) => Some((kind.name(), epoch)),
        }))
    }

    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        // A batch that is the whole `bytes` object it came from is returned as that object.
        if let Backing::Py(b) = &*self.backing {
            if self.start == 0 && b.as_bytes(py).len() == self.header.total_size() {
                return b.bind(py).clone();
            }
        }
        PyBytes::new(py, self.bytes(py))
    }

    fn __repr__(&self) -> String {
        let h = &self.header;
        format!(
            "RecordBatch(base_offset={}, last_offset={}, record_count={}, compression={}, \
             timestamp_type={}, control={}, size_in_bytes={}, position={})",
            h.base_offset,
            h.last_offset(),
            h.record_count,
            h.compression().map_or("unknown", Compression::name),
            h.timestamp_type().name(),
            h.is_control(),
            h.total_size(),
            self.position
        )
    }
}

/// `decode_batches(data, *, verify_crc=True, allow_partial=False)`.
#[pyfunction]
#[pyo3(signature = (data, *, verify_crc = true, allow_partial = false))]
fn decode_batches(
    py: Python<'_>,
    data: Bound<'_, PyBytes>,
    verify_crc: bool,
    allow_partial: bool,
) -> PyResult<Vec<PyRecordBatch>> {
    let bytes = data.as_bytes();
    let framed = maybe_allow_threads(py, bytes.len(), || {
        frame(bytes, 0, verify_crc, allow_partial)
    })?;
    let backing = Arc::new(Backing::Py(data.unbind()));
    Ok(framed
        .into_iter()
        .map(|(start, header)| PyRecordBatch {
            backing: backing.clone(),
            start,
            header,
            position: start as u64,
        })
        .collect())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(self::crc32c, m)?)?;
    m.add_function(wrap_pyfunction!(compress, m)?)?;
    m.add_function(wrap_pyfunction!(decompress, m)?)?;
    m.add_function(wrap_pyfunction!(decode_batches, m)?)?;
    m.add_class::<PyRecord>()?;
    m.add_class::<PyRecordBatch>()?;
    builder::register(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::builder::{BatchBuilder, BatchOptions};

    fn one_batch(value: &[u8]) -> Vec<u8> {
        let mut b = BatchBuilder::new(BatchOptions::default()).unwrap();
        b.append(1, None, Some(value), &[]).unwrap();
        b.build().unwrap()
    }

    #[test]
    fn frame_handles_partial_tails_and_crc() {
        let a = one_batch(b"a");
        let mut data = a.clone();
        data.extend(one_batch(b"bb"));
        let whole = data.len();
        data.extend_from_slice(&a[..a.len() - 3]);
        let framed = frame(&data, 100, true, true).unwrap();
        assert_eq!(framed.len(), 2);
        assert_eq!(framed[1].0, a.len());
        let e = frame(&data, 100, true, false).unwrap_err();
        assert!(
            matches!(e, Error::CorruptRecord { position, .. } if position == 100 + whole as u64)
        );
        data.truncate(whole);
        let last = data.len() - 1;
        data[last] ^= 1;
        assert!(frame(&data, 0, true, false).is_err());
        assert_eq!(frame(&data, 0, false, false).unwrap().len(), 2);
    }

    #[test]
    fn owned_batches_keep_source_positions() {
        let mut data = one_batch(b"a");
        let first = data.len();
        data.extend(one_batch(b"b"));
        let batches = PyRecordBatch::decode_owned(data, 4096, true, false).unwrap();
        let positions: Vec<u64> = batches.iter().map(|b| b.position).collect();
        assert_eq!(positions, [4096, 4096 + first as u64]);
        assert_eq!(batches[1].start, first);
    }

    #[test]
    fn ranges_locate_subslices() {
        let outer = b"0123456789";
        assert_eq!(range_in(outer, &outer[3..7]), (3, 7));
        assert_eq!(range_in(outer, &outer[10..]), (10, 10));
    }
}
