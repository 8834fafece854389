//! A chart as the index holds it: its part of the index text, and a row per version,
//! newest first.
//!
//! A chart's part of the index is its key line followed by each version's entry, with the
//! separators its [`Format`] puts between them. The chart keeps that text as one `Bytes`
//! and each version as a fixed-size [`Row`]: where its entry sits in the text, where the
//! entry spells its version and its digest, and the stamp of its file. Nothing else is
//! kept per version: at a million versions a row costs 32 bytes where an `Arc` of a
//! struct of strings per version cost ~280, which decided whether the index fits 800 MB.
//!
//! The segment that holds the chart writes the text once ([`Chart::write_text`]) and the
//! chart's text then becomes a slice of the segment's ([`Chart::point_into`]), so the index
//! text is held in memory once; the rows, relative to the chart's text, stay as they are.
//! Where a chart sits matters to JSON alone: every chart but the index's first is preceded
//! by a comma, which is not part of the chart's text, so `first` says whether it is that one.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use super::entry::{self, FileStamp, Part};
use super::render::Format;
use crate::chart::metadata::file_name;
use crate::chart::oci::Artifact;
use crate::chart::{version, ChartVersionEntry};

/// All versions of one chart, newest first.
#[derive(Debug, Clone)]
pub struct Chart {
    name: Box<str>,
    /// The key line (`  <name>:`, in JSON `"<name>":[`), the entries with their
    /// separators, and what closes the chart (in JSON `]`).
    text: Bytes,
    key_len: u32,
    /// The language of the text, which says what separates and closes the entries.
    json: bool,
    rows: Box<[Row]>,
    /// What few charts need: `None`, one pointer, for nearly every chart.
    extras: Option<Box<Extras>>,
    /// What the OCI API made of it, on its first OCI request (one pointer until then).
    oci: OnceLock<Box<OciCache>>,
}

/// What a chart keeps for some versions only.
#[derive(Debug, Clone, Default)]
struct Extras {
    /// The versions whose file is not `<name>-<version>.tgz` (a file put there by hand):
    /// (row, file).
    odd_files: Box<[(u32, Box<str>)]>,
    /// Each version's storage tag ([`FileStamp::tag`]), when any is not 0: a bucket's
    /// versions have one, a folder's none.
    tags: Box<[u64]>,
}

/// A chart as OCI sees it, made on demand: a change to the versions makes a new chart,
/// which carries over the artifacts of the versions it keeps.
#[derive(Debug, Clone, Default)]
pub struct OciCache {
    /// The `tags/list` answer (every tag, in lexical order).
    pub tags: OnceLock<Bytes>,
    /// Each version as an OCI artifact.
    artifacts: Box<[OnceLock<Arc<Artifact>>]>,
}

/// One version: offsets into the chart's text, and the stamp of its file.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// Where the entry starts; it ends where the next one's separator starts, or where
    /// what closes the chart does.
    at: u32,
    /// The version and the digest's hex, inside the entry.
    version_at: u32,
    version_len: u32,
    digest_at: u32,
    size: u64,
    /// Nanoseconds since the Unix epoch (negative before it).
    modified: i64,
}

/// Length of a SHA-256 digest in hex.
const DIGEST_HEX: usize = 64;

/// Persistent map of chart name → chart (`imbl`): cloning it into a snapshot is O(1), and
/// a change copies only the path to what it touches.
pub type Charts = imbl::OrdMap<String, Arc<Chart>>;

