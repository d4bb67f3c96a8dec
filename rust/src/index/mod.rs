//! Sparse offset index (8-byte entries) and time index (12-byte entries) over memory maps,
//! in Apache Kafka's on-disk format so that Kafka's tools can read our files and we can read
//! Kafka's.
//!
//! [`IndexFile`] holds what both indexes share (Kafka's `AbstractIndex`): a file preallocated to
//! `segment.index.bytes` while its segment is active, a count of valid entries, trimming to
//! those entries when the segment is closed or rolled, and a binary search for the largest
//! entry whose key is <= a target. Indexes carry no checksum: after a crash they are rebuilt
//! from the log, never trusted.
//!
//! The file descriptor is closed once the file is mapped (as Kafka does): a broker with many
//! partitions would otherwise hold three descriptors per segment. Resizing reopens the file.

pub mod offset_index;
pub mod time_index;

pub use offset_index::{OffsetIndex, OffsetPosition, OFFSET_INDEX_ENTRY_SIZE};
pub use time_index::{TimeIndex, TimestampOffset, TIME_INDEX_ENTRY_SIZE};

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use memmap2::{MmapMut, MmapOptions};

use crate::error::Result;

/// Searches look at the last 8 KiB of an index first (as Kafka does): appends and readers near
/// the log end only touch those pages, so they stay resident and a lookup does not fault in
/// pages from the cold start of the file.
pub const WARM_SECTION_BYTES: usize = 8192;

/// Largest offset distance from the segment's base offset that an index can store: relative
/// offsets are 4 bytes and Kafka reads them as a signed int.
pub const MAX_RELATIVE_OFFSET: i64 = i32::MAX as i64;

/// `n` rounded down to a whole number of entries.
pub fn round_to_entries(n: u64, entry_size: usize) -> u64 {
    n - n % entry_size as u64
}

/// A memory-mapped index file: fixed-size big-endian entries, `entries` of them valid.
pub(crate) struct IndexFile {
    path: PathBuf,
    entry_size: usize,
    /// None when the file is empty: a zero-length file cannot be mapped.
    mmap: Option<MmapMut>,
    entries: usize,
    /// Length of the file when it was opened, for the sanity check (a length that is not a
    /// whole number of entries means the file is not ours or was torn).
    opened_len: u64,
}

impl IndexFile {
    /// Open `path`, creating it if missing. An existing file's entries are all the whole entries
    /// in it (a segment's index is trimmed when the segment is closed). `capacity_bytes`, for an
    /// active segment, grows the file (rounded down to whole entries) so appends have room.
    pub fn open(path: &Path, entry_size: usize, capacity_bytes: Option<u64>) -> Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let len = file.metadata()?.len();
        let entries = (len / entry_size as u64) as usize;
        let mut index = IndexFile {
            path: path.to_path_buf(),
            entry_size,
            mmap: None,
            entries,
            opened_len: len,
        };
        index.remap(&file, len)?;
        if let Some(capacity) = capacity_bytes {
            index.resize(capacity)?;
        }
        Ok(index)
    }

    fn remap(&mut self, file: &File, len: u64) -> Result<()> {
        self.mmap = None;
        if len > 0 {
            // SAFETY: the file is private to this process (a partition directory is owned by one
            // broker) and we only change its length after dropping the map.
            self.mmap = Some(unsafe { MmapOptions::new().len(len as usize).map_mut(file)? });
        }
        Ok(())
    }

    /// Set the file's length to `bytes` rounded down to whole entries (never below the valid
    /// entries) and remap it.
    pub fn resize(&mut self, bytes: u64) -> Result<()> {
        let valid = (self.entries * self.entry_size) as u64;
        let len = round_to_entries(bytes, self.entry_size).max(valid);
        if self.mmap.as_ref().map_or(0, |m| m.len() as u64) == len {
            return Ok(());
        }
        self.mmap = None;
        let file = OpenOptions::new().read(true).write(true).open(&self.path)?;
        file.set_len(len)?;
        self.remap(&file, len)
    }

    /// Shrink the file to its valid entries, as Kafka leaves the indexes of a closed segment.
    pub fn trim(&mut self) -> Result<()> {
        self.resize((self.entries * self.entry_size) as u64)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn entries(&self) -> usize {
        self.entries
    }
    pub fn opened_len(&self) -> u64 {
        self.opened_len
    }
    /// How many entries fit in the file as it is currently sized.
    pub fn max_entries(&self) -> usize {
        self.mmap.as_ref().map_or(0, |m| m.len() / self.entry_size)
    }

    /// The bytes of entry `n` (< entries).
    pub fn entry(&self, n: usize) -> &[u8] {
        assert!(n < self.entries, "index entry {n} of {}", self.entries);
        let at = n * self.entry_size;
        &self.mmap.as_ref().expect("an index with entries is mapped")[at..at + self.entry_size]
    }

    /// Append one entry. The caller checks `entries < max_entries` first (a full index is a
    /// reason to roll the segment, not an error).
    pub fn push(&mut self, bytes: &[u8]) {
        assert_eq!(bytes.len(), self.entry_size);
        assert!(self.entries < self.max_entries(), "append to a full index");
        let at = self.entries * self.entry_size;
        self.mmap.as_mut().expect("a non-full index is mapped")[at..at + self.entry_size]
            .copy_from_slice(bytes);
        self.entries += 1;
    }

    /// Keep only the first `n` entries. Stale bytes after them stay in the preallocated file
    /// until it is trimmed; they are never read because `entries` bounds every access.
    pub fn truncate_to_entries(&mut self, n: usize) {
        self.entries = self.entries.min(n);
    }

    /// Slot of the largest entry whose key is <= `target`, or None when every key is larger
    /// (or the index is empty). Keys must be non-decreasing in slot order.
    pub fn largest_lower_bound(&self, target: i64, key: impl Fn(&[u8]) -> i64) -> Option<usize> {
        if self.entries == 0 {
            return None;
        }
        let key_at = |n: usize| key(self.entry(n));
        let warm_entries = WARM_SECTION_BYTES / self.entry_size;
        let first_hot = self.entries.saturating_sub(1 + warm_entries);
        // Search the warm tail when the target is there; only then look at the cold start.
        let (lo, hi) = if key_at(first_hot) < target {
            (first_hot, self.entries - 1)
        } else if key_at(0) > target {
            return None;
        } else {
            (0, first_hot)
        };
        // Invariant: key(lo) <= target; answer in [lo, hi].
        let (mut lo, mut hi) = (lo, hi);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if key_at(mid) <= target {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Some(lo)
    }

    /// Write dirty pages and the file's length to disk.
    pub fn flush(&self) -> Result<()> {
        if let Some(m) = &self.mmap {
            m.flush()?;
        }
        // The length changes on trim; fsync on a fresh descriptor makes it durable.
        File::open(&self.path)?.sync_all()?;
        Ok(())
    }

    /// Unmap and remove the file (a missing file is fine: deleting is idempotent).
    pub fn delete(mut self) -> Result<()> {
        self.mmap = None;
        match fs::remove_file(&self.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }
}

#[inline]
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

#[inline]
pub(crate) fn i64_at(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}
