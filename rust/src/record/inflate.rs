//! Walking a compressed batch's records as they inflate, holding one record at a time, as
//! Kafka's `LogValidator` does with its decompression stream.
//!
//! [`walk_records`] reads the records section through a `Read` of the codec's decompression
//! (gzip: `MultiGzDecoder`; zstd: a `Decoder` on this thread's context; snappy: one block at a
//! time; lz4: one block at a time plus the 64 KiB window of linked blocks), then each record:
//! its length varint, then its body into one reused buffer, decoded by [`RecordView::decode`].
//! What it holds is the codec's state, a 32 KiB chunk and the largest record, never the whole
//! section, so a burst of batches that each inflate to ~100 MiB of small records costs a few
//! hundred KiB each instead of their inflated size.
//!
//! Errors are those of inflating the section whole and then iterating it
//! ([`crate::record::batch::iter_records`]), with the same texts; the only difference is their
//! order: a record error ahead of the point where the stream breaks or passes its limit is
//! reported first (Kafka reports it first too).

use std::io::Read;

use crate::error::{Error, Result};
use crate::record::batch::{iter_records, BatchView};
use crate::record::compression::{
    budget_for, corrupt, over_budget, too_big_reason, with_zstd_context, MAX_DECOMPRESSED_BYTES,
    XERIAL_MAGIC,
};
use crate::record::header::Compression;
use crate::record::lz4_frame::FrameReader;
use crate::record::record::RecordView;
use crate::record::varint::{self, MAX_VARINT_BYTES};

/// Bytes of inflated output read at a time.
pub const STREAM_CHUNK_BYTES: usize = 32 * 1024;
/// The largest record buffer a thread keeps between batches (records are mostly far smaller;
/// a bigger buffer is freed after its batch).
pub const RECORD_BUFFER_KEEP_BYTES_MAX: usize = 1 << 20;

thread_local! {
    /// This thread's chunk and record buffers, kept between batches: a batch of a few KB
    /// spent more on allocating and zeroing a chunk than on inflating.
    static BUFFERS: std::cell::Cell<(Vec<u8>, Vec<u8>)> =
        const { std::cell::Cell::new((Vec::new(), Vec::new())) };
}
const XERIAL_HEADER_BYTES: usize = 16;

/// Payload of the `io::Error` a [`SnappyReader`] returns for a block that would take the
/// stream past its limit (told before the block is decoded, from its declared length).
#[derive(Debug)]
struct PastLimit;

impl std::fmt::Display for PastLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the stream inflates past its limit")
    }
}

impl std::error::Error for PastLimit {}

/// Run `f` over the records section `data` of codec `codec` as a stream of inflated bytes.
/// `limit` bounds the blocks a snappy stream decodes (other codecs hold a bounded window).
fn with_reader<T>(
    codec: Compression,
    data: &[u8],
    limit: usize,
    f: impl FnOnce(&mut dyn Read) -> Result<T>,
) -> Result<T> {
    match codec {
        Compression::None => f(&mut &*data),
        Compression::Gzip => f(&mut flate2::bufread::MultiGzDecoder::new(data)),
        Compression::Snappy => f(&mut SnappyReader::new(data, limit)),
        Compression::Lz4 => f(&mut FrameReader::new(data)),
        Compression::Zstd => with_zstd_context(|ctx| match ctx {
            // with_context resets the session, so nothing of an earlier (failed) frame remains.
            Some(ctx) => f(&mut zstd::stream::read::Decoder::with_context(data, ctx)),
            None => {
                let mut dec = zstd::stream::read::Decoder::with_buffer(data)
                    .map_err(|e| corrupt(codec, e))?;
                f(&mut dec)
            }
        }),
    }
}