impl Chart {
    /// The chart of `versions`, newest first, written in `format`.
    pub fn new<'a>(name: &str, versions: impl IntoIterator<Item = Part<'a>>, format: Format) -> Chart {
        let versions: Vec<Part> = versions.into_iter().collect();
        let key = format.chart_key(name);
        let between = format.between_versions();
        let size = key.len()
            + versions.iter().map(|v| v.text.len() + between.len()).sum::<usize>()
            + format.after_chart().len();
        let mut text = Vec::with_capacity(size);
        text.extend_from_slice(key.as_bytes());
        let (mut rows, mut odd_files, mut oci) = (Vec::with_capacity(versions.len()), Vec::new(), Vec::new());
        let tags: Vec<u64> = versions.iter().map(|v| v.stamp.tag).collect();
        for (i, version) in versions.into_iter().enumerate() {
            if i > 0 {
                text.extend_from_slice(between);
            }
            rows.push(Row::new(text.len(), &version));
            text.extend_from_slice(version.text);
            if let Some(file) = version.odd_file {
                odd_files.push((i as u32, Box::from(file)));
            }
            if let Some(artifact) = version.oci {
                oci.resize_with(i + 1, OnceLock::new);
                oci[i] = OnceLock::from(artifact);
            }
        }
        text.extend_from_slice(format.after_chart());
        let chart = Chart::restore(name, Bytes::from(text), key.len(), format, rows, odd_files, tags);
        if !oci.is_empty() {
            oci.resize_with(chart.rows.len(), OnceLock::new);
            let cache = OciCache { tags: OnceLock::new(), artifacts: oci.into_boxed_slice() };
            let _ = chart.oci.set(Box::new(cache));
        }
        chart
    }

    /// A chart whose text, rows, odd files and tags (one per row, or none) are already
    /// made (read back from the start-up cache, which checked them).
    pub fn restore(
        name: &str,
        text: Bytes,
        key_len: usize,
        format: Format,
        rows: Vec<Row>,
        odd_files: Vec<(u32, Box<str>)>,
        mut tags: Vec<u64>,
    ) -> Chart {
        assert!(tags.is_empty() || tags.len() == rows.len(), "a tag per version, or none");
        if tags.iter().all(|&tag| tag == 0) {
            tags.clear();
        }
        let extras = (!odd_files.is_empty() || !tags.is_empty())
            .then(|| Box::new(Extras { odd_files: odd_files.into_boxed_slice(), tags: tags.into_boxed_slice() }));
        Chart {
            name: Box::from(name),
            text,
            key_len: key_len as u32,
            json: format == Format::Json,
            rows: rows.into_boxed_slice(),
            extras,
            oci: OnceLock::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many versions it has.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Bytes of its key line.
    pub fn key_len(&self) -> usize {
        self.key_len as usize
    }

    fn format(&self) -> Format {
        if self.json {
            Format::Json
        } else {
            Format::Yaml
        }
    }

    /// Where the entry of the version at `at` ends in the text.
    fn entry_end(&self, at: usize) -> usize {
        let format = self.format();
        match self.rows.get(at + 1) {
            Some(next) => next.at as usize - format.between_versions().len(),
            None => self.text.len() - format.after_chart().len(),
        }
    }

    /// What the OCI API made of it so far.
    pub fn oci(&self) -> &OciCache {
        self.oci.get_or_init(|| {
            let artifacts = (0..self.rows.len()).map(|_| OnceLock::new()).collect();
            Box::new(OciCache { tags: OnceLock::new(), artifacts })
        })
    }

    /// The version at `at` (0 is the newest).
    pub fn version(&self, at: usize) -> VersionRef<'_> {
        assert!(at < self.rows.len(), "version {at} of {} in {}", self.rows.len(), self.name);
        VersionRef { chart: self, at }
    }

    /// Its versions, newest first.
    pub fn versions(&self) -> impl DoubleEndedIterator<Item = VersionRef<'_>> + ExactSizeIterator {
        (0..self.rows.len()).map(move |at| VersionRef { chart: self, at })
    }

    pub fn newest(&self) -> Option<VersionRef<'_>> {
        self.versions().next()
    }

    /// Where the version whose text is exactly `version` is. (Every chart download looks
    /// its version up here: bytes compared, nothing decoded.)
    pub fn position(&self, version: &str) -> Option<usize> {
        (0..self.rows.len()).position(|at| self.spelled(at) == version.as_bytes())
    }

    /// The version at `at` as its entry spells it.
    fn spelled(&self, at: usize) -> &[u8] {
        let row = &self.rows[at];
        let start = (row.at + row.version_at) as usize;
        &self.text[start..start + row.version_len as usize]
    }

    /// The version whose text is exactly `version`.
    pub fn get(&self, version: &str) -> Option<VersionRef<'_>> {
        self.position(version).map(|at| self.version(at))
    }

    /// Gives the version at `at` another stamp.
    pub fn restamp(&mut self, at: usize, stamp: FileStamp) {
        self.rows[at].set_stamp(stamp);
        let has_tags = self.extras.as_ref().is_some_and(|extras| !extras.tags.is_empty());
        if stamp.tag != 0 || has_tags {
            let extras = self.extras.get_or_insert_with(Box::default);
            if extras.tags.is_empty() {
                extras.tags = vec![0; self.rows.len()].into_boxed_slice();
            }
            extras.tags[at] = stamp.tag;
        }
    }

    /// Bytes of this chart's part of the index.
    pub fn text_len(&self, format: Format, first: bool) -> usize {
        format.before_chart(first).len() + self.text.len()
    }

    /// Appends this chart's part of the index to `out`.
    pub fn write_text(&self, out: &mut Vec<u8>, format: Format, first: bool) {
        out.extend_from_slice(format.before_chart(first));
        out.extend_from_slice(&self.text);
    }

    /// Makes its text a slice of `text`, into which [`Chart::write_text`] wrote this chart
    /// at offset `at`; returns the offset after it.
    pub fn point_into(&mut self, text: &Bytes, at: usize, format: Format, first: bool) -> usize {
        let start = at + format.before_chart(first).len();
        let end = start + self.text.len();
        debug_assert_eq!(text[start..end], self.text[..], "the chart was written where it points");
        self.text = text.slice(start..end);
        end
    }

    /// Its text: key, entries, and what closes the chart.
    pub fn text(&self) -> &Bytes {
        &self.text
    }

    /// `[ {version}, … ]` for `GET /api/<repo>/charts/<name>`.
    pub fn json(&self) -> Vec<u8> {
        let mut out = vec![b'['];
        for (i, version) in self.versions().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&version.json());
        }
        out.push(b']');
        out
    }
}

