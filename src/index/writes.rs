//! Changes through the API: uploads and deletes.
//!
//! Each passes through its repository's one door ([`Repository::change`]) and follows one
//! rule: storage first, then the index, then the answer. When the caller hears "saved",
//! the package is synced on disk and the published snapshot already lists it; when it
//! hears a refusal, nothing was written.

use std::io;
use std::time::SystemTime;

use super::entry::{FileStamp, IndexedVersion};
use super::repository::Repository;
use super::state::RepoState;
use crate::chart::package::{self, Keep, ReadPackage};
use crate::chart::{provenance, version};
use crate::storage::{Placing, Spool, Storage};

/// What an upload brings, received into spools: a chart package, a provenance file, or both.
pub struct Upload {
    pub chart: Option<Spool>,
    pub provenance: Option<Spool>,
}

/// An upload whose parts have been read and checked.
pub struct Checked {
    chart: Option<(Spool, ReadPackage)>,
    /// The provenance file and the name it is stored under.
    provenance: Option<(Spool, String)>,
}

/// A provenance file is a signed `Chart.yaml` digest, a few KiB: past this it is no
/// provenance file, and it is refused before it is read into memory.
const MAX_PROVENANCE: u64 = 1024 * 1024;

/// Limits on what a repository keeps, as ChartMuseum sets them (0 = none).
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// `PER_CHART_LIMIT`: versions kept per chart; an upload evicts the oldest beyond it.
    pub versions_per_chart: usize,
    /// `MAX_STORAGE_OBJECTS`: stored objects (packages and provenance files) per
    /// repository, past which uploads of new objects are refused.
    pub storage_objects: usize,
}

/// Why an upload was refused or failed.
#[derive(Debug)]
pub enum SaveError {
    /// Not a valid chart package or provenance file; the message names the problem.
    Invalid(String),
    /// The version (or provenance file) exists and overwriting is not allowed.
    Exists,
    /// The repository holds `MAX_STORAGE_OBJECTS` objects already.
    Full,
    Storage(io::Error),
}

/// Why a delete failed.
#[derive(Debug)]
pub enum DeleteError {
    NotFound(String),
    Storage(io::Error),
}

impl From<io::Error> for SaveError {
    fn from(error: io::Error) -> Self {
        SaveError::Storage(error)
    }
}

impl From<io::Error> for DeleteError {
    fn from(error: io::Error) -> Self {
        DeleteError::Storage(error)
    }
}

impl Upload {
    /// Reads and validates every part, before anything is written or locked.
    pub fn check(self, strict_semver: bool) -> Result<Checked, SaveError> {
        let chart = match self.chart {
            Some(spool) => {
                let package =
                    package::read_from(spool.reader()?, Keep::Validate, strict_semver).map_err(SaveError::Invalid)?;
                let read = ReadPackage { package, digest: spool.digest() };
                Some((spool, read))
            }
            None => None,
        };
        let provenance = match self.provenance {
            Some(spool) if spool.len() > MAX_PROVENANCE => {
                return Err(SaveError::Invalid(format!(
                    "the provenance file is {} bytes; a provenance file is a few KiB (at most {MAX_PROVENANCE})",
                    spool.len()
                )))
            }
            Some(spool) => {
                let file_name = provenance::file_name(&spool.read_to_vec()?).map_err(SaveError::Invalid)?;
                Some((spool, file_name))
            }
            None => None,
        };
        Ok(Checked { chart, provenance })
    }
}

