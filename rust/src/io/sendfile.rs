//! `sendfile(2)`: move bytes from a file to a socket inside the kernel.
//!
//! Returns how many bytes went out. On a non-blocking socket that fills up part way, the count
//! so far is returned (the caller waits for writability and sends the rest); if nothing could be
//! sent the `WouldBlock` error comes back, which PyO3 turns into `BlockingIOError` so trio's
//! `wait_writable` loop works unchanged.

use std::io;
use std::os::fd::RawFd;

/// Linux transfers at most 0x7ffff000 bytes per `sendfile` call; larger requests are looped.
pub const SENDFILE_MAX_CHUNK_BYTES: u64 = 0x7fff_f000;

/// Send `count` bytes of `in_fd` starting at `position` to `out_fd`. The file offset of
/// `in_fd` is not used or changed, so many sends may share one file descriptor.
pub fn sendfile(in_fd: RawFd, out_fd: RawFd, position: u64, count: u64) -> io::Result<u64> {
    let mut sent = 0u64;
    while sent < count {
        let chunk = (count - sent).min(SENDFILE_MAX_CHUNK_BYTES) as usize;
        let n = send_chunk(in_fd, out_fd, position + sent, chunk);
        match n {
            Ok(0) => break, // end of file: the segment was truncated under the region
            Ok(n) => sent += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // Report what went out; a persistent error shows up again on the next call.
            Err(_) if sent > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

#[cfg(target_os = "linux")]
fn send_chunk(in_fd: RawFd, out_fd: RawFd, position: u64, len: usize) -> io::Result<usize> {
    let mut offset = libc::off_t::try_from(position)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file position overflows"))?;
    // SAFETY: plain syscall on caller-provided descriptors; `offset` outlives the call.
    let n = unsafe { libc::sendfile(out_fd, in_fd, &mut offset, len) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Elsewhere (macOS's sendfile has another signature): pread into a bounded buffer, then write.
#[cfg(not(target_os = "linux"))]
fn send_chunk(in_fd: RawFd, out_fd: RawFd, position: u64, len: usize) -> io::Result<usize> {
    /// Bytes copied per call by the portable fallback.
    const FALLBACK_CHUNK_BYTES: usize = 64 * 1024;
    let mut buf = vec![0u8; len.min(FALLBACK_CHUNK_BYTES)];
    // SAFETY: the buffer is valid for `buf.len()` bytes for both calls.
    let n = unsafe {
        libc::pread(
            in_fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            position as libc::off_t,
        )
    };
    if n <= 0 {
        return if n == 0 {
            Ok(0)
        } else {
            Err(io::Error::last_os_error())
        };
    }
    let w = unsafe { libc::write(out_fd, buf.as_ptr().cast(), n as usize) };
    if w < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(w as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn sends_a_slice_of_a_file() {
        let mut f = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        f.write_all(&data).unwrap();
        let (a, mut b) = UnixStream::pair().unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            b.read_to_end(&mut got).unwrap();
            got
        });
        let n = sendfile(f.as_raw_fd(), a.as_raw_fd(), 1234, 50_000).unwrap();
        assert_eq!(n, 50_000);
        drop(a);
        assert_eq!(reader.join().unwrap(), &data[1234..51_234]);
    }

    #[test]
    fn full_nonblocking_socket_would_block() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&vec![7u8; 1 << 20]).unwrap();
        let (a, _b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        // Fill the socket buffer: the first call sends part, a later one nothing.
        let first = sendfile(f.as_raw_fd(), a.as_raw_fd(), 0, 1 << 20).unwrap();
        assert!(first > 0 && first < 1 << 20);
        let err = sendfile(f.as_raw_fd(), a.as_raw_fd(), first, 1 << 20).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn past_end_of_file_sends_nothing() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"abc").unwrap();
        let (a, _b) = UnixStream::pair().unwrap();
        assert_eq!(sendfile(f.as_raw_fd(), a.as_raw_fd(), 2, 10).unwrap(), 1);
        assert_eq!(sendfile(f.as_raw_fd(), a.as_raw_fd(), 3, 10).unwrap(), 0);
    }
}
