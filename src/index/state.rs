//! The mutable model behind one repository: chart name → versions, newest first, the
//! files they were read from, and the index text kept in step with them.
//!
//! Only the repository's writer touches it (under the repository's mutex, see
//! [`super::repository::Repository::change`]). Publishing is the writer's act: it brings
//! the segments up to date and makes an immutable snapshot of charts and segments.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

use super::charts::{by_usual_file, Chart, Charts, HeldVersion, VersionRef};
use super::entry::{FileStamp, IndexedVersion, Part};
use super::parallel;
use super::render::Format;
use super::segments::Segments;
use super::settings::IndexSettings;
use super::snapshot::RepoSnapshot;
use crate::chart::version::newest_first;

/// Storage files not named `<name>-<version>.tgz` (as uploads name them) → the (name,
/// version) read from each. A file named so is found through the charts themselves
/// ([`by_usual_file`]): a map of every file cost ~200 bytes a version, a fifth of what a
/// version costs besides its text.
pub type Files = HashMap<String, (String, String)>;

#[derive(Debug, Default)]
pub struct RepoState {
    charts: Charts,
    odd_files: Files,
    /// Files that are not valid packages, with the stamp they were found bad at, so a
    /// rescan warns once per change instead of at every pass.
    broken: HashMap<String, FileStamp>,
    /// The index text and its gzip, in segments kept up to date with `charts`.
    segments: Segments,
    /// Whether the charts changed since the last publish.
    unpublished: bool,
}

impl RepoState {
    /// An empty state whose index is written in `format`.
    pub fn new(format: Format) -> RepoState {
        RepoState { segments: Segments::new(format), ..RepoState::default() }
    }

    /// A state read back from the start-up cache, whose segments already hold the text of
    /// `charts`; it is yet to be published.
    pub fn restore(
        charts: Charts,
        odd_files: Files,
        broken: HashMap<String, FileStamp>,
        segments: Segments,
    ) -> RepoState {
        RepoState { charts, odd_files, broken, segments, unpublished: true }
    }

    pub fn charts(&self) -> &Charts {
        &self.charts
    }

    pub fn segments(&self) -> &Segments {
        &self.segments
    }

    pub fn broken(&self) -> impl Iterator<Item = (&String, &FileStamp)> {
        self.broken.iter()
    }

    /// Nothing indexed and nothing found broken: a first scan.
    pub fn is_new(&self) -> bool {
        self.charts.is_empty() && self.broken.is_empty()
    }

    pub fn is_unpublished(&self) -> bool {
        self.unpublished
    }

    pub fn version_count(&self) -> usize {
        self.charts.values().map(|c| c.len()).sum()
    }

