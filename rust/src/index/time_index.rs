//! The sparse time index of a segment (`<base offset>.timeindex`), Kafka's `TimeIndex`.
//!
//! Each 12-byte entry is (timestamp: i64 BE, relative offset: u32 BE) and means "the largest
//! timestamp seen up to and including this offset is `timestamp`": any record with a larger
//! timestamp comes after the offset. Timestamps and offsets both increase strictly, because an
//! entry is only added when its timestamp is larger than the last one.
//!
//! The last slot is reserved: when a segment is rolled or closed, Kafka appends (largest
//! timestamp, its offset) as a final entry so that the segment's largest timestamp can be read
//! back from the index alone.

use std::path::Path;

use super::{i64_at, round_to_entries, u32_at, IndexFile, MAX_RELATIVE_OFFSET};
use crate::error::{Error, Result};
use crate::record::header::NO_TIMESTAMP;

pub const TIME_INDEX_ENTRY_SIZE: usize = 12;

/// A timestamp and an absolute offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimestampOffset {
    pub timestamp: i64,
    pub offset: i64,
}

pub struct TimeIndex {
    file: IndexFile,
    base_offset: i64,
}

impl TimeIndex {
    /// Open or create `path`; `capacity_bytes` preallocates room for an active segment.
    pub fn open(path: &Path, base_offset: i64, capacity_bytes: Option<u64>) -> Result<Self> {
        Ok(TimeIndex {
            file: IndexFile::open(path, TIME_INDEX_ENTRY_SIZE, capacity_bytes)?,
            base_offset,
        })
    }

    pub fn path(&self) -> &Path {
        self.file.path()
    }
    pub fn entries(&self) -> usize {
        self.file.entries()
    }
    pub fn max_entries(&self) -> usize {
        self.file.max_entries()
    }
    /// Full one entry early: the last slot is kept for the entry written on roll.
    pub fn is_full(&self) -> bool {
        self.entries() + 1 >= self.max_entries()
    }
    /// Entries that can still be appended by ordinary appends (the reserved slot excluded).
    pub fn remaining(&self) -> usize {
        self.max_entries().saturating_sub(self.entries() + 1)
    }
    /// Allocate the pages `more` further entries would take (see `IndexFile::reserve`).
    pub fn reserve(&mut self, more: usize) -> Result<()> {
        self.file.reserve(more)
    }

    pub fn entry(&self, n: usize) -> TimestampOffset {
        self.decode(self.file.entry(n))
    }

    fn decode(&self, b: &[u8]) -> TimestampOffset {
        TimestampOffset {
            timestamp: i64_at(b, 0),
            offset: self.base_offset + u32_at(b, 8) as i64,
        }
    }

    /// The last entry, or (-1, base offset) when the index is empty.
    pub fn last_entry(&self) -> TimestampOffset {
        match self.entries() {
            0 => self.start(),
            n => self.entry(n - 1),
        }
    }

    fn start(&self) -> TimestampOffset {
        TimestampOffset {
            timestamp: NO_TIMESTAMP,
            offset: self.base_offset,
        }
    }

    /// Add (timestamp, offset) if `timestamp` is larger than the last entry's. With
    /// `use_reserved_slot` (roll and close) the reserved last slot may be used; otherwise a full
    /// index is left alone (the caller rolls before that happens).
    pub fn maybe_append(
        &mut self,
        timestamp: i64,
        offset: i64,
        use_reserved_slot: bool,
    ) -> Result<()> {
        let last = self.last_entry();
        if self.entries() > 0 && offset < last.offset {
            return Err(Error::InvalidOffset(format!(
                "time index entry for offset {offset} after offset {}",
                last.offset
            )));
        }
        if timestamp <= last.timestamp {
            return Ok(());
        }
        let room = if use_reserved_slot {
            self.entries() < self.max_entries()
        } else {
            !self.is_full()
        };
        if !room {
            return Ok(());
        }
        let relative = offset - self.base_offset;
        if !(0..=MAX_RELATIVE_OFFSET).contains(&relative) {
            return Err(Error::InvalidOffset(format!(
                "offset {offset} does not fit in the time index of segment {}",
                self.base_offset
            )));
        }
        let mut entry = [0u8; TIME_INDEX_ENTRY_SIZE];
        entry[..8].copy_from_slice(&timestamp.to_be_bytes());
        entry[8..].copy_from_slice(&(relative as u32).to_be_bytes());
        self.file.push(&entry)?;
        Ok(())
    }

    /// The largest entry whose timestamp is <= `timestamp`, or (-1, base offset) if none.
    pub fn lookup(&self, timestamp: i64) -> TimestampOffset {
        self.file
            .largest_lower_bound(timestamp, |b| i64_at(b, 0))
            .map_or(self.start(), |n| self.entry(n))
    }

