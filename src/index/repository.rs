//! One repository: its writer-owned state and the snapshot readers see.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use arc_swap::ArcSwap;

use super::snapshot::{IndexSettings, RepoSnapshot};
use super::state::RepoState;

pub struct Repository {
    /// `""` at depth 0, `team` at depth 1, `org/team` at depth 2.
    pub name: String,
    /// Prefix of the `urls` of this repository's versions.
    pub url_prefix: String,
    /// One writer at a time: uploads, deletes and rescans of this repository queue here,
    /// while other repositories' writers and every reader go on.
    state: Mutex<RepoState>,
    /// What readers see; replaced whole after every change.
    snapshot: ArcSwap<RepoSnapshot>,
    /// Counts published changes, so the cache writer knows what it has not saved yet.
    pub generation: AtomicU64,
    /// The generation the start-up cache on disk holds.
    pub cached_generation: AtomicU64,
}

impl Repository {
    pub fn new(name: String, settings: &IndexSettings) -> Repository {
        let mut state = RepoState::default();
        let snapshot = RepoSnapshot::build(&mut state, settings, SystemTime::now());
        Repository {
            url_prefix: settings.url_prefix(&name),
            name,
            state: Mutex::new(state),
            snapshot: ArcSwap::new(snapshot),
            generation: AtomicU64::new(0),
            cached_generation: AtomicU64::new(0),
        }
    }

    /// The current snapshot: an atomic load, never blocked by writers.
    pub fn snapshot(&self) -> Arc<RepoSnapshot> {
        self.snapshot.load_full()
    }

    /// Takes the writer's lock. A writer that panicked left the state as it was before its
    /// change was published (changes are applied, then published), so it stays usable.
    pub fn lock(&self) -> MutexGuard<'_, RepoState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Builds the snapshot of `state` and makes it the one readers see.
    pub fn publish(&self, state: &mut RepoState, settings: &IndexSettings) {
        self.store(RepoSnapshot::build(state, settings, SystemTime::now()));
    }

    /// Makes a snapshot built from the current state the one readers see.
    pub fn store(&self, snapshot: Arc<RepoSnapshot>) {
        self.snapshot.store(snapshot);
        self.generation.fetch_add(1, Ordering::Release);
    }
}
