//! The index body cut into segments, so a change costs O(what changed), not O(index).
//!
//! `index.yaml` is `PREFIX` + the `entries` of every chart, in name order + `SUFFIX`. The
//! entries are cut into segments of consecutive chart names of about `target` bytes.
//! Each segment keeps its text and that text compressed as raw deflate, with the last
//! 16 KiB of the index before it as preset dictionary, ending in a sync flush (pigz's
//! trick). Gluing a gzip header, every segment's deflate bytes, an empty final block and a
//! trailer (CRC32 combined from the segments' CRCs, and the length) gives one valid gzip
//! member — smaller than one `gzip -6` pass, because no segment starts from an empty window.
//!
//! A change re-renders the segment holding the chart (splitting it once it has grown to
//! 1.5 × `target`, merging it into the next once it has shrunk below a quarter), and
//! recompresses it — and the segment after it only when the change fell in its
//! dictionary, the last 16 KiB. Boundaries stay where they are otherwise, so a change
//! never ripples through the segments after it.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::ops::Bound;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use flate2::{Compress, Compression, FlushCompress};

use super::blocks::Blocks;
use super::crc::CrcPart;
use super::snapshot::Chunks;
use super::state::{Chart, Charts};

/// What the index starts with, with entries and without.
pub const PREFIX: &[u8] = b"apiVersion: v1\nentries:\n";
pub const PREFIX_EMPTY: &[u8] = b"apiVersion: v1\nentries: {}\n";
/// Cut a segment once its text reaches this size.
pub const DEFAULT_TARGET: usize = 48 * 1024;
/// A segment smaller than `target / MERGE_BELOW` after a change is merged with the next.
const MERGE_BELOW: usize = 4;
/// How far a segment's deflate may refer back into the text before it. Deflate's window
/// is 32 KiB, but measured on a 130,000-version index a 16 KiB dictionary costs ~1% in
/// size and halves how often a change must recompress the next segment too.
const DICTIONARY: usize = 16 * 1024;
/// zlib level: on index YAML, 5 compresses ~20% faster than 6 for ~1% more bytes, and is
/// still smaller than one `gzip -6` pass over the whole index.
const LEVEL: u32 = 5;
/// gzip member header: magic, deflate, no flags, no mtime, no extra flags, OS unknown.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// An empty final block with fixed Huffman codes: BFINAL=1, BTYPE=01, end-of-block.
const FINAL_BLOCK: [u8; 2] = [0x03, 0x00];

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
        let deflate = deflate_sync(tail(previous), &text);
        Piece { text_crc: CrcPart::of(&text), deflate_crc: CrcPart::of(&deflate), text, deflate }
    }
}

/// A run of consecutive charts: every name in `[first, next segment's first)`.
#[derive(Debug)]
pub struct Segment {
    pub first: String,
    pub piece: Piece,
}

/// The segments of one repository's entries, and which charts changed since the last
/// refresh.
#[derive(Debug, Clone)]
pub struct Segments {
    list: Blocks,
    dirty: BTreeSet<String>,
    /// Everything changed (a first scan): rebuild without naming every chart.
    all_dirty: bool,
    target: usize,
}

impl Default for Segments {
    fn default() -> Self {
        Segments::with_target(DEFAULT_TARGET)
    }
}

impl Segments {
    pub fn with_target(target: usize) -> Segments {
        Segments { list: Blocks::default(), dirty: BTreeSet::new(), all_dirty: false, target }
    }

    /// Segments read back from the start-up cache, consistent with the charts read with
    /// them.
    pub fn restore(list: Vec<Arc<Segment>>) -> Segments {
        Segments { list: Blocks::new(list), ..Segments::default() }
    }

    pub fn list(&self) -> &Blocks {
        &self.list
    }

    /// Notes that every chart changed: the next refresh rebuilds all segments.
    pub fn mark_all(&mut self) {
        self.list = Blocks::default();
        self.dirty.clear();
        self.all_dirty = true;
    }

    /// Notes that a chart was added, changed or removed.
    pub fn mark(&mut self, name: &str) {
        if !self.dirty.contains(name) {
            self.dirty.insert(name.to_string());
        }
    }

    /// Brings the segments in line with `charts` after the marked changes. The charts of
    /// every rebuilt segment are replaced by copies whose YAML points into the segment's
    /// text, so the old buffers are freed and the index text is held once.
    pub fn refresh(&mut self, charts: &mut Charts) {
        if self.dirty.is_empty() && !self.all_dirty {
            return;
        }
        let dirty = std::mem::take(&mut self.dirty);
        // Many changes (a start-up, a big rescan): rebuilding is simpler and no slower.
        if std::mem::take(&mut self.all_dirty) || self.list.is_empty() || dirty.len() > self.list.len() / 2 {
            self.rebuild(charts);
            return;
        }
        let touched: BTreeSet<usize> = dirty.iter().map(|name| self.locate(name)).collect();
        // Last to first, so the indices of the ranges still to do stay valid.
        for (start, end) in ranges(&touched).into_iter().rev() {
            self.resegment(charts, start, end);
        }
    }

