//! Reading storage into the index: at start-up, and again every `CACHE_INTERVAL` for
//! changes made behind the server's back.
//!
//! A scan lists each repository, reads only the packages whose size or mtime differ from
//! what the index holds, and does the reading in two stages joined by bounded crossbeam
//! channels: readers fetch packages with many requests in flight, a pool of worker
//! threads (one per core) hashes them and reads `Chart.yaml`. So start-up runs at disk
//! and CPU speed while memory holds only a few batches of packages at a time.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use bytes::Bytes;
use rustc_hash::FxHashMap;

use super::entry::{FileStamp, IndexedVersion};
use super::parallel;
use super::progress::ScanProgress;
use super::repository::Repository;
use super::state::RepoState;
use crate::chart::package::{self, Keep};
use crate::chart::version::newest_first;
use crate::storage::{ObjectInfo, Storage};

/// What a scan found to do in one repository.
#[derive(Default)]
struct Plan {
    /// Packages to (re)read, with the stamp the index held for that file when planned.
    read: Vec<(ObjectInfo, Option<FileStamp>)>,
    /// Indexed files no longer in storage, with their stamp when planned.
    remove: Vec<(String, FileStamp)>,
    /// Every package file the listing holds.
    present: Vec<String>,
    /// Nothing was indexed when planned: what is read fills the state at once.
    fresh: bool,
}

/// What the reads of one repository came to, sorted out on the scan's thread as they
/// arrive, while the rest is still being read.
enum Gathered {
    /// In arrival order: each will be weighed against what the index holds.
    Each(Vec<(ObjectInfo, Result<IndexedVersion, String>)>),
    /// A first scan's versions, grouped by chart, and the files that are no packages.
    ByChart { charts: FxHashMap<String, Vec<IndexedVersion>>, broken: Vec<(ObjectInfo, String)> },
}

impl Gathered {
    fn for_plan(plan: &Plan) -> Gathered {
        match plan.fresh {
            true => Gathered::ByChart { charts: FxHashMap::default(), broken: Vec::new() },
            false => Gathered::Each(Vec::with_capacity(plan.read.len())),
        }
    }

    fn take(&mut self, object: ObjectInfo, result: Result<IndexedVersion, String>) {
        match (self, result) {
            (Gathered::Each(results), result) => results.push((object, result)),
            (Gathered::ByChart { charts, .. }, Ok(version)) => match charts.get_mut(&version.name) {
                Some(versions) => versions.push(version),
                None => drop(charts.insert(version.name.clone(), vec![version])),
            },
            (Gathered::ByChart { broken, .. }, Err(problem)) => broken.push((object, problem)),
        }
    }

    /// Each result with the file it was read from and that file's stamp then.
    fn into_each(self) -> Vec<(String, FileStamp, Result<IndexedVersion, String>)> {
        match self {
            Gathered::Each(results) => results
                .into_iter()
                .map(|(object, result)| {
                    let stamp = FileStamp::of(&object);
                    (object.name, stamp, result)
                })
                .collect(),
            Gathered::ByChart { charts, broken } => {
                let versions = charts.into_values().flatten().map(|v| (v.file_name().into_owned(), v.stamp, Ok(v)));
                let broken = broken.into_iter().map(|(object, problem)| {
                    let stamp = FileStamp::of(&object);
                    (object.name, stamp, Err(problem))
                });
                versions.chain(broken).collect()
            }
        }
    }
}