    /// The version read from `file_name`, if it is indexed.
    pub fn by_file(&self, file_name: &str) -> Option<VersionRef<'_>> {
        by_usual_file(&self.charts, file_name).or_else(|| {
            let (name, version) = self.odd_files.get(file_name)?;
            self.find(name, version)
        })
    }

    /// The stamp of the indexed version read from `file_name`, if any.
    pub fn stamp_of(&self, file_name: &str) -> Option<FileStamp> {
        Some(self.by_file(file_name)?.stamp())
    }

    pub fn find(&self, name: &str, version: &str) -> Option<VersionRef<'_>> {
        self.charts.get(name)?.get(version)
    }

    /// The stamp `file` was found broken at, if it was.
    pub fn broken_at(&self, file: &str) -> Option<&FileStamp> {
        self.broken.get(file)
    }

    /// Notes that `file`, as of `stamp`, is not a valid package.
    pub fn mark_broken(&mut self, file: String, stamp: FileStamp) {
        self.broken.insert(file, stamp);
    }

    pub fn forget_broken(&mut self, file: &str) {
        self.broken.remove(file);
    }

    /// Forgets broken files that are no longer in storage.
    pub fn keep_broken_among(&mut self, present: &[String]) {
        if self.broken.is_empty() {
            return;
        }
        let present: HashSet<&str> = present.iter().map(String::as_str).collect();
        self.broken.retain(|file, _| present.contains(file.as_str()));
    }

    /// Adds a version, replacing the one with the same name and version text; returns the
    /// replaced one.
    pub fn insert(&mut self, version: IndexedVersion) -> Option<HeldVersion> {
        self.insert_part(&version.name, &version.version, &version.semver, version.part())
    }

    /// Puts back a version taken out (an upload undone).
    pub fn put_back(&mut self, held: &HeldVersion) -> Option<HeldVersion> {
        let version = held.get();
        self.insert_part(version.name(), version.version(), &version.semver(), version.part())
    }

    fn insert_part(&mut self, name: &str, version: &str, semver: &semver::Version, part: Part) -> Option<HeldVersion> {
        let existing = self.charts.get(name).cloned();
        let replaced = existing.as_ref().and_then(|chart| chart.position(version));
        let others: Vec<VersionRef> = match &existing {
            Some(chart) => chart.versions().filter(|v| Some(v.index()) != replaced).collect(),
            None => Vec::new(),
        };
        if let Some(file) = existing.as_ref().zip(replaced).and_then(|(chart, at)| chart.version(at).odd_file()) {
            self.odd_files.remove(file);
        }
        if let Some(file) = part.odd_file {
            self.odd_files.insert(file.to_string(), (name.to_string(), version.to_string()));
        }
        // Newest first: after every version newer than it (a binary search, each step
        // parsing one version).
        let at = others.partition_point(|v| newest_first(&v.semver(), semver).is_lt());
        let parts =
            others[..at].iter().map(VersionRef::part).chain([part]).chain(others[at..].iter().map(VersionRef::part));
        let chart = Chart::new(name, parts, self.segments.format());
        drop(others);
        self.charts.insert(name.to_string(), Arc::new(chart));
        self.segments.mark(name);
        self.unpublished = true;
        existing.zip(replaced).map(|(chart, at)| HeldVersion::new(chart, at))
    }

    /// Fills an empty state with many charts at once (a first scan): each chart is built
    /// once, not once per version. `charts` come in name order, each with its versions
    /// newest first, no version twice.
    pub fn fill(&mut self, charts: Vec<(String, Vec<IndexedVersion>)>) {
        assert!(self.charts.is_empty() && self.odd_files.is_empty(), "fill is for an empty state");
        for version in charts.iter().flat_map(|(_, versions)| versions) {
            if let Some(file) = version.odd_file() {
                self.odd_files.insert(file.to_string(), (version.name.clone(), version.version.clone()));
            }
        }
        let format = self.segments.format();
        let charts: Vec<_> = charts.into_iter().filter(|(_, versions)| !versions.is_empty()).collect();
        // Each chart's text is copied out of its versions' on every core: at a million
        // versions this is seconds of a first start.
        let built = parallel::map(charts, 256, |(name, versions)| {
            let chart = Arc::new(Chart::new(&name, versions.iter().map(IndexedVersion::part), format));
            (name, chart)
        });
        self.charts = built.into_iter().collect();
        self.segments.mark_all();
        self.unpublished = true;
    }

    /// Removes one version; a chart with no versions left leaves the index.
    pub fn remove(&mut self, name: &str, version: &str) -> Option<HeldVersion> {
        let chart = self.charts.get(name)?.clone();
        let at = chart.position(version)?;
        if let Some(file) = chart.version(at).odd_file() {
            self.odd_files.remove(file);
        }
        if chart.len() == 1 {
            self.charts.remove(name);
        } else {
            let kept = chart.versions().filter(|v| v.index() != at).map(|v| v.part());
            let smaller = Chart::new(name, kept, self.segments.format());
            self.charts.insert(name.to_string(), Arc::new(smaller));
        }
        self.segments.mark(name);
        self.unpublished = true;
        Some(HeldVersion::new(chart, at))
    }

    /// Removes whatever version was read from `file_name`.
    pub fn remove_file(&mut self, file_name: &str) -> Option<HeldVersion> {
        let found = self.by_file(file_name)?;
        let (name, version) = (found.name().to_string(), found.version().to_string());
        self.remove(&name, &version)
    }

    /// Gives a version the stamp its file got when it was written: an upload indexes the
    /// version while its file is still being written.
    pub fn restamp(&mut self, name: &str, version: &str, stamp: FileStamp) {
        if let Some(chart) = self.charts.get_mut(name) {
            if let Some(at) = chart.position(version) {
                Arc::make_mut(chart).restamp(at, stamp);
            }
        }
    }

    /// Brings the segments in line with the charts: re-renders and recompresses what
    /// changed, and points the charts' text into the new segments, so the old buffers are
    /// freed and the index text is held once. The costly part of a publish, so a writer
    /// may do it early, while it waits on storage.
    pub fn prepare(&mut self) {
        self.segments.refresh(&mut self.charts);
    }

    /// The snapshot of this state, generated at `modified`.
    pub fn publish(&mut self, settings: &IndexSettings, modified: SystemTime) -> RepoSnapshot {
        self.prepare();
        self.unpublished = false;
        RepoSnapshot::new(self.charts.clone(), self.segments.blocks(), settings, modified)
    }
}

#[cfg(test)]
#[path = "publish_tests.rs"]
pub(super) mod tests;
