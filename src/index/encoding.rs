//! One encoding of the index, ready for the wire: its bytes as a list of shared chunks,
//! and the header values every answer with it carries, made once per snapshot.
//!
//! This is the one place in the index that knows about HTTP headers and `sendfile`: a
//! small body is flattened into a file-backed buffer the kernel sends without copying,
//! a big one stays a list of segment buffers that a response clones (reference-count
//! bumps, no copy).

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use bytes::Bytes;
use hyper::header::{HeaderMap, HeaderValue};

use super::blocks::Block;
use super::crc::CrcPart;

/// Below this size an encoding is kept in one buffer, in a file for `sendfile` where it can
/// be: a small index is then one write the kernel does not copy, and copying it at
/// publish costs next to nothing.
const FLAT_MAX: u64 = 128 * 1024;

/// One encoding of the index with its validators.
#[derive(Debug)]
pub struct Representation {
    /// The body; cloning it for a response is a few reference-count bumps.
    pub chunks: Chunks,
    pub len: u64,
    /// `len` as the `Content-Length` header, formatted once here rather than per request.
    pub content_length: HeaderValue,
    /// Strong ETag, distinct per encoding: CRC32 and length of the bytes sent.
    pub etag: HeaderValue,
    /// When the snapshot was published, as `Last-Modified`.
    pub last_modified: HeaderValue,
    /// The headers of a full answer with this body, made by the HTTP layer on first use
    /// and cloned for every later one: a clone costs less than building them again.
    pub response_headers: OnceLock<HeaderMap>,
}

impl Representation {
    /// `chunks`, whose bytes have the CRC and length of `whole`, published at `modified`;
    /// `tag_suffix` keeps the ETags of different encodings of the same text apart.
    pub fn new(chunks: Chunks, whole: CrcPart, tag_suffix: &str, modified: SystemTime) -> Representation {
        let chunks = if whole.len <= FLAT_MAX { chunks.flatten() } else { chunks };
        let etag = format!("\"{:08x}-{:x}{tag_suffix}\"", whole.crc, whole.len);
        Representation {
            chunks,
            len: whole.len,
            content_length: HeaderValue::from(whole.len),
            etag: HeaderValue::from_str(&etag).expect("ASCII ETag"),
            last_modified: HeaderValue::from_str(&httpdate::fmt_http_date(modified)).expect("ASCII date"),
            response_headers: OnceLock::new(),
        }
    }

    /// The whole body in one buffer (tests and tools; the server sends the chunks).
    pub fn to_vec(&self) -> Vec<u8> {
        self.chunks.to_vec()
    }
}

/// The bytes of one encoding, in the order they are sent.
#[derive(Debug, Clone)]
pub enum Chunks {
    /// A small index, whole.
    Flat(Bytes),
    /// `head`, then each segment's text (or deflate stream), then `tail`.
    Segments { head: Bytes, blocks: Arc<[Arc<Block>]>, tail: Bytes, deflate: bool },
}

/// Where a body is in its `Chunks`.
#[derive(Debug, Clone, Copy, Default)]
pub enum Cursor {
    #[default]
    Head,
    Segment {
        block: usize,
        at: usize,
    },
    Tail,
    Done,
}

impl Chunks {
    /// The same bytes in one buffer, file-backed where the system allows.
    fn flatten(self) -> Chunks {
        let whole = self.to_vec();
        Chunks::Flat(crate::sendfile::file_backed(&whole).unwrap_or_else(|| Bytes::from(whole)))
    }

    /// The chunk at `cursor`, moving it on; `None` at the end.
    pub fn next(&self, cursor: &mut Cursor) -> Option<Bytes> {
        let (head, blocks, tail, deflate) = match self {
            Chunks::Flat(whole) => {
                let first = matches!(cursor, Cursor::Head);
                *cursor = Cursor::Done;
                return first.then(|| whole.clone());
            }
            Chunks::Segments { head, blocks, tail, deflate } => (head, blocks, tail, *deflate),
        };
        loop {
            match *cursor {
                Cursor::Head => {
                    *cursor = Cursor::Segment { block: 0, at: 0 };
                    return Some(head.clone());
                }
                Cursor::Segment { block, at } => match blocks.get(block).map(|b| b.segments.get(at)) {
                    None => *cursor = Cursor::Tail,
                    Some(None) => *cursor = Cursor::Segment { block: block + 1, at: 0 },
                    Some(Some(segment)) => {
                        *cursor = Cursor::Segment { block, at: at + 1 };
                        let piece = &segment.piece;
                        return Some(if deflate { piece.deflate.clone() } else { piece.text.clone() });
                    }
                },
                Cursor::Tail => {
                    *cursor = Cursor::Done;
                    return Some(tail.clone());
                }
                Cursor::Done => return None,
            }
        }
    }

    fn to_vec(&self) -> Vec<u8> {
        let (mut out, mut cursor) = (Vec::new(), Cursor::default());
        while let Some(chunk) = self.next(&mut cursor) {
            out.extend_from_slice(&chunk);
        }
        out
    }
}
