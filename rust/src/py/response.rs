//! `ResponseWriter`: the connection's way of putting responses on its socket (see
//! `io::response`). Built from a response's parts under the GIL (bytes copied, regions
//! cloned), then driven without it: `write_some` from the event loop, `write_blocking` from a
//! worker thread, which `abort` (from any thread) ends by shutting the socket down.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use parking_lot::Mutex;
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyEOFError, PyTimeoutError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::log_types::PyFileRegion;
use crate::io::response::{Progress, ResponseWriter, SendError};
use crate::io::FileRegion;

fn to_py(e: SendError) -> PyErr {
    match e {
        SendError::Truncated { .. } => PyEOFError::new_err(e.to_string()),
        SendError::Idle => PyTimeoutError::new_err(e.to_string()),
        SendError::Io(io) => io.into(),
    }
}

#[pyclass(frozen, name = "ResponseWriter", module = "ferrokafka._ferrokafka")]
pub struct PyResponseWriter {
    state: Mutex<ResponseWriter>,
    /// The duplicate descriptor a `write_blocking` in progress writes to, for `abort`.
    blocking_fd: Mutex<Option<OwnedFd>>,
}

/// A part taken from Python, before the writer (and its file reads) gets it without the GIL.
enum Part {
    Bytes(Vec<u8>),
    Region(FileRegion),
}

impl PyResponseWriter {
    fn collect(part: &Bound<'_, PyAny>, out: &mut Vec<Part>) -> PyResult<()> {
        if let Ok(bytes) = part.downcast::<PyBytes>() {
            out.push(Part::Bytes(bytes.as_bytes().to_vec()));
        } else if let Ok(region) = part.downcast::<PyFileRegion>() {
            out.push(Part::Region(region.get().inner.clone()));
        } else if let Ok(buffer) = PyBuffer::<u8>::get(part) {
            out.push(Part::Bytes(buffer.to_vec(part.py())?));
        } else if let Ok(regions) = part.getattr(intern!(part.py(), "regions")) {
            // FileRecords: the regions of one records field.
            for region in regions.try_iter()? {
                Self::collect(&region?, out)?;
            }
        } else {
            return Err(PyValueError::new_err(format!(
                "a response part must be bytes-like, a FileRegion or FileRecords, not {}",
                part.get_type().name()?
            )));
        }
        Ok(())
    }
}

#[pymethods]
impl PyResponseWriter {
    #[new]
    #[pyo3(signature = (parts, inline_bytes_max = 0))]
    fn new(parts: &Bound<'_, PyAny>, inline_bytes_max: u64) -> PyResult<Self> {
        let mut collected = Vec::new();
        for part in parts.try_iter()? {
            Self::collect(&part?, &mut collected)?;
        }
        // Small regions are read here: file work, without the GIL.
        let writer = parts.py().allow_threads(|| {
            let mut writer = ResponseWriter::new();
            for part in collected {
                match part {
                    Part::Bytes(data) => writer.push_vec(data),
                    Part::Region(region) => writer.push_region(region, inline_bytes_max)?,
                }
            }
            Ok::<_, SendError>(writer)
        });
        let writer = writer.map_err(to_py)?;
        Ok(PyResponseWriter {
            state: Mutex::new(writer),
            blocking_fd: Mutex::new(None),
        })
    }

    #[getter]
    fn remaining(&self) -> u64 {
        self.state.lock().remaining()
    }

    fn write_some(&self, py: Python<'_>, fd: RawFd, budget: u64) -> PyResult<&'static str> {
        let progress = py
            .allow_threads(|| self.state.lock().write_some(fd, budget))
            .map_err(to_py)?;
        Ok(match progress {
            Progress::Done => "done",
            Progress::Full => "full",
            Progress::Budget => "budget",
        })
    }

    /// Take a duplicate of the socket `fd` for `write_blocking`, so that neither it nor
    /// `abort` ever touches a descriptor number the connection closed and something else
    /// reused meanwhile (the duplicate keeps the socket itself open until the write ends).
    fn hand_off(&self, fd: RawFd) -> PyResult<()> {
        // SAFETY: the caller's descriptor is open during this call.
        let own = unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned()?;
        *self.blocking_fd.lock() = Some(own);
        Ok(())
    }

    /// Send the rest to the socket given to `hand_off`, waiting for room without the GIL;
    /// TimeoutError when the peer takes nothing for `idle_timeout_s` (None or inf: no limit).
    #[pyo3(signature = (idle_timeout_s = None))]
    fn write_blocking(&self, py: Python<'_>, idle_timeout_s: Option<f64>) -> PyResult<()> {
        let timeout = match idle_timeout_s {
            Some(t) if t.is_nan() || t < 0.0 => {
                return Err(PyValueError::new_err(format!("idle timeout {t} s")))
            }
            Some(t) if t.is_finite() => Some(Duration::from_secs_f64(t)),
            _ => None,
        };
        let Some(fd) = self.blocking_fd.lock().as_ref().map(AsRawFd::as_raw_fd) else {
            return Err(PyValueError::new_err("write_blocking without hand_off"));
        };
        let result = py.allow_threads(|| self.state.lock().write_blocking(fd, timeout));
        drop(self.blocking_fd.lock().take()); // closed under the lock: abort never sees it reused
        result.map_err(to_py)
    }

    /// End a `write_blocking` in progress (it fails with an OSError); nothing otherwise.
    fn abort(&self) {
        if let Some(fd) = self.blocking_fd.lock().as_ref() {
            // SAFETY: a descriptor this writer owns, open while the lock is held.
            unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_RDWR) };
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyResponseWriter>()
}
