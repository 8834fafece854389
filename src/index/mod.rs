//! The index: each repository's model (chart → versions), the snapshots readers see,
//! and the code that changes them (scans of storage, uploads, deletes).
//!
//! ```text
//! storage ──scan──▶ RepoState ──publish──▶ RepoSnapshot ──ArcSwap──▶ readers
//!    ▲                  ▲         (after every change, before the answer)
//!    └── upload/delete ─┘
//! ```

pub mod blocks;
pub mod cache;
pub mod catalog;
pub mod crc;
pub mod render;
pub mod repository;
pub mod scan;
pub mod segments;
pub mod snapshot;
pub mod state;
pub mod version;
pub mod writes;

pub use catalog::Catalog;
pub use snapshot::{IndexSettings, RepoSnapshot, Representation};
pub use writes::{UploadedChart, UploadedProvenance, WriteError};
