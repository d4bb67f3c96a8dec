//! The native Produce codec for `ferrokafka.protocol.native`: plain tuples in and out, so the
//! Python side builds (or reads) the message classes without the schema interpreter.

use pyo3::buffer::PyBuffer;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::wire::produce::{self, PartitionResponse, RecordError, TopicResponse};
use crate::wire::{fetch, header};

/// The bytes of a C-contiguous buffer, read under the GIL.
fn contiguous(frame: &PyBuffer<u8>) -> Option<&[u8]> {
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

/// The 16 bytes of a uuid.UUID; None when it is something else.
fn uuid_bytes(id: &Bound<'_, PyAny>) -> PyResult<Option<[u8; 16]>> {
    let Ok(bytes) = id.getattr(intern!(id.py(), "bytes")) else {
        return Ok(None);
    };
    Ok(bytes
        .extract::<&[u8]>()
        .ok()
        .and_then(|b| b.try_into().ok()))
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
/// ProduceResponse `response` (a list of one bytes, as other encoders give parts), or None to
/// leave it to the schema codec (a tagged field to write, a value of the wrong type or out of
/// range).
#[pyfunction]
fn write_produce_response<'py>(
    py: Python<'py>,
    correlation_id: i32,
    version: i16,
    response: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyList>>> {
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
    match attempt().ok().flatten() {
        Some(frame) => Ok(Some(PyList::new(py, [PyBytes::new(py, &frame)])?)),
        None => Ok(None),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(read_request_header, m)?)?;
    m.add_function(wrap_pyfunction!(read_produce_request, m)?)?;
    m.add_function(wrap_pyfunction!(write_produce_response, m)?)?;
    register_fetch(m)
}

// -- Fetch ------------------------------------------------------------------------------------

type FetchPartitionTuple = (i32, i32, i64, i32, i64, i32);
type FetchTopicTuple<'py> = (String, Bound<'py, PyBytes>, Vec<FetchPartitionTuple>);
type ForgottenTuple<'py> = (String, Bound<'py, PyBytes>, Vec<i32>);

/// `(replica_id, max_wait_ms, min_bytes, max_bytes, isolation_level, session_id,
/// session_epoch, [(topic, topic_id, [(partition, current_leader_epoch, fetch_offset,
/// last_fetched_epoch, log_start_offset, partition_max_bytes)])], [(topic, topic_id,
/// [partition])], rack_id)` for the Fetch body at `start` of `frame` (fields the version lacks
/// hold the message class's defaults), or None to leave it to the schema codec.
#[pyfunction]
fn read_fetch_request<'py>(
    py: Python<'py>,
    frame: PyBuffer<u8>,
    start: usize,
    version: i16,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let Some(req) = contiguous(&frame).and_then(|b| fetch::read_request(b, start, version)) else {
        return Ok(None);
    };
    let topics: Vec<FetchTopicTuple> = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    (
                        p.partition,
                        p.current_leader_epoch,
                        p.fetch_offset,
                        p.last_fetched_epoch,
                        p.log_start_offset,
                        p.partition_max_bytes,
                    )
                })
                .collect();
            (t.topic, PyBytes::new(py, &t.topic_id), partitions)
        })
        .collect();
    let forgotten: Vec<ForgottenTuple> = req
        .forgotten_topics_data
        .into_iter()
        .map(|t| (t.topic, PyBytes::new(py, &t.topic_id), t.partitions))
        .collect();
    let head = (
        req.replica_id,
        req.max_wait_ms,
        req.min_bytes,
        req.max_bytes,
        req.isolation_level,
        req.session_id,
        req.session_epoch,
    );
    Ok(Some(
        (head, topics, forgotten, req.rack_id).into_pyobject(py)?,
    ))
}

/// Records kept as their own part rather than copied into the frame's bytes: file-backed ones
/// always, in-memory ones from this size.
const RECORDS_COPIED_BYTES_MAX: usize = 4096;

/// Two int fields of a tagged struct at their defaults (-1, -1), with no unknown tags.
fn default_pair(
    s: &Bound<'_, PyAny>,
    a: &Bound<'_, PyString>,
    b: &Bound<'_, PyString>,
) -> PyResult<bool> {
    Ok(s.getattr(a)?.extract::<i64>()? == -1
        && s.getattr(b)?.extract::<i64>()? == -1
        && untagged(s)?)
}

fn fetch_records(value: Bound<'_, PyAny>) -> PyResult<fetch::Records<PyObject>> {
    if value.is_none() {
        return Ok(fetch::Records::Null);
    }
    if let Ok(buffer) = PyBuffer::<u8>::get(&value) {
        let len = buffer.len_bytes();
        if len <= RECORDS_COPIED_BYTES_MAX {
            return Ok(fetch::Records::Bytes(buffer.to_vec(value.py())?));
        }
        return Ok(fetch::Records::Part {
            len,
            value: value.unbind(),
        });
    }
    // A file-backed value (FileRecords): its length, and the object for the sender.
    let len = value.getattr(intern!(value.py(), "nbytes"))?.extract()?;
    Ok(fetch::Records::Part {
        len,
        value: value.unbind(),
    })
}

