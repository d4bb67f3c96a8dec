use super::cursor::Out;
use super::fetch::*;

#[test]
fn reads_a_v11_consumer_fetch() {
    let mut out = Out(Vec::new());
    out.i32(-1); // replica id
    out.i32(500);
    out.i32(1);
    out.i32(1 << 20);
    out.i8(1);
    out.i32(7); // session
    out.i32(2);
    out.length(1, false, true);
    out.string(Some("t"), false);
    out.length(1, false, true);
    out.i32(3);
    out.i32(4); // current leader epoch
    out.i64(99);
    out.i64(-1); // log start offset
    out.i32(1 << 16);
    out.length(0, false, true); // forgotten topics
    out.string(Some("r"), false);
    let req = read_request(&out.0, 0, 11).unwrap();
    assert_eq!(
        (
            req.max_wait_ms,
            req.isolation_level,
            req.session_id,
            req.rack_id.as_str()
        ),
        (500, 1, 7, "r")
    );
    let p = &req.topics[0].partitions[0];
    assert_eq!(
        (
            p.partition,
            p.current_leader_epoch,
            p.fetch_offset,
            p.last_fetched_epoch
        ),
        (3, 4, 99, -1)
    );
    for cut in 0..out.0.len() {
        assert!(read_request(&out.0[..cut], 0, 11).is_none());
    }
}

#[test]
fn a_records_part_splits_the_frame_and_counts_in_its_size() {
    let response = FetchResponse {
        throttle_time_ms: 0,
        error_code: 0,
        session_id: 0,
        responses: vec![TopicResponse {
            topic: String::new(),
            topic_id: [1; 16],
            partitions: vec![PartitionData {
                partition_index: 0,
                error_code: 0,
                high_watermark: 10,
                last_stable_offset: 10,
                log_start_offset: 0,
                aborted_transactions: None,
                preferred_read_replica: -1,
                records: Records::Part {
                    len: 1000,
                    value: "file",
                },
            }],
        }],
    };
    let parts = write_response(1, 16, response).unwrap();
    let [Part::Bytes(head), Part::Value("file"), Part::Bytes(tail)] = &parts[..] else {
        panic!("bytes, the records value, bytes");
    };
    let size = i32::from_be_bytes(head[..4].try_into().unwrap()) as usize;
    assert_eq!(size, head.len() - 4 + 1000 + tail.len());
    assert_eq!(tail[..], [0, 0, 0]); // partition, topic and response tagged fields
}
