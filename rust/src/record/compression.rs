//! The four codecs of a batch's records section, framed the way Apache Kafka's Java client
//! frames them, so that any Kafka client can read what we write and we can read what any client
//! writes:
//!
//! - gzip: a plain gzip stream (several concatenated members are accepted on read).
//! - snappy: snappy-java's "xerial" stream (magic, two version ints, then length-prefixed raw
//!   snappy blocks of at most 32 KiB input). librdkafka may send a bare raw snappy block, so on
//!   read both are accepted, told apart by the xerial magic, exactly as snappy-java does.
//! - lz4: the LZ4 frame format as `KafkaLZ4BlockOutputStream` writes it: independent 64 KiB
//!   blocks, no block checksums, no content size or checksum. Frames that have those are read.
//! - zstd: a zstd stream, default level 3 as in Kafka.
//!
//! Decompression is bounded by [`MAX_DECOMPRESSED_BYTES`] (or a caller's limit): the compressed
//! size is what `max.message.bytes` limits, and a tiny batch can claim gigabytes. Inflating
//! whole is for callers that need the section (rebuilding, reading); validation of a batch kept
//! as sent streams it instead ([`super::inflate`]).

use std::io::{Read, Write};

use crate::error::{Error, Result};
use crate::record::header::Compression;

/// Largest records section we inflate. A producer sizes batches by their compressed size
/// (`batch.size`, default 16 KiB, with `max.message.bytes` about 1 MiB), so even a 100:1 ratio
/// on a maximal batch stays far below this; anything larger is treated as a decompression bomb.
pub const MAX_DECOMPRESSED_BYTES: usize = 128 << 20;

/// snappy-java's stream header: magic, version, minimum compatible version.
pub const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
const XERIAL_HEADER_BYTES: usize = 16;
const XERIAL_VERSION: i32 = 1;
const XERIAL_COMPATIBLE_VERSION: i32 = 1;
/// snappy-java's default block size (input bytes per raw snappy block).
pub const XERIAL_BLOCK_BYTES: usize = 32 * 1024;

/// Kafka's default levels (`compression.gzip.level`, `compression.zstd.level`).
pub const GZIP_DEFAULT_LEVEL: i32 = 6;
pub const ZSTD_DEFAULT_LEVEL: i32 = 3;
/// Kafka's `compression.lz4.level` range. lz4_flex only has the fast compressor, so the level
/// is checked for range but does not change the output (any level decodes the same way).
const LZ4_LEVELS: std::ops::RangeInclusive<i32> = 1..=17;

/// Check that `level` is valid for `codec` (None always is).
pub fn check_level(codec: Compression, level: Option<i32>) -> Result<()> {
    let Some(level) = level else { return Ok(()) };
    let ok = match codec {
        // -1 is zlib's (and Java's Deflater's) "default compression".
        Compression::Gzip => level == -1 || (0..=9).contains(&level),
        Compression::Zstd => zstd::compression_level_range().contains(&level),
        Compression::Lz4 => LZ4_LEVELS.contains(&level),
        Compression::None | Compression::Snappy => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidConfig(format!(
            "compression level {level} is not valid for {}",
            codec.name()
        )))
    }
}

/// Compress `data` as Kafka frames it inside a batch.
pub fn compress(codec: Compression, data: &[u8], level: Option<i32>) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    compress_into(codec, data, level, &mut out)?;
    Ok(out)
}

/// Compress `data`, appending to `out` (the builder writes the records section right after the
/// batch header this way, without an intermediate copy).
pub fn compress_into(
    codec: Compression,
    data: &[u8],
    level: Option<i32>,
    out: &mut Vec<u8>,
) -> Result<()> {
    check_level(codec, level)?;
    match codec {
        Compression::None => out.extend_from_slice(data),
        Compression::Gzip => {
            let level = match level {
                None | Some(-1) => GZIP_DEFAULT_LEVEL,
                Some(l) => l,
            };
            let mut enc =
                flate2::write::GzEncoder::new(out, flate2::Compression::new(level as u32));
            enc.write_all(data)?;
            enc.finish()?;
        }
        Compression::Snappy => snappy_xerial_compress(data, out)?,
        Compression::Lz4 => {
            let info = lz4_flex::frame::FrameInfo::new()
                .block_size(lz4_flex::frame::BlockSize::Max64KB)
                .block_mode(lz4_flex::frame::BlockMode::Independent)
                .block_checksums(false)
                .content_checksum(false);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, out);
            enc.write_all(data)?;
            enc.finish()
                .map_err(|e| Error::Io(std::io::Error::other(e)))?;
        }
        Compression::Zstd => {
            let mut enc =
                zstd::stream::write::Encoder::new(out, level.unwrap_or(ZSTD_DEFAULT_LEVEL))?;
            enc.write_all(data)?;
            enc.finish()?;
        }
    }
    Ok(())
}

