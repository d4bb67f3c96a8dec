//! The native Produce codec for `ferrokafka.protocol.native`: plain tuples in and out, so the
//! Python side builds (or reads) the message classes without the schema interpreter.

use pyo3::buffer::PyBuffer;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use crate::wire::header;
use crate::wire::produce::{self, PartitionResponse, RecordError, TopicResponse};

/// The bytes of a C-contiguous buffer, read under the GIL.
fn contiguous<'b>(frame: &'b PyBuffer<u8>) -> Option<&'b [u8]> {
    // SAFETY: a C-contiguous export of `len_bytes` bytes kept alive by `frame`; the GIL is held
    // and no Python code runs while the slice is read (objects are built after the parse).
    frame.is_c_contiguous().then(|| unsafe {
        std::slice::from_raw_parts(frame.buf_ptr() as *const u8, frame.len_bytes())
    })
}

/// `(api_key, api_version, correlation_id, client_id, body_start)` of the request header at
/// the start of `frame` (version 2 when `flexible`), or None to leave it to the schema codec.
#[pyfunction]
fn read_request_header(
    frame: PyBuffer<u8>,
    flexible: bool,
) -> Option<(i16, i16, i32, Option<String>, usize)> {
    let h = header::read_request_header(contiguous(&frame)?, flexible)?;
    Some((
        h.api_key,
        h.api_version,
        h.correlation_id,
        h.client_id,
        h.end,
    ))
}

type PartitionTuple = (i32, Option<(usize, usize)>);
type TopicTuple<'py> = (String, Bound<'py, PyBytes>, Vec<PartitionTuple>);

/// `(transactional_id, acks, timeout_ms, [(name, topic_id, [(index, (start, end) | None)])])`
/// for the Produce body at `start` of `frame`, or None to leave it to the schema codec.
#[pyfunction]
fn read_produce_request<'py>(
    py: Python<'py>,
    frame: PyBuffer<u8>,
    start: usize,
    version: i16,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let Some(req) = contiguous(&frame).and_then(|b| produce::read_request(b, start, version))
    else {
        return Ok(None);
    };
    let topics: Vec<TopicTuple> = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .into_iter()
                .map(|p| (p.index, p.records.map(|r| (r.start, r.end))))
                .collect();
            (t.name, PyBytes::new(py, &t.topic_id), partitions)
        })
        .collect();
    Ok(Some(
        (req.transactional_id, req.acks, req.timeout_ms, topics).into_pyobject(py)?,
    ))
}

fn partition(p: &Bound<'_, PyAny>) -> PyResult<Option<PartitionResponse>> {
    let py = p.py();
    let leader = p.getattr(intern!(py, "current_leader"))?;
    let leader_known = leader.getattr(intern!(py, "leader_id"))?.extract::<i64>()? != -1
        || leader
            .getattr(intern!(py, "leader_epoch"))?
            .extract::<i64>()?
            != -1;
    if leader_known || !untagged(&leader)? || !untagged(p)? {
        return Ok(None);
    }
    let mut record_errors = Vec::new();
    for e in p
        .getattr(intern!(py, "record_errors"))?
        .downcast::<PyList>()?
        .iter()
    {
        if !untagged(&e)? {
            return Ok(None);
        }
        record_errors.push(RecordError {
            batch_index: e.getattr(intern!(py, "batch_index"))?.extract()?,
            message: e
                .getattr(intern!(py, "batch_index_error_message"))?
                .extract()?,
        });
    }
    Ok(Some(PartitionResponse {
        index: p.getattr(intern!(py, "index"))?.extract()?,
        error_code: p.getattr(intern!(py, "error_code"))?.extract()?,
        base_offset: p.getattr(intern!(py, "base_offset"))?.extract()?,
        log_append_time_ms: p.getattr(intern!(py, "log_append_time_ms"))?.extract()?,
        log_start_offset: p.getattr(intern!(py, "log_start_offset"))?.extract()?,
        record_errors,
        error_message: p.getattr(intern!(py, "error_message"))?.extract()?,
    }))
}

/// No unknown tagged fields to write back.
fn untagged(s: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(s.getattr(intern!(s.py(), "unknown_tagged_fields"))?.len()? == 0)
}

fn topics(response: &Bound<'_, PyAny>) -> PyResult<Option<Vec<TopicResponse>>> {
    let py = response.py();
    let mut out = Vec::new();
    for t in response
        .getattr(intern!(py, "responses"))?
        .downcast::<PyList>()?
        .iter()
    {
        if !untagged(&t)? {
            return Ok(None);
        }
        let uuid_bytes = t
            .getattr(intern!(py, "topic_id"))?
            .getattr(intern!(py, "bytes"))?;
        let topic_id: [u8; 16] = match uuid_bytes.extract::<&[u8]>()?.try_into() {
            Ok(id) => id,
            Err(_) => return Ok(None),
        };
        let mut partitions = Vec::new();
        for p in t
            .getattr(intern!(py, "partition_responses"))?
            .downcast::<PyList>()?
            .iter()
        {
            match partition(&p)? {
                Some(p) => partitions.push(p),
                None => return Ok(None),
            }
        }
        out.push(TopicResponse {
            name: t.getattr(intern!(py, "name"))?.extract()?,
            topic_id,
            partitions,
        });
    }
    Ok(Some(out))
}

/// The size-prefixed frame answering Produce request `correlation_id` at `version` with the
/// ProduceResponse `response`, or None to leave it to the schema codec (a tagged field to
/// write, a value of the wrong type or out of range).
#[pyfunction]
fn write_produce_response<'py>(
    py: Python<'py>,
    correlation_id: i32,
    version: i16,
    response: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyBytes>>> {
    let attempt = || -> PyResult<Option<Vec<u8>>> {
        if !untagged(response)? || response.getattr(intern!(py, "node_endpoints"))?.len()? != 0 {
            return Ok(None);
        }
        let Some(topics) = topics(response)? else {
            return Ok(None);
        };
        let throttle = response
            .getattr(intern!(py, "throttle_time_ms"))?
            .extract()?;
        Ok(produce::write_response(
            correlation_id,
            version,
            &topics,
            throttle,
        ))
    };
    // A value the schema codec would refuse (wrong type, out of range) is its to report.
    Ok(attempt()
        .ok()
        .flatten()
        .map(|frame| PyBytes::new(py, &frame)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(read_request_header, m)?)?;
    m.add_function(wrap_pyfunction!(read_produce_request, m)?)?;
    m.add_function(wrap_pyfunction!(write_produce_response, m)?)?;
    Ok(())
}