    /// Renders, cuts and compresses every chart on all cores. The charts are split into one
    /// run per thread; each thread cuts its run and re-points its charts into the text (in
    /// place: at start-up nothing else holds them), then every segment is compressed.
    fn rebuild(&mut self, charts: &mut Charts) {
        let mut all: Vec<(String, Arc<Chart>)> = std::mem::take(charts).into_iter().collect();
        let per_thread = all.len().div_ceil(threads_for(all.len() / 256)).max(1);
        let target = self.target;
        let cuts: Vec<Cut> = std::thread::scope(|scope| {
            let workers: Vec<_> = all.chunks_mut(per_thread).map(|run| scope.spawn(move || cut(run, target))).collect();
            workers.into_iter().flat_map(|w| w.join().expect("cutting worker")).collect()
        });
        self.list = Blocks::new(compress_all(&cuts).into_iter().map(Arc::new).collect());
        *charts = all.into_iter().collect();
    }

    /// The segment whose range holds `name`.
    fn locate(&self, name: &str) -> usize {
        self.list.locate(name)
    }

    /// Re-renders segments `start..=end` (splitting what grew too big, merging what shrank
    /// too small into the next), then recompresses the one after them if its dictionary
    /// changed.
    fn resegment(&mut self, charts: &mut Charts, start: usize, mut end: usize) {
        let cuts = loop {
            let lower = match start {
                0 => Bound::Unbounded,
                _ => Bound::Included(self.segment(start).first.clone()),
            };
            let upper = match self.list.get(end + 1) {
                Some(next) => Bound::Excluded(next.first.clone()),
                None => Bound::Unbounded,
            };
            let mut run: Vec<(String, Arc<Chart>)> =
                charts.range((lower, upper)).map(|(name, chart)| (name.clone(), chart.clone())).collect();
            let size: usize = run.iter().map(|(_, chart)| chart.text_len()).sum();
            if size < self.target / MERGE_BELOW && end + 1 < self.list.len() {
                end += 1; // too small to stand alone: take in the next segment
                continue;
            }
            // Split only past 1.5 × target, into parts of about equal size.
            let parts = ((size + self.target / 2) / self.target).max(1);
            let cuts = cut(&mut run, size.div_ceil(parts));
            for (name, chart) in run {
                charts.insert(name, chart);
            }
            break cuts;
        };
        let mut previous = match start {
            0 => Bytes::from_static(PREFIX),
            _ => self.segment(start - 1).piece.text.clone(),
        };
        let mut replacement = Vec::with_capacity(cuts.len());
        for cut in &cuts {
            let piece = Piece::new(cut.text.clone(), &previous);
            previous = piece.text.clone();
            replacement.push(Arc::new(Segment { first: cut.first.clone(), piece }));
        }
        let after = start + replacement.len();
        // The next segment's dictionary is the end of the text before it: unchanged when
        // the change happened earlier in the range, and then it need not be compressed again.
        let old_text = self.segment(end).piece.text.clone();
        let dictionary_unchanged = tail(&old_text) == tail(&previous);
        self.list.splice(start..=end, replacement);
        if let Some(next) = self.list.get(after).filter(|_| !dictionary_unchanged) {
            let text = next.piece.text.clone();
            let first = next.first.clone();
            self.list.set(after, Arc::new(Segment { first, piece: Piece::new(text, &previous) }));
        }
    }

    fn segment(&self, index: usize) -> &Arc<Segment> {
        self.list.get(index).expect("segment index in range")
    }
}

/// The part of `text` a following piece uses as its dictionary.
fn tail(text: &[u8]) -> &[u8] {
    &text[text.len().saturating_sub(DICTIONARY)..]
}

