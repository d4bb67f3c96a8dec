//! Writing one response (or several, back to back) to a socket: in-memory parts with vectored
//! sends, file regions with `sendfile` between them, in order.
//!
//! A [`ResponseWriter`] owns everything it still has to send (small in-memory parts copied,
//! regions holding their files open), so it can go on in another thread with no Python object
//! in reach. Two ways to drive it: [`ResponseWriter::write_some`] never waits (the event loop
//! waits for room itself), and [`ResponseWriter::write_blocking`] waits in `poll(2)` for room
//! until everything is sent, the peer takes nothing for the idle timeout, or the socket is shut
//! down under it (how another thread aborts it).

use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use super::FileRegion;

/// Linux's UIO_MAXIOV: the most buffers one `sendmsg` accepts.
const IOV_MAX: usize = 1024;

/// Why a response could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// A segment ended before the region read from it did: the frame can never be completed.
    #[error("segment {path} ended {short} bytes short of its region")]
    Truncated { path: String, short: u64 },
    /// The peer took no bytes for the whole idle timeout.
    #[error("client stopped reading")]
    Idle,
    /// The socket failed (reset, shut down, closed).
    #[error(transparent)]
    Io(#[from] io::Error),
}

enum Piece {
    Bytes(Vec<u8>),
    Region(FileRegion),
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Bytes(b) => b.len() as u64,
            Piece::Region(r) => r.length(),
        }
    }
}

/// What [`ResponseWriter::write_some`] stopped at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Everything is sent.
    Done,
    /// The socket has no room: wait until it is writable.
    Full,
    /// The byte budget of the call is spent and the socket may still have room.
    Budget,
}

/// The bytes still to send, in order, and how far into the first piece the sends got.
#[derive(Default)]
pub struct ResponseWriter {
    pieces: VecDeque<Piece>,
    /// Bytes of `pieces[0]` already sent.
    head_sent: u64,
    remaining: u64,
}

impl ResponseWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes not sent yet.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Append in-memory bytes: consecutive ones are joined into one buffer (this one, when it
    /// starts a new piece).
    pub fn push_vec(&mut self, data: Vec<u8>) {
        if data.is_empty() {
            return;
        }
        self.remaining += data.len() as u64;
        if let Some(Piece::Bytes(last)) = self.pieces.back_mut() {
            last.extend_from_slice(&data);
        } else {
            self.pieces.push_back(Piece::Bytes(data));
        }
    }

    /// Append a file region: read (from the page cache, as a rule) into the in-memory bytes
    /// when it is at most `inline_max` bytes, so that a small one leaves in the same `sendmsg`
    /// as its frame instead of in a `sendfile` of its own; otherwise sent with `sendfile`.
    pub fn push_region(&mut self, region: FileRegion, inline_max: u64) -> Result<(), SendError> {
        if region.length() == 0 {
            return Ok(());
        }
        if region.length() <= inline_max {
            let data = match region.read_to_vec() {
                Ok(data) => data,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    let got = region_file_len(&region);
                    return Err(SendError::Truncated {
                        path: region.path().display().to_string(),
                        short: region.length() - got,
                    });
                }
                Err(e) => return Err(e.into()),
            };
            self.push_vec(data);
        } else {
            self.remaining += region.length();
            self.pieces.push_back(Piece::Region(region));
        }
        Ok(())
    }

    /// Send without waiting until everything is sent, the socket is full, or about `budget`
    /// bytes went out (so that an event loop can let other work run between calls).
    pub fn write_some(&mut self, fd: RawFd, budget: u64) -> Result<Progress, SendError> {
        let mut sent_total = 0u64;
        while let Some(head) = self.pieces.front() {
            if sent_total >= budget {
                return Ok(Progress::Budget);
            }
            let result = match head {
                Piece::Bytes(_) => self.send_buffers(fd),
                Piece::Region(region) => {
                    let count = (region.length() - self.head_sent).min(budget - sent_total);
                    match region.sendfile(fd, self.head_sent, Some(count)) {
                        Ok(0) => {
                            return Err(SendError::Truncated {
                                path: region.path().display().to_string(),
                                short: region.length() - self.head_sent,
                            })
                        }
                        other => other,
                    }
                }
            };
            match result {
                Ok(n) => {
                    sent_total += n;
                    self.consume(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Progress::Full),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Progress::Done)
    }

    /// Send everything, waiting in `poll(2)` for room whenever the socket is full; fails with
    /// [`SendError::Idle`] when a wait for room lasts `idle_timeout` (None: no limit). Meant
    /// for a thread of its own: shutting the socket down makes it return at once.
    pub fn write_blocking(
        &mut self,
        fd: RawFd,
        idle_timeout: Option<Duration>,
    ) -> Result<(), SendError> {
        let timeout_ms: libc::c_int = idle_timeout.map_or(-1, |t| {
            t.as_millis().clamp(1, libc::c_int::MAX as u128) as libc::c_int
        });
        loop {
            match self.write_some(fd, u64::MAX)? {
                Progress::Done => return Ok(()),
                Progress::Full | Progress::Budget => {}
            }
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLOUT,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e.into());
                }
            } else if n == 0 {
                return Err(SendError::Idle);
            }
            // Writable, or an error / hang-up that the next send reports.
        }
    }

    /// One vectored send of the leading in-memory pieces (MSG_NOSIGNAL: a closed peer is an
    /// EPIPE error, never a signal).
    fn send_buffers(&self, fd: RawFd) -> io::Result<u64> {
        let mut iov: Vec<libc::iovec> = Vec::new();
        for (i, piece) in self.pieces.iter().enumerate() {
            let Piece::Bytes(data) = piece else { break };
            let skip = if i == 0 { self.head_sent as usize } else { 0 };
            iov.push(libc::iovec {
                iov_base: data[skip..].as_ptr() as *mut libc::c_void,
                iov_len: data.len() - skip,
            });
            if iov.len() == IOV_MAX {
                break;
            }
        }
        // SAFETY: a zeroed msghdr is valid; the iovecs point into buffers that outlive the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = iov.len() as _;
        let flags = libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
        // SAFETY: plain syscall on a caller-provided descriptor with a valid msghdr.
        let n = unsafe { libc::sendmsg(fd, &msg, flags) };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as u64)
        }
    }

    /// Drop `n` sent bytes from the front.
    fn consume(&mut self, mut n: u64) {
        self.remaining -= n;
        while n > 0 {
            let head_len = self.pieces.front().map_or(0, Piece::len);
            let left = head_len - self.head_sent;
            if n >= left {
                n -= left;
                self.head_sent = 0;
                self.pieces.pop_front();
            } else {
                self.head_sent += n;
                n = 0;
            }
        }
    }
}

