//! A chart as the index holds it: its key line and its versions, newest first.
//!
//! A chart's part of the index is its key line followed by each version's entry, with
//! the separators its [`Format`] puts around them. The segment that holds a chart writes
//! that text once ([`Chart::write_text`]) and then points the chart's key and entries into
//! it ([`Chart::point_into`]), so the index text is held in memory once, whatever shares
//! it. Where a chart sits matters to JSON alone: every chart but the index's first is
//! preceded by a comma, so `first` says whether it is that one.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use super::entry::IndexedVersion;
use super::render::Format;

/// All versions of one chart, newest first.
#[derive(Debug, Clone)]
pub struct Chart {
    /// `  <name>:` — the chart's key line under `entries:` in the index (in JSON
    /// `"<name>":[`).
    pub key: Bytes,
    pub versions: Vec<Arc<IndexedVersion>>,
    /// The OCI `tags/list` answer (every tag, in lexical order), made on its first request
    /// and kept with the chart: a change to the versions makes a new chart.
    pub oci_tags: OnceLock<Bytes>,
}

/// Persistent map of chart name → chart (`imbl`): cloning it into a snapshot is O(1), and
/// a change copies only the path to what it touches.
pub type Charts = imbl::OrdMap<String, Arc<Chart>>;

impl Chart {
    pub fn new(name: &str, versions: Vec<Arc<IndexedVersion>>, format: Format) -> Chart {
        Chart::keyed(Bytes::from(format.chart_key(name)), versions)
    }

    /// A chart whose key line is `key`.
    pub fn keyed(key: Bytes, versions: Vec<Arc<IndexedVersion>>) -> Chart {
        Chart { key, versions, oci_tags: OnceLock::new() }
    }

    /// Bytes of this chart's part of the index.
    pub fn text_len(&self, format: Format, first: bool) -> usize {
        let separators = format.between_versions().len() * self.versions.len().saturating_sub(1);
        format.before_chart(first).len()
            + self.key.len()
            + self.versions.iter().map(|v| v.text.len()).sum::<usize>()
            + separators
            + format.after_chart().len()
    }

    /// Appends this chart's part of the index to `out`.
    pub fn write_text(&self, out: &mut Vec<u8>, format: Format, first: bool) {
        out.extend_from_slice(format.before_chart(first));
        out.extend_from_slice(&self.key);
        for (i, version) in self.versions.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(format.between_versions());
            }
            out.extend_from_slice(&version.text);
        }
        out.extend_from_slice(format.after_chart());
    }

    /// Makes the key and versions slices of `text`, into which [`Chart::write_text`] wrote
    /// this chart at offset `at`; returns the offset after it. Versions shared with
    /// another holder are copied first, so that holder keeps what it had.
    pub fn point_into(&mut self, text: &Bytes, mut at: usize, format: Format, first: bool) -> usize {
        at += format.before_chart(first).len();
        self.key = text.slice(at..at + self.key.len());
        at += self.key.len();
        for (i, version) in self.versions.iter_mut().enumerate() {
            if i > 0 {
                at += format.between_versions().len();
            }
            let slice = text.slice(at..at + version.text.len());
            at += slice.len();
            Arc::make_mut(version).text = slice;
        }
        at + format.after_chart().len()
    }

    /// The version whose text is exactly `version`.
    pub fn get(&self, version: &str) -> Option<&Arc<IndexedVersion>> {
        self.versions.iter().find(|v| v.version == version)
    }

    /// `[ {version}, … ]` for `GET /api/<repo>/charts/<name>`.
    pub fn json(&self) -> Vec<u8> {
        let mut out = vec![b'['];
        for (i, version) in self.versions.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&version.json());
        }
        out.push(b']');
        out
    }
}

/// The version stored as `file` when it is named as uploads name it (`<name>-<version>.tgz`):
/// each dash is tried as the split, so `a-b-1.0.0-rc.1.tgz` finds chart `a-b` version
/// `1.0.0-rc.1` through the charts, never by guessing.
pub fn by_usual_file<'a>(charts: &'a Charts, file: &str) -> Option<&'a Arc<IndexedVersion>> {
    let stem = file.strip_suffix(".tgz")?;
    stem.match_indices('-').find_map(|(at, _)| {
        let version = charts.get(&stem[..at])?.get(&stem[at + 1..])?;
        version.is_stored_as(file).then_some(version)
    })
}
