//! The native Produce and Fetch codec for `ferrokafka.protocol.native`, so the Python side
//! builds (or reads) the message classes without the schema interpreter.
//!
//! Reads give frozen classes (`NativeProduceRequest`, `NativeFetchRequest`, ...) whose fields
//! are named as the generated message classes' fields. The response writers read the
//! generated classes' attributes by name (`intern!(py, "...")` below):
//! `tests/protocol/test_native_drift.py` parses this file and holds every such name to a field
//! of `ProduceResponse` / `FetchResponse` (or a nested class), so a regenerated codec that
//! renames a field fails the suite rather than the broker.

use std::ffi::CString;
use std::ptr::NonNull;

use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple, PyType};
use pyo3::{ffi, intern, IntoPyObjectExt};

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

// -- Requests read ----------------------------------------------------------------------------
//
// Frozen classes whose fields are Python objects made once, when the frame is read, each
// served as a read-only struct member (`Py_T_OBJECT_EX`): reading one from Python is a slot
// load (LOAD_ATTR_SLOT), as cheap as unpacking a tuple was.

/// A strong reference held by a `Native*` object's field, released with a plain `Py_DECREF`.
///
/// PyO3's `Py<T>` reads a thread-local on every drop (to defer the decref when the GIL is not
/// held): six reads per fetched partition, which made these objects cost more than the tuples
/// they replace. An `Obj` is only dropped with the GIL held: in its object's dealloc, or while
/// a read (which holds the GIL) builds the object.
#[repr(transparent)]
struct Obj(NonNull<ffi::PyObject>);

// SAFETY: the referent is only touched with the GIL held (above); the pointer itself is plain
// data.
unsafe impl Send for Obj {}
unsafe impl Sync for Obj {}

impl Obj {
    fn new<'py>(py: Python<'py>, value: impl IntoPyObject<'py>) -> PyResult<Self> {
        let owned = value.into_py_any(py)?.into_ptr();
        // SAFETY: `into_ptr` gives an owned reference, never null.
        Ok(Self(unsafe { NonNull::new_unchecked(owned) }))
    }

    fn none(py: Python<'_>) -> Self {
        // SAFETY: `into_ptr` gives an owned reference to None, never null.
        Self(unsafe { NonNull::new_unchecked(py.None().into_ptr()) })
    }
}

impl Drop for Obj {
    fn drop(&mut self) {
        // SAFETY: an owned reference, dropped with the GIL held (see the type's doc).
        unsafe { ffi::Py_DECREF(self.0.as_ptr()) }
    }
}

/// Serves the `Obj` field at `offset` in instances of `class` as the read-only attribute
/// `name`, the way CPython serves `__slots__`.
fn add_member(class: &Bound<'_, PyType>, name: &'static str, offset: usize) -> PyResult<()> {
    let py = class.py();
    let c_name = CString::new(name)?;
    let def = Box::leak(Box::new(ffi::PyMemberDef {
        name: Box::leak(c_name.into_boxed_c_str()).as_ptr(),
        type_code: ffi::Py_T_OBJECT_EX,
        offset: offset.try_into()?,
        flags: ffi::Py_READONLY,
        doc: std::ptr::null(),
    }));
    // SAFETY: `def` lives for the rest of the process; the type is a ready heap type whose
    // instances hold a non-null owned reference (an `Obj`) at `offset`.
    let member = unsafe {
        Bound::from_owned_ptr_or_err(py, ffi::PyDescr_NewMember(class.as_type_ptr(), def))?
    };
    class.setattr(name, member)
}

/// A frozen class of `Obj` fields, each a read-only attribute of the same name (typed in
/// `_ferrokafka.pyi`). `register` adds it to the module; the fields' offsets are measured on
/// an instance, so they hold whatever layout PyO3 gives the class.
macro_rules! native_class {
    ($(#[$doc:meta])* $name:ident { $($field:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[pyclass(frozen, module = "ferrokafka._ferrokafka")]
        pub struct $name {
            $($field: Obj,)+
        }

        impl $name {
            fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
                let py = m.py();
                m.add_class::<Self>()?;
                let class = py.get_type::<Self>();
                let probe = Bound::new(py, Self { $($field: Obj::none(py),)+ })?;
                let base = probe.as_ptr() as usize;
                $(
                    let at = std::ptr::addr_of!(probe.get().$field) as usize - base;
                    add_member(&class, stringify!($field), at)?;
                )+
                Ok(())
            }
        }
    };
}