    /// Remove every entry whose offset is >= `offset`.
    pub fn truncate_to(&mut self, offset: i64) {
        let relative = offset - self.base_offset;
        let keep = match self
            .file
            .largest_lower_bound(relative, |b| u32_at(b, 8) as i64)
        {
            None => 0,
            Some(n) if self.entry(n).offset == offset => n,
            Some(n) => n + 1,
        };
        self.file.truncate_to_entries(keep);
    }

    /// Drop every entry and make room for `capacity_bytes` (a segment being rebuilt).
    pub fn reset(&mut self, capacity_bytes: u64) -> Result<()> {
        self.file.truncate_to_entries(0);
        self.file.resize(capacity_bytes)
    }

    pub fn resize(&mut self, capacity_bytes: u64) -> Result<()> {
        self.file.resize(capacity_bytes)
    }
    pub fn trim(&mut self) -> Result<()> {
        self.file.trim()
    }
    pub fn flush(&self) -> Result<()> {
        self.file.flush()
    }
    pub fn delete(self) -> Result<()> {
        self.file.delete()
    }

    /// Why this index cannot be trusted, or None if it looks sound (cheap checks only).
    pub fn sanity_problem(&self) -> Option<String> {
        let len = self.file.opened_len();
        if len != round_to_entries(len, TIME_INDEX_ENTRY_SIZE) {
            return Some(format!("{len} bytes is not a whole number of entries"));
        }
        let n = self.entries();
        if n == 0 {
            return None;
        }
        // Read from the file: the end of an index left preallocated by a crash is a hole.
        let read = |i: usize| self.file.read_entry(i).map(|b| self.decode(&b));
        let (first, last) = match (read(0), read(n - 1)) {
            (Ok(first), Ok(last)) => (first, last),
            (Err(e), _) | (_, Err(e)) => return Some(format!("cannot read an entry: {e}")),
        };
        if last.offset - self.base_offset > MAX_RELATIVE_OFFSET {
            return Some(format!("last offset {} overflows", last.offset));
        }
        if last.timestamp < first.timestamp {
            return Some(format!(
                "last timestamp {} is before the first {}",
                last.timestamp, first.timestamp
            ));
        }
        if n > 1 {
            let prev = match read(n - 2) {
                Ok(entry) => entry,
                Err(e) => return Some(format!("cannot read an entry: {e}")),
            };
            if last.timestamp <= prev.timestamp || last.offset < prev.offset {
                return Some("entries do not increase".to_string());
            }
        }
        None
    }

    /// Every entry (tests and tools).
    pub fn all_entries(&self) -> Vec<TimestampOffset> {
        (0..self.entries()).map(|n| self.entry(n)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(timestamp: i64, offset: i64) -> TimestampOffset {
        TimestampOffset { timestamp, offset }
    }

    #[test]
    fn appends_only_larger_timestamps_and_reserves_last_slot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.timeindex");
        let mut idx = TimeIndex::open(&path, 10, Some(12 * 4 + 7)).unwrap();
        assert_eq!(idx.max_entries(), 4);
        idx.maybe_append(100, 12, false).unwrap();
        idx.maybe_append(100, 13, false).unwrap(); // not larger: skipped
        idx.maybe_append(90, 14, false).unwrap(); // smaller: skipped
        idx.maybe_append(200, 15, false).unwrap();
        assert!(idx.maybe_append(300, 14, false).is_err()); // offset going back
        idx.maybe_append(300, 16, false).unwrap();
        assert!(idx.is_full());
        idx.maybe_append(400, 17, false).unwrap(); // full: left for the roll entry
        assert_eq!(idx.entries(), 3);
        idx.maybe_append(500, 18, true).unwrap();
        assert_eq!(idx.entries(), 4);
        idx.trim().unwrap();
        drop(idx);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 48);
        assert_eq!(&bytes[..12], &[0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 2]);
        let idx = TimeIndex::open(&path, 10, None).unwrap();
        assert_eq!(
            idx.all_entries(),
            vec![ts(100, 12), ts(200, 15), ts(300, 16), ts(500, 18)]
        );
        assert_eq!(idx.sanity_problem(), None);
    }

    #[test]
    fn lookup_and_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = TimeIndex::open(&dir.path().join("t"), 0, Some(12 * 3000)).unwrap();
        let entries: Vec<(i64, i64)> = (0..2000).map(|i| (1_000 + 7 * i, 2 * i + 1)).collect();
        for &(t, o) in &entries {
            idx.maybe_append(t, o, false).unwrap();
        }
        for target in (900..15_100).step_by(3) {
            let expect = entries
                .iter()
                .rev()
                .find(|(t, _)| *t <= target)
                .map_or(ts(-1, 0), |&(t, o)| ts(t, o));
            assert_eq!(idx.lookup(target), expect, "target {target}");
        }
        idx.truncate_to(21); // entries at offsets 1, 3, ..., 19 stay
        assert_eq!(idx.entries(), 10);
        idx.truncate_to(20);
        assert_eq!(idx.entries(), 10);
        idx.truncate_to(0);
        assert_eq!(idx.last_entry(), ts(-1, 0));
    }
}