/// Syncs the given repositories with `storage`, reading packages on `workers` threads,
/// and publishes those that changed; counts what it reads into `progress`.
pub fn sync(
    storage: &dyn Storage,
    workers: usize,
    repositories: &[Arc<Repository>],
    progress: &ScanProgress,
) -> io::Result<()> {
    let mut plans = Vec::with_capacity(repositories.len());
    for repository in repositories {
        let plan = repository.inspect(|state| -> io::Result<Plan> {
            // Nothing indexed yet: every package will be read, and the read tells its size
            // and time, so the listing need not stat each file first.
            let listing = if state.is_new() {
                let names = storage.list_names(repository.name())?;
                names.into_iter().map(|name| ObjectInfo { name, size: 0, modified: UNIX_EPOCH, tag: 0 }).collect()
            } else {
                storage.list(repository.name())?
            };
            Ok(plan(state, listing))
        })?;
        plans.push(plan);
    }
    let jobs: Vec<(usize, ObjectInfo)> = plans
        .iter()
        .enumerate()
        .flat_map(|(i, plan)| plan.read.iter().map(move |(object, _)| (i, object.clone())))
        .collect();
    let mut gathered: Vec<Gathered> = plans.iter().map(Gathered::for_plan).collect();
    progress.begin(jobs.len());
    read_all(storage, workers, repositories, jobs, progress, |(i, object, result)| gathered[i].take(object, result));
    for ((repository, plan), gathered) in repositories.iter().zip(plans).zip(gathered) {
        let changed =
            repository.change(|state| apply(state, repository, plan, gathered).then(|| state.version_count()));
        if let Some(versions) = changed {
            tracing::info!(repo = %repository.name(), versions, "index updated from storage");
        }
    }
    progress.complete();
    Ok(())
}

fn plan(state: &RepoState, listing: Vec<ObjectInfo>) -> Plan {
    let listing: Vec<ObjectInfo> = listing.into_iter().filter(|o| o.name.ends_with(".tgz")).collect();
    // Each indexed version looks its file up in the listing: one hash each, walking the
    // index in its own order. (Each listed file looking up its version walked the tree of
    // chart names, a string compare per level: most of a restart's time at a million.)
    let mut indexed: Vec<Option<FileStamp>> = vec![None; listing.len()];
    let mut remove = Vec::new();
    {
        let at: FxHashMap<&str, usize> = listing.iter().enumerate().map(|(i, o)| (o.name.as_str(), i)).collect();
        for version in state.charts().values().flat_map(|chart| chart.versions()) {
            match at.get(&*version.file_name()) {
                Some(&i) => indexed[i] = Some(version.stamp()),
                None => remove.push((version.file_name().into_owned(), version.stamp())),
            }
        }
    }
    let mut plan = Plan { fresh: state.is_new(), remove, ..Plan::default() };
    for (object, indexed) in listing.into_iter().zip(indexed) {
        let stamp = FileStamp::of(&object);
        if indexed != Some(stamp) && state.broken_at(&object.name) != Some(&stamp) {
            plan.present.push(object.name.clone());
            plan.read.push((object, indexed));
        } else {
            plan.present.push(object.name);
        }
    }
    plan
}

/// Applies a plan's results; a file a writer touched since planning is left alone (the
/// writer's view is newer). Returns whether the index changed.
fn apply(state: &mut RepoState, repository: &Repository, plan: Plan, gathered: Gathered) -> bool {
    let Plan { read, remove, present, .. } = plan;
    let results = match gathered {
        // Still nothing indexed (no writer came first): every version goes in at once.
        Gathered::ByChart { charts, broken } if state.is_new() => {
            return fill(state, repository, present, charts, broken)
        }
        gathered => gathered.into_each(),
    };
    let mut changed = false;
    for (file, stamp) in remove {
        if state.stamp_of(&file) == Some(stamp) {
            state.remove_file(&file);
            changed = true;
        }
    }
    let planned: std::collections::HashMap<String, Option<FileStamp>> =
        read.into_iter().map(|(object, stamp)| (object.name, stamp)).collect();
    for (file, stamp, result) in results {
        if state.stamp_of(&file) != planned[&file] {
            continue;
        }
        changed |= put_read(state, repository, file, stamp, result);
    }
    state.keep_broken_among(&present);
    changed
}

/// Puts what was read from `file` (as it was at `stamp`) into the index in place of what
/// the index held for that file. Returns whether the index changed.
pub(super) fn put_read(
    state: &mut RepoState,
    repository: &Repository,
    file: String,
    stamp: FileStamp,
    result: Result<IndexedVersion, String>,
) -> bool {
    let changed = state.remove_file(&file).is_some();
    let version = match result {
        Ok(version) => version,
        Err(problem) => {
            tracing::warn!(repo = %repository.name(), %file, %problem, "skipping a file that is not a valid chart package");
            state.mark_broken(file, stamp);
            return changed;
        }
    };
    if let Some(other) = state.find(&version.name, &version.version) {
        // Two files hold one version: keep the one named as an upload would name it.
        if version.odd_file().is_some() {
            tracing::warn!(repo = %repository.name(), %file, indexed = %other.file_name(),
                "skipping a package whose chart version is already indexed from another file");
            state.mark_broken(file, stamp);
            return changed;
        }
    }
    state.forget_broken(&file);
    state.insert(version);
    true
}

