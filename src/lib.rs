//! ChartHall: a Helm chart repository server that answers the hot path — thousands of
//! CI jobs fetching one `index.yaml` — with a pointer copy.
//!
//! The map of the crate:
//!
//! - [`config`]: flags, environment variables and ChartMuseum's config file, validated
//!   before anything starts; every ChartMuseum setting is taken or refused by name.
//! - [`chart`]: what a chart package is — reading a `.tgz` safely, `Chart.yaml`
//!   metadata and Helm's validation, provenance files, version ordering, and a version as
//!   an OCI artifact.
//! - [`storage`]: the [`storage::Storage`] trait, the local-folder backend, the S3 bucket
//!   backend, and the journal through which replicas on one bucket share their changes.
//! - [`index`]: per-repository state, the immutable snapshots readers see (swapped with
//!   `ArcSwap`), storage scans on a worker pool, and the write path (upload, delete).
//! - [`http`]: a bare hyper service — routing, basic auth, handlers, response bodies,
//!   the OCI distribution API (`/v2/`, pull and push over the same storage), and the
//!   browse page a browser gets at `/` (compiled in, so it works offline).
//! - [`log_sink`]: log lines buffered per thread and written by a thread of their own,
//!   so logging a request never waits on the log's reader.
//! - [`sendfile`]: small index bodies in page-cache files the kernel sends without copying.
//! - [`server`]: the start-up sequence and the serving loop, as the binary runs them and
//!   as tests can run them in-process.
//! - [`gen_index`]: `GEN_INDEX` — print the storage folder's index and exit, serving nothing.
//!
//! Reads never lock or serialize: every change builds the next snapshot at write time,
//! before the writer answers.

pub mod chart;
pub mod config;
pub mod gen_index;
pub mod http;
pub mod index;
pub mod log_sink;
pub mod sendfile;
pub mod server;
pub mod storage;

/// The checks behind the `cargo fuzz` targets in `fuzz/`; not an API.
#[doc(hidden)]
pub mod fuzzing;
