//! `GEN_INDEX`: print the index of the storage folder to standard output and exit, for a
//! static web server to host.
//!
//! The index is built exactly as the server builds the one it serves (same `CHART_URL`,
//! `CONTEXT_PATH`, `JSON_INDEX`, start-up cache), but nothing is listened on and nothing
//! in the folder is changed: it is opened as it is, never created, its leftover upload
//! files are not swept (a live server may be writing them) and no start-up cache is
//! written. Only the index goes to standard output; logs go to standard error.
//!
//! As in ChartMuseum it needs `DEPTH=0` (checked with the configuration): the folder is
//! the one repository. A repository of a deeper layout is printed by pointing
//! `STORAGE_LOCAL_ROOTDIR` at its folder — one index per run keeps the output a plain
//! index file, whatever reads it.

use std::io::Write;
use std::sync::Arc;

use crate::config::Config;
use crate::index::{Catalog, Start};
use crate::server::{index_options, index_settings};
use crate::storage::LocalStorage;

/// The index of `config`'s storage folder (a repository at `DEPTH=0`), as it would be
/// served.
pub fn generate(config: &Config) -> Result<Vec<u8>, String> {
    let root = &config.storage_local_rootdir;
    let unreadable = |e: std::io::Error| format!("cannot read STORAGE_LOCAL_ROOTDIR {}: {e}", root.display());
    let storage = LocalStorage::open_existing(root).map_err(unreadable)?;
    let catalog = Catalog::new(Arc::new(storage), index_settings(config), index_options(config));
    if catalog.start().map_err(unreadable)? == Start::Unverified {
        catalog.rescan().map_err(unreadable)?;
    }
    Ok(catalog.snapshot("").index.to_vec())
}

/// Writes the index of `config`'s storage folder to standard output.
pub fn print(config: &Config) -> Result<(), String> {
    let index = generate(config)?;
    let mut out = std::io::stdout().lock();
    out.write_all(&index)
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the index to standard output: {e}"))
}
