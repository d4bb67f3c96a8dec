//! Reading an LZ4 frame (the format Kafka's `KafkaLZ4BlockOutputStream`, librdkafka and
//! python-lz4 write) straight into one output buffer, block by block.
//!
//! lz4_flex's `FrameDecoder` decodes each block into buffers of its own (allocated per
//! decoder: over 128 KiB, so the allocator maps fresh pages for each batch) and copies out
//! through `Read`; a broker validating one small batch per partition paid mostly for those
//! page faults (a 60 KB batch of repeated records: 64 us, liblz4 8 us). Here a block is
//! decoded in place at the end of the output, linked blocks reading the output before it as
//! their dictionary, and the frame's checksums (header, blocks, content) are verified.

use twox_hash::XxHash32;

const MAGIC: u32 = 0x184D_2204;
/// Skippable frames (magic 0x184D2A50..=0x184D2A5F) carry no data.
const SKIPPABLE_MAGIC_MASK: u32 = 0xFFFF_FFF0;
const SKIPPABLE_MAGIC: u32 = 0x184D_2A50;
/// How far back a linked block's matches may reach.
const WINDOW_BYTES: usize = 64 * 1024;
const FLG_VERSION_MASK: u8 = 0xC0;
const FLG_VERSION: u8 = 0x40;
const FLG_INDEPENDENT: u8 = 0x20;
const FLG_BLOCK_CHECKSUM: u8 = 0x10;
const FLG_CONTENT_SIZE: u8 = 0x08;
const FLG_CONTENT_CHECKSUM: u8 = 0x04;
const FLG_DICT_ID: u8 = 0x01;
const BLOCK_UNCOMPRESSED: u32 = 0x8000_0000;
/// The most bytes one compressed byte of an LZ4 block decodes to.
const MAX_EXPANSION: usize = 255;

/// Why a frame could not be read.
#[derive(Debug)]
pub enum Lz4Error {
    /// Not a valid frame (the text says where).
    Corrupt(String),
    /// It inflates to more than the limit.
    TooBig,
}

fn corrupt(what: impl Into<String>) -> Lz4Error {
    Lz4Error::Corrupt(what.into())
}

/// A cursor over the compressed input.
struct Input<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Lz4Error> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.data.len())
            .ok_or_else(|| corrupt(format!("truncated {what}")))?;
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn u32_le(&mut self, what: &str) -> Result<u32, Lz4Error> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
}

/// The frames of `data` (one or more, concatenated) decoded, at most `limit` bytes.
pub fn decompress(data: &[u8], limit: usize, hint: usize) -> Result<Vec<u8>, Lz4Error> {
    let mut out = Vec::with_capacity(hint.min(limit));
    let mut input = Input { data, at: 0 };
    while input.at < data.len() {
        let magic = input.u32_le("frame magic")?;
        if magic & SKIPPABLE_MAGIC_MASK == SKIPPABLE_MAGIC {
            let len = input.u32_le("skippable frame size")? as usize;
            input.take(len, "skippable frame")?;
            continue;
        }
        if magic != MAGIC {
            return Err(corrupt(format!("bad frame magic {magic:#x}")));
        }
        read_frame(&mut input, &mut out, limit)?;
    }
    Ok(out)
}

