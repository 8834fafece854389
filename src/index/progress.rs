//! How far the storage scans have got, for `/metrics`: a start-up over a million packages
//! takes a while, and an operator wants to see it move, and then what it cost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Counters the scans and the start-up write, and anyone may read.
#[derive(Debug, Default)]
pub struct ScanProgress {
    planned: AtomicU64,
    read: AtomicU64,
    cached: AtomicU64,
    completed: AtomicU64,
    startup_micros: AtomicU64,
}

impl ScanProgress {
    /// A scan sets out to read `packages`.
    pub fn begin(&self, packages: usize) {
        self.read.store(0, Ordering::Relaxed);
        self.planned.store(packages as u64, Ordering::Relaxed);
    }

    pub fn read_some(&self, packages: usize) {
        self.read.fetch_add(packages as u64, Ordering::Relaxed);
    }

    pub fn complete(&self) {
        self.completed.fetch_add(1, Ordering::Relaxed);
    }

    /// Versions adopted from start-up caches instead of being read.
    pub fn adopt_cached(&self, versions: usize) {
        self.cached.fetch_add(versions as u64, Ordering::Relaxed);
    }

    pub fn started_in(&self, took: Duration) {
        self.startup_micros.store(took.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn planned(&self) -> u64 {
        self.planned.load(Ordering::Relaxed)
    }

    pub fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    pub fn cached(&self) -> u64 {
        self.cached.load(Ordering::Relaxed)
    }

    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    pub fn startup_seconds(&self) -> f64 {
        self.startup_micros.load(Ordering::Relaxed) as f64 / 1e6
    }
}
