//! Opening logs: crash recovery, clean reopen, untrustworthy indexes, leftovers.

use std::fs;
use std::path::Path;

use super::util::*;
use crate::log::segment::{file_name, INDEX_FILE_SUFFIX, LOG_FILE_SUFFIX, TIME_INDEX_FILE_SUFFIX};
use crate::log::{Log, LogConfig};
use crate::record::header;

fn path(dir: &Path, base: i64, suffix: &str) -> std::path::PathBuf {
    dir.join(file_name(base, suffix))
}

fn file_len(p: &Path) -> u64 {
    fs::metadata(p).unwrap().len()
}

/// Garbage a crash may leave after the last complete write.
fn garbage(kind: u64, rng: &mut Rng, next_offset: i64) -> Vec<u8> {
    match kind {
        0 => Vec::new(),
        1 => (0..1 + rng.below(300)).map(|_| rng.next() as u8).collect(),
        2 => vec![0u8; 100],
        _ => {
            // A well-framed batch with the right offset whose CRC does not match its bytes.
            let mut b = simple(2, TS0, 20);
            header::set_base_offset(&mut b, next_offset);
            let last = b.len() - 1;
            b[last] ^= 0x55;
            b
        }
    }
}

#[test]
fn crash_at_every_byte_of_the_tail() {
    let template = tempfile::tempdir().unwrap();
    let config = small_config();
    let log = open(template.path(), config.clone());
    let expected = fill(&log, 40, &mut Rng(31));
    let leo = log.log_end_offset();
    let (active_base, active_batches) = segment_batches(&log).pop().unwrap();
    drop(log); // a crash: nothing trimmed, nothing flushed beyond the page cache
    let active_log = path(template.path(), active_base, LOG_FILE_SUFFIX);
    let original = fs::read(&active_log).unwrap();
    assert!(active_batches.len() >= 3, "the tail needs a few batches");
    let active_start = expected.len() - original.len();
    let cut_from = active_batches[active_batches.len() - 3].0;

    let mut rng = Rng(77);
    let cuts = std::iter::once(0).chain(cut_from..=original.len());
    for (i, cut) in cuts.enumerate() {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(template.path(), dir.path());
        let mut damaged = original[..cut].to_vec();
        let intact_next = active_batches
            .iter()
            .filter(|(p, h)| p + h.total_size() <= cut)
            .map(|(_, h)| h.next_offset())
            .next_back()
            .unwrap_or(active_base);
        damaged.extend(garbage(i as u64 % 4, &mut rng, intact_next));
        fs::write(path(dir.path(), active_base, LOG_FILE_SUFFIX), &damaged).unwrap();
        // A batch survives if its bytes are all there and unchanged (a cut just before a
        // batch's final zero byte followed by zero garbage restores it).
        let complete: Vec<_> = active_batches
            .iter()
            .take_while(|(p, h)| {
                damaged.get(*p..p + h.total_size()) == Some(&original[*p..p + h.total_size()])
            })
            .cloned()
            .collect();
        let next = complete
            .last()
            .map_or(active_base, |(_, h)| h.next_offset());

        // Mostly recover from the active segment; sometimes from the start.
        let recovery_point = if i % 9 == 0 { 0 } else { leo };
        let log = Log::open(dir.path(), config.clone(), recovery_point, None).unwrap();
        assert_eq!(
            log.log_end_offset(),
            next,
            "cut {cut} of {}, garbage kind {}",
            original.len(),
            i % 4
        );
        assert_eq!(log.recovery_point(), recovery_point.min(next));
        let valid_end = complete.last().map_or(0, |(p, h)| p + h.total_size());
        assert_eq!(
            read_all(&log),
            &expected[..active_start + valid_end],
            "cut {cut}"
        );
        assert_eq!(
            file_len(&path(dir.path(), active_base, LOG_FILE_SUFFIX)),
            valid_end as u64
        );
        let (offsets, times) =
            expected_indexes(&complete, active_base, config.index_interval_bytes, true);
        with_segments(&log, |s| {
            let seg = s.active().unwrap();
            assert_eq!(seg.offset_index_entries(), offsets, "cut {cut}");
            assert_eq!(seg.time_index_entries(), times, "cut {cut}");
        });
        // The active segment's indexes are preallocated again.
        assert_eq!(
            file_len(&path(dir.path(), active_base, INDEX_FILE_SUFFIX)),
            1024
        );
        assert_eq!(
            file_len(&path(dir.path(), active_base, TIME_INDEX_FILE_SUFFIX)),
            1020
        );
        let info = append(&log, &simple(1, TS0, 5));
        assert_eq!(info.first_offset, next, "cut {cut}");
    }
}

