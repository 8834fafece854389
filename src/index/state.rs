//! The mutable model behind one repository: chart name → versions, newest first.
//!
//! Only the repository's writer touches it (under the repository's mutex). Its maps are
//! persistent (`imbl`), so publishing a snapshot shares them in O(1) and a change copies
//! only the path to what it touches.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use super::segments::Segments;
use super::version::{FileStamp, IndexedVersion};
use crate::chart::version::newest_first;

/// All versions of one chart, newest first.
#[derive(Debug, Clone)]
pub struct Chart {
    /// `  <name>:` — the chart's key line under `entries:` in the index.
    pub key: Bytes,
    pub versions: Vec<Arc<IndexedVersion>>,
}

impl Chart {
    pub fn new(name: &str, versions: Vec<Arc<IndexedVersion>>) -> Chart {
        Chart { key: Bytes::from(super::render::chart_key(name)), versions }
    }

    /// Bytes of this chart's part of the index.
    pub fn text_len(&self) -> usize {
        self.key.len() + self.versions.iter().map(|v| v.yaml.len()).sum::<usize>()
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

/// Persistent map of chart name → chart; cheap to clone into a snapshot.
pub type Charts = imbl::OrdMap<String, Arc<Chart>>;
/// Storage file → the (name, version) read from it. Only the writer needs it, so it is
/// a plain map: a persistent one cost ~700 bytes a version.
pub type Files = HashMap<String, (String, String)>;

#[derive(Debug, Default)]
pub struct RepoState {
    pub charts: Charts,
    pub files: Files,
    /// Files that are not valid packages, with the stamp they were found bad at, so a
    /// rescan warns once per change instead of at every pass.
    pub broken: HashMap<String, FileStamp>,
    /// The index text and its gzip, in segments kept up to date with `charts`.
    pub segments: Segments,
}

impl RepoState {
    pub fn version_count(&self) -> usize {
        self.charts.values().map(|c| c.versions.len()).sum()
    }

    /// The version read from `file_name`, if it is indexed.
    pub fn by_file(&self, file_name: &str) -> Option<&Arc<IndexedVersion>> {
        let (name, version) = self.files.get(file_name)?;
        self.find(name, version)
    }

    /// The stamp of the indexed version read from `file_name`, if any.
    pub fn stamp_of(&self, file_name: &str) -> Option<FileStamp> {
        Some(self.by_file(file_name)?.stamp)
    }

    pub fn indexed_files(&self) -> impl Iterator<Item = &String> {
        self.files.keys()
    }

    pub fn find(&self, name: &str, version: &str) -> Option<&Arc<IndexedVersion>> {
        self.charts.get(name)?.get(version)
    }

    /// Adds a version, replacing the one with the same name and version text; returns the
    /// replaced one.
    pub fn insert(&mut self, version: IndexedVersion) -> Option<Arc<IndexedVersion>> {
        let name = version.name.clone();
        let existing = self.charts.get(&name);
        let key = existing.map(|c| c.key.clone());
        let mut versions = existing.map(|c| c.versions.clone()).unwrap_or_default();
        let replaced = versions.iter().position(|v| v.version == version.version).map(|i| versions.remove(i));
        if let Some(old) = &replaced {
            self.files.remove(&old.file_name);
        }
        self.files.insert(version.file_name.clone(), (name.clone(), version.version.clone()));
        let at = versions.partition_point(|v| newest_first(&v.semver, &version.semver).is_lt());
        versions.insert(at, Arc::new(version));
        let chart = match key {
            Some(key) => Chart { key, versions },
            None => Chart::new(&name, versions),
        };
        self.charts.insert(name.clone(), Arc::new(chart));
        self.segments.mark(&name);
        replaced
    }

    /// Fills an empty state with many charts at once (a first scan): each chart is built
    /// once, not once per version. `charts` come in name order, each with its versions
    /// newest first, no version twice.
    pub fn fill(&mut self, charts: Vec<(String, Vec<Arc<IndexedVersion>>)>) {
        assert!(self.charts.is_empty() && self.files.is_empty(), "fill is for an empty state");
        self.files.reserve(charts.iter().map(|(_, versions)| versions.len()).sum());
        for version in charts.iter().flat_map(|(_, versions)| versions) {
            self.files.insert(version.file_name.clone(), (version.name.clone(), version.version.clone()));
        }
        self.charts = charts
            .into_iter()
            .filter(|(_, versions)| !versions.is_empty())
            .map(|(name, versions)| {
                let chart = Arc::new(Chart::new(&name, versions));
                (name, chart)
            })
            .collect();
        self.segments.mark_all();
    }

    /// Removes one version; a chart with no versions left leaves the index.
    pub fn remove(&mut self, name: &str, version: &str) -> Option<Arc<IndexedVersion>> {
        let chart = self.charts.get(name)?;
        let at = chart.versions.iter().position(|v| v.version == version)?;
        let mut versions = chart.versions.clone();
        let removed = versions.remove(at);
        self.files.remove(&removed.file_name);
        if versions.is_empty() {
            self.charts.remove(name);
        } else {
            let key = chart.key.clone();
            self.charts.insert(name.to_string(), Arc::new(Chart { key, versions }));
        }
        self.segments.mark(name);
        Some(removed)
    }

    /// A copy to prepare a change on: it shares the charts and segments (cheaply: a
    /// persistent map and a vector of pointers) and leaves out the rest.
    pub fn draft(&self) -> RepoState {
        RepoState { charts: self.charts.clone(), segments: self.segments.clone(), ..RepoState::default() }
    }

    /// Takes the charts and segments of a draft in which `file` was inserted as
    /// `name`/`version` (replacing `replaced`), once the write of `file` gave it `stamp`.
    pub fn adopt(
        &mut self,
        draft: RepoState,
        replaced: Option<&IndexedVersion>,
        (file, name, version): (&str, &str, &str),
        stamp: FileStamp,
    ) {
        self.charts = draft.charts;
        self.segments = draft.segments;
        if let Some(old) = replaced {
            self.files.remove(&old.file_name);
        }
        self.files.insert(file.to_string(), (name.to_string(), version.to_string()));
        self.broken.remove(file);
        // The draft's version was made before its file existed; give it the real stamp.
        if let Some(chart) = self.charts.get(name) {
            let mut chart = Chart::clone(chart);
            for indexed in chart.versions.iter_mut().filter(|v| v.version == version) {
                *indexed = Arc::new(IndexedVersion { stamp, ..IndexedVersion::clone(indexed) });
            }
            self.charts.insert(name.to_string(), Arc::new(chart));
        }
    }

    /// Removes whatever version was read from `file_name`.
    pub fn remove_file(&mut self, file_name: &str) -> Option<Arc<IndexedVersion>> {
        let (name, version) = self.files.get(file_name)?.clone();
        self.remove(&name, &version)
    }
}
