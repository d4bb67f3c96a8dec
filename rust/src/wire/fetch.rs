//! Fetch (API key 1) request bodies read, and response frames written, for versions 4-18
//! (flexible from 12, topics named by id from 13), as Kafka's FetchRequest.json and
//! FetchResponse.json lay them out. A response's records may stay in files: the frame is then
//! several parts, the file-backed records objects between the bytes.

use super::cursor::{Cursor, Out};

pub const VERSION_MIN: i16 = 4;
pub const VERSION_MAX: i16 = 18;
const SESSIONS_FROM: i16 = 7;
const LEADER_EPOCH_FROM: i16 = 9;
const RACK_FROM: i16 = 11;
const PREFERRED_REPLICA_FROM: i16 = 11;
const FLEXIBLE_FROM: i16 = 12;
const TOPIC_ID_FROM: i16 = 13;
const REPLICA_STATE_FROM: i16 = 15;
const LOG_START_OFFSET_FROM: i16 = 5;

/// Absent fields hold the defaults of the message classes (FetchRequest in Python).
pub struct FetchPartition {
    pub partition: i32,
    pub current_leader_epoch: i32,
    pub fetch_offset: i64,
    pub last_fetched_epoch: i32,
    pub log_start_offset: i64,
    pub partition_max_bytes: i32,
}

pub struct FetchTopic {
    pub topic: String,
    pub topic_id: [u8; 16],
    pub partitions: Vec<FetchPartition>,
}

pub struct ForgottenTopic {
    pub topic: String,
    pub topic_id: [u8; 16],
    pub partitions: Vec<i32>,
}

pub struct FetchRequest {
    pub replica_id: i32,
    pub max_wait_ms: i32,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub isolation_level: i8,
    pub session_id: i32,
    pub session_epoch: i32,
    pub topics: Vec<FetchTopic>,
    pub forgotten_topics_data: Vec<ForgottenTopic>,
    pub rack_id: String,
}

fn supported(version: i16) -> bool {
    (VERSION_MIN..=VERSION_MAX).contains(&version)
}

fn partition(c: &mut Cursor, version: i16, compact: bool) -> Option<FetchPartition> {
    let partition = c.i32()?;
    let current_leader_epoch = if version >= LEADER_EPOCH_FROM {
        c.i32()?
    } else {
        -1
    };
    let fetch_offset = c.i64()?;
    let last_fetched_epoch = if version >= FLEXIBLE_FROM {
        c.i32()?
    } else {
        -1
    };
    let log_start_offset = if version >= LOG_START_OFFSET_FROM {
        c.i64()?
    } else {
        -1
    };
    let partition_max_bytes = c.i32()?;
    if compact {
        c.no_tagged_fields()?;
    }
    Some(FetchPartition {
        partition,
        current_leader_epoch,
        fetch_offset,
        last_fetched_epoch,
        log_start_offset,
        partition_max_bytes,
    })
}

/// The body of a Fetch request at `version` starting at `start` in `frame`, or None when it
/// is not one this reader takes exactly (malformed, or with tagged fields: a follower's
/// replica state, a cluster id).
pub fn read_request(frame: &[u8], start: usize, version: i16) -> Option<FetchRequest> {
    if !supported(version) {
        return None;
    }
    let compact = version >= FLEXIBLE_FROM;
    let mut c = Cursor::new(frame, start);
    let replica_id = if version < REPLICA_STATE_FROM {
        c.i32()?
    } else {
        -1
    };
    let max_wait_ms = c.i32()?;
    let min_bytes = c.i32()?;
    let max_bytes = c.i32()?;
    let isolation_level = c.i8()?;
    let (session_id, session_epoch) = if version >= SESSIONS_FROM {
        (c.i32()?, c.i32()?)
    } else {
        (0, -1)
    };
    let topic_count = c.count(compact)?;
    let mut topics = Vec::with_capacity(topic_count);
    for _ in 0..topic_count {
        let (topic, topic_id) = c.topic(version >= TOPIC_ID_FROM, compact)?;
        let count = c.count(compact)?;
        let mut partitions = Vec::with_capacity(count);
        for _ in 0..count {
            partitions.push(partition(&mut c, version, compact)?);
        }
        if compact {
            c.no_tagged_fields()?;
        }
        topics.push(FetchTopic {
            topic,
            topic_id,
            partitions,
        });
    }
    let mut forgotten_topics_data = Vec::new();
    if version >= SESSIONS_FROM {
        let count = c.count(compact)?;
        forgotten_topics_data.reserve(count);
        for _ in 0..count {
            let (topic, topic_id) = c.topic(version >= TOPIC_ID_FROM, compact)?;
            let n = c.count(compact)?;
            let partitions = (0..n).map(|_| c.i32()).collect::<Option<Vec<_>>>()?;
            if compact {
                c.no_tagged_fields()?;
            }
            forgotten_topics_data.push(ForgottenTopic {
                topic,
                topic_id,
                partitions,
            });
        }
    }
    let rack_id = if version >= RACK_FROM {
        c.string(compact, false)??
    } else {
        String::new()
    };
    if compact {
        c.no_tagged_fields()?;
    }
    Some(FetchRequest {
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
    })
}