/// Compresses freshly cut texts into segments, on all cores.
fn compress_all(cuts: &[Cut]) -> Vec<Segment> {
    // Threads pay off only for a big rebuild (a start-up); a small repository is one segment.
    let per_thread = cuts.len().div_ceil(threads_for(cuts.len() / 16)).max(1);
    let previous = |i: usize| if i == 0 { Bytes::from_static(PREFIX) } else { cuts[i - 1].text.clone() };
    let compress = |first: usize, part: &[Cut]| -> Vec<Segment> {
        part.iter()
            .enumerate()
            .map(|(i, cut)| Segment {
                first: cut.first.clone(),
                piece: Piece::new(cut.text.clone(), &previous(first + i)),
            })
            .collect()
    };
    if per_thread >= cuts.len() {
        return compress(0, cuts);
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = cuts
            .chunks(per_thread)
            .enumerate()
            .map(|(chunk, part)| {
                let compress = &compress;
                scope.spawn(move || compress(chunk * per_thread, part))
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("compression worker")).collect()
    })
}

/// Threads worth starting for `units` of work: one per core, but none for a little work.
fn threads_for(units: usize) -> usize {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    units.clamp(1, cores)
}

/// One segment's text, freshly rendered.
struct Cut {
    first: String,
    text: Bytes,
}

/// Renders `run` (consecutive charts) into texts, cutting after a chart once a text reaches
/// `target`, and re-points each chart's key and versions at the text written for it (in
/// place when nothing else holds the chart, else on a copy).
fn cut(run: &mut [(String, Arc<Chart>)], target: usize) -> Vec<Cut> {
    let mut cuts = Vec::new();
    let mut start = 0;
    while start < run.len() {
        let (mut end, mut size) = (start, 0);
        while end < run.len() && (end == start || size < target) {
            size += run[end].1.text_len();
            end += 1;
        }
        let mut text: Vec<u8> = Vec::with_capacity(size_class(size));
        for (_, chart) in &run[start..end] {
            text.extend_from_slice(&chart.key);
            chart.versions.iter().for_each(|version| text.extend_from_slice(&version.yaml));
        }
        let text = Bytes::from(text);
        let mut at = 0;
        for (_, chart) in &mut run[start..end] {
            at = point_into(Arc::make_mut(chart), &text, at);
        }
        cuts.push(Cut { first: run[start].0.clone(), text });
        start = end;
    }
    cuts
}

/// The capacity to give a buffer of `size` bytes that lives as long as a segment: `size`
/// rounded up to 8 KiB. Every upload frees a segment's buffers and allocates new ones of a
/// slightly different size; in a few size classes, the holes the old ones leave are
/// reused by the next, where exact sizes left a new hole per upload (measured: +54 MB
/// after 1,000 uploads into 130,000 versions).
fn size_class(size: usize) -> usize {
    size.next_multiple_of(8 * 1024)
}

/// Makes `chart`'s key and versions slices of `text`, where it was written at offset `at`;
/// returns the offset after it.
fn point_into(chart: &mut Chart, text: &Bytes, mut at: usize) -> usize {
    chart.key = text.slice(at..at + chart.key.len());
    at += chart.key.len();
    for version in &mut chart.versions {
        let yaml = text.slice(at..at + version.yaml.len());
        at += yaml.len();
        Arc::make_mut(version).yaml = yaml;
    }
    at
}

/// Runs of consecutive indices, as inclusive `(start, end)`.
fn ranges(indices: &BTreeSet<usize>) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for &i in indices {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == i => *end = i,
            _ => out.push((i, i)),
        }
    }
    out
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
        // Compressed segments live as long as their text: give them size classes too.
        let mut kept = Vec::with_capacity(size_class(out.len()));
        kept.extend_from_slice(&out);
        Bytes::from(kept)
    })
}

/// An encoding of the whole index: what is sent, its length and its CRC-32.
#[derive(Debug)]
pub struct Assembled {
    pub chunks: Chunks,
    pub len: u64,
    pub crc: u32,
}

/// Both encodings of the index: `(identity, gzip)`. Costs one step per block, not per
/// segment: each block carries its segments' joined CRCs.
pub fn assemble(segments: &Blocks, suffix: Bytes) -> (Assembled, Assembled) {
    let prefix = Prefix::get(segments.is_empty());
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
    let text = Chunks::blocks(prefix.piece.text.clone(), blocks.clone(), suffix.text, false, text_crc.len);
    let gzip = Chunks::blocks(prefix.gzip_head.clone(), blocks, tail, true, gzip_crc.len);
    (
        Assembled { chunks: text, len: text_crc.len, crc: text_crc.crc },
        Assembled { chunks: gzip, len: gzip_crc.len, crc: gzip_crc.crc },
    )
}

/// The index's first line(s), compressed once per process, and the gzip member's start.
struct Prefix {
    piece: Piece,
    /// The gzip header followed by the prefix's deflate stream, and its CRC.
    gzip_head: Bytes,
    gzip_head_crc: CrcPart,
}

