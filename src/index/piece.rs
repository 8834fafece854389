//! A run of index text kept twice: as text, and as one link of the gzip chain.
//!
//! Each piece's text is compressed as raw deflate with the end of the text before it as
//! preset dictionary, ending in a sync flush (pigz's trick), so pieces compressed one by
//! one concatenate into a single deflate stream that is smaller than one `gzip -6` pass:
//! no piece starts from an empty window.

use std::cell::RefCell;

use bytes::Bytes;
use flate2::{Compress, Compression, FlushCompress};

use super::crc::CrcPart;

/// How far a piece's deflate may refer back into the text before it. Deflate's window
/// is 32 KiB, but measured on a 130,000-version index a 16 KiB dictionary costs ~1% in
/// size and halves how often a change must recompress the next segment too.
const DICTIONARY: usize = 16 * 1024;
/// zlib level: on index YAML, 5 compresses ~20% faster than 6 for ~1% more bytes, and is
/// still smaller than one `gzip -6` pass over the whole index.
const LEVEL: u32 = 5;

/// Text that has been compressed as one link of the chain.
#[derive(Debug, Clone)]
pub struct Piece {
    pub text: Bytes,
    pub text_crc: CrcPart,
    pub deflate: Bytes,
    pub deflate_crc: CrcPart,
}

impl Piece {
    /// A piece read back from the start-up cache: only the checksums are recomputed.
    pub fn restore(text: Bytes, deflate: Bytes) -> Piece {
        Piece { text_crc: CrcPart::of(&text), deflate_crc: CrcPart::of(&deflate), text, deflate }
    }

    /// Compresses `text` with the end of `previous` as its dictionary.
    pub fn new(text: Bytes, previous: &[u8]) -> Piece {
        let deflate = deflate_sync(dictionary(previous), &text);
        Piece { text_crc: CrcPart::of(&text), deflate_crc: CrcPart::of(&deflate), text, deflate }
    }
}

/// The part of `text` a following piece uses as its dictionary: a piece need not be
/// compressed again after a change to the text before it, unless this part changed.
pub fn dictionary(text: &[u8]) -> &[u8] {
    &text[text.len().saturating_sub(DICTIONARY)..]
}

/// The capacity to give a segment's text of `size` bytes, which lives as long as the
/// segment: `size` rounded up to 4 KiB. Every upload frees a segment's text and allocates
/// a new one of a slightly different size; in a few size classes, the holes the old ones
/// leave are reused by the next, where exact sizes left a new hole per upload (measured:
/// +54 MB after 1,000 uploads into 130,000 versions). 4 KiB is the allocator's own class
/// spacing at the ~24 KiB a segment holds, so the rounding wastes nothing beyond it.
pub fn size_class(size: usize) -> usize {
    size.next_multiple_of(4 * 1024)
}

/// Raw deflate of `input` with a preset dictionary, ending in a sync flush so the next
/// piece can start on a byte boundary.
fn deflate_sync(dictionary: &[u8], input: &[u8]) -> Bytes {
    thread_local! {
        // A compressor's tables are ~300 KiB to allocate and zero: keep one per thread.
        static COMPRESS: RefCell<Compress> = RefCell::new(Compress::new(Compression::new(LEVEL), false));
    }
    COMPRESS.with_borrow_mut(|compress| {
        compress.reset();
        if !dictionary.is_empty() {
            compress.set_dictionary(dictionary).expect("a fresh raw deflate stream takes a dictionary");
        }
        let mut out = Vec::with_capacity(input.len() / 4 + 64);
        loop {
            let consumed = compress.total_in() as usize;
            compress.compress_vec(&input[consumed..], &mut out, FlushCompress::Sync).expect("deflate into memory");
            // Done when all input is in and the flush fit in the space we gave it.
            if compress.total_in() as usize == input.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(1024));
        }
        kept(&out)
    })
}

/// A copy of `bytes` in a buffer of exactly its size. A segment's deflate is ~5 KiB: an
/// 8 KiB size class wasted ~40% of it (~75 MB at a million versions), more than the holes
/// it saved.
pub fn kept(bytes: &[u8]) -> Bytes {
    Bytes::copy_from_slice(bytes)
}