impl Row {
    /// The row of `version`, whose entry starts at `at` in the chart's text.
    fn new(at: usize, version: &Part) -> Row {
        let at = u32::try_from(at).expect("a chart's text is under 4 GiB");
        Row::at(at, (version.version_at, version.version_len), version.digest_at, version.stamp)
    }

    /// A row read back from the start-up cache, starting at `at` in its chart's text, if
    /// its offsets point inside `entry` at a version (one that parses: ordering a chart's
    /// versions relies on it) and a digest's hex.
    pub fn checked(
        at: usize,
        entry: &[u8],
        version: (u32, u32),
        digest_at: u32,
        stamp: FileStamp,
    ) -> Result<Row, &'static str> {
        let slice = |start: u32, len: usize| entry.get(start as usize..(start as usize).checked_add(len)?);
        let (Some(spelled), Some(digest), Ok(at)) =
            (slice(version.0, version.1 as usize), slice(digest_at, DIGEST_HEX), u32::try_from(at))
        else {
            return Err("a version's offsets fall outside its entry");
        };
        let version_char = |b: &u8| b.is_ascii_alphanumeric() || b"+-.".contains(b);
        let parses = || std::str::from_utf8(spelled).ok().and_then(|v| version::parse(v, false)).is_some();
        if !spelled.iter().all(version_char) || !parses() || !digest.iter().all(u8::is_ascii_hexdigit) {
            return Err("a version's offsets do not point at its version and digest");
        }
        Ok(Row::at(at, version, digest_at, stamp))
    }

    fn at(at: u32, (version_at, version_len): (u32, u32), digest_at: u32, stamp: FileStamp) -> Row {
        let mut row = Row { at, version_at, version_len, digest_at, size: 0, modified: 0 };
        row.set_stamp(stamp);
        row
    }

    /// Keeps the stamp's size and time (its tag the chart keeps, see [`Extras`]).
    fn set_stamp(&mut self, stamp: FileStamp) {
        self.size = stamp.size;
        self.modified = entry::nanos_since_epoch(stamp.modified);
    }
}

/// One version of a chart, borrowed from it.
#[derive(Debug, Clone, Copy)]
pub struct VersionRef<'a> {
    chart: &'a Chart,
    at: usize,
}

