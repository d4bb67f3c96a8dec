//! Sparse offset index (8-byte entries) and time index (12-byte entries) over memory maps,
//! and the transaction index (34-byte entries, plain file I/O: see [`txn_index`]), all
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
//!
//! The preallocated file is sparse, and a page of it is only allocated when an entry is first
//! written there through the map; on a full disk that write would be SIGBUS, killing the
//! process. So pages are allocated (`fallocate`) before entries go into them
//! ([`IndexFile::reserve`]), and a full disk is an `ENOSPC` error instead.

pub mod offset_index;
pub mod time_index;
pub mod txn_index;

pub use offset_index::{OffsetIndex, OffsetPosition, OFFSET_INDEX_ENTRY_SIZE};
pub use time_index::{TimeIndex, TimestampOffset, TIME_INDEX_ENTRY_SIZE};
pub use txn_index::{AbortedTxn, TxnIndex, TXN_INDEX_ENTRY_SIZE};

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
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

/// Index pages are allocated this many bytes at a time (2,048 offset-index entries, 8 MiB of
/// log at the default index.interval.bytes): one `fallocate` per chunk, and no more disk taken
/// ahead of the entries than four pages.
pub const BACKING_CHUNK_BYTES: u64 = 16 * 1024;

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
    /// The file's first `backed` bytes are allocated on disk: entries below it can be written
    /// through the map without a page fault that needs a free block (0 after opening: nothing
    /// is assumed of a file found on disk).
    backed: u64,
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
            backed: 0,
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
        self.backed = self.backed.min(len);
        self.remap(&file, len)
    }

    /// Allocate on disk the pages that `more` entries after the valid ones would be written
    /// to (within the file's length), so that writing them through the map cannot fault on a
    /// full disk. Cheap when they already are (a comparison); else one `fallocate` of whole
    /// [`BACKING_CHUNK_BYTES`] chunks. Fails with the filesystem's error (ENOSPC).
    pub fn reserve(&mut self, more: usize) -> Result<()> {
        let mapped = self.mmap.as_ref().map_or(0, |m| m.len() as u64);
        let needed = (((self.entries + more) * self.entry_size) as u64).min(mapped);
        if needed <= self.backed {
            return Ok(());
        }
        let target = needed.div_ceil(BACKING_CHUNK_BYTES) * BACKING_CHUNK_BYTES;
        let target = target.min(mapped);
        let file = OpenOptions::new().write(true).open(&self.path)?;
        allocate(&file, self.backed, target - self.backed)?;
        self.backed = target;
        Ok(())
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

    /// Entry `n` (< entries) read from the file, not through the map: for the sanity checks of
    /// a file found on disk. An index a crash left preallocated ends in a hole; reading the hole
    /// gives zeros, where touching it through the map needs a page (SIGBUS on a full tmpfs).
    pub fn read_entry(&self, n: usize) -> Result<Vec<u8>> {
        assert!(n < self.entries, "index entry {n} of {}", self.entries);
        let mut bytes = vec![0; self.entry_size];
        File::open(&self.path)?.read_exact_at(&mut bytes, (n * self.entry_size) as u64)?;
        Ok(bytes)
    }

    /// The bytes of entry `n` (< entries).
    pub fn entry(&self, n: usize) -> &[u8] {
        assert!(n < self.entries, "index entry {n} of {}", self.entries);
        let at = n * self.entry_size;
        &self.mmap.as_ref().expect("an index with entries is mapped")[at..at + self.entry_size]
    }

    /// Append one entry. The caller checks `entries < max_entries` first (a full index is a
    /// reason to roll the segment, not an error). Fails only when its page cannot be
    /// allocated (see [`IndexFile::reserve`]); then nothing is written.
    pub fn push(&mut self, bytes: &[u8]) -> Result<()> {
        assert_eq!(bytes.len(), self.entry_size);
        assert!(self.entries < self.max_entries(), "append to a full index");
        self.reserve(1)?;
        let at = self.entries * self.entry_size;
        self.mmap.as_mut().expect("a non-full index is mapped")[at..at + self.entry_size]
            .copy_from_slice(bytes);
        self.entries += 1;
        Ok(())
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

/// Allocate `len` bytes of `file` from `offset` (inside its length, which does not change).
#[cfg(target_os = "linux")]
fn allocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: a plain syscall on a descriptor this function borrows.
        let done = unsafe {
            libc::fallocate(
                file.as_raw_fd(),
                0,
                offset as libc::off_t,
                len as libc::off_t,
            )
        };
        if done == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            // A filesystem that cannot preallocate: the pages are allocated on first write, as
            // before (the risk of SIGBUS on a full disk stays there).
            Some(libc::EOPNOTSUPP) => return Ok(()),
            _ => return Err(err),
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn allocate(_file: &File, _offset: u64, _len: u64) -> io::Result<()> {
    Ok(())
}

#[inline]
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

#[inline]
pub(crate) fn i64_at(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn allocated_bytes(path: &Path) -> u64 {
        fs::metadata(path).unwrap().blocks() * 512
    }

    #[test]
    fn pages_are_allocated_before_entries_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let mut index = IndexFile::open(&path, 8, Some(1024 * 1024)).unwrap();
        assert!(
            allocated_bytes(&path) < BACKING_CHUNK_BYTES,
            "preallocated sparse"
        );
        index.push(&[1; 8]).unwrap();
        assert!(allocated_bytes(&path) >= BACKING_CHUNK_BYTES);
        // Room for a chunk of entries is there: reserving within it allocates nothing more.
        let before = allocated_bytes(&path);
        index.reserve(BACKING_CHUNK_BYTES as usize / 8 - 1).unwrap();
        assert_eq!(allocated_bytes(&path), before);
        // Never past the file's length.
        index.reserve(1 << 20).unwrap();
        assert!(allocated_bytes(&path) <= 1024 * 1024 + 4096);
        assert_eq!(fs::metadata(&path).unwrap().len(), 1024 * 1024);
    }

    #[test]
    fn a_resized_file_is_backed_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.timeindex");
        let mut index = IndexFile::open(&path, 12, Some(120)).unwrap();
        index.push(&[2; 12]).unwrap();
        index.trim().unwrap();
        assert_eq!(index.backed, 12);
        index.resize(1024 * 1024).unwrap();
        index.push(&[3; 12]).unwrap();
        assert_eq!(index.backed, BACKING_CHUNK_BYTES);
        assert_eq!(index.entries(), 2);
    }
}
