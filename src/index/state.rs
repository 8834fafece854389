//! The mutable model behind one repository: chart name → versions, newest first.
//!
//! Only the repository's writer touches it (under the repository's mutex). The chart map
//! is a persistent map (`imbl::OrdMap`), so publishing a snapshot shares it in O(1) and a
//! change copies only the path to the chart it touches.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use imbl::OrdMap;

use super::segments::Segments;
use super::version::{FileStamp, IndexedVersion};
use crate::chart::version::newest_first;

/// All versions of one chart, newest first, with their JSON array pre-rendered.
#[derive(Debug)]
pub struct Chart {
    /// `  <name>:` — the chart's key line under `entries:` in the index.
    pub key: Bytes,
    pub versions: Vec<Arc<IndexedVersion>>,
    /// `[ {version}, … ]` for `GET /api/<repo>/charts/<name>`.
    pub json: Bytes,
}

impl Chart {
    fn new(name: &str, versions: Vec<Arc<IndexedVersion>>) -> Chart {
        let key = Bytes::from(format!("  {}:\n", super::snapshot::yaml_scalar(name)));
        let mut json = BytesMut::with_capacity(versions.iter().map(|v| v.json.len() + 1).sum::<usize>() + 2);
        json.put_u8(b'[');
        for (i, version) in versions.iter().enumerate() {
            if i > 0 {
                json.put_u8(b',');
            }
            json.put_slice(&version.json);
        }
        json.put_u8(b']');
        Chart { key, versions, json: json.freeze() }
    }

    /// The version whose text is exactly `version`.
    pub fn get(&self, version: &str) -> Option<&Arc<IndexedVersion>> {
        self.versions.iter().find(|v| v.version() == version)
    }
}

/// Persistent map of chart name → chart; cheap to clone into a snapshot.
pub type Charts = OrdMap<String, Arc<Chart>>;

#[derive(Debug, Default)]
pub struct RepoState {
    pub charts: Charts,
    /// Storage file → the (name, version) it holds, to apply changes found by a rescan.
    files: HashMap<String, (String, String)>,
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

    /// The stamp of the indexed version read from `file_name`, if any.
    pub fn stamp_of(&self, file_name: &str) -> Option<FileStamp> {
        let (name, version) = self.files.get(file_name)?;
        Some(self.charts.get(name)?.get(version)?.stamp)
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
        let name = version.name().to_string();
        let mut versions = self.charts.get(&name).map(|c| c.versions.clone()).unwrap_or_default();
        let replaced = versions.iter().position(|v| v.version() == version.version()).map(|i| versions.remove(i));
        if let Some(old) = &replaced {
            self.files.remove(&old.file_name);
        }
        self.files.insert(version.file_name.clone(), (name.clone(), version.version().to_string()));
        let at = versions.partition_point(|v| newest_first(&v.semver, &version.semver).is_lt());
        versions.insert(at, Arc::new(version));
        self.charts.insert(name.clone(), Arc::new(Chart::new(&name, versions)));
        self.segments.mark(&name);
        replaced
    }

    /// Removes one version; a chart with no versions left leaves the index.
    pub fn remove(&mut self, name: &str, version: &str) -> Option<Arc<IndexedVersion>> {
        let chart = self.charts.get(name)?;
        let at = chart.versions.iter().position(|v| v.version() == version)?;
        let mut versions = chart.versions.clone();
        let removed = versions.remove(at);
        self.files.remove(&removed.file_name);
        if versions.is_empty() {
            self.charts.remove(name);
        } else {
            self.charts.insert(name.to_string(), Arc::new(Chart::new(name, versions)));
        }
        self.segments.mark(name);
        Some(removed)
    }

    /// Removes whatever version was read from `file_name`.
    pub fn remove_file(&mut self, file_name: &str) -> Option<Arc<IndexedVersion>> {
        let (name, version) = self.files.get(file_name)?.clone();
        self.remove(&name, &version)
    }
}