/// Saves a checked upload into `repository`. Returns the package files whose index entry
/// it changed (the one saved, one it replaced, those it evicted), for other replicas.
pub fn save(
    repository: &Repository,
    storage: &dyn Storage,
    upload: Checked,
    overwrite: bool,
    limits: Limits,
) -> Result<Vec<String>, SaveError> {
    let repo = repository.name();
    let Checked { chart, provenance } = upload;
    let chart_file = chart.as_ref().map(|(_, read)| read.package.metadata.file_name());
    // Where the bucket can tell, a create racing another replica's loses with 409.
    let placing = if overwrite { Placing::Replace } else { Placing::CreateOnly };
    repository.change(|state| {
        // Check everything before writing anything: a refusal writes nothing.
        if !overwrite {
            if let Some(((_, read), file)) = chart.as_ref().zip(chart_file.as_ref()) {
                let entry = &read.package.metadata;
                // A file under that name that is not a valid package is no version: replace it.
                let unindexed_file = storage.stat(repo, file)?.is_some() && state.broken_at(file).is_none();
                if state.find(&entry.name, &entry.version).is_some() || unindexed_file {
                    return Err(SaveError::Exists);
                }
            }
            if let Some((_, file)) = &provenance {
                if storage.stat(repo, file)?.is_some() {
                    return Err(SaveError::Exists);
                }
            }
        }
        if limits.storage_objects > 0 {
            // Replacing an object adds none; only new ones count against the limit.
            let files = chart_file.iter().chain(provenance.as_ref().map(|(_, file)| file));
            let mut adds = false;
            for file in files {
                adds |= storage.stat(repo, file)?.is_none();
            }
            if adds && storage.list(repo)?.len() >= limits.storage_objects {
                return Err(SaveError::Full);
            }
        }

        // The provenance first: alone it is harmless, and it is undone if the chart fails.
        let (provenance_file, provenance_was_new) = match provenance {
            Some((spool, file)) => {
                let new = storage.stat(repo, &file)?.is_none();
                storage.place(repo, &file, spool, placing).map_err(exists_is_refusal)?;
                (Some(file), new)
            }
            None => (None, false),
        };
        let (Some((spool, read)), Some(file)) = (chart, chart_file) else {
            return Ok(Vec::new());
        };
        let package = read.package;
        let version = IndexedVersion::new(
            package.metadata,
            package.version,
            file.clone(),
            FileStamp { size: spool.len(), modified: SystemTime::UNIX_EPOCH, tag: 0 }, // until placed
            read.digest,
            SystemTime::now(),
            repository.url_prefix(),
            repository.settings().format,
        );
        let (name, version_text) = (version.name.clone(), version.version.clone());
        // The package's write and fsyncs wait on the disk; meanwhile this thread indexes
        // the version and prepares the next snapshot's text.
        let (written, replaced) = std::thread::scope(|scope| {
            let writing = scope.spawn(|| storage.place(repo, &file, spool, placing));
            let replaced = state.insert(version);
            state.prepare();
            let written = writing.join().unwrap_or_else(|_| Err(io::Error::other("the storage write panicked")));
            (written, replaced)
        });
        let written = match written {
            Ok(written) => written,
            Err(error) => {
                // Undo: the index goes back to what storage holds.
                state.remove(&name, &version_text);
                if let Some(replaced) = &replaced {
                    state.put_back(replaced);
                }
                if let Some(file) = provenance_file.filter(|_| provenance_was_new) {
                    let _ = storage.delete(repo, &file);
                }
                return Err(exists_is_refusal(error));
            }
        };
        state.restamp(&name, &version_text, FileStamp::of(&written));
        state.forget_broken(&file);
        let mut touched = vec![file.clone()];
        if let Some(replaced) = replaced {
            // Replacing a version that was stored under another file name (put there by
            // hand): that file would otherwise come back at the next rescan.
            if !replaced.get().is_stored_as(&file) {
                let replaced_file = replaced.get().file_name().into_owned();
                storage.delete(repo, &replaced_file)?;
                touched.push(replaced_file);
            }
        }
        tracing::info!(repo, %file, "chart saved");
        if limits.versions_per_chart > 0 {
            evict_beyond(state, storage, repo, &name, &version_text, limits.versions_per_chart, &mut touched)?;
        }
        Ok(touched)
    })
}

/// A store that refused a create because the object exists (another replica won the
/// race): the same answer as finding the version indexed.
fn exists_is_refusal(error: io::Error) -> SaveError {
    if error.kind() == io::ErrorKind::AlreadyExists {
        SaveError::Exists
    } else {
        SaveError::Storage(error)
    }
}

/// `PER_CHART_LIMIT`: deletes the versions of `name` stored longest ago (by file time, as
/// ChartMuseum) until `limit` remain, never the one just saved; each goes with its
/// provenance file.
fn evict_beyond(
    state: &mut RepoState,
    storage: &dyn Storage,
    repo: &str,
    name: &str,
    saved: &str,
    limit: usize,
    evicted: &mut Vec<String>,
) -> io::Result<()> {
    loop {
        let Some(chart) = state.charts().get(name) else { return Ok(()) };
        if chart.len() <= limit {
            return Ok(());
        }
        let Some(oldest) = chart.versions().filter(|v| v.version() != saved).min_by_key(|v| v.stamp().modified) else {
            return Ok(());
        };
        let (file, oldest) = (oldest.file_name().into_owned(), oldest.version().to_string());
        storage.delete(repo, &file)?;
        state.remove(name, &oldest);
        let _ = storage.delete(repo, &format!("{file}.prov"));
        tracing::info!(repo, %file, limit, "deleted the oldest version beyond PER_CHART_LIMIT");
        evicted.push(file);
    }
}

/// Deletes a version (found through the index, never by splitting file names) with its
/// provenance file. Returns the package file deleted.
pub fn delete(repository: &Repository, storage: &dyn Storage, name: &str, wanted: &str) -> Result<String, DeleteError> {
    let repo = repository.name();
    let not_found = || DeleteError::NotFound(format!("chart version not found: {name} {wanted}"));
    repository.change(|state| {
        let chart = state.charts().get(name).cloned().ok_or_else(not_found)?;
        // The exact text first; `v1.0` also finds `1.0.0` when the parse is unambiguous.
        let indexed = match chart.get(wanted) {
            Some(found) => found,
            None => {
                let parsed = version::parse(wanted, false).ok_or_else(not_found)?;
                chart.versions().find(|v| v.semver() == parsed).ok_or_else(not_found)?
            }
        };
        let (file, indexed) = (indexed.file_name().into_owned(), indexed.version().to_string());
        storage.delete(repo, &file)?;
        state.remove(name, &indexed);
        // The package is gone and unlisted; a provenance file left behind is only litter.
        let provenance = format!("{file}.prov");
        if let Err(error) = storage.delete(repo, &provenance) {
            tracing::warn!(repo, file = %provenance, %error, "could not delete the provenance file of a deleted version");
        }
        Ok(file)
    })
}