fn snappy_xerial_compress(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&XERIAL_VERSION.to_be_bytes());
    out.extend_from_slice(&XERIAL_COMPATIBLE_VERSION.to_be_bytes());
    let mut enc = snap::raw::Encoder::new();
    for block in data.chunks(XERIAL_BLOCK_BYTES) {
        let start = out.len();
        out.resize(start + 4 + snap::raw::max_compress_len(block.len()), 0);
        let n = enc
            .compress(block, &mut out[start + 4..])
            .map_err(|e| Error::Io(std::io::Error::other(e)))?;
        out[start..start + 4].copy_from_slice(&(n as i32).to_be_bytes());
        out.truncate(start + 4 + n);
    }
    Ok(())
}

/// Inflate a records section, at most [`MAX_DECOMPRESSED_BYTES`].
pub fn decompress(codec: Compression, data: &[u8]) -> Result<Vec<u8>> {
    decompress_bounded(codec, data, MAX_DECOMPRESSED_BYTES)
}

pub(super) fn corrupt(codec: Compression, e: impl std::fmt::Display) -> Error {
    // Position 0: the caller knows where the batch is and re-targets the error.
    Error::corrupt(0, format!("{} decompression failed: {e}", codec.name()))
}

pub(super) fn too_big_reason(limit: usize) -> String {
    format!("records section inflates to more than {limit} bytes")
}

fn too_big(limit: usize) -> Error {
    Error::corrupt(0, too_big_reason(limit))
}

thread_local! {
    /// This thread's inflate budget, set by [`with_inflate_budget`] (None: no budget).
    static INFLATE_BUDGET: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Run `f` with at most `budget` bytes inflated per records section on this thread: a section
/// that would inflate to more (but not past its own limit) fails with an `Io` error of kind
/// `WouldBlock` — "too much to inflate without waiting", for a caller (the broker's event loop)
/// that then retries where waiting is fine — instead of being inflated here. None: no budget.
pub fn with_inflate_budget<T>(budget: Option<usize>, f: impl FnOnce() -> T) -> T {
    let before = INFLATE_BUDGET.with(|b| b.replace(budget));
    let out = f();
    INFLATE_BUDGET.with(|b| b.set(before));
    out
}

pub(super) fn over_budget(budget: usize) -> Error {
    Error::Io(std::io::Error::new(
        std::io::ErrorKind::WouldBlock,
        format!("records section inflates to more than {budget} bytes: too much to inflate without waiting"),
    ))
}

/// Inflate `data`, failing with CorruptRecord if it is not valid for `codec` or would inflate
/// to more than `limit` bytes (or with `WouldBlock` past this thread's inflate budget, see
/// [`with_inflate_budget`]).
pub fn decompress_bounded(codec: Compression, data: &[u8], limit: usize) -> Result<Vec<u8>> {
    match budget_for(codec, limit) {
        Some(budget) => match inflate(codec, data, budget) {
            Err(Error::CorruptRecord { reason, .. }) if reason == too_big_reason(budget) => {
                Err(over_budget(budget))
            }
            other => other,
        },
        _ => inflate(codec, data, limit),
    }
}

fn inflate(codec: Compression, data: &[u8], limit: usize) -> Result<Vec<u8>> {
    // A first guess at the size; Vec growth takes care of the rest, bounded by `limit`.
    let hint = data.len().saturating_mul(4).min(limit);
    match codec {
        Compression::None => {
            if data.len() > limit {
                return Err(too_big(limit));
            }
            Ok(data.to_vec())
        }
        Compression::Gzip => {
            read_bounded(flate2::read::MultiGzDecoder::new(data), codec, limit, hint)
        }
        Compression::Snappy => snappy_decompress(data, limit),
        Compression::Lz4 => super::lz4_frame::decompress(data, limit, hint).map_err(|e| match e {
            super::lz4_frame::Lz4Error::TooBig => too_big(limit),
            super::lz4_frame::Lz4Error::Corrupt(what) => corrupt(codec, what),
        }),
        Compression::Zstd => zstd_decompress(data, limit, hint),
    }
}

thread_local! {
    /// This thread's zstd decompression context, kept between batches: a new one per batch
    /// allocated and zeroed its window (up to a few MiB for a Java producer's streams), which
    /// was most of the CPU of validating a small zstd batch.
    static ZSTD_DCTX: std::cell::RefCell<Option<zstd::zstd_safe::DCtx<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// The largest zstd context a thread keeps between batches. A context holds its frame's window
/// (2 MiB for a Java producer's default level; a frame may ask for up to 128 MiB, and the
/// pages it inflated through stay resident), so a bigger one is freed after its batch rather
/// than kept by every thread that ever met such a frame.
pub const ZSTD_CONTEXT_KEEP_BYTES_MAX: usize = 16 << 20;

/// Run `f` with this thread's zstd decompression context (None in the unreachable case that it
/// is in use already: a fresh context is then correct, only slower).
pub(super) fn with_zstd_context<T>(
    f: impl FnOnce(Option<&mut zstd::zstd_safe::DCtx<'static>>) -> T,
) -> T {
    ZSTD_DCTX.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => {
            let out = f(Some(slot.get_or_insert_with(zstd::zstd_safe::DCtx::create)));
            if slot
                .as_ref()
                .is_some_and(|ctx| ctx.sizeof() > ZSTD_CONTEXT_KEEP_BYTES_MAX)
            {
                *slot = None;
            }
            out
        }
        Err(_) => f(None),
    })
}

/// Bytes this thread's kept zstd context takes (None: none kept).
#[cfg(test)]
pub(super) fn zstd_context_bytes() -> Option<usize> {
    ZSTD_DCTX.with(|cell| cell.borrow().as_ref().map(|ctx| ctx.sizeof()))
}

/// This thread's inflate budget for a section of `codec` whose limit is `limit`: Some when it
/// is tighter than the limit (see [`with_inflate_budget`]).
pub(super) fn budget_for(codec: Compression, limit: usize) -> Option<usize> {
    INFLATE_BUDGET
        .with(std::cell::Cell::get)
        .filter(|&budget| budget < limit && codec != Compression::None)
}

fn zstd_decompress(data: &[u8], limit: usize, hint: usize) -> Result<Vec<u8>> {
    let codec = Compression::Zstd;
    with_zstd_context(|ctx| match ctx {
        // with_context resets the session, so nothing of an earlier (failed) frame remains.
        Some(ctx) => read_bounded(
            zstd::stream::read::Decoder::with_context(data, ctx),
            codec,
            limit,
            hint,
        ),
        None => {
            let dec =
                zstd::stream::read::Decoder::with_buffer(data).map_err(|e| corrupt(codec, e))?;
            read_bounded(dec, codec, limit, hint)
        }
    })
}

fn read_bounded(r: impl Read, codec: Compression, limit: usize, hint: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(hint);
    // One byte past the limit tells "exactly at the limit" from "over it".
    r.take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(codec, e))?;
    if out.len() > limit {
        return Err(too_big(limit));
    }
    Ok(out)
}