/// How much of a region's file is there (for the message of a truncated region).
fn region_file_len(region: &FileRegion) -> u64 {
    let end = std::fs::metadata(region.path()).map_or(0, |m| m.len());
    end.saturating_sub(region.position()).min(region.length())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::path::Path;
    use std::sync::Arc;

    fn region_of(data: &[u8], position: u64, length: u64) -> (tempfile::TempDir, FileRegion) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        File::create(&path).unwrap().write_all(data).unwrap();
        let file = Arc::new(File::open(&path).unwrap());
        let region = FileRegion::new(file, Arc::from(Path::new(&path)), position, length);
        (dir, region)
    }

    fn reader(mut b: UnixStream) -> std::thread::JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut got = Vec::new();
            b.read_to_end(&mut got).unwrap();
            got
        })
    }

    #[test]
    fn sends_parts_in_order_through_a_full_socket() {
        let file: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let (_dir, big) = region_of(&file, 10, 2_500_000);
        let (_dir2, small) = region_of(b"0123456789", 2, 5);
        let mut w = ResponseWriter::new();
        w.push_vec(b"head".to_vec());
        w.push_region(big, 32).unwrap();
        w.push_vec(b"mid".to_vec());
        w.push_region(small, 32).unwrap(); // read into the in-memory bytes
        w.push_vec(b"tail".to_vec());
        assert_eq!(w.remaining(), 4 + 2_500_000 + 3 + 5 + 4);
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        // The first call fills the socket and stops; the reader is not reading yet.
        assert_eq!(
            w.write_some(a.as_raw_fd(), u64::MAX).unwrap(),
            Progress::Full
        );
        assert!(w.remaining() > 0);
        let got = reader(b);
        w.write_blocking(a.as_raw_fd(), Some(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(w.remaining(), 0);
        drop(a);
        let mut want = b"head".to_vec();
        want.extend_from_slice(&file[10..2_500_010]);
        want.extend_from_slice(b"mid23456tail");
        assert_eq!(got.join().unwrap(), want);
    }

    #[test]
    fn a_budget_stops_a_call_early() {
        let (_dir, region) = region_of(&[7u8; 100_000], 0, 100_000);
        let mut w = ResponseWriter::new();
        w.push_region(region, 0).unwrap();
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let got = reader(b);
        assert_eq!(w.write_some(a.as_raw_fd(), 1000).unwrap(), Progress::Budget);
        assert_eq!(w.remaining(), 99_000);
        w.write_blocking(a.as_raw_fd(), None).unwrap();
        drop(a);
        assert_eq!(got.join().unwrap().len(), 100_000);
    }

    /// A writer of 4 MiB and the non-blocking socket it writes to, whose peer reads nothing.
    fn stuck_writer() -> (tempfile::TempDir, ResponseWriter, UnixStream, UnixStream) {
        let (dir, region) = region_of(&vec![1u8; 4 << 20], 0, 4 << 20);
        let mut w = ResponseWriter::new();
        w.push_region(region, 0).unwrap();
        let (a, b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        (dir, w, a, b)
    }

    #[test]
    fn a_reader_that_takes_nothing_times_out() {
        let (_dir, mut w, a, _b) = stuck_writer();
        let err = w
            .write_blocking(a.as_raw_fd(), Some(Duration::from_millis(50)))
            .unwrap_err();
        assert!(matches!(err, SendError::Idle), "{err}");
    }

    #[test]
    fn a_shutdown_socket_ends_a_blocked_write() {
        let (_dir, mut w, a, _b) = stuck_writer();
        let fd = a.as_raw_fd();
        let writer = std::thread::spawn(move || w.write_blocking(fd, None));
        std::thread::sleep(Duration::from_millis(50));
        a.shutdown(std::net::Shutdown::Both).unwrap();
        let err = writer.join().unwrap().unwrap_err();
        assert!(matches!(err, SendError::Io(_)), "{err}");
    }

    #[test]
    fn a_truncated_segment_is_reported() {
        let (_dir, region) = region_of(b"0123456789", 4, 100);
        let mut w = ResponseWriter::new();
        w.push_region(region.clone(), 0).unwrap();
        let (a, _b) = UnixStream::pair().unwrap();
        let err = w.write_some(a.as_raw_fd(), u64::MAX).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "segment {} ended 94 bytes short of its region",
                region.path().display()
            )
        );
        let err = ResponseWriter::new().push_region(region, 1000).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("ended 94 bytes short of its region"),
            "{err}"
        );
    }
}