fn read_frame(input: &mut Input<'_>, out: &mut Vec<u8>, limit: usize) -> Result<(), Lz4Error> {
    let Descriptor { flg, block_max } = read_descriptor(input)?;
    let linked = flg & FLG_INDEPENDENT == 0;
    let frame_start = out.len();
    loop {
        let size = input.u32_le("block size")?;
        if size == 0 {
            break; // end mark
        }
        let len = (size & !BLOCK_UNCOMPRESSED) as usize;
        if len > block_max {
            return Err(corrupt(format!(
                "block of {len} bytes over the frame's {block_max}"
            )));
        }
        let block = input.take(len, "block")?;
        if flg & FLG_BLOCK_CHECKSUM != 0 {
            let want = input.u32_le("block checksum")?;
            if XxHash32::oneshot(0, block) != want {
                return Err(corrupt("block checksum mismatch"));
            }
        }
        let pos = out.len();
        if size & BLOCK_UNCOMPRESSED != 0 {
            if pos + len > limit {
                return Err(Lz4Error::TooBig);
            }
            out.extend_from_slice(block);
            continue;
        }
        // Room for what the block can decode to (the frame's block size, and at most 255
        // bytes per compressed byte, LZ4's densest encoding), but never past one byte over the
        // limit: a block that needs that is too big either way.
        let cap = block_max.min(len.saturating_mul(MAX_EXPANSION).saturating_add(16));
        let room = cap.min(limit + 1 - pos);
        out.resize(pos + room, 0);
        let (before, rest) = out.split_at_mut(pos);
        let decoded = if linked {
            let dict = &before[pos.saturating_sub(WINDOW_BYTES).max(frame_start)..];
            lz4_flex::block::decompress_into_with_dict(block, rest, dict)
        } else {
            lz4_flex::block::decompress_into(block, rest)
        };
        let decoded = match decoded {
            Ok(n) => n,
            Err(_) if room < cap => {
                out.truncate(pos);
                return Err(Lz4Error::TooBig);
            }
            Err(e) => {
                out.truncate(pos);
                return Err(corrupt(format!("block: {e}")));
            }
        };
        out.truncate(pos + decoded);
        if out.len() > limit {
            return Err(Lz4Error::TooBig);
        }
    }
    if flg & FLG_CONTENT_CHECKSUM != 0 {
        let want = input.u32_le("content checksum")?;
        if XxHash32::oneshot(0, &out[frame_start..]) != want {
            return Err(corrupt("content checksum mismatch"));
        }
    }
    Ok(())
}

/// What the descriptor of one frame says.
#[derive(Clone, Copy)]
struct Descriptor {
    flg: u8,
    block_max: usize,
}

impl Descriptor {
    fn linked(self) -> bool {
        self.flg & FLG_INDEPENDENT == 0
    }
}

/// The frame descriptor after the magic (FLG, BD, optional content size, header checksum).
fn read_descriptor(input: &mut Input<'_>) -> Result<Descriptor, Lz4Error> {
    let descriptor_start = input.at;
    let flg = input.take(1, "frame descriptor")?[0];
    let bd = input.take(1, "frame descriptor")?[0];
    if flg & FLG_VERSION_MASK != FLG_VERSION {
        return Err(corrupt(format!(
            "unsupported frame version in FLG {flg:#x}"
        )));
    }
    if flg & FLG_DICT_ID != 0 {
        return Err(corrupt("frames with a dictionary id are not supported"));
    }
    let block_max = match (bd >> 4) & 0x7 {
        4 => 64 * 1024,
        5 => 256 * 1024,
        6 => 1024 * 1024,
        7 => 4 * 1024 * 1024,
        other => return Err(corrupt(format!("bad block size id {other}"))),
    };
    if flg & FLG_CONTENT_SIZE != 0 {
        input.take(8, "content size")?; // advisory: the blocks say how much there is
    }
    let descriptor = &input.data[descriptor_start..input.at];
    let header_checksum = input.take(1, "header checksum")?[0];
    if (XxHash32::oneshot(0, descriptor) >> 8) as u8 != header_checksum {
        return Err(corrupt("frame header checksum mismatch"));
    }
    Ok(Descriptor { flg, block_max })
}

/// The frame being read by a [`FrameReader`].
struct Frame {
    descriptor: Descriptor,
    /// Hash of the frame's content so far, when it ends with a content checksum.
    content: Option<XxHash32>,
}

/// The frames of a records section decoded as a stream, one block at a time: what it holds
/// is the block being handed out plus, for linked blocks, the 64 KiB window before it (at most
/// 4 MiB + 64 KiB, the largest block size), however much the frames inflate to. Checksums are
/// verified as in [`decompress`]; errors are `io::Error`s whose text is [`decompress`]'s.
pub struct FrameReader<'a> {
    input: Input<'a>,
    frame: Option<Frame>,
    /// The linked window (earlier output of this frame), then the current block.
    buf: Vec<u8>,
    /// Next byte of `buf` to hand out.
    read_at: usize,
}

