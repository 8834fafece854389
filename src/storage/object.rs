//! An S3-compatible bucket (`STORAGE=amazon`: AWS S3, MinIO, Garage, R2, …), through the
//! `object_store` crate, laid out as the folder is (`<prefix>/<repo>/<name>-<version>.tgz`)
//! and as ChartMuseum lays out a bucket, so an existing bucket is served as it is.
//!
//! `object_store` is async and the [`Storage`] trait blocks (its callers are on tokio's
//! blocking pool, or the start-up thread): the backend runs its requests on a small
//! runtime of its own and waits for each answer on the calling thread.
//!
//! Uploads are spooled to a local temporary folder as they arrive (checked there, then
//! sent in one PUT, or in parts past [`MULTIPART_FROM`]); downloads stream the bucket's
//! response through.

use std::future::Future;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, PutMode, PutPayload, WriteMultipart};
use sha2::{Digest, Sha256};

use super::journal::BucketJournal;
use super::{is_chart_object, Journal, JournalCursor, ObjectInfo, Opened, Placing, Spool, Storage};

/// Objects up to this size go in one PUT; larger ones in parts of this size.
const MULTIPART_FROM: u64 = 16 * 1024 * 1024;
/// Stats in flight at once.
const PARALLEL_STATS: usize = 32;

/// Where the bucket is and how to reach it (ChartMuseum's `STORAGE_AMAZON_*` settings).
#[derive(Debug, Clone)]
pub struct BucketSettings {
    pub bucket: String,
    pub prefix: String,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub path_style: bool,
    /// Local folder for uploads being received.
    pub spool_dir: PathBuf,
}

pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    /// The key prefix (`STORAGE_AMAZON_PREFIX`), without slashes at its ends.
    prefix: Path,
    /// Runs the requests; `None` only while being dropped.
    runtime: Option<tokio::runtime::Runtime>,
    spool_dir: PathBuf,
    next_temp: AtomicU64,
    /// Whether the store refuses a PUT with `If-None-Match: *` over an existing object
    /// (AWS S3, MinIO, R2); Garage, for one, ignores the header. Probed at start.
    conditional_create: bool,
    journal: Arc<BucketJournal>,
    /// This process's name among the replicas: random per start.
    replica: String,
}

fn to_io(error: object_store::Error) -> io::Error {
    match error {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, error.to_string()),
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            io::Error::new(io::ErrorKind::AlreadyExists, error.to_string())
        }
        other => io::Error::other(other.to_string()),
    }
}

/// An ETag folded to a number, the same for the quoted and bare forms of one tag.
fn fold_etag(etag: Option<&str>) -> u64 {
    let Some(etag) = etag else { return 0 };
    let bare = etag.trim_start_matches("W/").trim_matches('"');
    let hash = Sha256::digest(bare.as_bytes());
    u64::from_be_bytes(hash[..8].try_into().expect("8 bytes")) | 1
}

/// An object's stamp: times to whole seconds, as a HEAD's `Last-Modified` gives them, so
/// a listing and a stat of one object agree.
fn info(name: String, meta: &ObjectMeta) -> ObjectInfo {
    let seconds = meta.last_modified.timestamp().max(0) as u64;
    ObjectInfo {
        name,
        size: meta.size,
        modified: UNIX_EPOCH + Duration::from_secs(seconds),
        tag: fold_etag(meta.e_tag.as_deref()),
    }
}

