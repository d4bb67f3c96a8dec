//! `BatchHeader` and `read_batch_header` (the "Batch headers" section of `_ferrokafka.pyi`):
//! the typed header of a record batch v2, so that Python reads producer ids, sequences, flags
//! and leader epochs from the native parser instead of unpacking bytes at offsets.
//!
//! `read_batch_header` takes any byte buffer (`bytes`, a read-only `memoryview` of a request
//! frame) and copies only the 61 header bytes' fields out of it; `crc_valid` hashes the batch
//! where it lies, without the GIL when the buffer is read-only and big enough to be worth it.

use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;

use crate::record::header::{self, BatchHeader, HEADER_SIZE, LOG_OVERHEAD};

/// Below this many bytes, releasing and re-taking the GIL costs more than the CRC itself.
const GIL_RELEASE_BYTES: usize = 4096;

/// The bytes of `buffer` in place when it is C-contiguous, None otherwise.
fn contiguous(buffer: &PyBuffer<u8>) -> Option<&[u8]> {
    // SAFETY: a C-contiguous export of `len_bytes` bytes at `buf_ptr`, kept alive (and its
    // exporter unable to resize or free it) by `buffer` for the borrow. Callers read a
    // writable buffer only while holding the GIL, so no Python code changes it meanwhile; a
    // read-only one (bytes, a read-only memoryview of a frame nobody writes) does not change.
    buffer.is_c_contiguous().then(|| unsafe {
        std::slice::from_raw_parts(buffer.buf_ptr() as *const u8, buffer.len_bytes())
    })
}

/// Run `f` on the bytes of `buffer`, in place when it is C-contiguous (without the GIL when
/// it is also read-only and at least [`GIL_RELEASE_BYTES`] long), else on a copy.
fn with_bytes<T: Send>(
    py: Python<'_>,
    buffer: &PyBuffer<u8>,
    f: impl FnOnce(&[u8]) -> T + Send,
) -> PyResult<T> {
    match contiguous(buffer) {
        Some(b) if buffer.readonly() && b.len() >= GIL_RELEASE_BYTES => {
            Ok(py.allow_threads(|| f(b)))
        }
        Some(b) => Ok(f(b)),
        None => Ok(f(&buffer.to_vec(py)?)),
    }
}

/// The fixed header of a record batch v2, decoded (see `record::header` for the layout).
#[pyclass(frozen, name = "BatchHeader", module = "ferrokafka._ferrokafka")]
pub struct PyBatchHeader {
    inner: BatchHeader,
}

impl From<BatchHeader> for PyBatchHeader {
    fn from(inner: BatchHeader) -> Self {
        PyBatchHeader { inner }
    }
}

#[pymethods]
impl PyBatchHeader {
    /// Bytes in a batch header: the first record starts here.
    #[classattr]
    const SIZE: usize = HEADER_SIZE;

    #[getter]
    fn base_offset(&self) -> i64 {
        self.inner.base_offset
    }
    #[getter]
    fn batch_length(&self) -> i32 {
        self.inner.batch_length
    }
    /// batchLength + 12 as an i64: a header not yet validated may hold any length.
    #[getter]
    fn size_in_bytes(&self) -> i64 {
        self.inner.batch_length as i64 + LOG_OVERHEAD as i64
    }
    #[getter]
    fn partition_leader_epoch(&self) -> i32 {
        self.inner.partition_leader_epoch
    }
    #[getter]
    fn magic(&self) -> i8 {
        self.inner.magic
    }
    #[getter]
    fn crc(&self) -> u32 {
        self.inner.crc
    }
    #[getter]
    fn attributes(&self) -> i16 {
        self.inner.attributes
    }
    #[getter]
    fn compression(&self) -> PyResult<&'static str> {
        Ok(self.inner.compression()?.name())
    }
    #[getter]
    fn timestamp_type(&self) -> &'static str {
        self.inner.timestamp_type().name()
    }
    #[getter]
    fn is_transactional(&self) -> bool {
        self.inner.is_transactional()
    }
    #[getter]
    fn is_control(&self) -> bool {
        self.inner.is_control()
    }
    #[getter]
    fn last_offset_delta(&self) -> i32 {
        self.inner.last_offset_delta
    }
    #[getter]
    fn last_offset(&self) -> i64 {
        self.inner.last_offset()
    }
    #[getter]
    fn base_timestamp(&self) -> i64 {
        self.inner.base_timestamp
    }
    #[getter]
    fn max_timestamp(&self) -> i64 {
        self.inner.max_timestamp
    }
    #[getter]
    fn producer_id(&self) -> i64 {
        self.inner.producer_id
    }
    #[getter]
    fn producer_epoch(&self) -> i16 {
        self.inner.producer_epoch
    }
    #[getter]
    fn base_sequence(&self) -> i32 {
        self.inner.base_sequence
    }
    #[getter]
    fn last_sequence(&self) -> i32 {
        self.inner.last_sequence()
    }
    #[getter]
    fn record_count(&self) -> i32 {
        self.inner.record_count
    }

    /// Whether `records` starts with the whole batch this header describes and its CRC-32C
    /// (attributes to the end of the batch) matches `crc`. Bytes after the batch are ignored.
    fn crc_valid(&self, py: Python<'_>, records: PyBuffer<u8>) -> PyResult<bool> {
        let size = self.size_in_bytes();
        if size < HEADER_SIZE as i64 {
            return Ok(false);
        }
        let (size, stored) = (size as usize, self.inner.crc);
        with_bytes(py, &records, |b| {
            b.len() >= size && header::compute_crc(&b[..size]) == stored
        })
    }

    fn __repr__(&self) -> String {
        let h = &self.inner;
        format!(
            "BatchHeader(base_offset={}, last_offset={}, record_count={}, \
             partition_leader_epoch={}, producer_id={}, producer_epoch={}, base_sequence={}, \
             attributes={:#x}, size_in_bytes={})",
            h.base_offset,
            h.last_offset(),
            h.record_count,
            h.partition_leader_epoch,
            h.producer_id,
            h.producer_epoch,
            h.base_sequence,
            h.attributes,
            self.size_in_bytes()
        )
    }
}

/// `read_batch_header(records)`: the header at the front of `records`, fields as stored.
#[pyfunction]
fn read_batch_header(py: Python<'_>, records: PyBuffer<u8>) -> PyResult<PyBatchHeader> {
    // 61 bytes: read under the GIL, in place.
    let header = match contiguous(&records) {
        Some(b) => BatchHeader::read(b, 0),
        None => BatchHeader::read(&records.to_vec(py)?, 0),
    }?;
    Ok(header.into())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyBatchHeader>()?;
    m.add_function(wrap_pyfunction!(read_batch_header, m)?)?;
    Ok(())
}
