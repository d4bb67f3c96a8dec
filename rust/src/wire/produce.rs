//! Produce (API key 0) request bodies read, and response frames written, for versions 3-13
//! (flexible from 9, topics named by id from 13), as Kafka's ProduceRequest.json and
//! ProduceResponse.json lay them out.

use std::ops::Range;

use super::cursor::{Cursor, Out};

pub const VERSION_MIN: i16 = 3;
pub const VERSION_MAX: i16 = 13;
const FLEXIBLE_FROM: i16 = 9;
const TOPIC_ID_FROM: i16 = 13;
const LOG_START_OFFSET_FROM: i16 = 5;
const RECORD_ERRORS_FROM: i16 = 8;

pub struct PartitionData {
    pub index: i32,
    /// Where the partition's records lie in the frame; None when they are null.
    pub records: Option<Range<usize>>,
}

pub struct TopicData {
    /// Versions before 13 (else empty).
    pub name: String,
    /// Version 13 on (else zero).
    pub topic_id: [u8; 16],
    pub partitions: Vec<PartitionData>,
}

pub struct ProduceRequest {
    pub transactional_id: Option<String>,
    pub acks: i16,
    pub timeout_ms: i32,
    pub topics: Vec<TopicData>,
}

fn supported(version: i16) -> bool {
    (VERSION_MIN..=VERSION_MAX).contains(&version)
}

/// The body of a Produce request at `version` that starts at `start` in `frame`, or None when
/// it is not one this reader takes exactly (malformed, or with tagged fields). Bytes after the
/// body are left alone, as the schema codec leaves them.
pub fn read_request(frame: &[u8], start: usize, version: i16) -> Option<ProduceRequest> {
    if !supported(version) {
        return None;
    }
    let compact = version >= FLEXIBLE_FROM;
    let mut c = Cursor::new(frame, start);
    let transactional_id = c.string(compact, true)?;
    let acks = c.i16()?;
    let timeout_ms = c.i32()?;
    let topic_count = c.count(compact)?;
    let mut topics = Vec::with_capacity(topic_count);
    for _ in 0..topic_count {
        let (name, topic_id) = c.topic(version >= TOPIC_ID_FROM, compact)?;
        let partition_count = c.count(compact)?;
        let mut partitions = Vec::with_capacity(partition_count);
        for _ in 0..partition_count {
            let index = c.i32()?;
            let len = c.length(compact, true)?;
            let records = if len == -1 {
                None
            } else {
                Some(c.range(usize::try_from(len).ok()?)?)
            };
            if compact {
                c.no_tagged_fields()?;
            }
            partitions.push(PartitionData { index, records });
        }
        if compact {
            c.no_tagged_fields()?;
        }
        topics.push(TopicData {
            name,
            topic_id,
            partitions,
        });
    }
    if compact {
        c.no_tagged_fields()?;
    }
    Some(ProduceRequest {
        transactional_id,
        acks,
        timeout_ms,
        topics,
    })
}

pub struct RecordError {
    pub batch_index: i32,
    pub message: Option<String>,
}

pub struct PartitionResponse {
    pub index: i32,
    pub error_code: i16,
    pub base_offset: i64,
    pub log_append_time_ms: i64,
    pub log_start_offset: i64,
    pub record_errors: Vec<RecordError>,
    pub error_message: Option<String>,
}

pub struct TopicResponse {
    pub name: String,
    pub topic_id: [u8; 16],
    pub partitions: Vec<PartitionResponse>,
}

/// The size-prefixed response frame (header included) answering the Produce request with
/// `correlation_id` at `version`, or None when a value cannot be written (a string over
/// Kafka's limit, an unsupported version): the schema codec then says what is wrong. Fields
/// a version lacks are left out, as Kafka does with ignorable fields.
pub fn write_response(
    correlation_id: i32,
    version: i16,
    topics: &[TopicResponse],
    throttle_time_ms: i32,
) -> Option<Vec<u8>> {
    if !supported(version) {
        return None;
    }
    let compact = version >= FLEXIBLE_FROM;
    let mut out = Out(Vec::with_capacity(64 + 48 * topics.len()));
    out.i32(0); // the size prefix, set at the end
    out.i32(correlation_id);
    if compact {
        out.uvarint(0); // response header v1: no tagged fields
    }
    out.length(topics.len() as i64, compact, true);
    for topic in topics {
        out.topic(
            &topic.name,
            &topic.topic_id,
            version >= TOPIC_ID_FROM,
            compact,
        )?;
        out.length(topic.partitions.len() as i64, compact, true);
        for p in &topic.partitions {
            out.i32(p.index);
            out.i16(p.error_code);
            out.i64(p.base_offset);
            out.i64(p.log_append_time_ms);
            if version >= LOG_START_OFFSET_FROM {
                out.i64(p.log_start_offset);
            }
            if version >= RECORD_ERRORS_FROM {
                out.length(p.record_errors.len() as i64, compact, true);
                for e in &p.record_errors {
                    out.i32(e.batch_index);
                    out.string(e.message.as_deref(), compact)?;
                    if compact {
                        out.uvarint(0);
                    }
                }
                out.string(p.error_message.as_deref(), compact)?;
            }
            if compact {
                out.uvarint(0); // current_leader (tag 0) only when known: never here
            }
        }
        if compact {
            out.uvarint(0);
        }
    }
    out.i32(throttle_time_ms);
    if compact {
        out.uvarint(0); // node_endpoints (tag 0) only with NOT_LEADER_OR_FOLLOWER: never here
    }
    let size = i32::try_from(out.0.len() - 4).ok()?;
    out.0[..4].copy_from_slice(&size.to_be_bytes());
    Some(out.0)
}
