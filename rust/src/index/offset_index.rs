//! The sparse offset index of a segment (`<base offset>.index`), Kafka's `OffsetIndex`.
//!
//! Each 8-byte entry is (relative offset: u32 BE, position: u32 BE): the batch whose last offset
//! is `base_offset + relative offset` starts at byte `position` of the segment's `.log`.
//! Entries are strictly increasing in offset and in position, so a lookup finds the largest
//! entry <= a target and the reader scans batch headers forward from there.

use std::path::Path;

use super::{round_to_entries, u32_at, IndexFile, MAX_RELATIVE_OFFSET};
use crate::error::{Error, Result};

pub const OFFSET_INDEX_ENTRY_SIZE: usize = 8;

/// An absolute offset and the byte position of a batch in the segment's log file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffsetPosition {
    pub offset: i64,
    pub position: u64,
}

pub struct OffsetIndex {
    file: IndexFile,
    base_offset: i64,
}

impl OffsetIndex {
    /// Open or create `path`; `capacity_bytes` preallocates room for an active segment.
    pub fn open(path: &Path, base_offset: i64, capacity_bytes: Option<u64>) -> Result<Self> {
        Ok(OffsetIndex {
            file: IndexFile::open(path, OFFSET_INDEX_ENTRY_SIZE, capacity_bytes)?,
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
    pub fn is_full(&self) -> bool {
        self.entries() >= self.max_entries()
    }
    /// Entries that can still be appended before the index is full.
    pub fn remaining(&self) -> usize {
        self.max_entries().saturating_sub(self.entries())
    }
    /// Allocate the pages `more` further entries would take (see `IndexFile::reserve`).
    pub fn reserve(&mut self, more: usize) -> Result<()> {
        self.file.reserve(more)
    }

    pub fn entry(&self, n: usize) -> OffsetPosition {
        self.decode(self.file.entry(n))
    }

    fn decode(&self, b: &[u8]) -> OffsetPosition {
        OffsetPosition {
            offset: self.base_offset + u32_at(b, 0) as i64,
            position: u32_at(b, 4) as u64,
        }
    }

    /// The last entry, or (base offset, 0) when the index is empty.
    pub fn last_entry(&self) -> OffsetPosition {
        match self.entries() {
            0 => self.start(),
            n => self.entry(n - 1),
        }
    }

    fn start(&self) -> OffsetPosition {
        OffsetPosition {
            offset: self.base_offset,
            position: 0,
        }
    }

    /// Whether `offset` can be stored relative to this index's base offset.
    pub fn can_append_offset(&self, offset: i64) -> bool {
        let relative = offset - self.base_offset;
        (0..=MAX_RELATIVE_OFFSET).contains(&relative)
    }

    /// Add an entry. Offsets must increase strictly and fit relative to the base offset; the
    /// caller checks `is_full` first.
    pub fn append(&mut self, offset: i64, position: u64) -> Result<()> {
        if !self.can_append_offset(offset) {
            return Err(Error::InvalidOffset(format!(
                "offset {offset} does not fit in the index of segment {}",
                self.base_offset
            )));
        }
        if self.entries() > 0 && offset <= self.last_entry().offset {
            return Err(Error::InvalidOffset(format!(
                "index entry for offset {offset} after offset {}",
                self.last_entry().offset
            )));
        }
        let position = u32::try_from(position).map_err(|_| {
            Error::InvalidOffset(format!(
                "position {position} does not fit in an index entry"
            ))
        })?;
        let mut entry = [0u8; OFFSET_INDEX_ENTRY_SIZE];
        entry[..4].copy_from_slice(&((offset - self.base_offset) as u32).to_be_bytes());
        entry[4..].copy_from_slice(&position.to_be_bytes());
        self.file.push(&entry)?;
        Ok(())
    }

    fn relative_offset_key(b: &[u8]) -> i64 {
        u32_at(b, 0) as i64
    }

    /// The largest entry whose offset is <= `target`, or (base offset, 0) if there is none.
    pub fn lookup(&self, target: i64) -> OffsetPosition {
        self.file
            .largest_lower_bound(target - self.base_offset, Self::relative_offset_key)
            .map_or(self.start(), |n| self.entry(n))
    }

    /// The largest entry whose position is <= `position`, or (base offset, 0) if there is none.
    /// Positions increase with offsets, so the same search works on the second field.
    pub fn lookup_by_position(&self, position: u64) -> OffsetPosition {
        self.file
            .largest_lower_bound(position.min(u32::MAX as u64) as i64, |b| {
                u32_at(b, 4) as i64
            })
            .map_or(self.start(), |n| self.entry(n))
    }

    /// Remove every entry whose offset is >= `offset`.
    pub fn truncate_to(&mut self, offset: i64) {
        let keep = match self
            .file
            .largest_lower_bound(offset - self.base_offset, Self::relative_offset_key)
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

    /// Why this index cannot be trusted for a log of `log_size` bytes, or None if it looks
    /// sound. Cheap checks only (Kafka's `sanityCheck` plus a few): the whole file is never read.
    pub fn sanity_problem(&self, log_size: u64) -> Option<String> {
        let len = self.file.opened_len();
        if len != round_to_entries(len, OFFSET_INDEX_ENTRY_SIZE) {
            return Some(format!("{len} bytes is not a whole number of entries"));
        }
        let n = self.entries();
        if n == 0 {
            return None;
        }
        // Read from the file: the end of an index left preallocated by a crash is a hole.
        let read = |i: usize| self.file.read_entry(i).map(|b| self.decode(&b));
        let last = match read(n - 1) {
            Ok(entry) => entry,
            Err(e) => return Some(format!("cannot read the last entry: {e}")),
        };
        if last.offset - self.base_offset > MAX_RELATIVE_OFFSET {
            return Some(format!("last offset {} overflows", last.offset));
        }
        if last.position >= log_size.max(1) {
            return Some(format!(
                "last entry position {} is past the log end {log_size}",
                last.position
            ));
        }
        // A preallocated file left untrimmed by a crash ends in zero entries.
        if n > 1 {
            let prev = match read(n - 2) {
                Ok(entry) => entry,
                Err(e) => return Some(format!("cannot read an entry: {e}")),
            };
            if last.offset <= prev.offset || last.position <= prev.position {
                return Some("entries do not increase".to_string());
            }
        }
        None
    }

    /// Every entry (tests and tools).
    pub fn all_entries(&self) -> Vec<OffsetPosition> {
        (0..self.entries()).map(|n| self.entry(n)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(dir: &Path, base: i64, capacity: u64) -> OffsetIndex {
        OffsetIndex::open(&dir.join("00.index"), base, Some(capacity)).unwrap()
    }

    #[test]
    fn preallocates_rounded_and_trims() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = index(dir.path(), 100, 8 * 10 + 5);
        assert_eq!(idx.max_entries(), 10);
        let path = idx.path().to_path_buf();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 80);
        idx.append(101, 0).unwrap();
        idx.append(105, 300).unwrap();
        idx.trim().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 16);
        drop(idx);
        // Kafka's layout: relative offset then position, both 4-byte big-endian.
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes, [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 1, 44]);
        let reopened = OffsetIndex::open(&path, 100, None).unwrap();
        assert_eq!(reopened.entries(), 2);
        assert_eq!(
            reopened.last_entry(),
            OffsetPosition {
                offset: 105,
                position: 300
            }
        );
        assert_eq!(reopened.sanity_problem(1000), None);
    }

    #[test]
    fn lookup_matches_brute_force() {
        let dir = tempfile::tempdir().unwrap();
        // Enough entries that both the warm and the cold sections are searched.
        let n = 5000;
        let mut idx = index(dir.path(), 1000, 8 * n as u64);
        let entries: Vec<(i64, u64)> = (0..n).map(|i| (1000 + 3 * i + 2, 100 * i as u64)).collect();
        for &(o, p) in &entries {
            idx.append(o, p).unwrap();
        }
        assert!(idx.is_full());
        for target in 990..(1000 + 3 * n + 10) {
            let expect = entries
                .iter()
                .rev()
                .find(|(o, _)| *o <= target)
                .map_or((1000, 0), |&(o, p)| (o, p));
            let got = idx.lookup(target);
            assert_eq!((got.offset, got.position), expect, "target {target}");
        }
        for pos in (0..(100 * n as u64 + 50)).step_by(37) {
            let expect = entries
                .iter()
                .rev()
                .find(|(_, p)| *p <= pos)
                .map_or((1000, 0), |&(o, p)| (o, p));
            let got = idx.lookup_by_position(pos);
            assert_eq!((got.offset, got.position), expect, "position {pos}");
        }
    }

    #[test]
    fn append_rules_and_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = index(dir.path(), 50, 800);
        assert!(idx.append(49, 0).is_err());
        idx.append(50, 0).unwrap();
        idx.append(60, 10).unwrap();
        assert!(idx.append(60, 20).is_err());
        assert!(idx.append(50 + MAX_RELATIVE_OFFSET + 1, 30).is_err());
        idx.append(70, 20).unwrap();
        idx.truncate_to(70);
        assert_eq!(idx.entries(), 2);
        idx.truncate_to(65);
        assert_eq!(idx.entries(), 2);
        idx.truncate_to(60);
        assert_eq!(idx.entries(), 1);
        idx.truncate_to(0);
        assert_eq!(idx.entries(), 0);
        assert_eq!(
            idx.lookup(1000),
            OffsetPosition {
                offset: 50,
                position: 0
            }
        );
    }

    #[test]
    fn untrimmed_zero_tail_is_not_sane() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.index");
        let mut idx = OffsetIndex::open(&path, 0, Some(80)).unwrap();
        idx.append(5, 0).unwrap();
        drop(idx);
        // Reopened without trimming, as after a crash: the zero entries count as entries.
        let idx = OffsetIndex::open(&path, 0, None).unwrap();
        assert_eq!(idx.entries(), 10);
        assert!(idx.sanity_problem(1000).is_some());
        std::fs::write(&path, [0u8; 13]).unwrap();
        let idx = OffsetIndex::open(&path, 0, None).unwrap();
        assert!(idx.sanity_problem(1000).is_some());
    }
}