/// Walk every record of `view` (a whole batch): in place when uncompressed, as it inflates
/// (at most [`MAX_DECOMPRESSED_BYTES`]) when compressed. Errors as [`BatchView::records`]'.
pub fn walk_batch_records(
    view: &BatchView<'_>,
    mut f: impl FnMut(i32, &RecordView<'_>) -> Result<()>,
) -> Result<()> {
    let (count, position) = (view.header.record_count, view.position);
    match view.codec()? {
        Compression::None => {
            for (i, r) in iter_records(view.raw_records(), count, position).enumerate() {
                f(i as i32, &r?)?;
            }
            Ok(())
        }
        codec => walk_records(
            codec,
            view.raw_records(),
            count,
            position,
            MAX_DECOMPRESSED_BYTES,
            f,
        ),
    }
}

/// Check the `count` records of a compressed records section `data` as they inflate, calling
/// `f` with each record's index and view. `position` is the batch's (for errors), `limit` the
/// most the section may inflate to; this thread's inflate budget (see
/// [`crate::record::compression::with_inflate_budget`]) applies as it does to inflating whole.
pub fn walk_records(
    codec: Compression,
    data: &[u8],
    count: i32,
    position: u64,
    limit: usize,
    mut f: impl FnMut(i32, &RecordView<'_>) -> Result<()>,
) -> Result<()> {
    let budget = budget_for(codec, limit);
    let bound = budget.unwrap_or(limit);
    // This thread's buffers, taken for the walk (a nested walk would get fresh ones).
    let (mut chunk, mut record) = BUFFERS.with(|b| b.take());
    chunk.resize(STREAM_CHUNK_BYTES, 0);
    let result = with_reader(codec, data, bound, |r| {
        let mut src = Source {
            r,
            chunk: &mut chunk,
            start: 0,
            end: 0,
            inflated: 0,
            eof: false,
            codec,
            position,
            limit: bound,
        };
        walk(&mut src, count, position, &mut record, &mut f)
    });
    if record.capacity() > RECORD_BUFFER_KEEP_BYTES_MAX {
        record = Vec::new();
    }
    BUFFERS.with(|b| b.set((chunk, record)));
    match (result, budget) {
        (Err(Error::CorruptRecord { reason, .. }), Some(b)) if reason == too_big_reason(b) => {
            Err(over_budget(b))
        }
        (other, _) => other,
    }
}

fn walk(
    src: &mut Source<'_>,
    count: i32,
    position: u64,
    record: &mut Vec<u8>,
    f: &mut impl FnMut(i32, &RecordView<'_>) -> Result<()>,
) -> Result<()> {
    if count < 0 {
        return Err(Error::corrupt(
            position,
            format!("negative record count {count}"),
        ));
    }
    // One record at a time: its length varint, then its body.
    for index in 0..count {
        record.clear();
        src.varint_into(record)?;
        if record.is_empty() {
            return Err(Error::corrupt(
                position,
                format!("batch declares {count} records but holds {index}"),
            ));
        }
        // A bad varint is left to `decode`, which words the error.
        if let Ok((len, _)) = varint::get_varint(record) {
            if len < 0 || len as usize > src.room() {
                // Never buffered: only its size matters (the stream passes its limit, or ends
                // short of the record).
                let left = src.skip_rest()?;
                return Err(Error::corrupt(
                    position,
                    format!(
                        "record {index}: record length {len} does not fit the {left} bytes left \
                         in the batch"
                    ),
                ));
            }
            src.take_into(len as usize, record)?;
        }
        let view = RecordView::decode(record, position).map_err(|e| match e {
            Error::CorruptRecord { reason, .. } => {
                Error::corrupt(position, format!("record {index}: {reason}"))
            }
            other => other,
        })?;
        f(index, &view)?;
    }
    let extra = src.skip_rest()?;
    if extra > 0 {
        return Err(Error::corrupt(
            position,
            format!("{extra} bytes remain after the {count} records the batch declares"),
        ));
    }
    Ok(())
}

/// The inflated stream, read a chunk at a time and counted against the limit.
struct Source<'r> {
    r: &'r mut dyn Read,
    chunk: &'r mut [u8],
    /// The unread part of `chunk`.
    start: usize,
    end: usize,
    /// Bytes read from the stream so far.
    inflated: usize,
    eof: bool,
    codec: Compression,
    position: u64,
    limit: usize,
}

impl Source<'_> {
    fn too_big(&self) -> Error {
        Error::corrupt(self.position, too_big_reason(self.limit))
    }

    fn read_error(&self, e: std::io::Error) -> Error {
        if e.get_ref().is_some_and(|inner| inner.is::<PastLimit>()) {
            return self.too_big();
        }
        match corrupt(self.codec, e) {
            Error::CorruptRecord { reason, .. } => Error::corrupt(self.position, reason),
            other => other,
        }
    }

    /// Make unread bytes available; false at the end of the stream.
    fn fill(&mut self) -> Result<bool> {
        if self.start < self.end {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        let n = loop {
            match self.r.read(self.chunk) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.read_error(e)),
            }
        };
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        self.inflated += n;
        if self.inflated > self.limit {
            return Err(self.too_big());
        }
        (self.start, self.end) = (0, n);
        Ok(true)
    }

    /// How much more of the limit the stream may use past what was consumed.
    fn room(&self) -> usize {
        self.limit - (self.inflated - (self.end - self.start))
    }

    /// Append a varint's bytes (up to its 5, fewer at the end of the stream) to `out`.
    fn varint_into(&mut self, out: &mut Vec<u8>) -> Result<()> {
        while out.len() < MAX_VARINT_BYTES && self.fill()? {
            let byte = self.chunk[self.start];
            self.start += 1;
            out.push(byte);
            if byte < 0x80 {
                break;
            }
        }
        Ok(())
    }

    /// Append the next `n` bytes (fewer at the end of the stream) to `out`.
    fn take_into(&mut self, mut n: usize, out: &mut Vec<u8>) -> Result<()> {
        while n > 0 && self.fill()? {
            let k = n.min(self.end - self.start);
            out.extend_from_slice(&self.chunk[self.start..self.start + k]);
            self.start += k;
            n -= k;
        }
        Ok(())
    }

    /// Read to the end of the stream: how many bytes were left.
    fn skip_rest(&mut self) -> Result<usize> {
        let mut n = 0;
        while self.fill()? {
            n += self.end - self.start;
            self.start = self.end;
        }
        Ok(n)
    }
}

