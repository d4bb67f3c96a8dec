//! A byte range of a segment file, holding the file open.
//!
//! A fetch returns regions instead of bytes; the connection writes them with `sendfile`. The
//! region owns an `Arc<File>`, so the descriptor stays valid even if retention or truncation
//! deletes the segment while the response is still being written (the kernel keeps an unlinked
//! file's data until its last descriptor closes).

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct FileRegion {
    file: Arc<File>,
    path: Arc<Path>,
    position: u64,
    length: u64,
}

impl FileRegion {
    pub fn new(file: Arc<File>, path: Arc<Path>, position: u64, length: u64) -> Self {
        FileRegion {
            file,
            path,
            position,
            length,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn position(&self) -> u64 {
        self.position
    }
    pub fn length(&self) -> u64 {
        self.length
    }

    /// Append the region's bytes to `out`. Fails with `UnexpectedEof` if the file was truncated
    /// under the region.
    pub fn read_into(&self, out: &mut Vec<u8>) -> io::Result<()> {
        let start = out.len();
        out.resize(start + self.length as usize, 0);
        let res = self.file.read_exact_at(&mut out[start..], self.position);
        if res.is_err() {
            out.truncate(start);
        }
        res
    }

    /// The region's bytes (a copy: tests and small reads; the broker uses `sendfile`).
    pub fn read_to_vec(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.length as usize);
        self.read_into(&mut out)?;
        Ok(out)
    }

    /// Send up to `count` bytes of the region, starting `offset` bytes into it, to `out_fd`.
    /// Returns bytes sent, possibly fewer than asked on a non-blocking socket; `WouldBlock`
    /// if none could be sent.
    pub fn sendfile(&self, out_fd: RawFd, offset: u64, count: Option<u64>) -> io::Result<u64> {
        if offset > self.length {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("offset {offset} is past the region's {} bytes", self.length),
            ));
        }
        let available = self.length - offset;
        let count = count.map_or(available, |c| c.min(available));
        if count == 0 {
            return Ok(0);
        }
        super::sendfile(self.file.as_raw_fd(), out_fd, self.position + offset, count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    #[test]
    fn read_and_send_survive_unlink() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.log");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(b"0123456789")
            .unwrap();
        let file = Arc::new(File::open(&path).unwrap());
        let region = FileRegion::new(file, Arc::from(path.as_path()), 2, 6);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(region.read_to_vec().unwrap(), b"234567");
        let (a, mut b) = UnixStream::pair().unwrap();
        assert_eq!(region.sendfile(a.as_raw_fd(), 1, Some(3)).unwrap(), 3);
        assert_eq!(region.sendfile(a.as_raw_fd(), 4, None).unwrap(), 2);
        assert_eq!(region.sendfile(a.as_raw_fd(), 6, None).unwrap(), 0);
        assert!(region.sendfile(a.as_raw_fd(), 7, None).is_err());
        drop(a);
        let mut got = Vec::new();
        b.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"34567");
    }
}