impl ObjectStorage {
    /// Connects to the bucket, checks that it can be listed, and probes whether it honours
    /// conditional writes.
    pub fn open(settings: &BucketSettings) -> io::Result<ObjectStorage> {
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&settings.bucket)
            .with_virtual_hosted_style_request(!settings.path_style);
        if let Some(region) = &settings.region {
            builder = builder.with_region(region);
        }
        if let Some(endpoint) = &settings.endpoint {
            builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        let store: Arc<dyn ObjectStore> = Arc::new(builder.build().map_err(to_io)?);
        let prefix = Path::parse(settings.prefix.trim_matches('/'))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("STORAGE_AMAZON_PREFIX: {e}")))?;
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("bucket").enable_all().build()?;
        std::fs::create_dir_all(&settings.spool_dir)?;
        let replica = hex::encode(&Sha256::digest(format!("{:?} {}", SystemTime::now(), std::process::id()))[..4]);
        let journal = Arc::new(BucketJournal::new(store.clone(), &prefix, replica.clone()));
        let mut storage = ObjectStorage {
            store,
            prefix,
            runtime: Some(runtime),
            spool_dir: settings.spool_dir.clone(),
            next_temp: AtomicU64::new(0),
            conditional_create: false,
            journal,
            replica,
        };
        storage.conditional_create = storage.probe_conditional_create()?;
        Ok(storage)
    }

    /// Whether a second create of one key is refused. Also the first check that the
    /// bucket is there and writable.
    fn probe_conditional_create(&self) -> io::Result<bool> {
        let probe = self.prefix.child(".charthall").child(format!("probe-{}", self.replica).as_str());
        let store = self.store.clone();
        self.block(async move {
            store.put(&probe, PutPayload::from_static(b"1")).await?;
            let second = store.put_opts(&probe, PutPayload::from_static(b"2"), PutMode::Create.into()).await;
            let _ = store.delete(&probe).await;
            match second {
                Err(object_store::Error::AlreadyExists { .. }) | Err(object_store::Error::Precondition { .. }) => {
                    Ok(true)
                }
                Ok(_) => Ok(false),
                // A store that rejects the header outright has no conditional writes either.
                Err(object_store::Error::NotImplemented) => Ok(false),
                Err(error) => Err(error),
            }
        })
        .map_err(to_io)
    }

    /// Whether creates are exclusive across replicas.
    pub fn conditional_create(&self) -> bool {
        self.conditional_create
    }

    /// Runs `work` on the bucket's runtime and waits for it on this thread (any thread: a
    /// runtime's own, the blocking pool, or none).
    fn block<T: Send + 'static>(&self, work: impl Future<Output = T> + Send + 'static) -> T {
        let (done, result) = std::sync::mpsc::sync_channel(1);
        self.runtime.as_ref().expect("open").spawn(async move {
            let _ = done.send(work.await);
        });
        result.recv().expect("the bucket's runtime runs until the storage is dropped")
    }

    fn repo_path(&self, repo: &str) -> Path {
        repo.split('/').filter(|s| !s.is_empty()).fold(self.prefix.clone(), |path, part| path.child(part))
    }

    fn key(&self, repo: &str, name: &str) -> Path {
        self.repo_path(repo).child(name)
    }

    /// The stamp of the object this replica just wrote, whose ETag the PUT answered. Its
    /// time comes from a HEAD; if that HEAD already sees another replica's write, the time
    /// is left unknown, so the stamp matches neither object and the next record or
    /// rescan reads the file again.
    async fn placed(
        store: Arc<dyn ObjectStore>,
        key: Path,
        name: String,
        size: u64,
        etag: Option<String>,
    ) -> io::Result<ObjectInfo> {
        let tag = fold_etag(etag.as_deref());
        let now = Self::stat_async(store, key, name.clone()).await?;
        Ok(match now {
            Some(info) if info.tag == tag => info,
            _ => ObjectInfo { name, size, modified: UNIX_EPOCH, tag },
        })
    }

    async fn stat_async(store: Arc<dyn ObjectStore>, key: Path, name: String) -> io::Result<Option<ObjectInfo>> {
        match store.head(&key).await {
            Ok(meta) => Ok(Some(info(name, &meta))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(to_io(error)),
        }
    }
}

impl Drop for ObjectStorage {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which a runtime's own thread must not do.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Storage for ObjectStorage {
    fn repositories(&self, depth: u8) -> io::Result<Vec<String>> {
        let store = self.store.clone();
        let prefix = self.prefix.clone();
        self.block(async move {
            let mut level = vec![(String::new(), prefix)];
            for _ in 0..depth {
                let mut next = Vec::new();
                for (name, path) in level {
                    let listed = store.list_with_delimiter(Some(&path)).await.map_err(to_io)?;
                    for common in listed.common_prefixes {
                        let Some(part) = common.filename().map(str::to_string) else { continue };
                        if part.starts_with('.') {
                            continue;
                        }
                        let child = if name.is_empty() { part } else { format!("{name}/{part}") };
                        next.push((child, common));
                    }
                }
                level = next;
            }
            let mut names: Vec<String> = level.into_iter().map(|(name, _)| name).collect();
            names.sort();
            Ok(names)
        })
    }

    fn list(&self, repo: &str) -> io::Result<Vec<ObjectInfo>> {
        Ok(self.list_own(repo)?.into_iter().filter(|object| is_chart_object(&object.name)).collect())
    }

    fn list_own(&self, folder: &str) -> io::Result<Vec<ObjectInfo>> {
        let store = self.store.clone();
        let path = self.repo_path(folder);
        self.block(async move {
            let listed = store.list_with_delimiter(Some(&path)).await.map_err(to_io)?;
            Ok(listed
                .objects
                .iter()
                .filter_map(|meta| Some(info(meta.location.filename()?.to_string(), meta)))
                .collect())
        })
    }

    fn stat(&self, repo: &str, name: &str) -> io::Result<Option<ObjectInfo>> {
        self.block(Self::stat_async(self.store.clone(), self.key(repo, name), name.to_string()))
    }

    fn stat_many(&self, repo: &str, names: &[String]) -> io::Result<Vec<Option<ObjectInfo>>> {
        let store = self.store.clone();
        let keys: Vec<(Path, String)> = names.iter().map(|name| (self.key(repo, name), name.clone())).collect();
        self.block(async move {
            futures_util::stream::iter(keys)
                .map(|(key, name)| Self::stat_async(store.clone(), key, name))
                .buffered(PARALLEL_STATS)
                .try_collect()
                .await
        })
    }

