//! The embedded default backend: a folder on the local disk, laid out as ChartMuseum and
//! the original ChartHall lay it out (`<root>/<repo>/<name>-<version>.tgz`), so an
//! existing folder is served as it is.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::{is_chart_object, ObjectInfo, Opened, Placing, Spool, Storage};

/// Prefix of in-flight upload files: a dot-file, so never listed, and swept at start-up.
const TEMP_PREFIX: &str = ".upload-";
/// The folder (under the root, a dot-folder: never a repository) where objects being
/// received are spooled, so that a refused upload leaves nothing in any repository, not
/// even a new folder. Emptied at start-up.
const SPOOL_DIR: &str = ".spool";

pub struct LocalStorage {
    root: PathBuf,
    next_temp: AtomicU64,
}

impl LocalStorage {
    /// Opens (and creates) the root folder, and removes upload files a crash left behind.
    pub fn open(root: &Path, depth: u8) -> io::Result<LocalStorage> {
        fs::create_dir_all(root)?;
        let storage = LocalStorage { root: root.to_path_buf(), next_temp: AtomicU64::new(0) };
        for repo in storage.repositories(depth)? {
            storage.sweep_temporaries(&storage.dir(&repo));
        }
        storage.sweep_temporaries(&root.join(SPOOL_DIR));
        Ok(storage)
    }

    /// Opens an existing root folder only to read it: nothing is created or swept, since a
    /// live server may be using it (`GEN_INDEX`). A missing or unreadable folder is an
    /// error.
    pub fn open_existing(root: &Path) -> io::Result<LocalStorage> {
        if !fs::metadata(root)?.is_dir() {
            return Err(io::Error::new(io::ErrorKind::NotADirectory, "not a folder"));
        }
        fs::read_dir(root)?;
        Ok(LocalStorage { root: root.to_path_buf(), next_temp: AtomicU64::new(0) })
    }

    /// Whether the server can write to the root folder: a folder it cannot write (a volume
    /// owned by another user) still serves reads, but every upload would fail, so start-up
    /// says so at once. Tries to create and remove a dot-file.
    pub fn check_writable(&self) -> io::Result<()> {
        let probe = self.root.join(format!("{TEMP_PREFIX}{}-write-check", std::process::id()));
        File::create(&probe).map_err(|e| in_folder(e, &self.root))?;
        fs::remove_file(&probe).map_err(|e| in_folder(e, &self.root))
    }

    fn dir(&self, repo: &str) -> PathBuf {
        if repo.is_empty() {
            self.root.clone()
        } else {
            self.root.join(repo)
        }
    }

    fn sweep_temporaries(&self, dir: &Path) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                // An upload the server never finished: nothing was confirmed for it.
                tracing::warn!(path = %entry.path().display(), "removing an unfinished upload left by a crash");
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// The entries of a repository's folder named as chart objects, with those names; an
    /// absent folder has none.
    fn chart_entries(&self, repo: &str) -> io::Result<Vec<(String, fs::DirEntry)>> {
        let Some(entries) = not_found_is_none(fs::read_dir(self.dir(repo)))? else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_chart_object(&name) {
                found.push((name, entry));
            }
        }
        Ok(found)
    }
}

/// Files a listing stats per thread, at least: fewer are not worth a thread.
const STAT_PER_THREAD: usize = 16 * 1024;

/// The files among `entries`, with their size and time.
fn stat_all(entries: Vec<(String, fs::DirEntry)>) -> io::Result<Vec<ObjectInfo>> {
    let mut objects = Vec::with_capacity(entries.len());
    for (name, entry) in entries {
        // A file removed between the listing and the stat is simply not listed.
        let Some(metadata) = not_found_is_none(entry.metadata())? else {
            continue;
        };
        if metadata.is_file() {
            objects.push(info(name, &metadata));
        }
    }
    Ok(objects)
}

fn info(name: String, metadata: &fs::Metadata) -> ObjectInfo {
    ObjectInfo { name, size: metadata.len(), modified: metadata.modified().unwrap_or(std::time::UNIX_EPOCH), tag: 0 }
}

fn not_found_is_none<T>(result: io::Result<T>) -> io::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// `error`, saying which folder it happened in: `Permission denied (os error 13)` alone
/// does not tell an operator what to fix.
fn in_folder(error: io::Error, dir: &Path) -> io::Error {
    io::Error::new(error.kind(), format!("{error} (in {})", dir.display()))
}

