//! The start-up cache: a repository's index as it was, so a restart re-reads only the
//! packages whose size or modification time changed since.
//!
//! One file per repository, `.charthall-index.cache` in its folder (a dot-file: never
//! listed as a chart). It holds the segments — text and compressed — and, per version,
//! the file it came from with its stamp, its digest and where its entry sits in the text.
//! A restart adopts all of it, then the usual storage scan compares stamps and reads
//! only what differs. Anything unexpected in the file (another format, other settings,
//! a length that does not add up) discards it: the cache is an optimisation, never a
//! source of truth.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::blocks::Segment;
use super::charts::{Chart, Charts};
use super::entry::{FileStamp, IndexedVersion};
use super::piece::Piece;
use super::render::Format;
use super::repository::Repository;
use super::segments::Segments;
use super::settings::IndexSettings;
use super::state::{Files, RepoState};
use crate::chart::version;
use crate::storage::Storage;

/// The cache file's name inside a repository's folder.
const CACHE_FILE: &str = ".charthall-index.cache";
/// Bumped whenever the layout below, the rendering of entries or the way segments are
/// compressed changes (2: 16 KiB dictionaries; a segment compressed against 32 KiB could
/// refer to text that a later change no longer recompresses it for; 3: entries rendered
/// by `render`; 4: the index's language, YAML or JSON, recorded; 5: a bucket's ETag in each stamp).
const FORMAT: u32 = 5;

#[derive(Serialize, Deserialize)]
struct CacheFile {
    format: u32,
    /// The server that wrote it: another release may render entries differently.
    server: String,
    /// Settings baked into the text.
    url_prefix: String,
    strict_semver: bool,
    /// The language of the text (`JSON_INDEX`): a YAML cache must not be served as JSON.
    json: bool,
    segments: Vec<CachedSegment>,
    charts: Vec<CachedChart>,
    broken: Vec<CachedFile>,
}

#[derive(Serialize, Deserialize)]
struct CachedSegment {
    first: String,
    text: Bytes,
    deflate: Bytes,
}

/// A chart, in name order; its key and versions follow each other in the segments' text.
#[derive(Serialize, Deserialize)]
struct CachedChart {
    name: String,
    key_len: u32,
    versions: Vec<CachedVersion>,
}

#[derive(Serialize, Deserialize)]
struct CachedVersion {
    version: String,
    file: CachedFile,
    digest: [u8; 32],
    text_len: u32,
}

#[derive(Serialize, Deserialize)]
struct CachedFile {
    name: String,
    size: u64,
    seconds: u64,
    nanos: u32,
    tag: u64,
}

impl CachedFile {
    fn new(name: &str, stamp: FileStamp) -> CachedFile {
        let since = stamp.modified.duration_since(UNIX_EPOCH).unwrap_or_default();
        CachedFile {
            name: name.to_string(),
            size: stamp.size,
            seconds: since.as_secs(),
            nanos: since.subsec_nanos(),
            tag: stamp.tag,
        }
    }

    fn stamp(&self) -> FileStamp {
        FileStamp { size: self.size, modified: UNIX_EPOCH + Duration::new(self.seconds, self.nanos), tag: self.tag }
    }
}

/// Adopts `repository`'s start-up cache, if it has a usable one, as its state. Returns
/// the versions it adopted.
pub fn load(repository: &Repository, storage: &dyn Storage) -> io::Result<usize> {
    let bytes = match storage.read(repository.name(), CACHE_FILE) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    match decode(&bytes, repository.url_prefix(), repository.settings()) {
        Ok(loaded) => {
            let versions = loaded.version_count();
            repository.change(|state| *state = loaded);
            repository.mark_cached(repository.generation());
            tracing::info!(repo = %repository.name(), versions, "loaded the start-up cache");
            Ok(versions)
        }
        Err(problem) => {
            tracing::warn!(repo = %repository.name(), %problem, "ignoring the start-up cache");
            Ok(0)
        }
    }
}

/// Writes `repository`'s start-up cache if it changed since the last save. Runs off the
/// request path; a failure only costs the next start-up some time. Returns whether it
/// wrote anything.
pub fn save(repository: &Repository, storage: &dyn Storage) -> bool {
    if repository.is_cached() {
        return false;
    }
    let (view, generation) = repository.inspect(|state| (CacheView::of(state), repository.generation()));
    let (prefix, settings) = (repository.url_prefix(), repository.settings());
    match storage.write_with(repository.name(), CACHE_FILE, &mut |out| view.encode_to(out, prefix, settings)) {
        Ok(_) => {
            repository.mark_cached(generation);
            true
        }
        Err(error) => {
            tracing::warn!(repo = %repository.name(), %error, "could not write the start-up cache");
            false
        }
    }
}

/// What a cache file is written from: cloned under the writer's lock (cheap: persistent
/// maps and a vector of pointers), encoded after it is released.
struct CacheView {
    charts: Charts,
    segments: Vec<Arc<Segment>>,
    broken: Vec<(String, FileStamp)>,
}

