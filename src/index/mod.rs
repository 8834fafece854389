//! The index: each repository's model (chart → versions), the snapshots readers see,
//! and the code that changes them (scans of storage, uploads, deletes).
//!
//! ```text
//! storage ──scan──▶ RepoState ──publish──▶ RepoSnapshot ──ArcSwap──▶ readers
//!    ▲                  ▲         (after every change, before the answer)
//!    └── upload/delete ─┘
//! ```
//!
//! The files form a stack; each uses only those listed before it (`tests/layers.rs`
//! holds the code to this order):
//!
//! - `render`: the index's text — key lines and version entries as YAML, or as JSON
//!   (`JSON_INDEX`), and the separators JSON needs between them.
//! - `crc`: CRC-32 of a concatenation from its parts.
//! - `settings`: what every repository's index shares (`CHART_URL`, `CONTEXT_PATH`, …).
//! - `entry`: one version as a scan or an upload reads it, rendered once when it arrives.
//! - `charts`: a chart's text and a fixed-size row per version (what the index keeps of
//!   each version), and pointing that text into a segment's.
//! - `piece`: a run of text and its raw-deflate link of the gzip chain.
//! - `blocks`: segments, grouped in blocks that carry joined CRCs.
//! - `segments`: where the text is cut, kept in step with the charts.
//! - `encoding`: one encoding of the index ready for the wire (the one place that knows
//!   HTTP headers and `sendfile`).
//! - `stitch`: both encodings from the segments; the gzip member's header and trailer.
//! - `snapshot`: the immutable answer to every read of one repository.
//! - `state`: the writer's model; publishing makes a snapshot of it.
//! - `repository`: a state behind its lock, a snapshot behind `ArcSwap`, and
//!   [`Repository::change`](repository::Repository::change), the one door for changes.
//! - `startup_cache`: the file a restart reads instead of every package.
//! - `progress`: how far the scans have got, for `/metrics`.
//! - `scan`: reading storage into the index on a pool of workers.
//! - `writes`: uploads and deletes.
//! - `replicas`: telling replicas on a shared bucket what changed, and taking in what
//!   they changed.
//! - `catalog`: all repositories, and what the rest of the server asks of them.

mod render;
mod crc;
mod settings;
mod entry;
mod charts;
mod piece;
mod parallel;
mod blocks;
mod segments;
mod encoding;
mod stitch;
mod snapshot;
mod state;
mod repository;
mod startup_cache;
mod progress;
mod scan;
mod writes;
mod replicas;
mod catalog;

pub use catalog::{Catalog, Options, Start};
pub use charts::{Chart, HeldVersion, VersionRef};
pub use encoding::{Chunks, Cursor, Representation};
pub use entry::{FileStamp, IndexedVersion};
pub use progress::ScanProgress;
pub use render::Format;
pub use settings::IndexSettings;
pub use snapshot::RepoSnapshot;
pub use writes::{DeleteError, Limits, SaveError, Upload};
