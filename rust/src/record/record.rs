//! One record inside a batch v2, as Apache Kafka lays it out (`DefaultRecord`):
//!
//! ```text
//! length           varint   bytes after this field
//! attributes       int8     unused in v2, written as 0
//! timestampDelta   varlong  from the batch's baseTimestamp
//! offsetDelta      varint   from the batch's baseOffset
//! keyLength        varint   -1 = null key
//! key              bytes
//! valueLength      varint   -1 = null value
//! value            bytes
//! headersCount     varint
//! headers          [headerKeyLength varint, headerKey utf8,
//!                   headerValueLength varint (-1 = null), headerValue]
//! ```
//!
//! [`RecordView`] decodes the framing of one record without copying: key, value and headers are
//! slices of the input. Validating a batch therefore allocates nothing per record.

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::record::varint::{self, VarintError};

/// Length prefix meaning "null" for keys, values and header values.
pub const NULL_LENGTH: i32 = -1;

/// One record header: a UTF-8 key (kept as bytes; see [`Header::key_str`]) and a nullable value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    pub key: &'a [u8],
    pub value: Option<&'a [u8]>,
}

impl<'a> Header<'a> {
    /// The key as text. Kafka decodes header keys leniently (invalid UTF-8 becomes U+FFFD
    /// rather than failing the record), and so do we.
    pub fn key_str(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.key)
    }
}

/// A decoded record, borrowing its key, value and headers from the records section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub attributes: i8,
    pub timestamp_delta: i64,
    pub offset_delta: i32,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    /// Number of headers; `headers_raw` holds their encoding, already checked by `decode`.
    pub header_count: i32,
    pub headers_raw: &'a [u8],
    /// Bytes this record took, its length prefix included.
    pub encoded_size: usize,
}

/// Reads fields from one record's body; every read is checked against the bytes left.
struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
    position: u64,
}

impl<'a> Cursor<'a> {
    fn fail(&self, reason: String) -> Error {
        Error::corrupt(self.position, reason)
    }

    fn varint_err(&self, e: VarintError, what: &str) -> Error {
        self.fail(e.describe(what))
    }

    #[inline(always)]
    fn varint(&mut self, what: &str) -> Result<i32> {
        let (v, n) =
            varint::get_varint(&self.b[self.at..]).map_err(|e| self.varint_err(e, what))?;
        self.at += n;
        Ok(v)
    }

    #[inline(always)]
    fn varlong(&mut self, what: &str) -> Result<i64> {
        let (v, n) =
            varint::get_varlong(&self.b[self.at..]).map_err(|e| self.varint_err(e, what))?;
        self.at += n;
        Ok(v)
    }

    #[inline(always)]
    fn i8(&mut self, what: &str) -> Result<i8> {
        let v = *self
            .b
            .get(self.at)
            .ok_or_else(|| self.fail(format!("truncated {what}")))?;
        self.at += 1;
        Ok(v as i8)
    }

    #[inline(always)]
    fn bytes(&mut self, len: i32, what: &str) -> Result<&'a [u8]> {
        let left = self.b.len() - self.at;
        if len < 0 || len as usize > left {
            return Err(self.fail(format!(
                "{what} length {len} does not fit the {left} bytes left in the record"
            )));
        }
        let s = &self.b[self.at..self.at + len as usize];
        self.at += len as usize;
        Ok(s)
    }

    /// A length-prefixed byte string where a negative length (normally -1) means null, as
    /// Kafka's `DefaultRecord.readFrom` reads keys, values and header values.
    #[inline(always)]
    fn nullable_bytes(&mut self, what: &str) -> Result<Option<&'a [u8]>> {
        let len = self.varint(what)?;
        if len < 0 {
            return Ok(None);
        }
        self.bytes(len, what).map(Some)
    }
}

