//! Walking the batches of a segment file.
//!
//! [`HeaderScanner`] reads only the 61-byte headers, through a small buffer, for the short
//! scans after an index lookup (reads, truncation, timestamp search). [`BatchReader`] reads whole
//! batches for recovery, where every CRC is checked; it refills a larger buffer and grows it only
//! for a batch bigger than the buffer, bounded by what is left of the file.

use std::fs::File;
use std::os::unix::fs::FileExt;

use crate::error::{Error, Result};
use crate::record::header::{self, BatchHeader, Framed, HEADER_SIZE};

/// Bytes of the first read of a header scan. An offset lookup starts at an index entry and
/// ends within about `index.interval.bytes` (4 KiB by default) of it, so one small read
/// usually holds every header it needs; copying more from the page cache is what made
/// lookups slow.
pub const HEADER_SCAN_FIRST_READ_BYTES: usize = 4 * 1024 + HEADER_SIZE;
/// Bytes of each later read: long scans (timestamp searches, byte-budget walks) read many
/// small batches' headers per system call.
pub const HEADER_SCAN_BUFFER_BYTES: usize = 16 * 1024;
/// Bytes read at a time during recovery.
pub const RECOVERY_READ_BYTES: usize = 1 << 20;

thread_local! {
    /// Set by [`without_waiting`]: this thread's segment reads fail with `WouldBlock` rather
    /// than wait for the disk.
    static NO_WAIT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run `f` with this thread's segment reads taken only from the page cache: a read that would
/// wait for the disk fails with [`std::io::ErrorKind::WouldBlock`] instead (Linux's
/// `RWF_NOWAIT`; elsewhere every read does). An event loop reads inline this way and hands
/// the read to a worker thread only when it fails.
pub fn without_waiting<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            NO_WAIT.with(|flag| flag.set(self.0));
        }
    }
    let _restore = Restore(NO_WAIT.with(|flag| flag.replace(true)));
    f()
}

/// Read exactly `buf.len()` bytes at `position` (from the page cache only, within
/// [`without_waiting`]).
pub(crate) fn read_at(file: &File, buf: &mut [u8], position: u64) -> Result<()> {
    if NO_WAIT.with(|flag| flag.get()) {
        return read_cached_at(file, buf, position).map_err(Error::from);
    }
    file.read_exact_at(buf, position).map_err(Error::from)
}

#[cfg(target_os = "linux")]
fn read_cached_at(file: &File, mut buf: &mut [u8], mut position: u64) -> std::io::Result<()> {
    use std::io::{Error as IoError, ErrorKind};
    use std::os::fd::AsRawFd;
    while !buf.is_empty() {
        let iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: one iovec over `buf`, which outlives the call; the descriptor is open.
        let n = unsafe {
            libc::preadv2(
                file.as_raw_fd(),
                &iov,
                1,
                position as libc::off_t,
                libc::RWF_NOWAIT,
            )
        };
        if n < 0 {
            let err = IoError::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                // Not cached, or a filesystem without RWF_NOWAIT: the caller waits elsewhere.
                Some(libc::EAGAIN) | Some(libc::EOPNOTSUPP) => {
                    return Err(IoError::new(ErrorKind::WouldBlock, "not in the page cache"))
                }
                _ => return Err(err),
            }
        }
        if n == 0 {
            return Err(IoError::new(
                ErrorKind::UnexpectedEof,
                "failed to fill whole buffer",
            ));
        }
        let n = n as usize;
        buf = &mut buf[n..];
        position += n as u64;
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn read_cached_at(_file: &File, _buf: &mut [u8], _position: u64) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::WouldBlock,
        "reads without waiting need Linux's RWF_NOWAIT",
    ))
}

/// Iterates (position, header) over the batches in `[start, end)` of a file whose batches are
/// known to be complete (the valid part of a segment). A torn or foreign header there is
/// corruption and is reported as such.
pub(crate) struct HeaderScanner<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
    buf: Vec<u8>,
    /// File position of `buf[0]`.
    buf_start: u64,
}

impl<'a> HeaderScanner<'a> {
    pub fn new(file: &'a File, start: u64, end: u64) -> Self {
        HeaderScanner {
            file,
            pos: start,
            end,
            buf: Vec::new(),
            buf_start: start,
        }
    }

    pub fn next_header(&mut self) -> Result<Option<(u64, BatchHeader)>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        if self.pos + HEADER_SIZE as u64 > self.end {
            return Err(Error::corrupt(
                self.pos,
                "batch header cut short by segment end",
            ));
        }
        let buffered = self.pos >= self.buf_start
            && self.pos + HEADER_SIZE as u64 <= self.buf_start + self.buf.len() as u64;
        if !buffered {
            let chunk = if self.buf.is_empty() {
                HEADER_SCAN_FIRST_READ_BYTES
            } else {
                HEADER_SCAN_BUFFER_BYTES
            };
            let len = (self.end - self.pos).min(chunk as u64) as usize;
            self.buf.resize(len, 0);
            read_at(self.file, &mut self.buf, self.pos)?;
            self.buf_start = self.pos;
        }
        let at = (self.pos - self.buf_start) as usize;
        let h = BatchHeader::parse(&self.buf[at..at + HEADER_SIZE], self.pos)?;
        let position = self.pos;
        if position + h.total_size() as u64 > self.end {
            return Err(Error::corrupt(position, "batch extends past segment end"));
        }
        self.pos += h.total_size() as u64;
        Ok(Some((position, h)))
    }
}

