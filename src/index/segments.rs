//! Where the index text is cut into segments, and keeping the cuts in step with the charts.
//!
//! `index.yaml` is a prefix, the `entries` of every chart in name order, and a suffix. The
//! entries are cut into segments of consecutive chart names of about `target` bytes, each
//! kept as a [`Piece`]: text plus its link of the gzip chain.
//!
//! In JSON every chart but the index's first starts with a comma. Only segment 0 can hold
//! that chart, and a change that adds or removes the first chart is located in segment 0,
//! which is then re-rendered anyway: knowing which chart is first costs nothing more.
//!
//! A change re-renders the segment holding the chart (splitting it once it has grown to
//! 1.5 × `target`, merging it into the next once it has shrunk below a quarter), and
//! recompresses it — and the segment after it only when the change fell in its
//! dictionary. Boundaries stay where they are otherwise, so a change never ripples
//! through the segments after it.

use std::collections::BTreeSet;
use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use super::blocks::{Blocks, Segment};
use super::charts::{Chart, Charts};
use super::parallel::{self, threads_for};
use super::piece::{dictionary, size_class, Piece};
use super::render::Format;

/// Cut a segment once its text reaches this size. An upload recompresses its segment,
/// and the next one when the change falls in its 16 KiB dictionary: measured in-process
/// at a million versions, 48 KiB cost 377 µs of that per upload, 24 KiB 191 µs, 16 KiB
/// 239 µs (the next segment nearly always recompressed too, and more blocks to join).
pub const DEFAULT_TARGET: usize = 24 * 1024;
/// A segment smaller than `target / MERGE_BELOW` after a change is merged with the next.
const MERGE_BELOW: usize = 4;

/// The segments of one repository's entries, and which charts changed since the last
/// refresh.
#[derive(Debug, Clone)]
pub struct Segments {
    blocks: Blocks,
    dirty: BTreeSet<String>,
    /// Everything changed (a first scan): rebuild without naming every chart.
    all_dirty: bool,
    target: usize,
    format: Format,
}

impl Default for Segments {
    fn default() -> Self {
        Segments::new(Format::Yaml)
    }
}

impl Segments {
    /// No segments yet, for an index written in `format`.
    pub fn new(format: Format) -> Segments {
        Segments::with_target(DEFAULT_TARGET, format)
    }

    /// No segments yet, to be cut at about `target` bytes.
    pub fn with_target(target: usize, format: Format) -> Segments {
        Segments { blocks: Blocks::default(), dirty: BTreeSet::new(), all_dirty: false, target, format }
    }

    /// Segments read back from the start-up cache, consistent with the charts read with
    /// them.
    pub fn restore(list: Vec<Arc<Segment>>, format: Format) -> Segments {
        Segments { blocks: Blocks::new(list), ..Segments::new(format) }
    }

    /// The language of the index text.
    pub fn format(&self) -> Format {
        self.format
    }

    pub fn blocks(&self) -> &Blocks {
        &self.blocks
    }

