//! Both encodings of the index from its segments: the text as it is, and one gzip member
//! stitched from the segments' deflate links.
//!
//! A gzip header, the prefix's deflate, every segment's deflate bytes, the suffix's, an
//! empty final block and a trailer (CRC-32 joined from the parts' CRCs, and the length)
//! make one valid gzip member. Each block carries its segments' joined CRCs, so this costs
//! one step per block, not per segment.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use super::blocks::Blocks;
use super::crc::CrcPart;
use super::encoding::Chunks;
use super::piece::Piece;
use super::render::Format;

/// gzip member header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// An empty final block with fixed Huffman codes: BFINAL=1, BTYPE=01, end-of-block.
const FINAL_BLOCK: [u8; 2] = [0x03, 0x00];

/// An encoding's chunks, and the CRC-32 and length of all its bytes.
pub type Stitched = (Chunks, CrcPart);

/// `(identity, gzip)`: the index of `segments` in `format`, ending in `suffix`.
pub fn stitch(segments: &Blocks, suffix: Bytes, format: Format) -> (Stitched, Stitched) {
    let prefix = Prefix::get(format, segments.is_empty());
    // The suffix (`generated:`, `serverInfo:`) changes at every publish and is ~100 bytes:
    // loading a dictionary for it would cost more than it saves.
    let suffix = Piece::new(suffix, b"");
    let (mut text_crc, mut gzip_crc) = (prefix.piece.text_crc, prefix.gzip_head_crc);
    for block in segments.blocks() {
        text_crc = text_crc.then(&block.text_crc);
        gzip_crc = gzip_crc.then(&block.deflate_crc);
    }
    text_crc = text_crc.then(&suffix.text_crc);
    let mut tail = Vec::with_capacity(suffix.deflate.len() + 10);
    tail.extend_from_slice(&suffix.deflate);
    tail.extend_from_slice(&FINAL_BLOCK);
    tail.extend_from_slice(&text_crc.crc.to_le_bytes());
    tail.extend_from_slice(&(text_crc.len as u32).to_le_bytes());
    let tail = Bytes::from(tail);
    gzip_crc = gzip_crc.then(&CrcPart::of(&tail));
    let blocks: Arc<[_]> = segments.blocks().into();
    let text =
        Chunks::Segments { head: prefix.piece.text.clone(), blocks: blocks.clone(), tail: suffix.text, deflate: false };
    let gzip = Chunks::Segments { head: prefix.gzip_head.clone(), blocks, tail, deflate: true };
    ((text, text_crc), (gzip, gzip_crc))
}

/// The index's first line(s), compressed once per process, and the gzip member's start.
struct Prefix {
    piece: Piece,
    /// The gzip header followed by the prefix's deflate stream, and its CRC.
    gzip_head: Bytes,
    gzip_head_crc: CrcPart,
}

impl Prefix {
    fn get(format: Format, empty: bool) -> &'static Prefix {
        static PREFIXES: [OnceLock<Prefix>; 4] = [const { OnceLock::new() }; 4];
        let cell = &PREFIXES[usize::from(format == Format::Json) * 2 + usize::from(empty)];
        let text = format.prefix(empty);
        cell.get_or_init(|| {
            let piece = Piece::new(Bytes::from_static(text), b"");
            let gzip_head = Bytes::from([&GZIP_HEADER[..], &piece.deflate].concat());
            Prefix { gzip_head_crc: CrcPart::of(&gzip_head), gzip_head, piece }
        })
    }
}