impl<'a> FrameReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        FrameReader {
            input: Input { data, at: 0 },
            frame: None,
            buf: Vec::new(),
            read_at: 0,
        }
    }

    /// Move on by one step (a frame header, a block, a frame end); false at the end of input.
    fn advance(&mut self) -> Result<bool, Lz4Error> {
        let Some(frame) = self.frame.as_mut() else {
            if self.input.at == self.input.data.len() {
                return Ok(false);
            }
            let magic = self.input.u32_le("frame magic")?;
            if magic & SKIPPABLE_MAGIC_MASK == SKIPPABLE_MAGIC {
                let len = self.input.u32_le("skippable frame size")? as usize;
                self.input.take(len, "skippable frame")?;
                return Ok(true);
            }
            if magic != MAGIC {
                return Err(corrupt(format!("bad frame magic {magic:#x}")));
            }
            let descriptor = read_descriptor(&mut self.input)?;
            self.frame = Some(Frame {
                descriptor,
                content: (descriptor.flg & FLG_CONTENT_CHECKSUM != 0)
                    .then(|| XxHash32::with_seed(0)),
            });
            // A new frame links to nothing before it.
            self.buf.clear();
            self.read_at = 0;
            return Ok(true);
        };
        let d = frame.descriptor;
        let size = self.input.u32_le("block size")?;
        if size == 0 {
            if let Some(hash) = frame.content.as_ref() {
                let want = self.input.u32_le("content checksum")?;
                if hash.finish_32() != want {
                    return Err(corrupt("content checksum mismatch"));
                }
            }
            self.frame = None;
            return Ok(true);
        }
        let len = (size & !BLOCK_UNCOMPRESSED) as usize;
        if len > d.block_max {
            return Err(corrupt(format!(
                "block of {len} bytes over the frame's {}",
                d.block_max
            )));
        }
        let block = self.input.take(len, "block")?;
        if d.flg & FLG_BLOCK_CHECKSUM != 0 {
            let want = self.input.u32_le("block checksum")?;
            if XxHash32::oneshot(0, block) != want {
                return Err(corrupt("block checksum mismatch"));
            }
        }
        // Keep only what the next block may refer to.
        let keep = if d.linked() {
            self.buf.len().min(WINDOW_BYTES)
        } else {
            0
        };
        self.buf.drain(..self.buf.len() - keep);
        let pos = self.buf.len();
        if size & BLOCK_UNCOMPRESSED != 0 {
            self.buf.extend_from_slice(block);
        } else {
            let cap = d
                .block_max
                .min(len.saturating_mul(MAX_EXPANSION).saturating_add(16));
            self.buf.resize(pos + cap, 0);
            let (dict, rest) = self.buf.split_at_mut(pos);
            let decoded = if d.linked() {
                lz4_flex::block::decompress_into_with_dict(block, rest, dict)
            } else {
                lz4_flex::block::decompress_into(block, rest)
            };
            match decoded {
                Ok(n) => self.buf.truncate(pos + n),
                Err(e) => {
                    self.buf.truncate(pos);
                    return Err(corrupt(format!("block: {e}")));
                }
            }
        }
        if let Some(hash) = frame.content.as_mut() {
            std::hash::Hasher::write(hash, &self.buf[pos..]);
        }
        self.read_at = pos;
        Ok(true)
    }
}