/// Produce and Fetch name topics by id from v13 on (and by name before).
const TOPIC_ID_FROM: i16 = 13;

/// The 16 bytes of a topic's id where `version` names topics by id, else None.
fn topic_id(py: Python<'_>, id: &[u8; 16], version: i16) -> PyResult<Obj> {
    if version >= TOPIC_ID_FROM {
        Obj::new(py, PyBytes::new(py, id))
    } else {
        Ok(Obj::none(py))
    }
}

native_class! {
    /// A request header read natively (see `parse_request_header`): client_id is a str or
    /// None, body_start where the request body starts in the frame.
    NativeRequestHeader { api_key, api_version, correlation_id, client_id, body_start }
}

/// The request header (version 2 when `flexible`) at the start of `frame`, or None to leave it
/// to the schema codec.
#[pyfunction]
fn parse_request_header(
    py: Python<'_>,
    frame: PyBuffer<u8>,
    flexible: bool,
) -> PyResult<Option<NativeRequestHeader>> {
    let Some(h) = contiguous(&frame).and_then(|b| header::read_request_header(b, flexible)) else {
        return Ok(None);
    };
    Ok(Some(NativeRequestHeader {
        api_key: Obj::new(py, h.api_key)?,
        api_version: Obj::new(py, h.api_version)?,
        correlation_id: Obj::new(py, h.correlation_id)?,
        client_id: Obj::new(py, h.client_id)?,
        body_start: Obj::new(py, h.end)?,
    }))
}

native_class! {
    /// One partition of a Produce request: its records as their place in the frame
    /// (`records_start`, `records_end`: both None when the records are null).
    NativeProducePartition { index, records_start, records_end }
}

native_class! {
    /// One topic of a Produce request: `name` is empty where the version names topics by id,
    /// `topic_id` the id's 16 bytes there (else None), `partitions` a tuple of
    /// NativeProducePartition.
    NativeProduceTopic { name, topic_id, partitions }
}

native_class! {
    /// A Produce request body read natively (see `parse_produce_request`); `topics` is a tuple
    /// of NativeProduceTopic.
    NativeProduceRequest { transactional_id, acks, timeout_ms, topics }
}

/// The Produce body at `start` of `frame`, records as their place in the frame; None to leave
/// it to the schema codec.
#[pyfunction]
fn parse_produce_request(
    py: Python<'_>,
    frame: PyBuffer<u8>,
    start: usize,
    version: i16,
) -> PyResult<Option<NativeProduceRequest>> {
    let Some(req) = contiguous(&frame).and_then(|b| produce::read_request(b, start, version))
    else {
        return Ok(None);
    };
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in t.partitions {
            let (records_start, records_end) = match p.records {
                Some(r) => (Obj::new(py, r.start)?, Obj::new(py, r.end)?),
                None => (Obj::none(py), Obj::none(py)),
            };
            let partition = NativeProducePartition {
                index: Obj::new(py, p.index)?,
                records_start,
                records_end,
            };
            partitions.push(Bound::new(py, partition)?);
        }
        let topic = NativeProduceTopic {
            name: Obj::new(py, t.name)?,
            topic_id: topic_id(py, &t.topic_id, version)?,
            partitions: Obj::new(py, PyTuple::new(py, partitions)?)?,
        };
        topics.push(Bound::new(py, topic)?);
    }
    Ok(Some(NativeProduceRequest {
        transactional_id: Obj::new(py, req.transactional_id)?,
        acks: Obj::new(py, req.acks)?,
        timeout_ms: Obj::new(py, req.timeout_ms)?,
        topics: Obj::new(py, PyTuple::new(py, topics)?)?,
    }))
}

native_class! {
    /// One partition of a Fetch request.
    NativeFetchPartition {
        partition,
        current_leader_epoch,
        fetch_offset,
        last_fetched_epoch,
        log_start_offset,
        partition_max_bytes,
    }
}

native_class! {
    /// One topic of a Fetch request: `topic` is empty where the version names topics by id,
    /// `topic_id` the id's 16 bytes there (else None), `partitions` a tuple of
    /// NativeFetchPartition.
    NativeFetchTopic { topic, topic_id, partitions }
}