fn snappy_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    if !data.starts_with(&XERIAL_MAGIC) {
        raw_snappy_into(data, limit, &mut out)?;
        return Ok(out);
    }
    let mut at = 0;
    while at < data.len() {
        let rest = &data[at..];
        // snappy-java skips a stream header found between blocks (concatenated streams).
        if rest.starts_with(&XERIAL_MAGIC) {
            if rest.len() < XERIAL_HEADER_BYTES {
                return Err(corrupt(Compression::Snappy, "truncated xerial header"));
            }
            at += XERIAL_HEADER_BYTES;
            continue;
        }
        if rest.len() < 4 {
            return Err(corrupt(
                Compression::Snappy,
                "truncated xerial block length",
            ));
        }
        let len = i32::from_be_bytes(rest[..4].try_into().unwrap());
        let block = usize::try_from(len)
            .ok()
            .and_then(|l| rest[4..].get(..l))
            .ok_or_else(|| {
                corrupt(
                    Compression::Snappy,
                    format!(
                        "xerial block length {len} exceeds the {} bytes left",
                        rest.len() - 4
                    ),
                )
            })?;
        raw_snappy_into(block, limit, &mut out)?;
        at += 4 + block.len();
    }
    Ok(out)
}

/// Append one raw snappy block to `out`, refusing to grow `out` past `limit`.
fn raw_snappy_into(block: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<()> {
    let n = snap::raw::decompress_len(block).map_err(|e| corrupt(Compression::Snappy, e))?;
    if n > limit - out.len() {
        return Err(too_big(limit));
    }
    let start = out.len();
    out.resize(start + n, 0);
    let written = snap::raw::Decoder::new()
        .decompress(block, &mut out[start..])
        .map_err(|e| corrupt(Compression::Snappy, e))?;
    out.truncate(start + written);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// Mildly compressible bytes, long enough to span several snappy and lz4 blocks.
    fn sample(len: usize) -> Vec<u8> {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i % 3 == 0 {
                    (x & 0x0f) as u8
                } else {
                    b'a' + (i % 26) as u8
                }
            })
            .collect()
    }

    #[test]
    fn every_codec_round_trips() {
        for len in [0, 1, 100, XERIAL_BLOCK_BYTES, 200_000] {
            let data = sample(len);
            for codec in ALL {
                let c = compress(codec, &data, None).unwrap();
                assert_eq!(decompress(codec, &c).unwrap(), data, "{codec:?} {len}");
            }
        }
    }

    #[test]
    fn levels() {
        let data = sample(50_000);
        for (codec, level) in [
            (Compression::Gzip, 1),
            (Compression::Gzip, 9),
            (Compression::Gzip, -1),
            (Compression::Zstd, 1),
            (Compression::Zstd, 19),
            (Compression::Zstd, -5),
            (Compression::Lz4, 17),
        ] {
            let c = compress(codec, &data, Some(level)).unwrap();
            assert_eq!(decompress(codec, &c).unwrap(), data, "{codec:?} {level}");
        }
        for (codec, level) in [
            (Compression::Gzip, 10),
            (Compression::Zstd, 23),
            (Compression::Lz4, 0),
            (Compression::Snappy, 1),
            (Compression::None, 1),
        ] {
            assert!(
                matches!(
                    compress(codec, &data, Some(level)),
                    Err(Error::InvalidConfig(_))
                ),
                "{codec:?} {level}"
            );
        }
    }

    #[test]
    fn snappy_is_xerial_framed() {
        let data = sample(XERIAL_BLOCK_BYTES + 10);
        let c = compress(Compression::Snappy, &data, None).unwrap();
        assert_eq!(&c[..8], &XERIAL_MAGIC);
        assert_eq!(&c[8..16], &[0, 0, 0, 1, 0, 0, 0, 1]);
        // Two blocks: 32 KiB, then 10 bytes.
        let first = i32::from_be_bytes(c[16..20].try_into().unwrap()) as usize;
        let second_at = 20 + first;
        let second = i32::from_be_bytes(c[second_at..second_at + 4].try_into().unwrap()) as usize;
        assert_eq!(second_at + 4 + second, c.len());
        let raw_first = snap::raw::Decoder::new()
            .decompress_vec(&c[20..20 + first])
            .unwrap();
        assert_eq!(raw_first, &data[..XERIAL_BLOCK_BYTES]);
    }

    #[test]
    fn snappy_reads_raw_and_concatenated_xerial() {
        let data = sample(70_000);
        let raw = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(decompress(Compression::Snappy, &raw).unwrap(), data);
        // Two xerial streams back to back read as one.
        let mut two = compress(Compression::Snappy, &data[..1000], None).unwrap();
        two.extend(compress(Compression::Snappy, &data[1000..], None).unwrap());
        assert_eq!(decompress(Compression::Snappy, &two).unwrap(), data);
        // Header only: empty.
        let empty = compress(Compression::Snappy, b"", None).unwrap();
        assert_eq!(empty.len(), 16);
        assert_eq!(decompress(Compression::Snappy, &empty).unwrap(), b"");
    }

    #[test]
    fn snappy_bad_block_length_is_corrupt() {
        let mut c = compress(Compression::Snappy, &sample(100), None).unwrap();
        c[16..20].copy_from_slice(&1000i32.to_be_bytes());
        assert!(matches!(
            decompress(Compression::Snappy, &c),
            Err(Error::CorruptRecord { .. })
        ));
        c[16..20].copy_from_slice(&(-1i32).to_be_bytes());
        assert!(decompress(Compression::Snappy, &c).is_err());
    }

    #[test]
    fn lz4_frame_is_kafka_shaped() {
        let c = compress(Compression::Lz4, &sample(1000), None).unwrap();
        // Magic, then FLG = version 01 | independent blocks, BD = 64 KiB max block.
        assert_eq!(&c[..4], &[0x04, 0x22, 0x4d, 0x18]);
        assert_eq!(c[4], 0x60);
        assert_eq!(c[5], 0x40);
        // Ends with the zero end mark and no content checksum.
        assert_eq!(&c[c.len() - 4..], &[0, 0, 0, 0]);
    }

    #[test]
    fn lz4_reads_frames_with_checksums_and_content_size() {
        let data = sample(150_000);
        let info = lz4_flex::frame::FrameInfo::new()
            .content_checksum(true)
            .block_checksums(true)
            .content_size(Some(data.len() as u64))
            .block_size(lz4_flex::frame::BlockSize::Max256KB);
        let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
        enc.write_all(&data).unwrap();
        let mut c = enc.finish().unwrap();
        assert_eq!(decompress(Compression::Lz4, &c).unwrap(), data);
        // A flipped byte in the content is caught by the checksums.
        let mid = c.len() / 2;
        c[mid] ^= 0x55;
        assert!(decompress(Compression::Lz4, &c).is_err());
    }

    #[test]
    fn garbage_is_corrupt() {
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let e = decompress(codec, b"definitely not compressed data").unwrap_err();
            assert!(matches!(e, Error::CorruptRecord { .. }), "{codec:?}: {e}");
        }
    }

    #[test]
    fn truncated_streams_are_corrupt() {
        let data = sample(10_000);
        for codec in [Compression::Gzip, Compression::Lz4, Compression::Zstd] {
            let c = compress(codec, &data, None).unwrap();
            let e = decompress(codec, &c[..c.len() - 5]).unwrap_err();
            assert!(matches!(e, Error::CorruptRecord { .. }), "{codec:?}: {e}");
        }
    }

    #[test]
    fn an_inflate_budget_leaves_big_sections_to_a_caller_that_can_wait() {
        let data = vec![0u8; 1 << 20];
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let packed = compress(codec, &data, None).unwrap();
            // Within the budget: inflated as usual.
            let out = with_inflate_budget(Some(2 << 20), || decompress(codec, &packed)).unwrap();
            assert_eq!(out.len(), data.len(), "{codec:?}");
            // Past it: WouldBlock, nothing inflated beyond the budget.
            let err =
                with_inflate_budget(Some(64 << 10), || decompress(codec, &packed)).unwrap_err();
            assert!(
                matches!(&err, Error::Io(e) if e.kind() == std::io::ErrorKind::WouldBlock),
                "{codec:?}: {err}"
            );
            // The budget is gone after the call, and past the limit itself stays corrupt.
            assert_eq!(decompress(codec, &packed).unwrap().len(), data.len());
            let err =
                with_inflate_budget(Some(64 << 10), || decompress_bounded(codec, &packed, 1024))
                    .unwrap_err();
            assert!(
                matches!(err, Error::CorruptRecord { .. }),
                "{codec:?}: {err}"
            );
        }
    }

    #[test]
    fn decompression_bomb_is_bounded() {
        let zeros = vec![0u8; 1 << 20];
        for codec in ALL {
            let c = compress(codec, &zeros, None).unwrap();
            assert_eq!(
                decompress_bounded(codec, &c, 1 << 20).unwrap().len(),
                1 << 20
            );
            let e = decompress_bounded(codec, &c, (1 << 20) - 1).unwrap_err();
            assert!(
                e.to_string().contains("inflates to more than"),
                "{codec:?}: {e}"
            );
        }
    }

    #[test]
    fn a_zstd_context_with_a_big_window_is_not_kept() {
        let data = vec![0u8; 40 << 20];
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        enc.window_log(26).unwrap();
        enc.long_distance_matching(true).unwrap();
        enc.write_all(&data).unwrap();
        let big_window = enc.finish().unwrap();
        let small = compress(Compression::Zstd, &data[..1 << 20], None).unwrap();
        assert_eq!(
            decompress(Compression::Zstd, &small).unwrap().len(),
            1 << 20
        );
        let kept = zstd_context_bytes().unwrap();
        assert!(kept <= ZSTD_CONTEXT_KEEP_BYTES_MAX, "{kept}");
        assert_eq!(
            decompress(Compression::Zstd, &big_window).unwrap().len(),
            data.len()
        );
        assert_eq!(zstd_context_bytes(), None);
        // The next batch gets a fresh context, kept again.
        assert_eq!(
            decompress(Compression::Zstd, &small).unwrap().len(),
            1 << 20
        );
        assert!(zstd_context_bytes().is_some());
    }

    #[test]
    fn zstd_context_is_clean_after_a_failed_frame() {
        let data = sample(100_000);
        let c = compress(Compression::Zstd, &data, None).unwrap();
        // A frame cut short leaves the thread's context mid-frame; the next batch still reads
        // whole, as do two frames in a row (concatenated, as the Java client may write).
        assert!(decompress(Compression::Zstd, &c[..c.len() / 2]).is_err());
        assert_eq!(decompress(Compression::Zstd, &c).unwrap(), data);
        let twice = [c.clone(), c].concat();
        assert_eq!(
            decompress(Compression::Zstd, &twice).unwrap(),
            [data.clone(), data].concat()
        );
    }
}
