//! All repositories, found at start-up or created by their first upload, and what the
//! rest of the server asks of them.
//!
//! The map is itself an immutable value behind `ArcSwap`: looking a repository up is an
//! atomic load and a hash lookup; creating one (rare) copies the map.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use bytes::Bytes;

use super::progress::ScanProgress;
use super::repository::Repository;
use super::settings::IndexSettings;
use super::snapshot::RepoSnapshot;
use super::writes::{self, DeleteError, Limits, SaveError, Upload};
use super::{replicas, scan, startup_cache};
use crate::chart::package::{self, ChartPackage, Keep};
use crate::storage::{JournalCursor, ObjectInfo, Opened, Spool, Storage};

/// How a catalog works, beyond what its index text holds.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Parallel package readers for scans.
    pub workers: usize,
    /// Path segments that name a repository.
    pub depth: u8,
    /// Whether to read and write the start-up cache (`DISABLE_STATEFILES` turns it off).
    pub startup_cache: bool,
    pub limits: Limits,
}

pub struct Catalog {
    storage: Arc<dyn Storage>,
    settings: IndexSettings,
    options: Options,
    repositories: ArcSwap<HashMap<String, Arc<Repository>>>,
    /// Serializes creations so two first uploads to one new repository share it.
    creating: Mutex<()>,
    /// What an unknown repository serves: an index with no entries. Unknown names are not
    /// remembered, so a scan of random URLs cannot grow the map.
    empty: Arc<RepoSnapshot>,
    progress: ScanProgress,
    /// Where this replica is in the journal of a shared bucket (`None` without one).
    journal_cursor: Mutex<Option<JournalCursor>>,
}

/// Tries at writing a journal record before giving up (the change is stored either way;
/// other replicas then see it at their next full rescan).
const JOURNAL_TRIES: usize = 3;

/// What [`Catalog::start`] left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The index matches storage.
    Verified,
    /// The index is the start-up caches' as they were written: storage is yet to be
    /// checked against them ([`Catalog::rescan`]).
    Unverified,
}

impl Catalog {
    pub fn new(storage: Arc<dyn Storage>, settings: IndexSettings, options: Options) -> Catalog {
        Catalog {
            empty: Arc::new(RepoSnapshot::empty(&settings)),
            storage,
            settings,
            options: Options { workers: options.workers.max(1), ..options },
            repositories: ArcSwap::from_pointee(HashMap::new()),
            creating: Mutex::new(()),
            progress: ScanProgress::default(),
            journal_cursor: Mutex::new(None),
        }
    }

    fn get(&self, name: &str) -> Option<Arc<Repository>> {
        self.repositories.load().get(name).cloned()
    }

    /// Whether a repository of this name exists (it was scanned, or uploaded to).
    pub fn knows(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The snapshot of a repository, or the empty one when it does not exist.
    pub fn snapshot(&self, name: &str) -> Arc<RepoSnapshot> {
        match self.repositories.load().get(name) {
            Some(repository) => repository.snapshot(),
            None => self.empty.clone(),
        }
    }

    fn get_or_create(&self, name: &str) -> Arc<Repository> {
        if let Some(found) = self.get(name) {
            return found;
        }
        let _creating = self.creating.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = self.get(name) {
            return found;
        }
        let repository = Arc::new(Repository::new(name.to_string(), &self.settings));
        let mut next = HashMap::clone(&self.repositories.load());
        next.insert(name.to_string(), repository.clone());
        self.repositories.store(Arc::new(next));
        repository
    }

    /// Repository names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.repositories.load().keys().cloned().collect();
        names.sort();
        names
    }

    /// Start-up: adopts each repository's start-up cache, then reads what changed since it
    /// was written.
    ///
    /// When every repository in a folder was adopted from its start-up cache, the scan
    /// that checks each file against the cache is left out and [`Start::Unverified`]
    /// returned: the caller serves at once and runs [`Catalog::rescan`] in the background,
    /// which publishes whatever changed behind the server's back. At a million versions
    /// adopting the cache took ~1.5 s and the scan (a `statx` per file) ~3 s more.
    pub fn start(&self) -> io::Result<Start> {
        let started = std::time::Instant::now();
        if self.storage.journal().is_some() {
            // Before the scan: what other replicas change during it is read again after.
            *self.journal_cursor.lock().unwrap_or_else(|p| p.into_inner()) = Some(JournalCursor::now());
        }
        let names = self.storage.repositories(self.options.depth)?;
        let mut all_adopted = !names.is_empty() && self.options.startup_cache;
        for name in names {
            let repository = self.get_or_create(&name);
            if self.options.startup_cache {
                let adopted = startup_cache::load(&repository, &*self.storage)?;
                self.progress.adopt_cached(adopted);
                all_adopted &= adopted > 0;
            }
        }
        // Replicas on a bucket scan first: the journal they follow starts where it does.
        if all_adopted && !self.is_shared() {
            self.progress.started_in(started.elapsed());
            return Ok(Start::Unverified);
        }
        self.rescan()?;
        self.progress.started_in(started.elapsed());
        Ok(Start::Verified)
    }