impl CacheView {
    fn of(state: &RepoState) -> CacheView {
        CacheView {
            charts: state.charts().clone(),
            segments: state.segments().blocks().iter().cloned().collect(),
            broken: state.broken().map(|(file, stamp)| (file.clone(), *stamp)).collect(),
        }
    }

    /// Streams the cache file into `out`.
    fn encode_to(&self, out: &mut dyn std::io::Write, url_prefix: &str, settings: &IndexSettings) -> io::Result<()> {
        let file = CacheFile {
            format: FORMAT,
            server: env!("CARGO_PKG_VERSION").to_string(),
            url_prefix: url_prefix.to_string(),
            strict_semver: settings.strict_semver,
            json: settings.format == Format::Json,
            segments: self
                .segments
                .iter()
                .map(|s| CachedSegment {
                    first: s.first.clone(),
                    text: s.piece.text.clone(),
                    deflate: s.piece.deflate.clone(),
                })
                .collect(),
            charts: self
                .charts
                .iter()
                .map(|(name, chart)| CachedChart {
                    name: name.clone(),
                    key_len: chart.key.len() as u32,
                    versions: chart
                        .versions
                        .iter()
                        .map(|v| CachedVersion {
                            version: v.version.clone(),
                            file: CachedFile::new(&v.file_name, v.stamp),
                            digest: v.digest,
                            text_len: v.text.len() as u32,
                        })
                        .collect(),
                })
                .collect(),
            broken: self.broken.iter().map(|(file, stamp)| CachedFile::new(file, *stamp)).collect(),
        };
        postcard::to_io(&file, out).map(|_| ()).map_err(std::io::Error::other)
    }
}

/// Rebuilds a repository's state from its cache file.
fn decode(bytes: &[u8], url_prefix: &str, settings: &IndexSettings) -> Result<RepoState, String> {
    let (strict_semver, format) = (settings.strict_semver, settings.format);
    let file: CacheFile = postcard::from_bytes(bytes).map_err(|e| format!("unreadable: {e}"))?;
    if file.format != FORMAT || file.server != env!("CARGO_PKG_VERSION") {
        return Err("written by another version".into());
    }
    if file.url_prefix != url_prefix || file.strict_semver != strict_semver || file.json != (format == Format::Json) {
        return Err("written with other settings (CHART_URL, CONTEXT_PATH, ENFORCE_SEMVER2 or JSON_INDEX)".into());
    }
    let (mut charts, mut files) = (Charts::default(), Files::default());
    let mut texts = file.segments.iter().map(|s| &s.text).peekable();
    let mut text = texts.next().cloned().unwrap_or_default();
    let mut at = 0usize;
    let mut take = |len: u32| -> Result<Bytes, String> {
        if at == text.len() {
            text = texts.next().cloned().ok_or("charts run past the last segment")?;
            at = 0;
        }
        let end = at + len as usize;
        if end > text.len() {
            return Err("a length runs past its segment".into());
        }
        let bytes = text.slice(at..end);
        at = end;
        Ok(bytes)
    };
    // The separators between the pieces, as the text must hold them.
    let expect = |take: &mut dyn FnMut(u32) -> Result<Bytes, String>, separator: &[u8]| match separator.is_empty()
        || take(separator.len() as u32)? == separator
    {
        true => Ok(()),
        false => Err("a separator is not where the charts put it".to_string()),
    };
    for (i, cached) in file.charts.into_iter().enumerate() {
        expect(&mut take, format.before_chart(i == 0))?;
        let key = take(cached.key_len)?;
        let mut versions = Vec::with_capacity(cached.versions.len());
        for (j, v) in cached.versions.into_iter().enumerate() {
            if j > 0 {
                expect(&mut take, format.between_versions())?;
            }
            let text = take(v.text_len)?;
            let semver = version::parse(&v.version, strict_semver).ok_or("a version does not parse")?;
            files.insert(v.file.name.clone(), (cached.name.clone(), v.version.clone()));
            versions.push(Arc::new(IndexedVersion {
                name: cached.name.clone(),
                version: v.version,
                semver,
                stamp: v.file.stamp(),
                file_name: v.file.name,
                digest: v.digest,
                text,
                oci: Default::default(),
            }));
        }
        expect(&mut take, format.after_chart())?;
        charts.insert(cached.name, Arc::new(Chart { key, versions }));
    }
    if at != text.len() || texts.peek().is_some() {
        return Err("the segments hold text no chart accounts for".into());
    }
    let broken: HashMap<String, FileStamp> = file.broken.into_iter().map(|f| (f.name.clone(), f.stamp())).collect();
    let list = file
        .segments
        .into_iter()
        .map(|s| Arc::new(Segment { first: s.first, piece: Piece::restore(s.text, s.deflate) }))
        .collect();
    Ok(RepoState::restore(charts, files, broken, Segments::restore(list, format)))
}
