//! Big-endian reads and writes of Kafka's primitive types. A read that runs past the end or
//! finds an out-of-range length gives `None`: the caller declines the frame.

/// Kafka's bound on every string, classic or compact: 0x7fff bytes of UTF-8.
pub const STRING_BYTES_MAX: usize = 0x7FFF;
/// Bytes in an unsigned varint at most (a 32-bit value).
const UVARINT_BYTES_MAX: usize = 5;

pub struct Cursor<'a> {
    buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8], pos: usize) -> Self {
        Cursor { buf, pos }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let bytes = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub fn i8(&mut self) -> Option<i8> {
        Some(i8::from_be_bytes(self.take(1)?.try_into().ok()?))
    }

    pub fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    pub fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    pub fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    pub fn uuid(&mut self) -> Option<[u8; 16]> {
        self.take(16)?.try_into().ok()
    }

    pub fn uvarint(&mut self) -> Option<u32> {
        let mut value: u64 = 0;
        for index in 0..UVARINT_BYTES_MAX {
            let byte = *self.take(1)?.first()?;
            value |= u64::from(byte & 0x7F) << (7 * index);
            if byte < 0x80 {
                return u32::try_from(value).ok();
            }
        }
        None
    }

    /// A length prefix: compact ones (unsigned varint) are stored plus one, classic ones are
    /// an int32 (`wide`) or int16; -1 means null.
    pub fn length(&mut self, compact: bool, wide: bool) -> Option<i64> {
        if compact {
            Some(i64::from(self.uvarint()?) - 1)
        } else if wide {
            Some(i64::from(self.i32()?))
        } else {
            Some(i64::from(self.i16()?))
        }
    }

    /// The next `len` bytes' place in the buffer, if that many remain.
    pub fn range(&mut self, len: usize) -> Option<std::ops::Range<usize>> {
        let start = self.pos;
        self.take(len)?;
        Some(start..self.pos)
    }

    /// A string: `Some(None)` for null (only when `nullable`).
    pub fn string(&mut self, compact: bool, nullable: bool) -> Option<Option<String>> {
        let len = self.length(compact, false)?;
        if len == -1 && nullable {
            return Some(None);
        }
        let len = usize::try_from(len)
            .ok()
            .filter(|&n| n <= STRING_BYTES_MAX)?;
        let text = std::str::from_utf8(self.take(len)?).ok()?;
        Some(Some(text.to_owned()))
    }

    /// An array's element count: at most one element per remaining byte (every element takes
    /// at least one), so a lying count cannot make the caller allocate.
    pub fn count(&mut self, compact: bool) -> Option<usize> {
        let len = self.length(compact, true)?;
        usize::try_from(len).ok().filter(|&n| n <= self.remaining())
    }

    /// A topic named by id (`by_id`: Produce and Fetch from v13) or by name, as
    /// `(name, id)` with the other one empty.
    pub fn topic(&mut self, by_id: bool, compact: bool) -> Option<(String, [u8; 16])> {
        if by_id {
            Some((String::new(), self.uuid()?))
        } else {
            Some((self.string(compact, false)??, [0; 16]))
        }
    }

    /// A flexible struct's tagged-field section, handled here only when it is empty.
    pub fn no_tagged_fields(&mut self) -> Option<()> {
        (self.uvarint()? == 0).then_some(())
    }
}

/// Appends Kafka's primitive types to a buffer.
pub struct Out(pub Vec<u8>);

impl Out {
    pub fn i8(&mut self, v: i8) {
        self.0.push(v as u8);
    }

    pub fn i16(&mut self, v: i16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    pub fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    pub fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    pub fn uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.0.push((v as u8 & 0x7F) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    /// A length prefix as [`Cursor::length`] reads it (-1: null).
    pub fn length(&mut self, len: i64, compact: bool, wide: bool) {
        if compact {
            self.uvarint((len + 1) as u32);
        } else if wide {
            self.i32(len as i32);
        } else {
            self.i16(len as i16);
        }
    }

    /// A topic's id (`by_id`) or name; None when the name is over Kafka's string limit.
    pub fn topic(&mut self, name: &str, id: &[u8; 16], by_id: bool, compact: bool) -> Option<()> {
        if by_id {
            self.0.extend_from_slice(id);
            return Some(());
        }
        self.string(Some(name), compact)
    }

    /// A string, or null; None (nothing written) when it is over Kafka's string limit.
    pub fn string(&mut self, s: Option<&str>, compact: bool) -> Option<()> {
        match s {
            None => self.length(-1, compact, false),
            Some(s) if s.len() > STRING_BYTES_MAX => return None,
            Some(s) => {
                self.length(s.len() as i64, compact, false);
                self.0.extend_from_slice(s.as_bytes());
            }
        }
        Some(())
    }
}