native_class! {
    /// One topic a Fetch session forgets: `topic` and `topic_id` as NativeFetchTopic's,
    /// `partitions` a list of partition indexes.
    NativeForgottenTopic { topic, topic_id, partitions }
}

native_class! {
    /// A Fetch request body read natively (see `parse_fetch_request`); `topics` is a tuple of
    /// NativeFetchTopic, `forgotten_topics_data` a tuple of NativeForgottenTopic.
    NativeFetchRequest {
        replica_id,
        max_wait_ms,
        min_bytes,
        max_bytes,
        isolation_level,
        session_id,
        session_epoch,
        topics,
        forgotten_topics_data,
        rack_id,
    }
}

/// The Fetch body at `start` of `frame` (fields the version lacks hold the message class's
/// defaults), or None to leave it to the schema codec.
#[pyfunction]
fn parse_fetch_request(
    py: Python<'_>,
    frame: PyBuffer<u8>,
    start: usize,
    version: i16,
) -> PyResult<Option<NativeFetchRequest>> {
    let Some(req) = contiguous(&frame).and_then(|b| fetch::read_request(b, start, version)) else {
        return Ok(None);
    };
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let partition = NativeFetchPartition {
                partition: Obj::new(py, p.partition)?,
                current_leader_epoch: Obj::new(py, p.current_leader_epoch)?,
                fetch_offset: Obj::new(py, p.fetch_offset)?,
                last_fetched_epoch: Obj::new(py, p.last_fetched_epoch)?,
                log_start_offset: Obj::new(py, p.log_start_offset)?,
                partition_max_bytes: Obj::new(py, p.partition_max_bytes)?,
            };
            partitions.push(Bound::new(py, partition)?);
        }
        let topic = NativeFetchTopic {
            topic: Obj::new(py, t.topic)?,
            topic_id: topic_id(py, &t.topic_id, version)?,
            partitions: Obj::new(py, PyTuple::new(py, partitions)?)?,
        };
        topics.push(Bound::new(py, topic)?);
    }
    let mut forgotten = Vec::with_capacity(req.forgotten_topics_data.len());
    for t in req.forgotten_topics_data {
        let topic = NativeForgottenTopic {
            topic: Obj::new(py, t.topic)?,
            topic_id: topic_id(py, &t.topic_id, version)?,
            partitions: Obj::new(py, t.partitions)?,
        };
        forgotten.push(Bound::new(py, topic)?);
    }
    Ok(Some(NativeFetchRequest {
        replica_id: Obj::new(py, req.replica_id)?,
        max_wait_ms: Obj::new(py, req.max_wait_ms)?,
        min_bytes: Obj::new(py, req.min_bytes)?,
        max_bytes: Obj::new(py, req.max_bytes)?,
        isolation_level: Obj::new(py, req.isolation_level)?,
        session_id: Obj::new(py, req.session_id)?,
        session_epoch: Obj::new(py, req.session_epoch)?,
        topics: Obj::new(py, PyTuple::new(py, topics)?)?,
        forgotten_topics_data: Obj::new(py, PyTuple::new(py, forgotten)?)?,
        rack_id: Obj::new(py, req.rack_id)?,
    }))
}

fn register_reads(m: &Bound<'_, PyModule>) -> PyResult<()> {
    NativeRequestHeader::register(m)?;
    NativeProducePartition::register(m)?;
    NativeProduceTopic::register(m)?;
    NativeProduceRequest::register(m)?;
    NativeFetchPartition::register(m)?;
    NativeFetchTopic::register(m)?;
    NativeForgottenTopic::register(m)?;
    NativeFetchRequest::register(m)?;
    m.add_function(wrap_pyfunction!(parse_request_header, m)?)?;
    m.add_function(wrap_pyfunction!(parse_produce_request, m)?)?;
    m.add_function(wrap_pyfunction!(parse_fetch_request, m)?)?;
    Ok(())
}

// -- Produce response -------------------------------------------------------------------------

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

// -- Fetch response ---------------------------------------------------------------------------

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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    register_reads(m)?;
    m.add_function(wrap_pyfunction!(write_produce_response, m)?)?;
    m.add_function(wrap_pyfunction!(write_fetch_response, m)?)?;
    Ok(())
}
