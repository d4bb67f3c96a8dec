//! Zigzag varints and varlongs, the variable-length integers of record batch v2 records
//! (protobuf's encoding: zigzag, then 7 bits per byte, least significant group first, high bit
//! set on every byte but the last).
//!
//! Decoding is bounded the way Kafka's `ByteUtils` bounds it: a varint is at most 5 bytes and a
//! varlong at most 10; a longer run of continuation bits is corrupt, not a larger number. Bits of
//! the last byte beyond 32 (64) are dropped, as Kafka drops them.

/// Longest encoding of a 32-bit varint.
pub const MAX_VARINT_BYTES: usize = 5;
/// Longest encoding of a 64-bit varlong.
pub const MAX_VARLONG_BYTES: usize = 10;

/// Why a varint could not be read. The caller knows the position and turns this into
/// [`crate::error::Error::CorruptRecord`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarintError {
    /// The buffer ended inside the varint.
    Truncated,
    /// More continuation bytes than a varint (5) or varlong (10) can have.
    TooLong,
}

impl VarintError {
    pub fn describe(self, what: &str) -> String {
        match self {
            VarintError::Truncated => format!("truncated {what}"),
            VarintError::TooLong => format!("{what} is longer than its maximum encoded size"),
        }
    }
}

#[inline]
fn zigzag32(v: i32) -> u32 {
    ((v << 1) ^ (v >> 31)) as u32
}