/// A snappy records section as a stream: xerial blocks one at a time (a bare raw block, as
/// librdkafka may send, is one block). Errors have [`super::compression`]'s texts.
struct SnappyReader<'a> {
    data: &'a [u8],
    at: usize,
    xerial: bool,
    /// Not xerial: whether the one raw block was read.
    raw_read: bool,
    /// The current block inflated, and how much of it was read.
    block: Vec<u8>,
    read_at: usize,
    inflated: usize,
    limit: usize,
    decoder: snap::raw::Decoder,
}

impl<'a> SnappyReader<'a> {
    fn new(data: &'a [u8], limit: usize) -> Self {
        SnappyReader {
            data,
            at: 0,
            xerial: data.starts_with(&XERIAL_MAGIC),
            raw_read: false,
            block: Vec::new(),
            read_at: 0,
            inflated: 0,
            limit,
            decoder: snap::raw::Decoder::new(),
        }
    }

    /// The next raw block of the input, None at its end.
    fn next_raw(&mut self) -> std::io::Result<Option<&'a [u8]>> {
        let data = self.data;
        if !self.xerial {
            // The whole input is one raw block, read once.
            let first = !self.raw_read;
            self.raw_read = true;
            return Ok(first.then_some(data));
        }
        loop {
            let rest = &data[self.at..];
            if rest.is_empty() {
                return Ok(None);
            }
            // snappy-java skips a stream header found between blocks (concatenated streams).
            if rest.starts_with(&XERIAL_MAGIC) {
                if rest.len() < XERIAL_HEADER_BYTES {
                    return Err(std::io::Error::other("truncated xerial header"));
                }
                self.at += XERIAL_HEADER_BYTES;
                continue;
            }
            if rest.len() < 4 {
                return Err(std::io::Error::other("truncated xerial block length"));
            }
            let len = i32::from_be_bytes(rest[..4].try_into().unwrap());
            let block = usize::try_from(len)
                .ok()
                .and_then(|l| rest[4..].get(..l))
                .ok_or_else(|| {
                    std::io::Error::other(format!(
                        "xerial block length {len} exceeds the {} bytes left",
                        rest.len() - 4
                    ))
                })?;
            self.at += 4 + block.len();
            return Ok(Some(block));
        }
    }

    fn inflate(&mut self, raw: &[u8]) -> std::io::Result<()> {
        let n = snap::raw::decompress_len(raw).map_err(std::io::Error::other)?;
        if n > self.limit - self.inflated {
            return Err(std::io::Error::other(PastLimit));
        }
        self.block.resize(n, 0);
        let written = self
            .decoder
            .decompress(raw, &mut self.block)
            .map_err(std::io::Error::other)?;
        self.block.truncate(written);
        self.inflated += written;
        self.read_at = 0;
        Ok(())
    }
}

impl Read for SnappyReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.read_at == self.block.len() {
            match self.next_raw()? {
                Some(raw) => self.inflate(raw)?,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.block.len() - self.read_at);
        out[..n].copy_from_slice(&self.block[self.read_at..self.read_at + n]);
        self.read_at += n;
        Ok(n)
    }
}

#[cfg(test)]
#[path = "inflate_tests.rs"]
mod tests;
