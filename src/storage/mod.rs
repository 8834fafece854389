//! Where packages live. The server talks to storage only through [`Storage`]: a local
//! folder ([`LocalStorage`]) or an S3-compatible bucket ([`ObjectStorage`]). The trait
//! promises only what a bucket can do too (a whole object written atomically, a flat
//! listing per repository, no directory handles, no rename).
//!
//! A bucket may be shared by several replicas; such a store also keeps a [`Journal`], the
//! log through which each replica tells the others what it changed.
//!
//! Calls block: callers run them on tokio's blocking pool.

mod journal;
mod local;
mod object;
mod spool;

use std::io::{self, Write};
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::stream::BoxStream;

pub use journal::{Journal, JournalCursor, JOURNAL_GAP};
pub use local::LocalStorage;
pub use object::{BucketSettings, ObjectStorage};
pub use spool::Spool;

/// One stored object, as a listing returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// File name inside its repository, e.g. `nginx-1.2.3.tgz`.
    pub name: String,
    pub size: u64,
    pub modified: SystemTime,
    /// What tells two versions of an object apart when size and time cannot: a bucket's
    /// ETag, folded to a number (two replicas may write one key within a second). 0 for a
    /// folder, where one server writes and the time is exact enough.
    pub tag: u64,
}

/// An object opened for streaming to a client.
pub enum Opened {
    /// A local file: sent in chunks read from the page cache.
    File(std::fs::File),
    /// A bucket's response body, passed on as it arrives.
    Stream(BoxStream<'static, io::Result<Bytes>>),
}

/// Whether placing an object may replace one under its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placing {
    Replace,
    /// Refuse with `AlreadyExists` if the object exists, where the store can tell
    /// atomically (a bucket with conditional writes); elsewhere the same as `Replace`,
    /// the caller having checked under its repository's lock.
    CreateOnly,
}

/// A repository is a path of `DEPTH` segments (`""` at depth 0, `org/team` at depth 2).
pub trait Storage: Send + Sync + 'static {
    /// Every repository that exists, at the given depth.
    fn repositories(&self, depth: u8) -> io::Result<Vec<String>>;
    /// The chart packages (`*.tgz`) and provenance files of a repository; an absent
    /// repository lists nothing.
    fn list(&self, repo: &str) -> io::Result<Vec<ObjectInfo>>;
    /// The names [`Storage::list`] gives, without sizes and times: cheap enough (a local
    /// folder needs no stat per file) for a first scan to start reading at once.
    fn list_names(&self, repo: &str) -> io::Result<Vec<String>> {
        Ok(self.list(repo)?.into_iter().map(|object| object.name).collect())
    }
    /// Every object of a folder of the server's own (a dot-folder such as `.oci-blobs`),
    /// whatever its name: [`Storage::list`] lists charts only.
    fn list_own(&self, folder: &str) -> io::Result<Vec<ObjectInfo>>;
    fn stat(&self, repo: &str, name: &str) -> io::Result<Option<ObjectInfo>>;
    fn read(&self, repo: &str, name: &str) -> io::Result<Bytes>;
    /// An object's bytes with the size and time they were read at.
    fn read_object(&self, repo: &str, name: &str) -> io::Result<(Bytes, ObjectInfo)> {
        let info = self.stat(repo, name)?.ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        Ok((self.read(repo, name)?, info))
    }
    /// Opens an object for streaming to a client.
    fn open(&self, repo: &str, name: &str) -> io::Result<(Opened, ObjectInfo)>;
    /// Writes a whole object, its content streamed by `fill` (the start-up cache never sits
    /// whole in memory), so that it is durable when this returns and a crash never leaves a
    /// partial object under `name`.
    fn write_with(
        &self,
        repo: &str,
        name: &str,
        fill: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<ObjectInfo>;
    /// A temporary file for a new object, to fill as it arrives and then [`Storage::place`]
    /// (or drop: it is removed).
    fn spool(&self) -> io::Result<Spool>;
    /// Makes a filled spool the object `name`, as [`Storage::write_with`] writes one:
    /// durable when this returns, never visible in part.
    fn place(&self, repo: &str, name: &str, spool: Spool, placing: Placing) -> io::Result<ObjectInfo>;
    /// Removes an object; `Ok(false)` when it did not exist.
    fn delete(&self, repo: &str, name: &str) -> io::Result<bool>;
    /// [`Storage::stat`] of many objects at once (a bucket asks in parallel).
    fn stat_many(&self, repo: &str, names: &[String]) -> io::Result<Vec<Option<ObjectInfo>>> {
        names.iter().map(|name| self.stat(repo, name)).collect()
    }
    /// The change log shared with other replicas; `None` for a store only this server uses.
    fn journal(&self) -> Option<&dyn Journal> {
        None
    }
}

/// Whether a file name is one the server serves and indexes: packages and provenance
/// files, never dot-files (the server's own state and temporary files).
pub fn is_chart_object(name: &str) -> bool {
    !name.starts_with('.') && (name.ends_with(".tgz") || name.ends_with(".tgz.prov"))
}
