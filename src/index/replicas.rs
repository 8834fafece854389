//! Replicas that share a bucket: telling the others what this one changed, and taking in
//! what they changed, through the storage's [`Journal`](crate::storage::Journal).
//!
//! A record names a package file of a repository and carries what its writer indexed for
//! it, or nothing for a delete. A record is a hint, never the truth: the follower asks the
//! bucket for each named file's stamp (in parallel HEADs) and takes the record's entry
//! only when its stamp is the file's stamp now; otherwise it reads the package itself
//! (two replicas wrote one key and the bucket kept the later one). So the index a
//! replica serves always describes bytes the bucket holds, and records may arrive late,
//! twice or out of order without harm.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::entry::{FileStamp, IndexedVersion};
use super::repository::Repository;
use super::scan::{put_read, read_version};
use crate::chart::ChartVersionEntry;
use crate::storage::Storage;

#[derive(Serialize, Deserialize)]
struct Record {
    repo: String,
    file: String,
    /// What the writer indexed for the file; `None`: it deleted it.
    version: Option<Recorded>,
}

/// What a writer indexed for a file.
#[derive(Serialize, Deserialize)]
pub struct Recorded {
    /// The index entry, with digest and created time.
    entry: ChartVersionEntry,
    size: u64,
    seconds: u64,
    nanos: u32,
    tag: u64,
}

/// The record of what `repository`'s index holds for `file` now.
pub fn record(repository: &Repository, file: &str) -> Vec<u8> {
    let snapshot = repository.snapshot();
    let version = snapshot.by_file(file).map(|version| {
        let stamp = version.stamp();
        let since = stamp.modified.duration_since(UNIX_EPOCH).unwrap_or_default();
        Recorded {
            entry: version.entry(),
            size: stamp.size,
            seconds: since.as_secs(),
            nanos: since.subsec_nanos(),
            tag: stamp.tag,
        }
    });
    let record = Record { repo: repository.name().to_string(), file: file.to_string(), version };
    serde_json::to_vec(&record).expect("a record serializes")
}

/// What a record's file needs, decided outside the writer's lock.
enum Step {
    Remove,
    Put(FileStamp, Result<IndexedVersion, String>),
}

/// Brings the files the records name in line with the bucket. `repository` finds (or
/// creates) a repository by name. Returns how many files changed in the index.
pub fn apply(
    storage: &dyn Storage,
    records: Vec<Bytes>,
    repository: impl Fn(&str) -> Arc<Repository>,
) -> io::Result<usize> {
    // The last record of a file is the one that matters (they are in journal order).
    let mut by_repo: BTreeMap<String, BTreeMap<String, Option<Recorded>>> = BTreeMap::new();
    for bytes in records {
        match serde_json::from_slice::<Record>(&bytes) {
            Ok(record) if record.file.ends_with(".tgz") => {
                by_repo.entry(record.repo).or_default().insert(record.file, record.version);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "skipping a journal record that does not parse"),
        }
    }
    let mut changed = 0;
    for (repo, files) in by_repo {
        changed += refresh(storage, &repository(&repo), files)?;
    }
    Ok(changed)
}

/// Brings `files` of `repository` in line with the bucket, taking a recorded entry where
/// its stamp is the file's. Returns how many files changed in the index.
pub fn refresh(
    storage: &dyn Storage,
    repository: &Repository,
    files: BTreeMap<String, Option<Recorded>>,
) -> io::Result<usize> {
    let names: Vec<String> = files.keys().cloned().collect();
    let now = storage.stat_many(repository.name(), &names)?;
    let indexed: Vec<Option<FileStamp>> =
        repository.inspect(|state| names.iter().map(|name| state.stamp_of(name)).collect());
    let mut steps = Vec::new();
    for (((name, recorded), now), indexed) in files.into_iter().zip(now).zip(indexed) {
        let step = match now {
            None if indexed.is_none() => continue,
            None => Step::Remove,
            Some(object) => {
                let stamp = FileStamp::of(&object);
                if indexed == Some(stamp) {
                    continue;
                }
                match recorded.filter(|r| r.stamp() == stamp).and_then(|r| r.version(repository, &name)) {
                    Some(version) => Step::Put(stamp, Ok(version)),
                    None => {
                        let (read, result) = read_version(storage, repository, object);
                        Step::Put(FileStamp::of(&read), result)
                    }
                }
            }
        };
        steps.push((name, indexed, step));
    }
    Ok(repository.change(|state| {
        let mut changed = 0;
        for (name, indexed, step) in steps {
            // A writer of this replica changed the file meanwhile: its view is newer.
            if state.stamp_of(&name) != indexed {
                continue;
            }
            let did = match step {
                Step::Remove => state.remove_file(&name).is_some(),
                Step::Put(stamp, result) => put_read(state, repository, name, stamp, result),
            };
            changed += usize::from(did);
        }
        changed
    }))
}

/// The files named, with no record: each is read again if the bucket's copy differs.
pub fn unrecorded(files: impl IntoIterator<Item = String>) -> BTreeMap<String, Option<Recorded>> {
    files.into_iter().map(|file| (file, None)).collect()
}

impl Recorded {
    fn stamp(&self) -> FileStamp {
        FileStamp { size: self.size, modified: UNIX_EPOCH + Duration::new(self.seconds, self.nanos), tag: self.tag }
    }

    /// The version as this replica indexes it, or `None` if the record does not hold one.
    fn version(self, repository: &Repository, file: &str) -> Option<IndexedVersion> {
        let stamp = self.stamp();
        let mut entry = self.entry;
        let semver = entry.validate(repository.settings().strict_semver).ok()?;
        let digest: [u8; 32] = hex::decode(&entry.digest).ok()?.try_into().ok()?;
        let created = humantime::parse_rfc3339(&entry.created).ok()?;
        Some(IndexedVersion::new(
            entry,
            semver,
            file.to_string(),
            stamp,
            digest,
            created,
            repository.url_prefix(),
            repository.settings().format,
        ))
    }
}
