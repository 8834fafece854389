//! Changes through the API: uploads and deletes.
//!
//! Each runs under its repository's writer lock and follows one rule: storage first, then
//! the index, then the answer. When the caller hears "saved", the package is synced on
//! disk and the published snapshot already lists it; when it hears a refusal, nothing was
//! written.

use std::io;
use std::time::SystemTime;

use bytes::Bytes;

use super::catalog::Catalog;
use super::snapshot::RepoSnapshot;
use super::version::{FileStamp, IndexedVersion};
use crate::chart::package::ReadPackage;
use crate::chart::version;

/// A chart package from an upload, already read and validated.
pub struct UploadedChart {
    pub bytes: Bytes,
    pub read: ReadPackage,
}

/// A provenance file from an upload, with the file name it belongs under.
pub struct UploadedProvenance {
    pub bytes: Bytes,
    pub file_name: String,
}

/// Why a write was refused or failed.
#[derive(Debug)]
pub enum WriteError {
    /// The version (or provenance file) exists and overwriting is not allowed.
    Exists,
    /// Nothing to delete.
    NotFound(String),
    Storage(io::Error),
}

impl From<io::Error> for WriteError {
    fn from(error: io::Error) -> Self {
        WriteError::Storage(error)
    }
}

impl Catalog {
    /// Saves a chart package and/or its provenance file into `repo` (created if new).
    pub fn save(
        &self,
        repo: &str,
        chart: Option<UploadedChart>,
        provenance: Option<UploadedProvenance>,
        overwrite: bool,
    ) -> Result<(), WriteError> {
        let repository = self.get_or_create(repo);
        let mut state = repository.lock();
        let storage = &*self.storage;

        // Check everything before writing anything: a refusal writes nothing.
        let chart_file = chart.as_ref().map(|c| c.read.package.metadata.file_name());
        if !overwrite {
            if let Some((chart, file)) = chart.as_ref().zip(chart_file.as_ref()) {
                let entry = &chart.read.package.metadata;
                // A file under that name that is not a valid package is no version: replace it.
                let unindexed_file = storage.stat(repo, file)?.is_some() && !state.broken.contains_key(file);
                if state.find(&entry.name, &entry.version).is_some() || unindexed_file {
                    return Err(WriteError::Exists);
                }
            }
            if let Some(provenance) = &provenance {
                if storage.stat(repo, &provenance.file_name)?.is_some() {
                    return Err(WriteError::Exists);
                }
            }
        }

        // The provenance first: alone it is harmless, and it is undone if the chart fails.
        let provenance_was_new = match &provenance {
            Some(p) => {
                let new = storage.stat(repo, &p.file_name)?.is_none();
                storage.write(repo, &p.file_name, &p.bytes)?;
                new
            }
            None => false,
        };
        let (Some(chart), Some(file)) = (chart, chart_file) else {
            return Ok(());
        };
        // The package's write and fsyncs wait on the disk; meanwhile this thread renders
        // the next snapshot on a draft, which becomes the state only once the package is
        // durable.
        let package = chart.read.package;
        let version = IndexedVersion::new(
            package.metadata,
            package.version,
            file.clone(),
            FileStamp { size: chart.bytes.len() as u64, modified: SystemTime::UNIX_EPOCH }, // until written
            chart.read.digest,
            SystemTime::now(),
            &repository.url_prefix,
        );
        let (name, version_text) = (version.name.clone(), version.version.clone());
        let mut draft = state.draft();
        let (written, replaced, snapshot) = std::thread::scope(|scope| {
            let writing = scope.spawn(|| storage.write(repo, &file, &chart.bytes));
            let replaced = draft.insert(version);
            let snapshot = RepoSnapshot::build(&mut draft, &self.settings, SystemTime::now());
            (writing.join().expect("storage write thread"), replaced, snapshot)
        });
        let written = match written {
            Ok(written) => written,
            Err(error) => {
                if let Some(p) = provenance.filter(|_| provenance_was_new) {
                    let _ = storage.delete(repo, &p.file_name);
                }
                return Err(error.into());
            }
        };
        let stamp = FileStamp { size: written.size, modified: written.modified };
        state.adopt(draft, replaced.as_deref(), (&file, &name, &version_text), stamp);
        repository.store(snapshot);
        if let Some(replaced) = replaced {
            // Replacing a version that was stored under another file name (put there by
            // hand): that file would otherwise come back at the next rescan.
            if replaced.file_name != file {
                storage.delete(repo, &replaced.file_name)?;
            }
        }
        Ok(())
    }

    /// Deletes a version (found through the index, never by splitting file names) with its
    /// provenance file.
    pub fn delete(&self, repo: &str, name: &str, wanted: &str) -> Result<(), WriteError> {
        let not_found = || WriteError::NotFound(format!("chart version not found: {name} {wanted}"));
        let repository = self.get(repo).ok_or_else(not_found)?;
        let mut state = repository.lock();
        let chart = state.charts.get(name).cloned().ok_or_else(not_found)?;
        // The exact text first; `v1.0` also finds `1.0.0` when the parse is unambiguous.
        let indexed = match chart.get(wanted) {
            Some(found) => found.clone(),
            None => {
                let parsed = version::parse(wanted, false).ok_or_else(not_found)?;
                chart.versions.iter().find(|v| v.semver == parsed).cloned().ok_or_else(not_found)?
            }
        };
        self.storage.delete(repo, &indexed.file_name)?;
        state.remove(name, &indexed.version);
        repository.publish(&mut state, &self.settings);
        // The package is gone and unlisted; a provenance file left behind is only litter.
        let provenance = format!("{}.prov", indexed.file_name);
        if let Err(error) = self.storage.delete(repo, &provenance) {
            tracing::warn!(repo, file = %provenance, %error, "could not delete the provenance file of a deleted version");
        }
        Ok(())
    }
}