impl Prefix {
    fn get(empty: bool) -> &'static Prefix {
        static FULL: OnceLock<Prefix> = OnceLock::new();
        static EMPTY: OnceLock<Prefix> = OnceLock::new();
        let (cell, text) = if empty { (&EMPTY, PREFIX_EMPTY) } else { (&FULL, PREFIX) };
        cell.get_or_init(|| {
            let piece = Piece::new(Bytes::from_static(text), b"");
            let gzip_head = Bytes::from([&GZIP_HEADER[..], &piece.deflate].concat());
            Prefix { gzip_head_crc: CrcPart::of(&gzip_head), gzip_head, piece }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::chart::ChartVersionEntry;
    use crate::index::snapshot::{IndexSettings, RepoSnapshot};
    use crate::index::state::RepoState;
    use crate::index::version::{FileStamp, IndexedVersion};

    fn digest(seed: usize) -> [u8; 32] {
        let mut digest = [0; 32];
        digest[..8].copy_from_slice(&(seed as u64).to_le_bytes());
        digest
    }

    fn version(name: &str, version: &str, seed: usize) -> IndexedVersion {
        let entry = ChartVersionEntry {
            name: name.into(),
            version: version.into(),
            api_version: "v2".into(),
            description: Some(format!("Chart {name} for service number {seed} with a description of realistic length")),
            keywords: vec!["web".into(), format!("team-{}", seed % 17)],
            ..Default::default()
        };
        let stamp = FileStamp { size: seed as u64, modified: UNIX_EPOCH };
        let created = UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seed as u64);
        let semver = crate::chart::version::parse(version, false).unwrap();
        IndexedVersion::new(entry, semver, format!("{name}-{version}.tgz"), stamp, digest(seed), created, "charts/")
    }

    /// A state whose segments are small, so a few hundred versions make many segments.
    fn state(names: usize, versions: usize) -> RepoState {
        let mut state = RepoState::default();
        state.segments = Segments::with_target(2048);
        for n in 0..names {
            for v in 0..versions {
                state.insert(version(&format!("chart-{:04}", n * 10), &format!("1.{v}.0"), n * 100 + v));
            }
        }
        state
    }

    /// The index as a from-scratch render would write it.
    fn expected(state: &RepoState, snapshot: &RepoSnapshot) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(if state.charts.is_empty() { PREFIX_EMPTY } else { PREFIX });
        for chart in state.charts.values() {
            out.extend_from_slice(&chart.key);
            chart.versions.iter().for_each(|v| out.extend_from_slice(&v.yaml));
        }
        let text = snapshot.index.to_vec();
        let suffix_at = text.windows(11).rposition(|w| w == b"generated: ").unwrap();
        out.extend_from_slice(&text[suffix_at..]);
        out
    }

    fn check(state: &mut RepoState) -> RepoSnapshot {
        let snapshot = Arc::try_unwrap(RepoSnapshot::build(state, &IndexSettings::default(), UNIX_EPOCH)).unwrap();
        let identity = snapshot.index.to_vec();
        assert_eq!(identity, expected(state, &snapshot), "segments out of step with the charts");
        assert_eq!(identity.len() as u64, snapshot.index.len);
        let gzip = snapshot.index_gzip.to_vec();
        assert_eq!(gzip.len() as u64, snapshot.index_gzip.len);
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(&gzip[..]).read_to_end(&mut inflated).expect("stitched gzip decodes");
        assert_eq!(inflated, identity, "stitched gzip inflates to the identity bytes");
        assert_eq!(format!("\"{:08x}-{:x}\"", crc32fast::hash(&identity), identity.len()), snapshot.index.etag);
        assert_eq!(format!("\"{:08x}-{:x}.gz\"", crc32fast::hash(&gzip), gzip.len()), snapshot.index_gzip.etag);
        serde_yaml::from_slice::<serde_yaml::Value>(&identity).expect("the index is YAML");
        // The text is held once: every version's YAML is a slice of a segment's text.
        let inside = |bytes: &Bytes| {
            let at = bytes.as_ptr() as usize;
            state.segments.list().iter().any(|s| {
                let text = s.piece.text.as_ptr() as usize;
                at >= text && at + bytes.len() <= text + s.piece.text.len()
            })
        };
        for chart in state.charts.values() {
            assert!(inside(&chart.key), "a chart key outside the segments");
            assert!(chart.versions.iter().all(|v| inside(&v.yaml)), "a version's YAML outside the segments");
        }
        snapshot
    }

    fn gzip_t(gzip: &[u8]) {
        let mut child = std::process::Command::new("gzip")
            .arg("-t")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("gzip(1) is installed");
        child.stdin.take().unwrap().write_all(gzip).unwrap();
        assert!(child.wait().unwrap().success(), "gzip -t refuses the stitched stream");
    }