fn fetch_partition(p: &Bound<'_, PyAny>) -> PyResult<Option<fetch::PartitionData<PyObject>>> {
    let py = p.py();
    let epoch = p.getattr(intern!(py, "diverging_epoch"))?;
    let leader = p.getattr(intern!(py, "current_leader"))?;
    let snapshot = p.getattr(intern!(py, "snapshot_id"))?;
    if !untagged(p)?
        || !default_pair(&epoch, intern!(py, "epoch"), intern!(py, "end_offset"))?
        || !default_pair(
            &leader,
            intern!(py, "leader_id"),
            intern!(py, "leader_epoch"),
        )?
        || !default_pair(&snapshot, intern!(py, "end_offset"), intern!(py, "epoch"))?
    {
        return Ok(None);
    }
    let aborted = p.getattr(intern!(py, "aborted_transactions"))?;
    let aborted_transactions = if aborted.is_none() {
        None
    } else {
        let mut list = Vec::new();
        for a in aborted.downcast::<PyList>()?.iter() {
            if !untagged(&a)? {
                return Ok(None);
            }
            list.push((
                a.getattr(intern!(py, "producer_id"))?.extract()?,
                a.getattr(intern!(py, "first_offset"))?.extract()?,
            ));
        }
        Some(list)
    };
    Ok(Some(fetch::PartitionData {
        partition_index: p.getattr(intern!(py, "partition_index"))?.extract()?,
        error_code: p.getattr(intern!(py, "error_code"))?.extract()?,
        high_watermark: p.getattr(intern!(py, "high_watermark"))?.extract()?,
        last_stable_offset: p.getattr(intern!(py, "last_stable_offset"))?.extract()?,
        log_start_offset: p.getattr(intern!(py, "log_start_offset"))?.extract()?,
        aborted_transactions,
        preferred_read_replica: p
            .getattr(intern!(py, "preferred_read_replica"))?
            .extract()?,
        records: fetch_records(p.getattr(intern!(py, "records"))?)?,
    }))
}

fn fetch_response(r: &Bound<'_, PyAny>) -> PyResult<Option<fetch::FetchResponse<PyObject>>> {
    let py = r.py();
    if !untagged(r)? || r.getattr(intern!(py, "node_endpoints"))?.len()? != 0 {
        return Ok(None);
    }
    let mut responses = Vec::new();
    for t in r
        .getattr(intern!(py, "responses"))?
        .downcast::<PyList>()?
        .iter()
    {
        if !untagged(&t)? {
            return Ok(None);
        }
        let Some(topic_id) = uuid_bytes(&t.getattr(intern!(py, "topic_id"))?)? else {
            return Ok(None);
        };
        let mut partitions = Vec::new();
        for p in t
            .getattr(intern!(py, "partitions"))?
            .downcast::<PyList>()?
            .iter()
        {
            match fetch_partition(&p)? {
                Some(p) => partitions.push(p),
                None => return Ok(None),
            }
        }
        responses.push(fetch::TopicResponse {
            topic: t.getattr(intern!(py, "topic"))?.extract()?,
            topic_id,
            partitions,
        });
    }
    Ok(Some(fetch::FetchResponse {
        throttle_time_ms: r.getattr(intern!(py, "throttle_time_ms"))?.extract()?,
        error_code: r.getattr(intern!(py, "error_code"))?.extract()?,
        session_id: r.getattr(intern!(py, "session_id"))?.extract()?,
        responses,
    }))
}

/// The size-prefixed frame answering Fetch `correlation_id` at `version` with the
/// FetchResponse `response`, as a list of parts (bytes, and records values kept whole: a
/// FileRecords stays a part for the sender's sendfile); None to leave it to the schema codec.
#[pyfunction]
fn write_fetch_response<'py>(
    py: Python<'py>,
    correlation_id: i32,
    version: i16,
    response: &Bound<'py, PyAny>,
) -> PyResult<Option<Bound<'py, PyList>>> {
    let Some(parts) = fetch_response(response)
        .ok()
        .flatten()
        .and_then(|r| fetch::write_response(correlation_id, version, r))
    else {
        return Ok(None);
    };
    let items: Vec<PyObject> = parts
        .into_iter()
        .map(|part| match part {
            fetch::Part::Bytes(b) => PyBytes::new(py, &b).into_any().unbind(),
            fetch::Part::Value(v) => v,
        })
        .collect();
    Ok(Some(PyList::new(py, items)?))
}

pub fn register_fetch(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(read_fetch_request, m)?)?;
    m.add_function(wrap_pyfunction!(write_fetch_response, m)?)?;
    Ok(())
}