impl<'a> RecordView<'a> {
    /// Decode the record at the front of `buf`. `position` (of the enclosing batch) is only
    /// used in errors. The record's declared length must lie within `buf` and must be exactly
    /// what its fields take.
    #[inline(always)]
    pub fn decode(buf: &'a [u8], position: u64) -> Result<Self> {
        let (len, prefix) = varint::get_varint(buf)
            .map_err(|e| Error::corrupt(position, e.describe("record length")))?;
        let left = buf.len() - prefix;
        if len < 0 || len as usize > left {
            return Err(Error::corrupt(
                position,
                format!("record length {len} does not fit the {left} bytes left in the batch"),
            ));
        }
        let body = &buf[prefix..prefix + len as usize];
        let mut c = Cursor {
            b: body,
            at: 0,
            position,
        };
        let attributes = c.i8("record attributes")?;
        let timestamp_delta = c.varlong("timestamp delta")?;
        let offset_delta = c.varint("offset delta")?;
        let key = c.nullable_bytes("key")?;
        let value = c.nullable_bytes("value")?;
        let header_count = c.varint("header count")?;
        if header_count < 0 {
            return Err(c.fail(format!("negative header count {header_count}")));
        }
        let headers_start = c.at;
        // Each header takes at least two bytes, so a lying count fails fast on truncation.
        for _ in 0..header_count {
            let key_len = c.varint("header key")?;
            c.bytes(key_len, "header key")?;
            c.nullable_bytes("header value")?;
        }
        if c.at != body.len() {
            return Err(c.fail(format!(
                "record declares {} bytes but its fields take {}",
                body.len(),
                c.at
            )));
        }
        Ok(RecordView {
            attributes,
            timestamp_delta,
            offset_delta,
            key,
            value,
            header_count,
            headers_raw: &body[headers_start..],
            encoded_size: prefix + body.len(),
        })
    }

    /// The record's headers, decoded lazily from `headers_raw`.
    pub fn headers(&self) -> HeaderIter<'a> {
        HeaderIter {
            raw: self.headers_raw,
            left: self.header_count,
        }
    }
}

/// Iterator over headers that [`RecordView::decode`] already checked.
#[derive(Clone, Debug)]
pub struct HeaderIter<'a> {
    raw: &'a [u8],
    left: i32,
}

impl<'a> HeaderIter<'a> {
    /// Headers from the raw encoding of a record decoded earlier (`headers_raw` and
    /// `header_count` of a [`RecordView`]); for holders of those bytes without the view.
    pub fn new(raw: &'a [u8], count: i32) -> Self {
        HeaderIter { raw, left: count }
    }

    fn take_prefixed(&mut self) -> Option<Option<&'a [u8]>> {
        let (len, n) = varint::get_varint(self.raw).ok()?;
        self.raw = &self.raw[n..];
        // Negative means null for header values; negative key lengths were already rejected
        // when the record was decoded.
        if len < 0 {
            return Some(None);
        }
        let len = usize::try_from(len).ok().filter(|&l| l <= self.raw.len())?;
        let (s, rest) = self.raw.split_at(len);
        self.raw = rest;
        Some(Some(s))
    }
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        if self.left <= 0 {
            return None;
        }
        self.left -= 1;
        // The encoding was checked when the record was decoded; a failure here would mean a
        // hand-made RecordView, and ending the iteration is the safe answer.
        let key = self.take_prefixed()??;
        let value = self.take_prefixed()?;
        Some(Header { key, value })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left.max(0) as usize))
    }
}

fn put_nullable(b: Option<&[u8]>, out: &mut Vec<u8>) {
    match b {
        None => varint::put_varint(NULL_LENGTH, out),
        Some(b) => {
            varint::put_varint(b.len() as i32, out);
            out.extend_from_slice(b);
        }
    }
}

fn nullable_size(b: Option<&[u8]>) -> usize {
    match b {
        None => 1,
        Some(b) => varint::varint_size(b.len() as i32) + b.len(),
    }
}