    #[test]
    fn every_kind_of_change_keeps_both_encodings_exact() {
        let mut state = state(60, 4);
        let before = check(&mut state);
        assert!(state.segments.list().len() > 10, "the test needs many segments");
        gzip_t(&before.index_gzip.to_vec());

        let changes: Vec<(&str, Box<dyn Fn(&mut RepoState)>)> = vec![
            ("add a version", Box::new(|s| drop(s.insert(version("chart-0200", "9.0.0", 1))))),
            ("add a name at the start", Box::new(|s| drop(s.insert(version("a-first", "1.0.0", 2))))),
            ("add a name in the middle", Box::new(|s| drop(s.insert(version("chart-0305", "1.0.0", 3))))),
            ("add a name at the end", Box::new(|s| drop(s.insert(version("zz-last", "1.0.0", 4))))),
            ("replace a version", Box::new(|s| drop(s.insert(version("chart-0100", "1.1.0", 5))))),
            ("delete a version", Box::new(|s| drop(s.remove("chart-0400", "1.2.0")))),
            (
                "delete the last version of a name",
                Box::new(|s| (0..4).for_each(|v| drop(s.remove("chart-0010", &format!("1.{v}.0"))))),
            ),
            ("delete the first chart", Box::new(|s| drop(s.remove("a-first", "1.0.0")))),
            (
                "grow one chart a lot",
                Box::new(|s| (0..40).for_each(|v| drop(s.insert(version("chart-0250", &format!("2.{v}.0"), v))))),
            ),
            ("shrink it again", Box::new(|s| (0..40).for_each(|v| drop(s.remove("chart-0250", &format!("2.{v}.0")))))),
        ];
        for (what, change) in changes {
            change(&mut state);
            let snapshot = check(&mut state);
            gzip_t(&snapshot.index_gzip.to_vec());
            eprintln!("{what}: {} segments", state.segments.list().len());
        }
        // Everything deleted: the empty index.
        let all: Vec<(String, String)> = state
            .charts
            .iter()
            .flat_map(|(n, c)| c.versions.iter().map(move |v| (n.clone(), v.version.clone())))
            .collect();
        for (name, v) in all {
            state.remove(&name, &v);
        }
        let snapshot = check(&mut state);
        assert!(snapshot.index.to_vec().starts_with(PREFIX_EMPTY));
    }

    #[test]
    fn changes_anywhere_in_full_size_segments_keep_the_gzip_exact() {
        // Real segment size: a change early in a segment leaves the next one's dictionary
        // as it was, and that segment is not recompressed.
        let mut state = RepoState::default();
        for n in 0..400 {
            for v in 0..4 {
                state.insert(version(&format!("svc-{n:04}"), &format!("0.{v}.0"), n * 4 + v));
            }
        }
        check(&mut state);
        for (i, n) in [0, 1, 17, 120, 121, 250, 398, 399].into_iter().enumerate() {
            state.insert(version(&format!("svc-{n:04}"), "7.0.0", 9000 + i));
            check(&mut state);
            state.remove(&format!("svc-{:04}", (n + 5) % 400), "0.1.0");
            check(&mut state);
        }
    }

    #[test]
    fn etag_changes_iff_bytes_change() {
        let mut state = state(20, 2);
        let a = check(&mut state);
        let b = check(&mut state);
        assert_eq!(a.index.etag, b.index.etag, "same bytes, same tag");
        assert_eq!(a.index_gzip.etag, b.index_gzip.etag);
        state.insert(version("chart-0050", "3.0.0", 9));
        let c = check(&mut state);
        assert_ne!(a.index.etag, c.index.etag);
        assert_ne!(a.index_gzip.etag, c.index_gzip.etag);
        assert_ne!(a.index.etag, a.index_gzip.etag, "each encoding has its own tag");
    }

    #[test]
    fn stitched_gzip_is_as_small_as_one_pass() {
        let mut state = RepoState::default(); // the real segment size
        for n in 0..1500 {
            for v in 0..4 {
                state.insert(version(&format!("service-{n:05}"), &format!("0.{v}.1"), n * 7 + v));
            }
        }
        let snapshot = check(&mut state);
        let identity = snapshot.index.to_vec();
        let mut one_pass = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        one_pass.write_all(&identity).unwrap();
        let one_pass = one_pass.finish().unwrap().len() as f64;
        let ratio = snapshot.index_gzip.len as f64 / one_pass;
        assert!(state.segments.list().len() > 5);
        assert!(ratio <= 1.02, "stitched gzip is {ratio:.4}x one gzip -6 pass");
    }
}