    /// Notes that every chart changed: the next refresh rebuilds all segments.
    pub fn mark_all(&mut self) {
        self.blocks = Blocks::default();
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
    /// every rebuilt segment are replaced by copies whose text points into the segment's
    /// text, so the old buffers are freed and the index text is held once.
    pub fn refresh(&mut self, charts: &mut Charts) {
        if self.dirty.is_empty() && !self.all_dirty {
            return;
        }
        let dirty = std::mem::take(&mut self.dirty);
        // Many changes (a start-up, a big rescan): rebuilding is simpler and no slower.
        if std::mem::take(&mut self.all_dirty) || self.blocks.is_empty() || dirty.len() > self.blocks.len() / 2 {
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
        let (target, format) = (self.target, self.format);
        let runs: Vec<_> = all.chunks_mut(per_thread).enumerate().collect();
        let cuts: Vec<Cut> =
            parallel::map(runs, 1, |(i, run)| cut(run, target, format, i == 0)).into_iter().flatten().collect();
        self.blocks = Blocks::new(compress_all(&cuts, format).into_iter().map(Arc::new).collect());
        *charts = all.into_iter().collect();
    }

    /// The segment whose range holds `name`.
    fn locate(&self, name: &str) -> usize {
        self.blocks.locate(name)
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
            let upper = match self.blocks.get(end + 1) {
                Some(next) => Bound::Excluded(next.first.clone()),
                None => Bound::Unbounded,
            };
            let mut run: Vec<(String, Arc<Chart>)> =
                charts.range((lower, upper)).map(|(name, chart)| (name.clone(), chart.clone())).collect();
            let size: usize =
                run.iter().enumerate().map(|(i, (_, chart))| chart.text_len(self.format, start == 0 && i == 0)).sum();
            if size < self.target / MERGE_BELOW && end + 1 < self.blocks.len() {
                end += 1; // too small to stand alone: take in the next segment
                continue;
            }
            // Split only past 1.5 × target, into parts of about equal size.
            let parts = ((size + self.target / 2) / self.target).max(1);
            let cuts = cut(&mut run, size.div_ceil(parts), self.format, start == 0);
            for (name, chart) in run {
                charts.insert(name, chart);
            }
            break cuts;
        };
        let mut previous = match start {
            0 => Bytes::from_static(self.format.prefix(false)),
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
        let dictionary_unchanged = dictionary(&old_text) == dictionary(&previous);
        self.blocks.splice(start..=end, replacement);
        if let Some(next) = self.blocks.get(after).filter(|_| !dictionary_unchanged) {
            let text = next.piece.text.clone();
            let first = next.first.clone();
            self.blocks.set(after, Arc::new(Segment { first, piece: Piece::new(text, &previous) }));
        }
    }

    fn segment(&self, index: usize) -> &Arc<Segment> {
        self.blocks.get(index).expect("segment index in range")
    }
}

/// Compresses freshly cut texts into segments, on all cores. (Threads pay off only for a
/// big rebuild, a start-up; a small repository is one segment.)
fn compress_all(cuts: &[Cut], format: Format) -> Vec<Segment> {
    let previous = |i: usize| if i == 0 { Bytes::from_static(format.prefix(false)) } else { cuts[i - 1].text.clone() };
    parallel::map((0..cuts.len()).collect(), 16, |i| Segment {
        first: cuts[i].first.clone(),
        piece: Piece::new(cuts[i].text.clone(), &previous(i)),
    })
}

/// One segment's text, freshly rendered.
struct Cut {
    first: String,
    text: Bytes,
}

/// Renders `run` (consecutive charts) into texts, cutting after a chart once a text reaches
/// `target`, and re-points each chart's key and versions at the text written for it (in
/// place when nothing else holds the chart, else on a copy). `starts_index`: the run's
/// first chart is the index's first.
fn cut(run: &mut [(String, Arc<Chart>)], target: usize, format: Format, starts_index: bool) -> Vec<Cut> {
    let mut cuts = Vec::new();
    let mut start = 0;
    let first = |i: usize| starts_index && i == 0;
    while start < run.len() {
        let (mut end, mut size) = (start, 0);
        while end < run.len() && (end == start || size < target) {
            size += run[end].1.text_len(format, first(end));
            end += 1;
        }
        let mut text: Vec<u8> = Vec::with_capacity(size_class(size));
        for (i, (_, chart)) in run[start..end].iter().enumerate() {
            chart.write_text(&mut text, format, first(start + i));
        }
        let text = Bytes::from(text);
        let mut at = 0;
        for (i, (_, chart)) in run[start..end].iter_mut().enumerate() {
            at = Arc::make_mut(chart).point_into(&text, at, format, first(start + i));
        }
        cuts.push(Cut { first: run[start].0.clone(), text });
        start = end;
    }
    cuts
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