/// Makes a directory entry (a rename, a new file) durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Storage for LocalStorage {
    fn repositories(&self, depth: u8) -> io::Result<Vec<String>> {
        let mut level = vec![String::new()];
        for _ in 0..depth {
            let mut next = Vec::new();
            for parent in &level {
                let Some(entries) = not_found_is_none(fs::read_dir(self.dir(parent)))? else {
                    continue;
                };
                for entry in entries {
                    let entry = entry?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if name.starts_with('.') || !entry.file_type()?.is_dir() {
                        continue;
                    }
                    next.push(if parent.is_empty() { name } else { format!("{parent}/{name}") });
                }
            }
            level = next;
        }
        level.sort();
        Ok(level)
    }

    fn list(&self, repo: &str) -> io::Result<Vec<ObjectInfo>> {
        let entries = self.chart_entries(repo)?;
        // A stat is a system call per file: at a million files, seconds on one core. Big
        // folders are stat'ed on every core (each part keeps its order).
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let threads = (entries.len() / STAT_PER_THREAD).clamp(1, cores);
        let part = entries.len().div_ceil(threads).max(1);
        let mut entries = entries.into_iter();
        let parts: Vec<Vec<_>> = (0..threads).map(|_| entries.by_ref().take(part).collect()).collect();
        let stated: Vec<io::Result<Vec<ObjectInfo>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = parts.into_iter().map(|part| scope.spawn(move || stat_all(part))).collect();
            workers.into_iter().map(|w| w.join().expect("stat thread")).collect()
        });
        let mut objects = Vec::new();
        for part in stated {
            objects.extend(part?);
        }
        Ok(objects)
    }

    fn list_own(&self, folder: &str) -> io::Result<Vec<ObjectInfo>> {
        let Some(entries) = not_found_is_none(fs::read_dir(self.dir(folder)))? else {
            return Ok(Vec::new());
        };
        let mut objects = Vec::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(TEMP_PREFIX) {
                continue;
            }
            if let Some(metadata) = not_found_is_none(entry.metadata())?.filter(|m| m.is_file()) {
                objects.push(info(name, &metadata));
            }
        }
        Ok(objects)
    }

    fn list_names(&self, repo: &str) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for (name, entry) in self.chart_entries(repo)? {
            // The entry's type comes with the listing (as in `list`, links are not followed).
            if entry.file_type()?.is_file() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn read_object(&self, repo: &str, name: &str) -> io::Result<(Bytes, ObjectInfo)> {
        let (file, info) = self.open_file(repo, name)?;
        let mut bytes = Vec::with_capacity(info.size as usize);
        file.take(info.size).read_to_end(&mut bytes)?;
        Ok((Bytes::from(bytes), info))
    }

    fn stat(&self, repo: &str, name: &str) -> io::Result<Option<ObjectInfo>> {
        Ok(not_found_is_none(fs::metadata(self.dir(repo).join(name)))?
            .filter(|m| m.is_file())
            .map(|m| info(name.to_string(), &m)))
    }

    fn read(&self, repo: &str, name: &str) -> io::Result<Bytes> {
        fs::read(self.dir(repo).join(name)).map(Bytes::from)
    }

    fn open(&self, repo: &str, name: &str) -> io::Result<(Opened, ObjectInfo)> {
        let (file, info) = self.open_file(repo, name)?;
        Ok((Opened::File(file), info))
    }

    fn write_with(
        &self,
        repo: &str,
        name: &str,
        fill: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<ObjectInfo> {
        let dir = self.dir(repo);
        self.write_in(&dir, name, fill).map_err(|e| in_folder(e, &dir))
    }

    fn spool(&self) -> io::Result<Spool> {
        let dir = self.root.join(SPOOL_DIR);
        let path = dir.join(self.temp_name("spool"));
        let file = match File::create(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(&dir).map_err(|e| in_folder(e, &dir))?;
                File::create(&path)
            }
            created => created,
        };
        Ok(Spool::new(file.map_err(|e| in_folder(e, &dir))?, path))
    }

    /// One server writes a folder, under its repository's lock: `placing` needs no check here.
    fn place(&self, repo: &str, name: &str, mut spool: Spool, _placing: Placing) -> io::Result<ObjectInfo> {
        let dir = self.dir(repo);
        let placed = (|| {
            self.make_dir(&dir)?;
            let (file, from) = spool.take();
            // Durable before it has its name: the rename then publishes it whole.
            file.sync_all()?;
            let metadata = file.metadata()?;
            if let Err(error) = fs::rename(&from, dir.join(name)) {
                let _ = fs::remove_file(&from);
                return Err(error);
            }
            sync_dir(&dir)?;
            Ok(info(name.to_string(), &metadata))
        })();
        placed.map_err(|e| in_folder(e, &dir))
    }

    fn delete(&self, repo: &str, name: &str) -> io::Result<bool> {
        let dir = self.dir(repo);
        let removed = not_found_is_none(fs::remove_file(dir.join(name))).map_err(|e| in_folder(e, &dir))?.is_some();
        if removed {
            sync_dir(&dir).map_err(|e| in_folder(e, &dir))?;
        }
        Ok(removed)
    }
}

impl LocalStorage {
    fn open_file(&self, repo: &str, name: &str) -> io::Result<(File, ObjectInfo)> {
        let file = File::open(self.dir(repo).join(name))?;
        let metadata = file.metadata()?;
        if !metadata.is_file() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "not a file"));
        }
        Ok((file, info(name.to_string(), &metadata)))
    }

    /// Creates a repository's folder if it is new, durably: the new folders must survive
    /// a crash too, so each level up to the root is synced.
    fn make_dir(&self, dir: &Path) -> io::Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        fs::create_dir_all(dir)?;
        let mut level = dir;
        while let Some(parent) = level.parent() {
            sync_dir(parent)?;
            if parent == self.root {
                break;
            }
            level = parent;
        }
        Ok(())
    }

    /// A temporary file name, unique in this process and across restarts.
    fn temp_name(&self, suffix: &str) -> String {
        format!("{TEMP_PREFIX}{}-{}-{suffix}", std::process::id(), self.next_temp.fetch_add(1, Ordering::Relaxed))
    }

    /// [`Storage::write_with`] into the folder `dir`.
    fn write_in(
        &self,
        dir: &Path,
        name: &str,
        fill: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<ObjectInfo> {
        self.make_dir(dir)?;
        let temp = dir.join(self.temp_name(name));
        let result = (|| {
            let mut out = io::BufWriter::with_capacity(64 * 1024, File::create(&temp)?);
            fill(&mut out)?;
            let file = out.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
            let metadata = file.metadata()?;
            fs::rename(&temp, dir.join(name))?;
            sync_dir(dir)?;
            Ok(info(name.to_string(), &metadata))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }
}
