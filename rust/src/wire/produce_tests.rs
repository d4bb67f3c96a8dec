use super::cursor::Out;
use super::produce::*;

/// A Produce body: no transactional id, acks -1, one topic "t" with partition 3's records.
fn body(version: i16, records: Option<&[u8]>) -> Vec<u8> {
    let compact = version >= 9;
    let mut out = Out(Vec::new());
    out.string(None, compact);
    out.i16(-1);
    out.i32(30_000);
    out.length(1, compact, true);
    if version >= 13 {
        out.0.extend_from_slice(&[7; 16]);
    } else {
        out.string(Some("t"), compact);
    }
    out.length(1, compact, true);
    out.i32(3);
    match records {
        Some(r) => {
            out.length(r.len() as i64, compact, true);
            out.0.extend_from_slice(r);
        }
        None => out.length(-1, compact, true),
    }
    if compact {
        out.0.extend_from_slice(&[0, 0, 0]);
    }
    out.0
}

#[test]
fn reads_every_version() {
    for version in VERSION_MIN..=VERSION_MAX {
        let mut frame = vec![9, 9];
        frame.extend(body(version, Some(b"abc")));
        let req = read_request(&frame, 2, version).expect("read");
        assert_eq!(
            (req.transactional_id, req.acks, req.timeout_ms),
            (None, -1, 30_000)
        );
        let topic = &req.topics[0];
        if version >= 13 {
            assert_eq!((topic.name.as_str(), topic.topic_id), ("", [7; 16]));
        } else {
            assert_eq!((topic.name.as_str(), topic.topic_id), ("t", [0; 16]));
        }
        let range = topic.partitions[0].records.clone().unwrap();
        assert_eq!((topic.partitions[0].index, &frame[range]), (3, &b"abc"[..]));
    }
}

#[test]
fn null_records() {
    let req = read_request(&body(9, None), 0, 9).unwrap();
    assert!(req.topics[0].partitions[0].records.is_none());
}

#[test]
fn declines_what_it_does_not_take_exactly() {
    let full = body(11, Some(b"abc"));
    for cut in 0..full.len() {
        assert!(read_request(&full[..cut], 0, 11).is_none(), "cut at {cut}");
    }
    let mut tagged = full.clone();
    *tagged.last_mut().unwrap() = 1; // a tagged field on the request
    assert!(read_request(&tagged, 0, 11).is_none());
    assert!(read_request(&full, 0, 2).is_none());
    assert!(read_request(&full, 0, 14).is_none());
}

#[test]
fn response_frame_v11() {
    let topics = [TopicResponse {
        name: "t".into(),
        topic_id: [0; 16],
        partitions: vec![PartitionResponse {
            index: 0,
            error_code: 0,
            base_offset: 5,
            log_append_time_ms: -1,
            log_start_offset: 0,
            record_errors: vec![],
            error_message: None,
        }],
    }];
    let frame = write_response(42, 11, &topics, 0).unwrap();
    let mut want = Out(Vec::new());
    want.i32(42);
    want.0.extend_from_slice(&[0, 2, 2, b't', 2]);
    want.i32(0);
    want.i16(0);
    want.i64(5);
    want.i64(-1);
    want.i64(0);
    want.0.extend_from_slice(&[1, 0, 0, 0]); // record errors, message, tags; topic tags
    want.i32(0);
    want.0.push(0);
    assert_eq!(&frame[4..], &want.0[..]);
    assert_eq!(
        i32::from_be_bytes(frame[..4].try_into().unwrap()) as usize,
        want.0.len()
    );
}

#[test]
fn request_header_v1_and_v2() {
    use super::header::read_request_header;
    let mut out = Out(Vec::new());
    out.i16(0);
    out.i16(11);
    out.i32(7);
    out.string(Some("me"), false);
    let v1 = out.0.clone();
    out.0.push(0);
    let h = read_request_header(&out.0, true).unwrap();
    assert_eq!(
        (
            h.api_key,
            h.api_version,
            h.correlation_id,
            h.client_id.as_deref(),
            h.end
        ),
        (0, 11, 7, Some("me"), 13)
    );
    assert_eq!(read_request_header(&v1, false).unwrap().end, 12);
    assert!(read_request_header(&v1, true).is_none()); // no tagged-field section
    *out.0.last_mut().unwrap() = 1;
    assert!(read_request_header(&out.0, true).is_none());
}