/// `apply` for a first scan: nothing is indexed yet, so every version goes in at once.
fn fill(
    state: &mut RepoState,
    repository: &Repository,
    present: Vec<String>,
    charts: FxHashMap<String, Vec<IndexedVersion>>,
    broken: Vec<(ObjectInfo, String)>,
) -> bool {
    for (object, problem) in broken {
        tracing::warn!(repo = %repository.name(), file = %object.name, %problem, "skipping a file that is not a valid chart package");
        let stamp = FileStamp::of(&object);
        state.mark_broken(object.name, stamp);
    }
    // Sorting 13,000 names and then each chart's few versions, not 130,000 versions
    // scattered over the heap (cache misses all the way); the versions on every core.
    let mut charts: Vec<(String, Vec<IndexedVersion>)> = charts.into_iter().collect();
    charts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let sorted = parallel::map(charts, 256, |(name, versions)| {
        let (kept, doubles) = newest_first_once(versions);
        ((name, kept), doubles)
    });
    let mut kept = Vec::with_capacity(sorted.len());
    for (chart, doubles) in sorted {
        for (double, indexed) in doubles {
            tracing::warn!(repo = %repository.name(), file = %double.file_name(), %indexed,
                "skipping a package whose chart version is already indexed from another file");
            state.mark_broken(double.file_name().into_owned(), double.stamp);
        }
        kept.push(chart);
    }
    let changed = !kept.is_empty();
    state.fill(kept);
    state.keep_broken_among(&present);
    changed
}

/// One chart's versions newest first. Two files holding one version end up side by side,
/// the one named as an upload would name it first, and only that one is kept: the others
/// are returned with the file kept in their place.
fn newest_first_once(mut versions: Vec<IndexedVersion>) -> (Vec<IndexedVersion>, Vec<(IndexedVersion, String)>) {
    let upload_named = |v: &IndexedVersion| v.odd_file().is_none();
    versions.sort_by(|a, b| {
        newest_first(&a.semver, &b.semver)
            .then_with(|| a.version.cmp(&b.version))
            .then_with(|| upload_named(b).cmp(&upload_named(a)))
    });
    let mut kept: Vec<IndexedVersion> = Vec::with_capacity(versions.len());
    let mut doubles = Vec::new();
    for version in versions {
        match kept.last() {
            Some(other) if other.version == version.version => {
                let indexed = other.file_name().into_owned();
                doubles.push((version, indexed));
            }
            _ => kept.push(version),
        }
    }
    (kept, doubles)
}

/// A package read by a worker: its repository's index in the scan, the object as read,
/// and the version or why it is none.
type ReadResult = (usize, ObjectInfo, Result<IndexedVersion, String>);

/// A package's bytes as a reader fetched them, for a worker to check and render.
type Fetched = (usize, ObjectInfo, Result<Bytes, String>);

