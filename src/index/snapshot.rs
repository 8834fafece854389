//! The immutable, pre-built answer to every read of one repository.
//!
//! A writer builds a new snapshot after each change and publishes it with `ArcSwap`; a
//! reader loads the current one and clones `Bytes` out of it (a reference-count bump).
//! No lock, no copy and no serialization on the read path.

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use bytes::{BufMut, Bytes, BytesMut};
use hyper::header::{HeaderMap, HeaderValue};

use super::blocks::Block;
use super::segments::{self, Assembled};
use super::state::{Charts, RepoState};

/// One encoding of the index with its validator.
#[derive(Debug)]
pub struct Representation {
    /// The body; cloning it for a response is a few reference-count bumps.
    pub chunks: Chunks,
    pub len: u64,
    /// `len` as the `Content-Length` header, formatted once here rather than per request.
    pub content_length: HeaderValue,
    /// Strong ETag, distinct per encoding: CRC32 and length of the bytes sent.
    pub etag: HeaderValue,
    /// The headers of a full answer with this body, made by the HTTP layer on first use
    /// and cloned for every later one: a clone costs less than building them again.
    pub response_headers: OnceLock<HeaderMap>,
}

impl Representation {
    fn new(assembled: Assembled, suffix: &str) -> Representation {
        let etag = format!("\"{:08x}-{:x}{suffix}\"", assembled.crc, assembled.len);
        Representation {
            chunks: assembled.chunks,
            len: assembled.len,
            content_length: HeaderValue::from(assembled.len),
            etag: HeaderValue::from_str(&etag).expect("ASCII ETag"),
            response_headers: OnceLock::new(),
        }
    }

    /// The whole body in one buffer (tests and tools; the server sends the chunks).
    pub fn to_vec(&self) -> Vec<u8> {
        self.chunks.to_vec()
    }
}

/// Below this size an encoding is kept in one buffer, in a file for `sendfile` where it can
/// be: a small index is then one write the kernel does not copy, and copying it at
/// publish costs next to nothing.
const FLAT_MAX: u64 = 128 * 1024;

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
    /// The chunks of `len` bytes: `head`, the blocks' segments, `tail`; flattened if small.
    pub fn blocks(head: Bytes, blocks: Arc<[Arc<Block>]>, tail: Bytes, deflate: bool, len: u64) -> Chunks {
        let chunks = Chunks::Segments { head, blocks, tail, deflate };
        if len > FLAT_MAX {
            return chunks;
        }
        let whole = chunks.to_vec();
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

#[derive(Debug)]
pub struct RepoSnapshot {
    pub charts: Charts,
    pub index: Representation,
    pub index_gzip: Representation,
    /// When this snapshot's content was generated (the index's `generated`).
    pub modified: SystemTime,
    pub last_modified: HeaderValue,
    /// `GET /api/<repo>/charts` without paging, built on first use: rarely asked for, and
    /// proportional to the whole repository.
    all_charts_json: OnceLock<Bytes>,
}

/// What every repository's index shares: where packages are linked from and what
/// `serverInfo` says.
#[derive(Debug, Clone, Default)]
pub struct IndexSettings {
    /// `CHART_URL` (no trailing slash), empty for relative `charts/<file>` links.
    pub chart_url: String,
    /// `CONTEXT_PATH` (`/x` or empty).
    pub context_path: String,
    pub strict_semver: bool,
}

impl IndexSettings {
    /// What goes before the file name in a version's `urls`.
    pub fn url_prefix(&self, repo: &str) -> String {
        if self.chart_url.is_empty() {
            return "charts/".into();
        }
        let repo = if repo.is_empty() { String::new() } else { format!("/{repo}") };
        format!("{}{}{repo}/charts/", self.chart_url, self.context_path)
    }

    fn server_info(&self) -> String {
        if self.context_path.is_empty() {
            "serverInfo: {}\n".into()
        } else {
            format!("serverInfo:\n  contextPath: {}\n", super::render::yaml_scalar(&self.context_path))
        }
    }
}

impl RepoSnapshot {
    /// The snapshot of `state`, bringing its segments up to date first: the cost is that
    /// of the segments that changed, plus one pointer per segment.
    pub fn build(state: &mut RepoState, settings: &IndexSettings, modified: SystemTime) -> Arc<RepoSnapshot> {
        state.segments.refresh(&mut state.charts);
        let generated = humantime::format_rfc3339_nanos(modified);
        let suffix = format!("generated: \"{generated}\"\n{}", settings.server_info());
        let (identity, gzip) = segments::assemble(state.segments.list(), Bytes::from(suffix));
        let last_modified = HeaderValue::from_str(&httpdate::fmt_http_date(modified)).expect("ASCII date");
        Arc::new(RepoSnapshot {
            charts: state.charts.clone(),
            index: Representation::new(identity, ""),
            index_gzip: Representation::new(gzip, ".gz"),
            modified,
            last_modified,
            all_charts_json: OnceLock::new(),
        })
    }

    /// The indexed version stored as `file`, when it is named as uploads name it
    /// (`<name>-<version>.tgz`): each dash is tried as the split, so `a-b-1.0.0-rc.1.tgz`
    /// finds chart `a-b` version `1.0.0-rc.1` through the index, never by guessing.
    pub fn by_file(&self, file: &str) -> Option<&Arc<super::version::IndexedVersion>> {
        let stem = file.strip_suffix(".tgz")?;
        stem.match_indices('-').find_map(|(at, _)| {
            let version = self.charts.get(&stem[..at])?.get(&stem[at + 1..])?;
            (version.file_name == file).then_some(version)
        })
    }

    /// `{ "<name>": [versions…], … }` over the page `(offset, limit)` of chart names, or all
    /// of them (built once per snapshot) when `None`.
    pub fn charts_json(&self, page: Option<(usize, usize)>) -> Bytes {
        match page {
            None => self.all_charts_json.get_or_init(|| charts_json(self.charts.iter())).clone(),
            Some((offset, limit)) => charts_json(self.charts.iter().skip(offset).take(limit)),
        }
    }
}

fn charts_json<'a>(charts: impl Iterator<Item = (&'a String, &'a Arc<super::state::Chart>)>) -> Bytes {
    let mut out = BytesMut::new();
    out.put_u8(b'{');
    for (i, (name, chart)) in charts.enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        out.put_slice(&serde_json::to_vec(name).expect("a string serializes"));
        out.put_u8(b':');
        out.put_slice(&chart.json());
    }
    out.put_u8(b'}');
    out.freeze()
}