    /// How far the scans have got.
    pub fn progress(&self) -> &ScanProgress {
        &self.progress
    }

    /// Writes the start-up cache of every repository changed since its last save. Returns
    /// whether it wrote anything.
    pub fn save_caches(&self) -> bool {
        if !self.options.startup_cache {
            return false;
        }
        let mut wrote = false;
        for repository in self.repositories.load().values() {
            wrote |= startup_cache::save(repository, &*self.storage);
        }
        wrote
    }

    /// Brings every repository in storage (and every one already known) in line with what
    /// storage holds now. Used at start-up and by `CACHE_INTERVAL`.
    pub fn rescan(&self) -> io::Result<()> {
        let mut names = self.storage.repositories(self.options.depth)?;
        names.extend(self.names());
        names.sort();
        names.dedup();
        let repositories: Vec<Arc<Repository>> = names.iter().map(|n| self.get_or_create(n)).collect();
        scan::sync(&*self.storage, self.options.workers, &repositories, &self.progress)
    }

    /// Checks and saves an upload into `repo`, which its first upload creates. Blocks.
    pub fn save(&self, repo: &str, upload: Upload, overwrite: bool) -> Result<(), SaveError> {
        let checked = upload.check(self.settings.strict_semver)?;
        let repository = self.get_or_create(repo);
        let touched = writes::save(&repository, &*self.storage, checked, overwrite, self.options.limits)?;
        self.announce(&repository, &touched);
        Ok(())
    }

    /// Deletes a version of a chart and its provenance file. Blocks.
    pub fn delete(&self, repo: &str, name: &str, version: &str) -> Result<(), DeleteError> {
        let not_found = || DeleteError::NotFound(format!("chart version not found: {name} {version}"));
        let repository = self.get(repo).ok_or_else(not_found)?;
        let deleted = writes::delete(&repository, &*self.storage, name, version)?;
        self.announce(&repository, &[deleted]);
        Ok(())
    }

    /// Tells the other replicas on a shared bucket that `files` changed, before the
    /// writer answers: so an acknowledged change reaches every replica's index.
    fn announce(&self, repository: &Repository, files: &[String]) {
        let Some(journal) = self.storage.journal() else { return };
        for file in files {
            let record = replicas::record(repository, file);
            let mut tries = 0;
            while let Err(error) = journal.append(record.clone()) {
                tries += 1;
                if tries == JOURNAL_TRIES {
                    tracing::error!(repo = %repository.name(), %file, %error,
                        "could not tell the other replicas of a change: they see it at their next full rescan");
                    break;
                }
            }
        }
    }

    /// Takes in what other replicas changed since the last call (nothing without a shared
    /// bucket). Returns how many files changed in the index. Blocks.
    pub fn follow(&self) -> io::Result<usize> {
        let Some(journal) = self.storage.journal() else { return Ok(0) };
        let mut cursor = self.journal_cursor.lock().unwrap_or_else(|p| p.into_inner());
        let cursor = cursor.get_or_insert_with(JournalCursor::now);
        let records = journal.read_new(cursor)?;
        if records.is_empty() {
            return Ok(0);
        }
        replicas::apply(&*self.storage, records, |name| self.get_or_create(name))
    }

    /// Whether this catalog shares its storage with other replicas.
    pub fn is_shared(&self) -> bool {
        self.storage.journal().is_some()
    }

    /// The storage itself, for what lives beside the charts (OCI blobs and manifests).
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// A temporary file to receive an upload's part into. Blocks.
    pub fn spool(&self) -> io::Result<Spool> {
        self.storage.spool()
    }

    /// Opens a stored package or provenance file for streaming, as the index describes
    /// it: when a bucket holds other bytes under an indexed name than the index was made
    /// from (another replica replaced them a moment ago), the file is indexed again first,
    /// so the digest served matches the bytes served. Blocks.
    pub fn open(&self, repo: &str, file: &str) -> io::Result<(Opened, ObjectInfo)> {
        let (opened, info) = self.storage.open(repo, file)?;
        let Some(repository) = self.get(repo) else { return Ok((opened, info)) };
        let indexed = repository.snapshot().by_file(file).map(|version| version.stamp().tag);
        if info.tag == 0 || indexed.is_none_or(|tag| tag == info.tag) {
            return Ok((opened, info));
        }
        drop(opened);
        replicas::refresh(&*self.storage, &repository, replicas::unrecorded([file.to_string()]))?;
        self.storage.open(repo, file)
    }

    /// Reads a stored package's contents (values and templates). Blocks.
    pub fn read_package(&self, repo: &str, file: &str) -> Result<ChartPackage, String> {
        let bytes: Bytes = self.storage.read(repo, file).map_err(|e| e.to_string())?;
        package::read(&bytes, Keep::Contents, false)
    }
}