#[inline]
fn zigzag64(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

#[inline]
fn unzigzag32(u: u32) -> i32 {
    ((u >> 1) as i32) ^ -((u & 1) as i32)
}

#[inline]
fn unzigzag64(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Bytes needed to encode `v` as a zigzag varint.
#[inline]
pub fn varint_size(v: i32) -> usize {
    unsigned_size(zigzag32(v) as u64)
}

/// Bytes needed to encode `v` as a zigzag varlong.
#[inline]
pub fn varlong_size(v: i64) -> usize {
    unsigned_size(zigzag64(v))
}

#[inline]
fn unsigned_size(u: u64) -> usize {
    // One byte per started group of 7 bits; zero still takes a byte.
    let bits = 64 - (u | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

#[inline]
fn put_unsigned(mut u: u64, out: &mut Vec<u8>) {
    while u >= 0x80 {
        out.push((u as u8) | 0x80);
        u >>= 7;
    }
    out.push(u as u8);
}

/// Append `v` as a zigzag varint.
#[inline]
pub fn put_varint(v: i32, out: &mut Vec<u8>) {
    put_unsigned(zigzag32(v) as u64, out)
}

/// Append `v` as a zigzag varlong.
#[inline]
pub fn put_varlong(v: i64, out: &mut Vec<u8>) {
    put_unsigned(zigzag64(v), out)
}

/// Read a zigzag varint from the front of `b`: (value, bytes consumed).
#[inline(always)]
pub fn get_varint(b: &[u8]) -> Result<(i32, usize), VarintError> {
    // Fast path: most lengths and deltas fit in one byte.
    if let Some(&first) = b.first() {
        if first < 0x80 {
            return Ok((unzigzag32(first as u32), 1));
        }
    }
    let (u, n) = get_unsigned(b, MAX_VARINT_BYTES)?;
    Ok((unzigzag32(u as u32), n))
}

/// Read a zigzag varlong from the front of `b`: (value, bytes consumed).
#[inline(always)]
pub fn get_varlong(b: &[u8]) -> Result<(i64, usize), VarintError> {
    if let Some(&first) = b.first() {
        if first < 0x80 {
            return Ok((unzigzag64(first as u64), 1));
        }
    }
    let (u, n) = get_unsigned(b, MAX_VARLONG_BYTES)?;
    Ok((unzigzag64(u), n))
}

#[inline(always)]
fn get_unsigned(b: &[u8], max_bytes: usize) -> Result<(u64, usize), VarintError> {
    // Second fast path: two bytes cover lengths up to 8 KiB, the bulk of keys and values.
    if let [lo, hi, ..] = *b {
        if hi < 0x80 {
            return Ok((((lo & 0x7f) as u64) | ((hi as u64) << 7), 2));
        }
    }
    let mut value = 0u64;
    for i in 0..max_bytes {
        let byte = *b.get(i).ok_or(VarintError::Truncated)?;
        // The largest shift is 9 * 7 = 63, so this never overflows the shift; bits pushed past
        // 64 are dropped, and varints are truncated to 32 bits by the caller.
        value |= ((byte & 0x7f) as u64) << (7 * i);
        if byte < 0x80 {
            return Ok((value, i + 1));
        }
    }
    Err(VarintError::TooLong)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc32(v: i32) -> Vec<u8> {
        let mut out = Vec::new();
        put_varint(v, &mut out);
        out
    }

    fn enc64(v: i64) -> Vec<u8> {
        let mut out = Vec::new();
        put_varlong(v, &mut out);
        out
    }

    #[test]
    fn known_encodings() {
        // Zigzag maps 0,-1,1,-2,2 to 0,1,2,3,4.
        assert_eq!(enc32(0), [0x00]);
        assert_eq!(enc32(-1), [0x01]);
        assert_eq!(enc32(1), [0x02]);
        assert_eq!(enc32(-2), [0x03]);
        assert_eq!(enc32(63), [0x7e]);
        assert_eq!(enc32(-64), [0x7f]);
        assert_eq!(enc32(64), [0x80, 0x01]);
        assert_eq!(enc32(300), [0xd8, 0x04]);
        assert_eq!(enc32(i32::MAX), [0xfe, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(enc32(i32::MIN), [0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert_eq!(enc64(i64::MIN).len(), 10);
        assert_eq!(enc64(i64::MAX).len(), 10);
        assert_eq!(
            enc64(i64::MIN),
            [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        );
    }

    #[test]
    fn round_trips_and_sizes() {
        let samples32 = [
            0,
            1,
            -1,
            63,
            64,
            -64,
            -65,
            8191,
            8192,
            1 << 20,
            -(1 << 27),
            i32::MAX,
            i32::MIN,
        ];
        for v in samples32 {
            let b = enc32(v);
            assert_eq!(b.len(), varint_size(v), "{v}");
            assert_eq!(get_varint(&b), Ok((v, b.len())), "{v}");
        }
        let samples64 = [
            0,
            -1,
            1,
            i32::MAX as i64 + 1,
            1 << 49,
            -(1 << 56),
            i64::MAX,
            i64::MIN,
        ];
        for v in samples64 {
            let b = enc64(v);
            assert_eq!(b.len(), varlong_size(v), "{v}");
            assert_eq!(get_varlong(&b), Ok((v, b.len())), "{v}");
        }
    }

    #[test]
    fn trailing_bytes_are_not_consumed() {
        assert_eq!(get_varint(&[0xd8, 0x04, 0xff]), Ok((300, 2)));
    }

    #[test]
    fn truncated_is_reported() {
        assert_eq!(get_varint(&[]), Err(VarintError::Truncated));
        assert_eq!(get_varint(&[0x80]), Err(VarintError::Truncated));
        assert_eq!(get_varlong(&[0xff; 9]), Err(VarintError::Truncated));
    }

    #[test]
    fn overlong_is_corrupt() {
        // Six bytes of continuation for a varint, eleven for a varlong.
        assert_eq!(
            get_varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
            Err(VarintError::TooLong)
        );
        let mut eleven = vec![0x80u8; 10];
        eleven.push(0x00);
        assert_eq!(get_varlong(&eleven), Err(VarintError::TooLong));
        // A padded but in-bounds encoding of zero is accepted (Kafka accepts it too).
        assert_eq!(get_varint(&[0x80, 0x80, 0x80, 0x80, 0x00]), Ok((0, 5)));
    }

    #[test]
    fn fifth_byte_high_bits_are_dropped() {
        // Kafka shifts the fifth byte into an int, losing bits above 32.
        assert_eq!(
            get_varint(&[0xfe, 0xff, 0xff, 0xff, 0x7f]),
            get_varint(&[0xfe, 0xff, 0xff, 0xff, 0x0f])
        );
    }
}