#[test]
fn reopen_after_clean_close() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config();
    let log = open(dir.path(), config.clone());
    let expected = fill(&log, 200, &mut Rng(12));
    let before = log.segments().unwrap();
    let per_segment = segment_batches(&log);
    log.close().unwrap();
    assert_eq!(log.recovery_point(), log.log_end_offset());
    assert!(matches!(log.segments(), Err(crate::error::Error::Closed)));

    // Closed indexes hold exactly their entries, in Kafka's layout.
    for (base, batches) in &per_segment {
        let (offsets, times) = expected_indexes(batches, *base, config.index_interval_bytes, true);
        let index = path(dir.path(), *base, INDEX_FILE_SUFFIX);
        assert_eq!(file_len(&index), 8 * offsets.len() as u64);
        assert_eq!(
            file_len(&path(dir.path(), *base, TIME_INDEX_FILE_SUFFIX)),
            12 * times.len() as u64
        );
        let raw = fs::read(&index).unwrap();
        for (entry, want) in raw.chunks(8).zip(&offsets) {
            let rel = u32::from_be_bytes(entry[..4].try_into().unwrap()) as i64;
            let pos = u32::from_be_bytes(entry[4..].try_into().unwrap()) as u64;
            assert_eq!((base + rel, pos), (want.offset, want.position));
        }
    }

    let log2 = Log::open(dir.path(), config, log.recovery_point(), None).unwrap();
    let stats = log2.load_stats().clone();
    assert_eq!(stats.segments, before.len());
    // Closed cleanly: the recovery point is the log end, so no segment is scanned.
    assert_eq!(stats.recovered_segments, 0);
    assert_eq!((stats.rebuilt_indexes, stats.truncated_bytes), (0, 0));
    assert_eq!(log2.segments().unwrap(), before);
    assert_eq!(read_all(&log2), expected);
    let leo = log.log_end_offset();
    assert_eq!(append(&log2, &simple(1, TS0, 1)).first_offset, leo);
}

#[test]
fn corruption_in_a_middle_segment_drops_what_follows() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    fill(&log, 100, &mut Rng(13));
    let per_segment = segment_batches(&log);
    let leo = log.log_end_offset();
    log.close().unwrap();
    let (base, batches) = &per_segment[2];
    let (pos, h) = batches[1];
    let seg_path = path(dir.path(), *base, LOG_FILE_SUFFIX);
    let mut bytes = fs::read(&seg_path).unwrap();
    bytes[pos + h.total_size() - 1] ^= 1;
    fs::write(&seg_path, bytes).unwrap();

    // Trusted (below the recovery point): flushed data is not rescanned.
    let trusted = Log::open(dir.path(), small_config(), leo, None).unwrap();
    assert_eq!(trusted.log_end_offset(), leo);
    drop(trusted);

    let log = Log::open(dir.path(), small_config(), 0, None).unwrap();
    assert_eq!(log.log_end_offset(), batches[0].1.next_offset());
    assert_eq!(log.load_stats().deleted_segments, per_segment.len() - 3);
    assert_eq!(log.segments().unwrap().len(), 3);
    assert!(!path(dir.path(), per_segment[3].0, LOG_FILE_SUFFIX).exists());
    assert_eq!(
        append(&log, &simple(1, TS0, 1)).first_offset,
        batches[0].1.next_offset()
    );
}

#[test]
fn untrustworthy_indexes_of_trusted_segments_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config();
    let log = open(dir.path(), config.clone());
    let expected = fill(&log, 120, &mut Rng(14));
    let per_segment = segment_batches(&log);
    let leo = log.log_end_offset();
    log.close().unwrap();
    let b: Vec<i64> = per_segment.iter().map(|(b, _)| *b).collect();
    fs::remove_file(path(dir.path(), b[0], INDEX_FILE_SUFFIX)).unwrap();
    fs::write(path(dir.path(), b[1], TIME_INDEX_FILE_SUFFIX), [7u8; 13]).unwrap();
    // An index left untrimmed by a crash: zero entries after the real ones.
    let untrimmed = path(dir.path(), b[2], INDEX_FILE_SUFFIX);
    let mut raw = fs::read(&untrimmed).unwrap();
    raw.extend([0u8; 16]);
    fs::write(&untrimmed, raw).unwrap();
    // An entry whose position is not a batch boundary.
    let shifted = path(dir.path(), b[3], INDEX_FILE_SUFFIX);
    let mut raw = fs::read(&shifted).unwrap();
    let n = raw.len();
    raw[n - 1] = raw[n - 1].wrapping_add(1);
    fs::write(&shifted, raw).unwrap();

    let log = Log::open(dir.path(), config.clone(), leo, None).unwrap();
    assert_eq!(log.load_stats().rebuilt_indexes, 4);
    assert_eq!(log.load_stats().truncated_bytes, 0);
    assert_eq!(read_all(&log), expected);
    with_segments(&log, |s| {
        for (base, batches) in &per_segment {
            let (offsets, times) =
                expected_indexes(batches, *base, config.index_interval_bytes, true);
            let seg = s.floor(*base).unwrap();
            assert_eq!(seg.offset_index_entries(), offsets, "segment {base}");
            assert_eq!(seg.time_index_entries(), times, "segment {base}");
        }
    });
}

