//! The start-up cache: a repository's index as it was, so a restart re-reads only the
//! packages whose size or modification time changed since.
//!
//! One file per repository, `.charthall-index.cache` in its folder (a dot-file: never
//! listed as a chart). It holds the segments compressed only (their text is what inflating
//! them gives back, at a tenth of the size on disk), and, per version, the file it came
//! from with its stamp (the name only when it is not `<name>-<version>.tgz`), its digest and
//! where its entry sits in the text. A restart inflates the segments on every core, adopts
//! the rest, then the usual storage scan compares stamps and reads only what differs.
//! Anything unexpected in the file (a CRC-32 that does not match, another format, other
//! settings, a text that does not inflate to its length and CRC, a length that does not add
//! up) discards it: the cache is an optimisation, never a source of truth.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::blocks::Segment;
use super::charts::{Chart, Charts, Row};
use super::entry::FileStamp;
use super::parallel;
use super::piece::{dictionary, kept, size_class, Piece};
use super::render::Format;
use super::repository::Repository;
use super::segments::Segments;
use super::settings::IndexSettings;
use super::state::{Files, RepoState};
use crate::storage::Storage;

/// The cache file's name inside a repository's folder.
const CACHE_FILE: &str = ".charthall-index.cache";
/// Bumped whenever the layout below, the rendering of entries or the way segments are
/// compressed changes (2: 16 KiB dictionaries; a segment compressed against 32 KiB could
/// refer to text that a later change no longer recompresses it for; 3: entries rendered
/// by `render`; 4: the index's language, YAML or JSON, recorded; 5: a bucket's ETag in each stamp;
/// 6: segments compressed only, default file names left out, a CRC-32 of the file at its end;
/// 7: versions and digests read from the text).
const FORMAT: u32 = 7;
/// Every this many segments the cache keeps the dictionary the next one was compressed
/// against (the end of the text before it), so the segments inflate in independent runs,
/// one per core, for 16 KiB per run.
const RUN: usize = 64;

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
    /// The inflated text must have this length and CRC-32.
    text_len: u32,
    text_crc: u32,
    deflate: Bytes,
    /// At the start of a run (every [`RUN`]th segment but the first): the end of the text
    /// before it, which its deflate may refer back into.
    dictionary: Option<Bytes>,
}

/// A chart, in name order; its key and versions follow each other in the segments' text.
#[derive(Serialize, Deserialize)]
struct CachedChart {
    name: String,
    key_len: u32,
    versions: Vec<CachedVersion>,
}

