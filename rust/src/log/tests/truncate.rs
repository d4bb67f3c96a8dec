//! Truncation inside and across segments, and starting over.

use super::util::*;
use crate::log::Log;

/// Truncate a copy of a filled log to every interesting offset and check the result against
/// the model: the batch holding the target and everything after it are gone, the indexes keep
/// exactly the entries below the target, and the log takes appends and reopens cleanly.
#[test]
fn truncate_to_inside_and_across_segments() {
    let template = tempfile::tempdir().unwrap();
    let config = small_config();
    let log = open(template.path(), config.clone());
    let expected = fill(&log, 150, &mut Rng(21));
    let leo = log.log_end_offset();
    let segments_before = segment_batches(&log);
    log.close().unwrap();
    let model = parse_all(&expected);

    let mut rng = Rng(4);
    let mut targets: Vec<i64> = (0..40).map(|_| rng.below(leo as u64) as i64).collect();
    targets.extend(segments_before.iter().map(|(b, _)| *b)); // segment boundaries
    targets.extend([0, 1, leo - 1]);
    for target in targets {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(template.path(), dir.path());
        let log = Log::open(dir.path(), config.clone(), leo, None).unwrap();
        log.flush().unwrap();
        assert_eq!(log.recovery_point(), leo);
        log.truncate_to(target, TS0).unwrap();

        let kept: Vec<_> = model
            .iter()
            .filter(|(_, h)| h.last_offset() < target)
            .collect();
        let new_leo = kept.last().map_or(0, |(_, h)| h.next_offset());
        assert_eq!(log.log_end_offset(), new_leo, "target {target}");
        assert_eq!(log.recovery_point(), new_leo);
        let kept_bytes = kept.last().map_or(0, |(p, h)| p + h.total_size());
        assert_eq!(read_all(&log), &expected[..kept_bytes]);
        let segments = log.segments().unwrap();
        assert!(segments.iter().all(|s| s.base_offset <= target));
        assert_eq!(segments.last().unwrap().next_offset, new_leo);

        // The now-active segment keeps the index entries below the target. Every segment's
        // indexes are in their closed form: the old active one was recovered on open.
        let (base, batches) = segments_before
            .iter()
            .rev()
            .find(|(b, _)| *b <= target)
            .unwrap();
        let (offsets, times) = expected_indexes(batches, *base, config.index_interval_bytes, true);
        with_segments(&log, |s| {
            let seg = s.active().unwrap();
            assert_eq!(seg.base_offset(), *base);
            let want: Vec<_> = offsets.into_iter().filter(|e| e.offset < target).collect();
            assert_eq!(seg.offset_index_entries(), want, "target {target}");
            let want: Vec<_> = times.into_iter().filter(|e| e.offset < target).collect();
            assert_eq!(seg.time_index_entries(), want, "target {target}");
        });

        let info = append(&log, &simple(2, TS0, 30));
        assert_eq!(info.first_offset, new_leo);
        log.close().unwrap();
        let reopened = Log::open(dir.path(), config.clone(), 0, None).unwrap();
        assert_eq!(reopened.log_end_offset(), new_leo + 2);
        assert_eq!(&read_all(&reopened)[..kept_bytes], &expected[..kept_bytes]);
    }
}

#[test]
fn truncate_past_the_end_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    let expected = fill(&log, 20, &mut Rng(2));
    let leo = log.log_end_offset();
    log.truncate_to(leo, TS0).unwrap();
    log.truncate_to(leo + 100, TS0).unwrap();
    assert_eq!(log.log_end_offset(), leo);
    assert_eq!(read_all(&log), expected);
    assert!(log.truncate_to(-1, TS0).is_err());
}

#[test]
fn truncate_fully_starts_over_at_a_new_offset() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    fill(&log, 100, &mut Rng(8));
    assert!(log.segments().unwrap().len() > 3);
    log.truncate_fully(1000, TS0).unwrap();
    assert_eq!(log.log_start_offset(), 1000);
    assert_eq!(log.log_end_offset(), 1000);
    assert_eq!(log.recovery_point(), 1000);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.contains(&"00000000000000001000.log".to_string()));
    assert_eq!(append(&log, &simple(1, TS0, 1)).first_offset, 1000);
    assert!(log.read(999, 100, None, true).is_err());

    // Truncating below the first segment also starts over.
    log.truncate_to(500, TS0).unwrap();
    assert_eq!(log.log_end_offset(), 500);
    assert_eq!(log.log_start_offset(), 500);
    assert_eq!(append(&log, &simple(1, TS0, 1)).first_offset, 500);
}
