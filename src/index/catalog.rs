//! All repositories, found at start-up or created by their first upload.
//!
//! The map is itself an immutable value behind `ArcSwap`: looking a repository up is an
//! atomic load and a hash lookup; creating one (rare) copies the map.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;

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