/// Encode headers into the form stored after `headersCount`; returns how many were written.
pub fn put_headers(headers: &[Header<'_>], out: &mut Vec<u8>) -> i32 {
    for h in headers {
        varint::put_varint(h.key.len() as i32, out);
        out.extend_from_slice(h.key);
        put_nullable(h.value, out);
    }
    headers.len() as i32
}

/// The largest record body we encode: the length prefix is an int32 varint.
pub const MAX_RECORD_BODY_BYTES: usize = i32::MAX as usize;

/// Append one record with attributes 0. `headers_raw` holds `header_count` headers already
/// encoded by [`put_headers`] (or copied from a decoded [`RecordView`]).
///
/// Errors if the record would exceed [`MAX_RECORD_BODY_BYTES`].
pub fn put_record(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    header_count: i32,
    headers_raw: &[u8],
    out: &mut Vec<u8>,
) -> Result<usize> {
    let body = 1
        + varint::varlong_size(timestamp_delta)
        + varint::varint_size(offset_delta)
        + nullable_size(key)
        + nullable_size(value)
        + varint::varint_size(header_count)
        + headers_raw.len();
    if body > MAX_RECORD_BODY_BYTES {
        return Err(Error::InvalidRecord(format!(
            "record of {body} bytes is larger than a record can be"
        )));
    }
    let start = out.len();
    out.reserve(body + varint::MAX_VARINT_BYTES);
    varint::put_varint(body as i32, out);
    out.push(0); // attributes: unused in v2
    varint::put_varlong(timestamp_delta, out);
    varint::put_varint(offset_delta, out);
    put_nullable(key, out);
    put_nullable(value, out);
    varint::put_varint(header_count, out);
    out.extend_from_slice(headers_raw);
    Ok(out.len() - start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(
        ts: i64,
        od: i32,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Vec<u8> {
        let mut raw = Vec::new();
        let n = put_headers(headers, &mut raw);
        let mut out = Vec::new();
        let size = put_record(ts, od, key, value, n, &raw, &mut out).unwrap();
        assert_eq!(size, out.len());
        out
    }

    #[test]
    fn known_bytes() {
        // key "k", value "v", no headers, deltas 0: the body is 8 bytes.
        let b = encode(0, 0, Some(b"k"), Some(b"v"), &[]);
        assert_eq!(b, [0x10, 0x00, 0x00, 0x00, 0x02, b'k', 0x02, b'v', 0x00]);
        // Null key and value are length -1, zigzagged to 0x01.
        let b = encode(1, 1, None, None, &[]);
        assert_eq!(b, [0x0c, 0x00, 0x02, 0x02, 0x01, 0x01, 0x00]);
    }

    #[test]
    fn round_trip_with_headers() {
        let headers = [
            Header {
                key: b"trace",
                value: Some(b"abc"),
            },
            Header {
                key: b"",
                value: None,
            },
            Header {
                key: "clé".as_bytes(),
                value: Some(b""),
            },
        ];
        let big = vec![7u8; 300];
        let b = encode(-5_000_000_000, 12345, None, Some(&big), &headers);
        let mut with_tail = b.clone();
        with_tail.extend_from_slice(b"next record");
        let r = RecordView::decode(&with_tail, 0).unwrap();
        assert_eq!(r.encoded_size, b.len());
        assert_eq!(r.timestamp_delta, -5_000_000_000);
        assert_eq!(r.offset_delta, 12345);
        assert_eq!(r.key, None);
        assert_eq!(r.value, Some(&big[..]));
        assert_eq!(r.headers().collect::<Vec<_>>(), headers);
        assert_eq!(r.headers().nth(2).unwrap().key_str(), "clé");
    }

    #[test]
    fn invalid_utf8_header_key_is_lossy() {
        let h = Header {
            key: &[0xff, b'a'],
            value: None,
        };
        assert_eq!(h.key_str(), "\u{fffd}a");
    }

    #[test]
    fn truncated_record_is_corrupt() {
        let b = encode(0, 0, Some(b"key"), Some(b"value"), &[]);
        for cut in 0..b.len() {
            let e = RecordView::decode(&b[..cut], 9).unwrap_err();
            assert!(
                matches!(e, Error::CorruptRecord { position: 9, .. }),
                "{cut}: {e}"
            );
        }
    }

    #[test]
    fn declared_length_must_match_fields() {
        let mut b = encode(0, 0, Some(b"k"), Some(b"v"), &[]);
        // Claim one byte more than the fields use, and supply it.
        b[0] += 2;
        b.push(0);
        let e = RecordView::decode(&b, 0).unwrap_err().to_string();
        assert!(e.contains("declares 9 bytes but its fields take 8"), "{e}");
        // Claim one byte less: the header count no longer fits.
        let mut b = encode(0, 0, Some(b"k"), Some(b"v"), &[]);
        b[0] -= 2;
        assert!(RecordView::decode(&b, 0).is_err());
    }

    #[test]
    fn negative_key_and_value_lengths_read_as_null_like_kafka() {
        // length 6, attributes, ts delta, offset delta, key length -2, value length -3, 0 headers
        let r = RecordView::decode(&[0x0c, 0, 0, 0, 0x03, 0x05, 0x00], 0).unwrap();
        assert_eq!((r.key, r.value), (None, None));
    }

    #[test]
    fn bad_lengths_are_corrupt() {
        let err = |b: &[u8]| RecordView::decode(b, 0).unwrap_err().to_string();
        let cases: [(&[u8], &str); 5] = [
            (&[0x03, 0, 0, 0], "record length -2"),
            (&[0x0c, 0, 0, 0, 0x20, 0x01, 0x00], "key length 16"),
            (&[0x0c, 0, 0, 0, 0x01, 0x01, 0x01], "negative header count"),
            (&[0x0c, 0, 0, 0, 0x01, 0x01, 0x04], "truncated header key"),
            (
                &[0x10, 0, 0, 0, 0x01, 0x01, 0x02, 0x01, 0x01],
                "header key length -1",
            ),
        ];
        for (bytes, expected) in cases {
            let e = err(bytes);
            assert!(e.contains(expected), "{bytes:?}: {e}");
        }
        // Overlong varint for the offset delta.
        let mut b = vec![0x10, 0, 0];
        b.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
        assert!(err(&b).contains("offset delta is longer"));
    }
}