/// A partition's records in a response: null, bytes copied into the frame, or a value of `len`
/// bytes (file-backed, or large) kept as a part of its own between the frame's byte parts
/// (`R` is the caller's handle on it).
pub enum Records<R> {
    Null,
    Bytes(Vec<u8>),
    Part { len: usize, value: R },
}

pub struct PartitionData<R> {
    pub partition_index: i32,
    pub error_code: i16,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    /// `None`: null.
    pub aborted_transactions: Option<Vec<(i64, i64)>>,
    pub preferred_read_replica: i32,
    pub records: Records<R>,
}

pub struct TopicResponse<R> {
    pub topic: String,
    pub topic_id: [u8; 16],
    pub partitions: Vec<PartitionData<R>>,
}

pub struct FetchResponse<R> {
    pub throttle_time_ms: i32,
    pub error_code: i16,
    pub session_id: i32,
    pub responses: Vec<TopicResponse<R>>,
}

/// One part of a response frame: bytes, or a records value kept whole.
pub enum Part<R> {
    Bytes(Vec<u8>),
    Value(R),
}

/// The size-prefixed response frame (header included) answering the Fetch request with
/// `correlation_id` at `version`, as parts; None when a value cannot be written (a string
/// over Kafka's limit, an unsupported version). Tagged fields are written empty: the caller
/// declines responses that have any.
pub fn write_response<R>(
    correlation_id: i32,
    version: i16,
    response: FetchResponse<R>,
) -> Option<Vec<Part<R>>> {
    if !supported(version) {
        return None;
    }
    let compact = version >= FLEXIBLE_FROM;
    let mut parts: Vec<Part<R>> = Vec::new();
    let mut out = Out(Vec::with_capacity(128));
    let mut total = 0usize;
    out.i32(0); // the size prefix, set at the end
    out.i32(correlation_id);
    if compact {
        out.uvarint(0); // response header v1: no tagged fields
    }
    out.i32(response.throttle_time_ms);
    if version >= SESSIONS_FROM {
        out.i16(response.error_code);
        out.i32(response.session_id);
    }
    out.length(response.responses.len() as i64, compact, true);
    for topic in response.responses {
        out.topic(
            &topic.topic,
            &topic.topic_id,
            version >= TOPIC_ID_FROM,
            compact,
        )?;
        out.length(topic.partitions.len() as i64, compact, true);
        for p in topic.partitions {
            out.i32(p.partition_index);
            out.i16(p.error_code);
            out.i64(p.high_watermark);
            out.i64(p.last_stable_offset);
            if version >= LOG_START_OFFSET_FROM {
                out.i64(p.log_start_offset);
            }
            match &p.aborted_transactions {
                None => out.length(-1, compact, true),
                Some(aborted) => {
                    out.length(aborted.len() as i64, compact, true);
                    for &(producer_id, first_offset) in aborted {
                        out.i64(producer_id);
                        out.i64(first_offset);
                        if compact {
                            out.uvarint(0);
                        }
                    }
                }
            }
            if version >= PREFERRED_REPLICA_FROM {
                out.i32(p.preferred_read_replica);
            }
            match p.records {
                Records::Null => out.length(-1, compact, true),
                Records::Bytes(bytes) => {
                    out.length(bytes.len() as i64, compact, true);
                    out.0.extend_from_slice(&bytes);
                }
                Records::Part { len, value } => {
                    out.length(len as i64, compact, true);
                    total += out.0.len() + len;
                    parts.push(Part::Bytes(std::mem::take(&mut out.0)));
                    parts.push(Part::Value(value));
                }
            }
            if compact {
                out.uvarint(0); // diverging epoch, current leader, snapshot id: none
            }
        }
        if compact {
            out.uvarint(0);
        }
    }
    if compact {
        out.uvarint(0); // node endpoints: none
    }
    total += out.0.len();
    parts.push(Part::Bytes(out.0));
    let size = i32::try_from(total - 4).ok()?;
    match parts.first_mut() {
        Some(Part::Bytes(first)) => first[..4].copy_from_slice(&size.to_be_bytes()),
        _ => unreachable!("the frame starts with its size prefix"),
    }
    Some(parts)
}