impl<'a> VersionRef<'a> {
    fn row(&self) -> &'a Row {
        &self.chart.rows[self.at]
    }

    /// Where it is in its chart (0 is the newest).
    pub fn index(&self) -> usize {
        self.at
    }

    pub fn name(&self) -> &'a str {
        &self.chart.name
    }

    /// The version as the chart wrote it.
    pub fn version(&self) -> &'a str {
        std::str::from_utf8(self.chart.spelled(self.at)).unwrap_or_default()
    }

    /// Its SemVer, parsed on demand: only ordering a chart's versions and the API's
    /// constraints need it.
    pub fn semver(&self) -> semver::Version {
        version::parse(self.version(), false).expect("an indexed version parses")
    }

    /// Its entry as an item of the index's `entries.<name>` list.
    pub fn text(&self) -> &'a [u8] {
        &self.chart.text[self.row().at as usize..self.chart.entry_end(self.at)]
    }

    pub fn stamp(&self) -> FileStamp {
        let row = self.row();
        let tag = self.chart.extras.as_ref().and_then(|extras| extras.tags.get(self.at)).copied().unwrap_or(0);
        FileStamp { size: row.size, modified: entry::time_from_nanos(row.modified), tag }
    }

    /// SHA-256 of the package, in hex, as its entry spells it.
    pub fn digest_hex(&self) -> &'a str {
        let start = (self.row().at + self.row().digest_at) as usize;
        std::str::from_utf8(&self.chart.text[start..start + DIGEST_HEX]).unwrap_or_default()
    }

    /// Its file, when that is not named `<name>-<version>.tgz`.
    pub fn odd_file(&self) -> Option<&'a str> {
        let odd_files = self.chart.extras.as_ref().map_or(&[][..], |extras| &extras.odd_files[..]);
        odd_files.iter().find(|(at, _)| *at as usize == self.at).map(|(_, file)| &**file)
    }

    /// The storage file it was read from.
    pub fn file_name(&self) -> Cow<'a, str> {
        match self.odd_file() {
            Some(file) => Cow::Borrowed(file),
            None => Cow::Owned(file_name(self.name(), self.version())),
        }
    }

    /// Whether it was read from `file`, without making its file name.
    pub fn is_stored_as(&self, file: &str) -> bool {
        match self.odd_file() {
            Some(odd) => odd == file,
            None => entry::is_usual_file(file, self.name(), self.version()),
        }
    }

    /// The entry, read back from its rendered text.
    pub fn entry(&self) -> ChartVersionEntry {
        entry::entry_of(self.text())
    }

    /// The entry as a JSON object, for the API.
    pub fn json(&self) -> Vec<u8> {
        entry::json_of(self.text())
    }

    /// Where its OCI artifact is kept once made.
    pub fn oci(&self) -> &'a OnceLock<Arc<Artifact>> {
        &self.chart.oci().artifacts[self.at]
    }

    /// What building a chart with this version again needs.
    pub fn part(&self) -> Part<'a> {
        let row = self.row();
        Part {
            text: self.text(),
            version_at: row.version_at,
            version_len: row.version_len,
            digest_at: row.digest_at,
            stamp: self.stamp(),
            odd_file: self.odd_file(),
            oci: self.chart.oci.get().and_then(|cache| cache.artifacts[self.at].get().cloned()),
        }
    }
}

/// A version kept beyond the snapshot it came from: its chart is immutable, so holding the
/// chart holds the version.
#[derive(Debug, Clone)]
pub struct HeldVersion {
    chart: Arc<Chart>,
    at: usize,
}

impl HeldVersion {
    pub fn new(chart: Arc<Chart>, at: usize) -> HeldVersion {
        assert!(at < chart.len(), "a held version is in its chart");
        HeldVersion { chart, at }
    }

    pub fn get(&self) -> VersionRef<'_> {
        self.chart.version(self.at)
    }
}

/// The version stored as `file` when it is named as uploads name it (`<name>-<version>.tgz`):
/// each dash is tried as the split, so `a-b-1.0.0-rc.1.tgz` finds chart `a-b` version
/// `1.0.0-rc.1` through the charts, never by guessing.
pub fn by_usual_file<'a>(charts: &'a Charts, file: &str) -> Option<VersionRef<'a>> {
    let stem = file.strip_suffix(".tgz")?;
    stem.match_indices('-').find_map(|(at, _)| {
        let version = charts.get(&stem[..at])?.get(&stem[at + 1..])?;
        version.is_stored_as(file).then_some(version)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A million versions cost a million rows and ~100,000 charts: a field added to either
    /// shows here before it shows in a pod's memory (ten rows fill a 320-byte block; a
    /// chart sits in a 128-byte block with its `Arc` counts).
    #[test]
    fn rows_and_charts_stay_small() {
        assert_eq!(std::mem::size_of::<Row>(), 32);
        assert!(std::mem::size_of::<Chart>() + 16 <= 128, "{} bytes", std::mem::size_of::<Chart>());
    }
}
