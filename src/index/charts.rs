//! A chart as the index holds it: its key line and its versions, newest first.
//!
//! A chart's part of the index is its key line followed by each version's entry. The
//! segment that holds a chart writes that text once ([`Chart::write_text`]) and then
//! points the chart's key and entries into it ([`Chart::point_into`]), so the index text
//! is held in memory once, whatever shares it.

use std::sync::Arc;

use bytes::Bytes;

use super::entry::IndexedVersion;

/// All versions of one chart, newest first.
#[derive(Debug, Clone)]
pub struct Chart {
    /// `  <name>:` — the chart's key line under `entries:` in the index.
    pub key: Bytes,
    pub versions: Vec<Arc<IndexedVersion>>,
}

/// Persistent map of chart name → chart (`imbl`): cloning it into a snapshot is O(1), and
/// a change copies only the path to what it touches.
pub type Charts = imbl::OrdMap<String, Arc<Chart>>;

impl Chart {
    pub fn new(name: &str, versions: Vec<Arc<IndexedVersion>>) -> Chart {
        Chart { key: Bytes::from(super::render::chart_key(name)), versions }
    }

    /// Bytes of this chart's part of the index.
    pub fn text_len(&self) -> usize {
        self.key.len() + self.versions.iter().map(|v| v.yaml.len()).sum::<usize>()
    }

    /// Appends this chart's part of the index to `out`.
    pub fn write_text(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.key);
        self.versions.iter().for_each(|version| out.extend_from_slice(&version.yaml));
    }

    /// Makes the key and versions slices of `text`, into which [`Chart::write_text`] wrote
    /// this chart at offset `at`; returns the offset after it. Versions shared with
    /// another holder are copied first, so that holder keeps what it had.
    pub fn point_into(&mut self, text: &Bytes, mut at: usize) -> usize {
        self.key = text.slice(at..at + self.key.len());
        at += self.key.len();
        for version in &mut self.versions {
            let yaml = text.slice(at..at + version.yaml.len());
            at += yaml.len();
            Arc::make_mut(version).yaml = yaml;
        }
        at
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