/// Why recovery stopped reading a segment.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Every byte up to the file's end was a valid batch.
    End,
    /// The bytes at this position are not a complete, valid batch.
    Invalid,
}

/// A CRC-checked batch (position, header, bytes), or why reading stopped.
pub(crate) type Checked<'a> = std::result::Result<(u64, BatchHeader, &'a [u8]), Stop>;

/// Reads whole batches from position 0 to the file's end, for recovery.
pub(crate) struct BatchReader<'a> {
    file: &'a File,
    end: u64,
    buf: Vec<u8>,
    /// File position of `buf[0]` and the cursor inside `buf`.
    buf_start: u64,
    cursor: usize,
}

impl<'a> BatchReader<'a> {
    pub fn new(file: &'a File, end: u64) -> Self {
        BatchReader {
            file,
            end,
            buf: Vec::new(),
            buf_start: 0,
            cursor: 0,
        }
    }

    /// Position of the next batch.
    pub fn position(&self) -> u64 {
        self.buf_start + self.cursor as u64
    }

    /// Read from the cursor on, at least `want` bytes if the file has them.
    fn refill(&mut self, want: usize) -> Result<()> {
        let pos = self.position();
        let left = (self.end - pos) as usize;
        let len = want.max(RECOVERY_READ_BYTES).min(left);
        self.buf.resize(len, 0);
        read_at(self.file, &mut self.buf, pos)?;
        self.buf_start = pos;
        self.cursor = 0;
        Ok(())
    }

    /// The next framed batch whose CRC is valid, with its position and bytes; `Err(stop)` at
    /// the end of the file or at the first torn, foreign or corrupt batch.
    pub fn next_batch(&mut self) -> Result<Checked<'_>> {
        let pos = self.position();
        if pos >= self.end {
            return Ok(Err(Stop::End));
        }
        let mut framed = header::next_batch(&self.buf[self.cursor..], pos);
        if matches!(framed, Ok(Framed::Incomplete)) {
            // Read at least the header, then the whole batch it announces.
            self.refill(HEADER_SIZE)?;
            let want = match BatchHeader::parse(&self.buf, pos) {
                Ok(h) => h.total_size(),
                Err(_) => HEADER_SIZE,
            };
            if want > self.buf.len() {
                self.refill(want)?;
            }
            framed = header::next_batch(&self.buf, pos);
        }
        let h = match framed {
            Ok(Framed::Batch(h)) => h,
            // Still incomplete with everything up to the file's end buffered: a torn write.
            Ok(Framed::Incomplete) | Err(_) => return Ok(Err(Stop::Invalid)),
        };
        let start = self.cursor;
        let batch = &self.buf[start..start + h.total_size()];
        if header::verify_crc(batch, &h, pos).is_err() {
            return Ok(Err(Stop::Invalid));
        }
        self.cursor += h.total_size();
        Ok(Ok((pos, h, &self.buf[start..start + h.total_size()])))
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::{ErrorKind, Write};
    use std::os::fd::AsRawFd;

    /// Whether every page of `file` (of `len` bytes) is in the page cache.
    fn all_cached(file: &File, len: usize) -> bool {
        let page = 4096;
        // SAFETY: a read-only shared mapping of an open file, unmapped below.
        unsafe {
            let addr = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            );
            assert_ne!(addr, libc::MAP_FAILED);
            let mut vec = vec![0u8; len.div_ceil(page)];
            assert_eq!(libc::mincore(addr, len, vec.as_mut_ptr()), 0);
            libc::munmap(addr, len);
            vec.iter().all(|v| v & 1 == 1)
        }
    }

    #[test]
    fn reads_without_waiting_take_cached_pages_and_refuse_the_others() {
        // Under the target directory, not /tmp: tmpfs pages cannot leave the page cache.
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let path = dir.path().join("segment");
        let data: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
        let mut file = File::create(&path).unwrap();
        file.write_all(&data).unwrap();
        file.sync_all().unwrap();
        let file = File::open(&path).unwrap();

        let mut buf = vec![0u8; 100_000];
        without_waiting(|| read_at(&file, &mut buf, 1000)).unwrap();
        assert_eq!(buf, data[1000..101_000]);

        // SAFETY: advice on an open descriptor; the data is on disk (sync_all above).
        let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        assert_eq!(rc, 0);
        if all_cached(&file, data.len()) {
            eprintln!("the filesystem kept the pages cached: nothing to refuse");
            return;
        }
        let refused = without_waiting(|| read_at(&file, &mut buf, 0)).unwrap_err();
        match refused {
            Error::Io(e) => assert_eq!(e.kind(), ErrorKind::WouldBlock),
            other => panic!("expected WouldBlock, got {other:?}"),
        }
        // Outside without_waiting the same read waits for the disk, and the flag is restored
        // even though the closure failed.
        read_at(&file, &mut buf, 0).unwrap();
        assert_eq!(buf, data[..100_000]);
    }
}
