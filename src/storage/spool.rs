//! A new object as it arrives: a temporary file of the storage's own, filled while the
//! request body streams in, checked from there, and then placed under its name, or
//! removed. So an upload holds a few buffers of memory however large it is and however
//! many arrive at once, and nothing half-received is ever visible.

use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::PathBuf;

use sha2::{Digest, Sha256};

/// A temporary file being filled; removed when dropped unless placed.
pub struct Spool {
    file: File,
    /// `None` once placed: the file is the object's now.
    path: Option<PathBuf>,
    len: u64,
    hasher: Sha256,
}

impl Spool {
    /// A spool over a file just created at `path`, which the spool now owns.
    pub fn new(file: File, path: PathBuf) -> Spool {
        Spool { file, path: Some(path), len: 0, hasher: Sha256::new() }
    }

    /// Appends `bytes` (a blocking write).
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        Ok(())
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// SHA-256 of everything appended.
    pub fn digest(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }

    /// The content from its start, through a reader of its own.
    pub fn reader(&self) -> io::Result<BufReader<File>> {
        let path = self.path.as_deref().expect("a spool not yet placed");
        Ok(BufReader::with_capacity(64 * 1024, File::open(path)?))
    }

    /// The whole content, for small objects (provenance files).
    pub fn read_to_vec(&self) -> io::Result<Vec<u8>> {
        std::fs::read(self.path.as_deref().expect("a spool not yet placed"))
    }

    /// For the storage that places it: the file and where it is, after which dropping the
    /// spool removes nothing.
    pub(super) fn take(&mut self) -> (&File, PathBuf) {
        (&self.file, self.path.take().expect("a spool is placed once"))
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}
