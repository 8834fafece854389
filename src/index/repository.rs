//! One repository: its writer-owned state and the snapshot readers see, and the one door
//! through which every change passes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use arc_swap::ArcSwap;

use super::settings::IndexSettings;
use super::snapshot::RepoSnapshot;
use super::state::RepoState;

pub struct Repository {
    /// `""` at depth 0, `team` at depth 1, `org/team` at depth 2.
    name: String,
    settings: IndexSettings,
    /// Prefix of the `urls` of this repository's versions.
    url_prefix: String,
    /// One writer at a time: uploads, deletes and rescans of this repository queue here,
    /// while other repositories' writers and every reader go on.
    state: Mutex<RepoState>,
    /// What readers see; replaced whole after every change.
    snapshot: ArcSwap<RepoSnapshot>,
    /// Counts published changes, so the cache writer knows what it has not saved yet.
    generation: AtomicU64,
    /// The generation the start-up cache on disk holds.
    cached_generation: AtomicU64,
}

impl Repository {
    pub fn new(name: String, settings: &IndexSettings) -> Repository {
        Repository {
            url_prefix: settings.url_prefix(&name),
            snapshot: ArcSwap::from_pointee(RepoSnapshot::empty(settings)),
            settings: settings.clone(),
            name,
            state: Mutex::new(RepoState::new(settings.format)),
            generation: AtomicU64::new(0),
            cached_generation: AtomicU64::new(0),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn settings(&self) -> &IndexSettings {
        &self.settings
    }

    pub fn url_prefix(&self) -> &str {
        &self.url_prefix
    }

    /// The current snapshot: an atomic load, never blocked by writers.
    pub fn snapshot(&self) -> Arc<RepoSnapshot> {
        self.snapshot.load_full()
    }

    /// Every change of the repository — upload, delete, rescan, start-up cache — goes
    /// through here: take the writer's lock, `apply` the change to the state, and if it
    /// changed the charts, publish the next snapshot before the lock is released. So when
    /// a writer answers, readers already see what it did.
    pub fn change<R>(&self, apply: impl FnOnce(&mut RepoState) -> R) -> R {
        let mut state = self.lock();
        let result = apply(&mut state);
        if state.is_unpublished() {
            self.snapshot.store(Arc::new(state.publish(&self.settings, SystemTime::now())));
            self.generation.fetch_add(1, Ordering::Release);
        }
        result
    }

    /// Looks at the state under the writer's lock, changing nothing.
    pub fn inspect<R>(&self, look: impl FnOnce(&RepoState) -> R) -> R {
        look(&self.lock())
    }

    /// Published changes so far.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Notes that the start-up cache on disk holds `generation`.
    pub fn mark_cached(&self, generation: u64) {
        self.cached_generation.store(generation, Ordering::Release);
    }

    /// Whether the start-up cache on disk holds the latest change.
    pub fn is_cached(&self) -> bool {
        self.generation() == self.cached_generation.load(Ordering::Acquire)
    }

    /// A writer that panicked leaves the lock poisoned but the state whole (each of its
    /// methods finishes or has not begun), so it stays usable; a change it had applied but
    /// not published is published by the next writer.
    fn lock(&self) -> MutexGuard<'_, RepoState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