/// Reads `jobs` and hands each result to `take` on this thread as it arrives (sorting
/// results out while the rest is read); logs progress on big scans.
///
/// Two stages: readers fetch the bytes, `workers` threads check, hash and render them.
/// Fetching waits on the device (a cold page cache, a bucket) far more than it computes,
/// so it runs `READERS_PER_WORKER` times as many requests at once as there are workers:
/// a disk or a store serves a deep queue faster than one request per core.
fn read_all(
    storage: &dyn Storage,
    workers: usize,
    repositories: &[Arc<Repository>],
    jobs: Vec<(usize, ObjectInfo)>,
    progress: &ScanProgress,
    mut take: impl FnMut(ReadResult),
) {
    let total = jobs.len();
    if total == 0 {
        return;
    }
    let started = Instant::now();
    let readers = (workers * READERS_PER_WORKER).min(total.div_ceil(BATCH));
    tracing::info!(packages = total, workers, readers, "reading packages");
    // Work travels in batches: one channel operation per package made start-up spend a
    // fifth of its time switching threads.
    let (job_tx, job_rx) = crossbeam_channel::bounded::<Vec<(usize, ObjectInfo)>>(readers);
    let (fetched_tx, fetched_rx) = crossbeam_channel::bounded::<Vec<Fetched>>(workers * 2);
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<Vec<ReadResult>>();
    std::thread::scope(|scope| {
        for _ in 0..readers {
            let (job_rx, fetched_tx) = (job_rx.clone(), fetched_tx.clone());
            scope.spawn(move || {
                let mut fetched = Vec::with_capacity(BATCH);
                let mut bytes = 0;
                for (i, object) in job_rx.into_iter().flatten() {
                    let (object, result) = fetch(storage, &repositories[i], object);
                    bytes += result.as_ref().map_or(0, Bytes::len);
                    fetched.push((i, object, result));
                    // A batch of big packages goes on early: memory holds a few batches.
                    if fetched.len() == BATCH || bytes >= BATCH_BYTES {
                        bytes = 0;
                        if fetched_tx.send(std::mem::replace(&mut fetched, Vec::with_capacity(BATCH))).is_err() {
                            return;
                        }
                    }
                }
                if !fetched.is_empty() {
                    let _ = fetched_tx.send(fetched);
                }
            });
        }
        drop(fetched_tx);
        for _ in 0..workers.min(total) {
            let (fetched_rx, done_tx) = (fetched_rx.clone(), done_tx.clone());
            scope.spawn(move || {
                for batch in fetched_rx {
                    let done = batch.into_iter().map(|(i, object, bytes)| {
                        let result = bytes.and_then(|bytes| digest(&repositories[i], &object, &bytes));
                        (i, object, result)
                    });
                    if done_tx.send(done.collect()).is_err() {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        scope.spawn(move || {
            let mut jobs = jobs.into_iter().peekable();
            while jobs.peek().is_some() {
                if job_tx.send(jobs.by_ref().take(BATCH).collect()).is_err() {
                    return;
                }
            }
        });
        let mut done = 0;
        let mut last_report = Instant::now();
        for batch in done_rx {
            done += batch.len();
            progress.read_some(batch.len());
            batch.into_iter().for_each(&mut take);
            if last_report.elapsed() > Duration::from_secs(2) {
                last_report = Instant::now();
                let rate = done as f64 / started.elapsed().as_secs_f64();
                tracing::info!(done, total, rate = format!("{rate:.0}/s"), "reading packages");
            }
        }
        tracing::info!(packages = total, seconds = format!("{:.2}", started.elapsed().as_secs_f64()), "read packages");
    })
}

/// Fetches per digest worker: enough requests in flight to keep a disk's or a store's
/// queue full, few enough that their batches stay small in memory.
const READERS_PER_WORKER: usize = 4;

/// Bytes a reader gathers before it hands a batch on, however few packages that is.
const BATCH_BYTES: usize = 8 << 20;

/// Packages per unit of work handed to a scan worker.
const BATCH: usize = 64;

/// Reads, checks, hashes and renders one package found in storage. Returns the object as
/// it was read (its size and time then), or as listed if it could not be read.
pub(super) fn read_version(
    storage: &dyn Storage,
    repository: &Repository,
    listed: ObjectInfo,
) -> (ObjectInfo, Result<IndexedVersion, String>) {
    let (object, bytes) = fetch(storage, repository, listed);
    let result = bytes.and_then(|bytes| digest(repository, &object, &bytes));
    (object, result)
}

/// A package's bytes, with the object as it was read, or as listed if it could not be.
fn fetch(storage: &dyn Storage, repository: &Repository, listed: ObjectInfo) -> (ObjectInfo, Result<Bytes, String>) {
    match storage.read_object(repository.name(), &listed.name) {
        Ok((bytes, object)) => (object, Ok(bytes)),
        Err(e) => (listed, Err(format!("cannot read: {e}"))),
    }
}

/// Checks, hashes and renders the package `object` holds. Rendering happens here, on the
/// workers, so start-up renders on every core.
fn digest(repository: &Repository, object: &ObjectInfo, bytes: &[u8]) -> Result<IndexedVersion, String> {
    let read = package::read_with_digest(bytes, Keep::ChartYaml, repository.settings().strict_semver)?;
    let package = read.package;
    Ok(IndexedVersion::new(
        package.metadata,
        package.version,
        object.name.clone(),
        FileStamp::of(object),
        read.digest,
        object.modified,
        repository.url_prefix(),
        repository.settings().format,
    ))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::chart::ChartVersionEntry;
    use crate::index::render::Format;
    use crate::index::settings::IndexSettings;

    fn object(file: &str, size: u64) -> ObjectInfo {
        ObjectInfo { name: file.into(), size, modified: UNIX_EPOCH + Duration::from_secs(size), tag: 0 }
    }

    fn version(name: &str, version: &str, object: &ObjectInfo) -> IndexedVersion {
        let mut entry = ChartVersionEntry { name: name.into(), version: version.into(), ..Default::default() };
        let semver = entry.validate(false).unwrap();
        let stamp = FileStamp::of(object);
        IndexedVersion::new(entry, semver, object.name.clone(), stamp, [7; 32], object.modified, "", Format::Yaml)
    }

    fn first_scan(state: &RepoState, listed: &[ObjectInfo]) -> Plan {
        let names = listed.iter().map(|o| ObjectInfo { size: 0, modified: UNIX_EPOCH, ..o.clone() }).collect();
        plan(state, names)
    }

    #[test]
    fn a_first_scan_fills_charts_newest_first_with_one_file_per_version() {
        let repository = Repository::new("team".into(), &IndexSettings::default());
        let files =
            [object("web-1.0.0.tgz", 10), object("web-2.0.0.tgz", 20), object("copy.tgz", 30), object("x.tgz", 40)];
        let mut state = RepoState::new(Format::Yaml);
        let plan = first_scan(&state, &files);
        let mut gathered = Gathered::for_plan(&plan);
        gathered.take(files[2].clone(), Ok(version("web", "1.0.0", &files[2])));
        gathered.take(files[0].clone(), Ok(version("web", "1.0.0", &files[0])));
        gathered.take(files[1].clone(), Ok(version("web", "2.0.0", &files[1])));
        gathered.take(files[3].clone(), Err("not a package".into()));
        assert!(apply(&mut state, &repository, plan, gathered));
        let web = &state.charts()["web"];
        let versions: Vec<_> = web.versions().map(|v| (v.version().to_string(), v.file_name().into_owned())).collect();
        assert_eq!(versions, [("2.0.0".into(), "web-2.0.0.tgz".into()), ("1.0.0".into(), "web-1.0.0.tgz".into())]);
        assert_eq!(state.broken_at("copy.tgz"), Some(&FileStamp::of(&files[2])), "the second file of 1.0.0");
        assert_eq!(state.broken_at("x.tgz"), Some(&FileStamp::of(&files[3])));
    }

    #[test]
    fn a_writer_that_came_first_during_a_first_scan_keeps_what_it_wrote() {
        let repository = Repository::new("team".into(), &IndexSettings::default());
        let files = [object("web-1.0.0.tgz", 10), object("web-2.0.0.tgz", 20)];
        let mut state = RepoState::new(Format::Yaml);
        let plan = first_scan(&state, &files);
        let mut gathered = Gathered::for_plan(&plan);
        gathered.take(files[0].clone(), Ok(version("web", "1.0.0", &files[0])));
        gathered.take(files[1].clone(), Ok(version("web", "2.0.0", &files[1])));
        // An upload replaced web-1.0.0.tgz while the scan read the old bytes.
        let uploaded = object("web-1.0.0.tgz", 99);
        state.insert(version("web", "1.0.0", &uploaded));
        assert!(apply(&mut state, &repository, plan, gathered));
        assert_eq!(state.stamp_of("web-1.0.0.tgz"), Some(FileStamp::of(&uploaded)), "the upload's, not the scan's");
        assert_eq!(state.stamp_of("web-2.0.0.tgz"), Some(FileStamp::of(&files[1])));
    }
}