    fn read(&self, repo: &str, name: &str) -> io::Result<Bytes> {
        Ok(self.read_object(repo, name)?.0)
    }

    fn read_object(&self, repo: &str, name: &str) -> io::Result<(Bytes, ObjectInfo)> {
        let store = self.store.clone();
        let key = self.key(repo, name);
        let name = name.to_string();
        self.block(async move {
            let found = store.get(&key).await.map_err(to_io)?;
            let info = info(name, &found.meta);
            Ok((found.bytes().await.map_err(to_io)?, info))
        })
    }

    fn open(&self, repo: &str, name: &str) -> io::Result<(Opened, ObjectInfo)> {
        let store = self.store.clone();
        let key = self.key(repo, name);
        let name = name.to_string();
        self.block(async move {
            let found = store.get(&key).await.map_err(to_io)?;
            let info = info(name, &found.meta);
            Ok((Opened::Stream(found.into_stream().map_err(to_io).boxed()), info))
        })
    }

    fn write_with(
        &self,
        repo: &str,
        name: &str,
        fill: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<ObjectInfo> {
        let mut spool = self.spool()?;
        {
            let mut out = SpoolWriter(&mut spool);
            let mut buffered = io::BufWriter::with_capacity(64 * 1024, &mut out);
            fill(&mut buffered)?;
            buffered.flush()?;
        }
        self.place(repo, name, spool, Placing::Replace)
    }

    fn spool(&self) -> io::Result<Spool> {
        let path = self.spool_dir.join(format!(
            ".upload-{}-{}-spool",
            std::process::id(),
            self.next_temp.fetch_add(1, Ordering::Relaxed)
        ));
        Ok(Spool::new(std::fs::File::create(&path)?, path))
    }

    fn place(&self, repo: &str, name: &str, spool: Spool, placing: Placing) -> io::Result<ObjectInfo> {
        let store = self.store.clone();
        let key = self.key(repo, name);
        let name = name.to_string();
        let size = spool.len();
        let mode = if placing == Placing::CreateOnly && self.conditional_create {
            PutMode::Create
        } else {
            PutMode::Overwrite
        };
        let mut reader = spool.reader()?;
        if size <= MULTIPART_FROM {
            let mut bytes = Vec::with_capacity(size as usize);
            reader.read_to_end(&mut bytes)?;
            return self.block(async move {
                let put = store.put_opts(&key, PutPayload::from(bytes), mode.into()).await.map_err(to_io)?;
                Self::placed(store, key, name, size, put.e_tag).await
            });
        }
        // Large: in parts, read from the spool one part at a time, at most two in flight.
        // (Multipart uploads are not conditional; charts this large are rare, and the
        // repository lock still checked.) Reading the local spool inside the bucket's
        // runtime blocks one of its threads briefly per MiB.
        self.block(async move {
            let upload = store.put_multipart(&key).await.map_err(to_io)?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, MULTIPART_FROM as usize);
            let mut part = vec![0u8; 1024 * 1024];
            loop {
                let read = reader.read(&mut part)?;
                if read == 0 {
                    break;
                }
                writer.wait_for_capacity(2).await.map_err(to_io)?;
                writer.write(&part[..read]);
            }
            let put = writer.finish().await.map_err(to_io)?;
            Self::placed(store, key, name, size, put.e_tag).await
        })
    }

    fn delete(&self, repo: &str, name: &str) -> io::Result<bool> {
        let store = self.store.clone();
        let key = self.key(repo, name);
        self.block(async move {
            // A bucket answers a delete of a missing key with success: ask first.
            match store.head(&key).await {
                Err(object_store::Error::NotFound { .. }) => return Ok(false),
                Err(error) => return Err(to_io(error)),
                Ok(_) => {}
            }
            store.delete(&key).await.map_err(to_io)?;
            Ok(true)
        })
    }

    fn journal(&self) -> Option<&dyn Journal> {
        Some(self)
    }
}

impl Journal for ObjectStorage {
    fn append(&self, record: Vec<u8>) -> io::Result<()> {
        let journal = self.journal.clone();
        self.block(async move { journal.append(record).await }).map_err(to_io)
    }

    fn read_new(&self, cursor: &mut JournalCursor) -> io::Result<Vec<Bytes>> {
        let journal = self.journal.clone();
        let mut moved = std::mem::replace(cursor, JournalCursor::now());
        let (records, moved) = self.block(async move {
            let records = journal.read_new(&mut moved).await;
            (records, moved)
        });
        *cursor = moved;
        records.map_err(to_io)
    }
}

/// Writes into a spool (for [`Storage::write_with`]).
struct SpoolWriter<'a>(&'a mut Spool);

impl Write for SpoolWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.append(bytes)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
