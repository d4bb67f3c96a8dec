//! Python exception types, defined here so that a corrupt batch raises a typed
//! `CorruptRecordError` (with `.position`) rather than a bare `ValueError`.
//!
//! Hierarchy (mirrored in `_ferrokafka.pyi`):
//! ```text
//! FerrokafkaError(Exception)
//! ├── CorruptRecordError            .position
//! │   └── UnsupportedMagicError     .position .magic
//! ├── UnsupportedCompressionError   (also ValueError-like for bad names)
//! ├── RecordTooLargeError           .size .limit
//! ├── OffsetOutOfRangeError         .offset .log_start_offset .log_end_offset
//! ├── InvalidTimestampError
//! ├── InvalidOffsetError
//! ├── InvalidRecordError
//! ├── LogConfigError
//! └── LogClosedError
//! ```
//! I/O failures become the matching `OSError` subclass.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

use crate::error::Error;

create_exception!(
    _ferrokafka,
    FerrokafkaError,
    PyException,
    "Base class of ferrokafka storage errors."
);
create_exception!(
    _ferrokafka,
    CorruptRecordError,
    FerrokafkaError,
    "A record batch failed validation; `.position` is its byte position."
);
create_exception!(
    _ferrokafka,
    UnsupportedMagicError,
    CorruptRecordError,
    "A record batch with a magic other than 2."
);
create_exception!(
    _ferrokafka,
    UnsupportedCompressionError,
    FerrokafkaError,
    "An unknown compression codec id or name."
);
create_exception!(
    _ferrokafka,
    RecordTooLargeError,
    FerrokafkaError,
    "A batch larger than max.message.bytes."
);
create_exception!(
    _ferrokafka,
    OffsetOutOfRangeError,
    FerrokafkaError,
    "An offset outside [log_start_offset, log_end_offset]."
);
create_exception!(
    _ferrokafka,
    InvalidTimestampError,
    FerrokafkaError,
    "Record timestamps rejected by validation."
);
create_exception!(
    _ferrokafka,
    InvalidOffsetError,
    FerrokafkaError,
    "An append whose offsets do not follow the log."
);
create_exception!(
    _ferrokafka,
    InvalidRecordError,
    FerrokafkaError,
    "A well-formed record the log does not accept."
);
create_exception!(
    _ferrokafka,
    LogConfigError,
    FerrokafkaError,
    "A log configuration value out of range."
);
create_exception!(
    _ferrokafka,
    LogClosedError,
    FerrokafkaError,
    "Operation on a closed log."
);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("FerrokafkaError", py.get_type::<FerrokafkaError>())?;
    m.add("CorruptRecordError", py.get_type::<CorruptRecordError>())?;
    m.add(
        "UnsupportedMagicError",
        py.get_type::<UnsupportedMagicError>(),
    )?;
    m.add(
        "UnsupportedCompressionError",
        py.get_type::<UnsupportedCompressionError>(),
    )?;
    m.add("RecordTooLargeError", py.get_type::<RecordTooLargeError>())?;
    m.add(
        "OffsetOutOfRangeError",
        py.get_type::<OffsetOutOfRangeError>(),
    )?;
    m.add(
        "InvalidTimestampError",
        py.get_type::<InvalidTimestampError>(),
    )?;
    m.add("InvalidOffsetError", py.get_type::<InvalidOffsetError>())?;
    m.add("InvalidRecordError", py.get_type::<InvalidRecordError>())?;
    m.add("LogConfigError", py.get_type::<LogConfigError>())?;
    m.add("LogClosedError", py.get_type::<LogClosedError>())?;
    Ok(())
}

/// Build the exception and attach the structured fields as attributes.
fn with_attrs(err: PyErr, attrs: &[(&str, i64)]) -> PyErr {
    Python::with_gil(|py| {
        let value = err.value(py);
        for (name, v) in attrs {
            // Setting attributes on a fresh exception instance cannot fail in practice;
            // if it ever does, the message still carries the numbers.
            let _ = value.setattr(*name, *v);
        }
    });
    err
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        let msg = e.to_string();
        match e {
            Error::CorruptRecord { position, .. } => with_attrs(
                CorruptRecordError::new_err(msg),
                &[("position", position as i64)],
            ),
            Error::UnsupportedMagic { position, magic } => with_attrs(
                UnsupportedMagicError::new_err(msg),
                &[("position", position as i64), ("magic", magic as i64)],
            ),
            Error::UnsupportedCompression(_) => UnsupportedCompressionError::new_err(msg),
            Error::RecordTooLarge { size, limit } => with_attrs(
                RecordTooLargeError::new_err(msg),
                &[("size", size as i64), ("limit", limit as i64)],
            ),
            Error::OffsetOutOfRange {
                offset,
                log_start_offset,
                log_end_offset,
            } => with_attrs(
                OffsetOutOfRangeError::new_err(msg),
                &[
                    ("offset", offset),
                    ("log_start_offset", log_start_offset),
                    ("log_end_offset", log_end_offset),
                ],
            ),
            Error::InvalidTimestamp(_) => InvalidTimestampError::new_err(msg),
            Error::InvalidOffset(_) => InvalidOffsetError::new_err(msg),
            Error::InvalidRecord(_) => InvalidRecordError::new_err(msg),
            Error::InvalidConfig(_) => LogConfigError::new_err(msg),
            Error::Closed => LogClosedError::new_err(msg),
            Error::Io(io) => PyErr::from(io),
        }
    }
}