#[test]
fn leftovers_are_deleted_and_foreign_files_kept() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    fill(&log, 10, &mut Rng(15));
    log.close().unwrap();
    let d = dir.path();
    for stray in [
        "00000000000000000000.log.deleted",
        "00000000000000000000.index.cleaned",
        "00000000000000000003.log.swap",
        "00000000000000000777.index",
        "00000000000000000777.timeindex",
    ] {
        fs::write(d.join(stray), b"x").unwrap();
    }
    fs::write(d.join("leader-epoch-checkpoint"), b"0\n0\n").unwrap();
    fs::write(d.join("00000000000000000000.txnindex"), b"").unwrap();
    let log = Log::open(d, small_config(), 0, None).unwrap();
    assert_eq!(log.load_stats().deleted_stray_files, 5);
    assert!(d.join("leader-epoch-checkpoint").exists());
    assert!(d.join("00000000000000000000.txnindex").exists());
    assert!(!d.join("00000000000000000777.index").exists());
}

#[test]
fn log_start_checkpoint_past_the_end_starts_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), small_config());
    fill(&log, 50, &mut Rng(16));
    log.close().unwrap();
    let log = Log::open(dir.path(), small_config(), 0, Some(100_000)).unwrap();
    assert_eq!(log.log_start_offset(), 100_000);
    assert_eq!(log.log_end_offset(), 100_000);
    assert_eq!(log.segments().unwrap().len(), 1);
    assert!(log.load_stats().deleted_segments > 1);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
}

#[test]
fn a_new_log_starts_at_the_log_start_with_preallocated_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_index_bytes: 1000,
        ..small_config()
    };
    let log = Log::open(dir.path().join("orders-3"), config, 0, Some(42)).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (42, 42));
    let d = dir.path().join("orders-3");
    assert_eq!(file_len(&d.join("00000000000000000042.log")), 0);
    assert_eq!(file_len(&d.join("00000000000000000042.index")), 1000);
    assert_eq!(file_len(&d.join("00000000000000000042.timeindex")), 996);
    assert_eq!(append(&log, &simple(2, TS0, 1)).first_offset, 42);
    // A log start below the first segment is raised to it.
    log.close().unwrap();
    let log = Log::open(&d, small_config(), 0, Some(7)).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (42, 44));
}

/// A clean restart (recovery point at the log end) trusts the active segment: a batch whose
/// CRC no longer matches is not even looked at, so nothing is scanned. The same directory
/// opened after a crash (recovery point 0) finds and cuts it.
#[test]
fn recovery_point_at_the_log_end_scans_nothing() {
    let template = tempfile::tempdir().unwrap();
    let log = open(template.path(), small_config());
    fill(&log, 6, &mut Rng(5));
    let leo = log.log_end_offset();
    let (active_base, batches) = segment_batches(&log).pop().unwrap();
    log.close().unwrap();
    let active_log = path(template.path(), active_base, LOG_FILE_SUFFIX);
    let mut bytes = fs::read(&active_log).unwrap();
    let last = bytes.len() - 1; // inside the last batch's records: framing intact, CRC wrong
    bytes[last] ^= 0x55;
    fs::write(&active_log, &bytes).unwrap();

    let trusted = Log::open(template.path(), small_config(), i64::MAX, None).unwrap();
    assert_eq!(trusted.log_end_offset(), leo);
    assert_eq!(trusted.load_stats().recovered_segments, 0);
    trusted.close().unwrap();

    let recovered = Log::open(template.path(), small_config(), 0, None).unwrap();
    let (last_pos, last_batch) = batches.last().unwrap();
    assert_eq!(recovered.log_end_offset(), last_batch.base_offset);
    assert_eq!(file_len(&active_log), *last_pos as u64);
}

#[test]
fn clean_reopen_reads_only_what_follows_the_last_index_entries() {
    // Timestamps that never grow leave one time-index entry per segment; the batches after
    // it are covered by the offset index all the same.
    let dir = tempfile::tempdir().unwrap();
    let config = small_config();
    let log = open(dir.path(), config.clone());
    for _ in 0..300 {
        append(&log, &simple(1, TS0, 5));
    }
    append(&log, &simple(1, TS0 + 9, 5)); // the largest, in the active segment's tail
    let before = log.segments().unwrap();
    let expected = read_all(&log);
    log.close().unwrap();

    let log2 = Log::open(dir.path(), config.clone(), log.recovery_point(), None).unwrap();
    let stats = log2.load_stats().clone();
    assert_eq!((stats.recovered_segments, stats.rebuilt_indexes), (0, 0));
    assert!(before.len() > 2, "{} segments", before.len());
    // Each segment: from its last offset-index entry (one interval of small batches) on.
    let per_interval = config.index_interval_bytes as usize / 60 + 2;
    assert!(
        stats.tail_batches_read <= before.len() * per_interval,
        "{} batch headers read for {} segments",
        stats.tail_batches_read,
        before.len()
    );
    assert_eq!(log2.segments().unwrap(), before);
    assert_eq!(read_all(&log2), expected);
    assert_eq!(
        log2.offset_for_max_timestamp().unwrap().unwrap().timestamp,
        TS0 + 9
    );
}