/// A version: its entry's length, where the entry spells its version and digest, and its
/// file (the version and the digest are read from the text, not stored twice).
#[derive(Serialize, Deserialize)]
struct CachedVersion {
    file: CachedFile,
    text_len: u32,
    version_at: u32,
    version_len: u32,
    digest_at: u32,
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
    /// `name` is empty for a version's usual file, `<name>-<version>.tgz`.
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
    match checked(&bytes).and_then(|payload| decode(payload, repository.url_prefix(), repository.settings())) {
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
    match storage.write_with(repository.name(), CACHE_FILE, &mut |out| view.write_to(out, prefix, settings)) {
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

    /// Streams the cache file into `out`: the payload, then its CRC-32.
    fn write_to(&self, out: &mut dyn std::io::Write, url_prefix: &str, settings: &IndexSettings) -> io::Result<()> {
        let mut out = CrcWriter { out, crc: crc32fast::Hasher::new() };
        self.encode_to(&mut out, url_prefix, settings)?;
        let crc = out.crc.finalize();
        out.out.write_all(&crc.to_le_bytes())
    }

    /// Streams the payload into `out`.
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
                .enumerate()
                .map(|(i, s)| CachedSegment {
                    first: s.first.clone(),
                    text_len: s.piece.text.len() as u32,
                    text_crc: s.piece.text_crc.crc,
                    deflate: s.piece.deflate.clone(),
                    dictionary: (i > 0 && i % RUN == 0)
                        .then(|| Bytes::copy_from_slice(dictionary(&self.segments[i - 1].piece.text))),
                })
                .collect(),
            charts: self
                .charts
                .iter()
                .map(|(name, chart)| CachedChart {
                    name: name.clone(),
                    key_len: chart.key_len() as u32,
                    versions: chart
                        .versions()
                        .map(|v| {
                            let part = v.part();
                            CachedVersion {
                                file: CachedFile::new(part.odd_file.unwrap_or(""), part.stamp),
                                text_len: part.text.len() as u32,
                                version_at: part.version_at,
                                version_len: part.version_len,
                                digest_at: part.digest_at,
                            }
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
    // The format and the server lead the file, whatever its layout after them.
    let ((format_number, server), _) =
        postcard::take_from_bytes::<(u32, String)>(bytes).map_err(|e| format!("unreadable: {e}"))?;
    if format_number != FORMAT || server != env!("CARGO_PKG_VERSION") {
        return Err("written by another version".into());
    }
    let file: CacheFile = postcard::from_bytes(bytes).map_err(|e| format!("unreadable: {e}"))?;
    if file.url_prefix != url_prefix || file.strict_semver != strict_semver || file.json != (format == Format::Json) {
        return Err("written with other settings (CHART_URL, CONTEXT_PATH, ENFORCE_SEMVER2 or JSON_INDEX)".into());
    }
    let pieces = inflate_all(&file.segments, format)?;
    let (mut charts, mut odd_files) = (Charts::default(), Files::default());
    let mut text = Cursor { texts: pieces.iter().map(|p| &p.text), text: Bytes::new(), at: 0 };
    for (i, cached) in file.charts.into_iter().enumerate() {
        let start = text.start_chart(format.before_chart(i == 0))?;
        text.take(cached.key_len)?;
        let mut rows = Vec::with_capacity(cached.versions.len());
        let (mut odd, mut tags) = (Vec::new(), Vec::with_capacity(cached.versions.len()));
        for (j, v) in cached.versions.into_iter().enumerate() {
            if j > 0 {
                text.expect(format.between_versions())?;
            }
            let at = text.at - start;
            let entry = text.take(v.text_len)?;
            let row = Row::checked(at, entry, (v.version_at, v.version_len), v.digest_at, v.file.stamp())?;
            if !v.file.name.is_empty() {
                let version = &entry[v.version_at as usize..][..v.version_len as usize];
                let version = String::from_utf8_lossy(version).into_owned();
                odd_files.insert(v.file.name.clone(), (cached.name.clone(), version));
                odd.push((j as u32, v.file.name.into_boxed_str()));
            }
            rows.push(row);
            tags.push(v.file.tag);
        }
        text.expect(format.after_chart())?;
        let chart = Chart::restore(&cached.name, text.since(start), cached.key_len as usize, format, rows, odd, tags);
        charts.insert(cached.name, Arc::new(chart));
    }
    if text.at != text.text.len() || text.texts.next().is_some() {
        return Err("the segments hold text no chart accounts for".into());
    }
    let broken: HashMap<String, FileStamp> = file.broken.into_iter().map(|f| (f.name.clone(), f.stamp())).collect();
    let list =
        file.segments.into_iter().zip(pieces).map(|(s, piece)| Arc::new(Segment { first: s.first, piece })).collect();
    Ok(RepoState::restore(charts, odd_files, broken, Segments::restore(list, format)))
}

/// Reads the segments' text in order, as the charts account for it.
struct Cursor<'a, I: Iterator<Item = &'a Bytes>> {
    texts: I,
    /// The segment being read, and how far.
    text: Bytes,
    at: usize,
}

impl<'a, I: Iterator<Item = &'a Bytes>> Cursor<'a, I> {
    /// Takes what comes before a chart (`before`) and returns where the chart starts: a
    /// chart is never cut between segments, so one that starts where a segment ends
    /// starts the next.
    fn start_chart(&mut self, before: &[u8]) -> Result<usize, String> {
        if self.at == self.text.len() {
            self.text = self.texts.next().cloned().ok_or("charts run past the last segment")?;
            self.at = 0;
        }
        self.expect(before)?;
        Ok(self.at)
    }

    /// The next `len` bytes of the current segment.
    fn take(&mut self, len: u32) -> Result<&[u8], String> {
        let end = self.at + len as usize;
        if end > self.text.len() {
            return Err("a length runs past its segment".into());
        }
        let start = std::mem::replace(&mut self.at, end);
        Ok(&self.text[start..end])
    }

    /// Takes the separator `expected`, which must be there.
    fn expect(&mut self, expected: &[u8]) -> Result<(), String> {
        if self.text.get(self.at..self.at + expected.len()) != Some(expected) {
            return Err("a separator is not where the charts put it".into());
        }
        self.at += expected.len();
        Ok(())
    }

    /// The text read since `start` in the current segment.
    fn since(&self, start: usize) -> Bytes {
        self.text.slice(start..self.at)
    }
}

/// The payload of a cache file, if its last four bytes are the CRC-32 of the rest (a file
/// cut short, or changed, is not read further).
fn checked(bytes: &[u8]) -> Result<&[u8], String> {
    let Some((payload, crc)) = bytes.split_last_chunk::<4>() else { return Err("shorter than its checksum".into()) };
    match crc32fast::hash(payload) == u32::from_le_bytes(*crc) {
        true => Ok(payload),
        false => Err("its CRC-32 does not match (cut short, or changed)".into()),
    }
}

/// Passes writes on and keeps the CRC-32 of what went through.
struct CrcWriter<'a> {
    out: &'a mut dyn std::io::Write,
    crc: crc32fast::Hasher,
}

impl std::io::Write for CrcWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.out.write(buf)?;
        self.crc.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The segments' pieces, their text inflated: in runs of [`RUN`] segments, each core
/// taking its share of whole runs (a run needs only the dictionary kept at its start).
fn inflate_all(segments: &[CachedSegment], format: Format) -> Result<Vec<Piece>, String> {
    let runs: Vec<(usize, &[CachedSegment])> = segments.chunks(RUN).enumerate().collect();
    let inflated = parallel::map(runs, 1, |(r, run)| {
        let start: &[u8] = match &run[0].dictionary {
            Some(dictionary) => dictionary,
            None if r == 0 => format.prefix(false),
            None => return Err("a run has no dictionary".to_string()),
        };
        inflate_run(run, start)
    });
    let mut pieces = Vec::with_capacity(segments.len());
    for run in inflated {
        pieces.extend(run?);
    }
    Ok(pieces)
}

/// One run of segments, each inflated with the end of the text before it as dictionary.
fn inflate_run(run: &[CachedSegment], start: &[u8]) -> Result<Vec<Piece>, String> {
    let mut pieces: Vec<Piece> = Vec::with_capacity(run.len());
    let mut decompress = flate2::Decompress::new(false);
    for segment in run {
        let previous = pieces.last().map_or(start, |p| &p.text[..]);
        let text = inflate(&mut decompress, dictionary(previous), &segment.deflate, segment.text_len as usize)?;
        let piece = Piece::restore(text, kept(&segment.deflate));
        if piece.text_crc.crc != segment.text_crc {
            return Err("a segment's text does not match its CRC-32".into());
        }
        pieces.push(piece);
    }
    Ok(pieces)
}

/// Raw inflate of a sync-flushed deflate piece that must give exactly `len` bytes.
fn inflate(
    decompress: &mut flate2::Decompress,
    dictionary: &[u8],
    deflate: &[u8],
    len: usize,
) -> Result<Bytes, String> {
    decompress.reset(false);
    if !dictionary.is_empty() {
        decompress.set_dictionary(dictionary).map_err(|e| format!("a segment's dictionary: {e}"))?;
    }
    // Room for a byte more than expected at least: a piece that inflates to more is caught.
    let mut text = Vec::with_capacity(size_class(len + 1));
    decompress
        .decompress_vec(deflate, &mut text, flate2::FlushDecompress::Sync)
        .map_err(|e| format!("a segment does not inflate: {e}"))?;
    if text.len() != len || decompress.total_in() as usize != deflate.len() {
        return Err("a segment does not inflate to its length".into());
    }
    Ok(Bytes::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::state::tests::{check, state_in};

    const PREFIX: &str = "charts/";

    fn written(state: &RepoState, settings: &IndexSettings) -> Vec<u8> {
        let mut out = Vec::new();
        CacheView::of(state).write_to(&mut out, PREFIX, settings).unwrap();
        out
    }

    /// The payload decoded, changed by `change`, encoded again with a right CRC-32.
    fn altered(bytes: &[u8], change: impl FnOnce(&mut CacheFile)) -> Vec<u8> {
        let mut file: CacheFile = postcard::from_bytes(checked(bytes).unwrap()).unwrap();
        change(&mut file);
        let mut out = postcard::to_stdvec(&file).unwrap();
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    fn restored(bytes: &[u8], settings: &IndexSettings) -> Result<RepoState, String> {
        checked(bytes).and_then(|payload| decode(payload, PREFIX, settings))
    }

    #[test]
    fn segments_inflate_back_in_runs_to_the_same_index_in_both_languages() {
        for format in [Format::Yaml, Format::Json] {
            let mut state = state_in(format, 300, 3);
            // A bucket's tag on one version; the stamps come back exactly.
            let tagged = FileStamp { size: 7, modified: UNIX_EPOCH + Duration::new(9, 123_456_789), tag: 0xfeed };
            state.restamp("chart-0100", "1.1.0", tagged);
            let before = check(&mut state);
            let segments = state.segments().blocks().len();
            assert!(segments > 2 * RUN, "{segments} segments: the test needs several runs");
            let settings = IndexSettings { format, ..IndexSettings::default() };
            let bytes = written(&state, &settings);
            let text_len: usize = state.segments().blocks().iter().map(|s| s.piece.text.len()).sum();
            assert!(bytes.len() < text_len / 2, "{} bytes of cache for {text_len} of text", bytes.len());
            let mut again = restored(&bytes, &settings).unwrap();
            assert_eq!(again.version_count(), state.version_count());
            assert_eq!(again.stamp_of("chart-0100-1.1.0.tgz"), Some(tagged));
            assert_eq!(again.stamp_of("chart-0100-1.0.0.tgz"), state.stamp_of("chart-0100-1.0.0.tgz"));
            assert_eq!(again.stamp_of("chart-0100-1.0.0.tgz").map(|s| s.tag), Some(0));
            let after = check(&mut again);
            assert_eq!(after.index.to_vec(), before.index.to_vec());
            assert_eq!(after.index_gzip.to_vec(), before.index_gzip.to_vec(), "the same deflate links");
        }
    }

    #[test]
    fn a_cache_cut_short_changed_or_from_another_format_is_refused() {
        let mut state = state_in(Format::Yaml, 300, 3);
        check(&mut state);
        let settings = IndexSettings::default();
        let bytes = written(&state, &settings);
        assert!(restored(&bytes[..bytes.len() - 1], &settings).unwrap_err().contains("CRC-32"));
        assert!(restored(&bytes[..3], &settings).is_err());
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 2] ^= 1;
        assert!(restored(&flipped, &settings).unwrap_err().contains("CRC-32"));
        let older = altered(&bytes, |file| file.format = 5);
        assert_eq!(restored(&older, &settings).unwrap_err(), "written by another version");
        let other_server = altered(&bytes, |file| file.server = "0.0.1".into());
        assert_eq!(restored(&other_server, &settings).unwrap_err(), "written by another version");
        // An older layout is named as such, not as unreadable.
        let mut older_layout = postcard::to_stdvec(&(FORMAT - 1, env!("CARGO_PKG_VERSION"))).unwrap();
        older_layout.extend_from_slice(&[0xff; 16]);
        let crc = crc32fast::hash(&older_layout);
        older_layout.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(restored(&older_layout, &settings).unwrap_err(), "written by another version");
        // Consistent CRC-32s, but a segment that does not inflate to its text.
        let broken_link = altered(&bytes, |file| {
            let deflate = &mut file.segments[RUN + 3].deflate;
            let mut changed = deflate.to_vec();
            let middle = changed.len() / 2;
            changed[middle] ^= 0x55;
            *deflate = Bytes::from(changed);
        });
        assert!(restored(&broken_link, &settings).is_err());
        let no_dictionary = altered(&bytes, |file| file.segments[RUN].dictionary = None);
        assert_eq!(restored(&no_dictionary, &settings).unwrap_err(), "a run has no dictionary");
        // Consistent CRC-32s, but a version's offsets outside its entry, or on bytes that
        // cannot be a version and a digest.
        let outside = altered(&bytes, |file| file.charts[3].versions[1].version_at = 1 << 20);
        assert_eq!(restored(&outside, &settings).unwrap_err(), "a version's offsets fall outside its entry");
        let digest_past_end = altered(&bytes, |file| {
            let version = &mut file.charts[3].versions[1];
            version.digest_at = version.text_len - 10;
        });
        assert_eq!(restored(&digest_past_end, &settings).unwrap_err(), "a version's offsets fall outside its entry");
        let not_hex = altered(&bytes, |file| file.charts[3].versions[1].digest_at = 0);
        let not_version = altered(&bytes, |file| file.charts[3].versions[1].version_at = 0);
        // `apiVersion` in `  - apiVersion: v2`: letters a version may hold, but no version.
        let no_semver = altered(&bytes, |file| {
            let version = &mut file.charts[3].versions[1];
            (version.version_at, version.version_len) = (4, 10);
        });
        for wrong in [not_hex, not_version, no_semver] {
            let problem = restored(&wrong, &settings).unwrap_err();
            assert_eq!(problem, "a version's offsets do not point at its version and digest");
        }
        let wrong_crc = altered(&bytes, |file| file.segments[1].text_crc ^= 1);
        assert_eq!(restored(&wrong_crc, &settings).unwrap_err(), "a segment's text does not match its CRC-32");
        assert!(restored(&bytes, &settings).is_ok(), "untouched, it is taken");
    }
}
