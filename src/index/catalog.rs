//! All repositories, found at start-up or created by their first upload.
//!
//! The map is itself an immutable value behind `ArcSwap`: looking a repository up is an
//! atomic load and a hash lookup; creating one (rare) copies the map.

use std::collections::HashMap;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;

use super::cache::{self, CacheView, CACHE_FILE};
use super::repository::Repository;
use super::snapshot::{IndexSettings, RepoSnapshot};
use crate::storage::Storage;

pub struct Catalog {
    pub storage: Arc<dyn Storage>,
    pub settings: IndexSettings,
    /// Parallel package readers for scans.
    pub workers: usize,
    pub depth: u8,
    repositories: ArcSwap<HashMap<String, Arc<Repository>>>,
    /// Serializes creations so two first uploads to one new repository share it.
    creating: Mutex<()>,
    /// What an unknown repository serves: an index with no entries. Unknown names are not
    /// remembered, so a scan of random URLs cannot grow the map.
    empty: Arc<RepoSnapshot>,
}

impl Catalog {
    pub fn new(storage: Arc<dyn Storage>, settings: IndexSettings, workers: usize, depth: u8) -> Catalog {
        let empty = RepoSnapshot::build(&mut Default::default(), &settings, SystemTime::now());
        Catalog {
            storage,
            settings,
            workers: workers.max(1),
            depth,
            repositories: ArcSwap::from_pointee(HashMap::new()),
            creating: Mutex::new(()),
            empty,
        }
    }

    pub fn get(&self, name: &str) -> Option<Arc<Repository>> {
        self.repositories.load().get(name).cloned()
    }

    /// The snapshot of a repository, or the empty one when it does not exist.
    pub fn snapshot(&self, name: &str) -> Arc<RepoSnapshot> {
        match self.repositories.load().get(name) {
            Some(repository) => repository.snapshot(),
            None => self.empty.clone(),
        }
    }

    pub fn get_or_create(&self, name: &str) -> Arc<Repository> {
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

    /// Start-up: adopts each repository's cache, then reads what changed since it was
    /// written.
    pub fn start(&self) -> io::Result<()> {
        for name in self.storage.repositories(self.depth)? {
            let repository = self.get_or_create(&name);
            let bytes = match self.storage.read(&name, CACHE_FILE) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            match cache::decode(&bytes, &repository.url_prefix, self.settings.strict_semver) {
                Ok(mut state) => {
                    tracing::info!(repo = %name, versions = state.version_count(), "loaded the start-up cache");
                    repository.publish(&mut state, &self.settings);
                    *repository.lock() = state;
                    let generation = repository.generation.load(Ordering::Acquire);
                    repository.cached_generation.store(generation, Ordering::Release);
                }
                Err(problem) => tracing::warn!(repo = %name, %problem, "ignoring the start-up cache"),
            }
        }
        self.rescan()
    }

    /// Writes the start-up cache of every repository changed since its last save. Runs
    /// off the request path; a failure only costs the next start-up some time. Returns
    /// whether it wrote anything.
    pub fn save_caches(&self) -> bool {
        let mut wrote = false;
        for repository in self.repositories.load().values() {
            let generation = repository.generation.load(Ordering::Acquire);
            if generation == repository.cached_generation.load(Ordering::Acquire) {
                continue;
            }
            let (view, generation) = {
                let state = repository.lock();
                (CacheView::of(&state), repository.generation.load(Ordering::Acquire))
            };
            let (prefix, strict) = (&repository.url_prefix, self.settings.strict_semver);
            match self.storage.write_with(&repository.name, CACHE_FILE, &mut |out| view.encode_to(out, prefix, strict))
            {
                Ok(_) => {
                    repository.cached_generation.store(generation, Ordering::Release);
                    wrote = true;
                }
                Err(error) => tracing::warn!(repo = %repository.name, %error, "could not write the start-up cache"),
            }
        }
        wrote
    }

    /// Brings every repository in storage (and every one already known) in line with what
    /// storage holds now. Used at start-up and by `CACHE_INTERVAL`.
    pub fn rescan(&self) -> io::Result<()> {
        let mut names = self.storage.repositories(self.depth)?;
        names.extend(self.names());
        names.sort();
        names.dedup();
        let repositories: Vec<Arc<Repository>> = names.iter().map(|n| self.get_or_create(n)).collect();
        super::scan::sync(self, &repositories)
    }
}