impl std::io::Read for FrameReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.read_at == self.buf.len() {
            match self.advance() {
                Ok(true) => {}
                Ok(false) => return Ok(0),
                Err(Lz4Error::Corrupt(what)) => return Err(std::io::Error::other(what)),
                // Not produced by `advance` (the reader's consumer bounds what it takes).
                Err(Lz4Error::TooBig) => return Err(std::io::Error::other("block too big")),
            }
        }
        let n = out.len().min(self.buf.len() - self.read_at);
        out[..n].copy_from_slice(&self.buf[self.read_at..self.read_at + n]);
        self.read_at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn records(n: usize) -> Vec<u8> {
        // Near-identical records, as a producer's batch of one payload is.
        (0..n)
            .flat_map(|i| {
                let mut r = format!("record-{:06}-", i % 7).into_bytes();
                r.extend_from_slice(&[b'Q'; 90]);
                r
            })
            .collect()
    }

    fn frame(data: &[u8], info: lz4_flex::frame::FrameInfo) -> Vec<u8> {
        let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn reads_independent_and_linked_frames_with_every_option() {
        use lz4_flex::frame::{BlockMode, BlockSize, FrameInfo};
        let data = records(5000); // ~500 KB: several blocks of every size
        for mode in [BlockMode::Independent, BlockMode::Linked] {
            for size in [BlockSize::Max64KB, BlockSize::Max256KB, BlockSize::Max1MB] {
                for checks in [false, true] {
                    let info = FrameInfo::new()
                        .block_mode(mode)
                        .block_size(size)
                        .block_checksums(checks)
                        .content_checksum(checks)
                        .content_size(checks.then_some(data.len() as u64));
                    let c = frame(&data, info);
                    assert_eq!(
                        decompress(&c, 1 << 20, 0).unwrap(),
                        data,
                        "{mode:?} {size:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_densest_blocks_decode() {
        use lz4_flex::frame::{BlockMode, BlockSize, FrameInfo};
        let data = vec![0u8; 3 << 20]; // one long match: ~255 bytes out per byte in
        for mode in [BlockMode::Independent, BlockMode::Linked] {
            let info = FrameInfo::new()
                .block_mode(mode)
                .block_size(BlockSize::Max4MB);
            let c = frame(&data, info);
            assert!(c.len() * 200 < data.len(), "{}", c.len());
            assert_eq!(decompress(&c, 4 << 20, 0).unwrap(), data);
        }
    }

    #[test]
    fn concatenated_and_skippable_frames_are_read_in_order() {
        let a = frame(b"first ", lz4_flex::frame::FrameInfo::new());
        let b = frame(b"second", lz4_flex::frame::FrameInfo::new());
        let mut c = a.clone();
        c.extend_from_slice(&0x184D_2A53u32.to_le_bytes());
        c.extend_from_slice(&3u32.to_le_bytes());
        c.extend_from_slice(b"xyz");
        c.extend_from_slice(&b);
        assert_eq!(decompress(&c, 100, 0).unwrap(), b"first second");
    }

    #[test]
    fn the_limit_holds_exactly() {
        let data = records(2000);
        let c = frame(&data, lz4_flex::frame::FrameInfo::new());
        assert_eq!(decompress(&c, data.len(), 0).unwrap(), data);
        assert!(matches!(
            decompress(&c, data.len() - 1, 0),
            Err(Lz4Error::TooBig)
        ));
        assert!(matches!(decompress(&c, 10, 0), Err(Lz4Error::TooBig)));
    }

    #[test]
    fn damage_is_corrupt_not_a_panic() {
        let data = records(3000);
        let info = lz4_flex::frame::FrameInfo::new().block_mode(lz4_flex::frame::BlockMode::Linked);
        let c = frame(&data, info);
        for cut in [1, 4, 5, 6, 7, c.len() / 2, c.len() - 1] {
            assert!(
                matches!(decompress(&c[..cut], 1 << 20, 0), Err(Lz4Error::Corrupt(_))),
                "{cut}"
            );
        }
        for at in [4, 5, 6, 7, 8, 20, c.len() / 2] {
            let mut bad = c.clone();
            bad[at] ^= 0x5A;
            // Without checksums a flipped literal may still decode: never a panic, and the
            // header is always checked.
            let result = decompress(&bad, 1 << 20, 0);
            if at < 7 {
                assert!(matches!(result, Err(Lz4Error::Corrupt(_))), "{at}");
            }
        }
    }
}
