//! The whole server as a library: what the binary does between reading its configuration
//! and exiting, so tests can run it in-process as well as a process.
//!
//! [`Server::open`] does everything before the first connection (TLS keys, storage, the
//! index: a cold start reads every package); [`Server::run`] serves until a shutdown
//! future completes, with the background work beside it — the rescan of `CACHE_INTERVAL`
//! and the start-up cache writer — and writes the start-up caches on the way out.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::http::{serve, tls_acceptor, App, Auth};
use crate::index::{Catalog, Format, IndexSettings, Limits, Options, Start};
use crate::storage::{BucketSettings, LocalStorage, ObjectStorage, Storage};

/// Connections the kernel may hold for the server before it accepts them.
const ACCEPT_QUEUE: u32 = 4096;

/// How often changed repositories' start-up caches are written.
/// Each write is the whole index (~85 MB at 130,000 versions), and a stale cache only costs
/// the next start re-reading what changed since: once a minute is plenty.
const CACHE_SAVE_INTERVAL: Duration = Duration::from_secs(60);

/// What the index text is made of, from the configuration.
pub fn index_settings(config: &Config) -> IndexSettings {
    IndexSettings {
        chart_url: config.chart_url.clone(),
        context_path: config.context_path.clone(),
        strict_semver: config.enforce_semver2,
        format: if config.json_index { Format::Json } else { Format::Yaml },
    }
}

/// How the catalog reads storage and takes changes, from the configuration.
pub fn index_options(config: &Config) -> Options {
    Options {
        workers: config.index_limit,
        depth: config.depth,
        startup_cache: !config.disable_statefiles,
        limits: Limits { versions_per_chart: config.per_chart_limit, storage_objects: config.max_storage_objects },
    }
}

/// A server ready to accept connections.
pub struct Server {
    app: Arc<App>,
    tls: Option<TlsAcceptor>,
    /// The index came from the start-up caches: storage is checked against them once
    /// serving.
    unverified: bool,
}

impl Server {
    /// Loads the TLS and token keys, opens storage and indexes it. Blocks until the index
    /// is built.
    pub fn open(config: Config) -> Result<Server, String> {
        raise_open_files_limit();
        let tls = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(tls_acceptor(cert, key, config.tls_ca_cert.as_deref())?),
            _ => None,
        };
        let auth = Auth::from_config(&config)?;
        let root = &config.storage_local_rootdir;
        let (storage, place) = open_storage(&config)?;
        crate::sendfile::spool_in(root);
        let catalog = Arc::new(Catalog::new(storage, index_settings(&config), index_options(&config)));
        let started = Instant::now();
        let start = catalog.start().map_err(|e| format!("cannot read {place}: {e}"))?;
        release_freed_memory();
        tracing::info!(
            repositories = catalog.names().len(),
            seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
            storage = %place,
            depth = config.depth,
            "storage indexed"
        );
        let unverified = start == Start::Unverified;
        if unverified {
            tracing::info!(
                "serving the index from the start-up caches: storage is checked against them in the background"
            );
        }
        let app = Arc::new(App::new(config, catalog, auth)?);
        Ok(Server { app, tls, unverified })
    }

    /// Binds `LISTEN_HOST`:`PORT` with a deep accept queue: thousands of CI jobs connect
    /// at once, and past the queue (128 with tokio's default) the kernel drops their SYNs,
    /// so each waits a full second to retry (measured: 5,000 connections took 25 s).
    pub async fn listen(&self) -> Result<TcpListener, String> {
        let config = &self.app.config;
        let address = format!("{}:{}", config.listen_host, config.port);
        let failed = |e: std::io::Error| format!("cannot listen on {address} (LISTEN_HOST, PORT): {e}");
        let resolved = tokio::net::lookup_host(&address).await.map_err(failed)?.collect::<Vec<_>>();
        let mut last = std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "no address");
        for candidate in resolved {
            let socket =
                if candidate.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() };
            let bound = socket.and_then(|socket| {
                socket.set_reuseaddr(true)?;
                socket.bind(candidate)?;
                // The kernel caps it at net.core.somaxconn.
                socket.listen(ACCEPT_QUEUE)
            });
            match bound {
                Ok(listener) => return Ok(listener),
                Err(error) => last = error,
            }
        }
        Err(failed(last))
    }

    /// Serves on `listener` until `shutdown` completes, then writes the start-up caches.
    pub async fn run(self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> Result<(), String> {
        let Server { app, tls, unverified } = self;
        let catalog = app.catalog.clone();
        let address = listener.local_addr().map_err(|e| e.to_string())?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(%address, scheme, "serving");
        let mut interval = app.config.cache_interval;
        if interval.is_zero() && catalog.is_shared() {
            interval = SHARED_RESCAN_INTERVAL;
        }
        let verification = unverified.then(|| tokio::spawn(verify(catalog.clone())));
        let rescans = (!interval.is_zero()).then(|| tokio::spawn(rescan_every(catalog.clone(), interval)));
        let follower = catalog.is_shared().then(|| Follower::start(catalog.clone(), app.config.replica_poll_interval));
        let cache_writer = CacheWriter::start(catalog.clone());
        let served = serve(app, listener, tls, shutdown).await.map_err(|e| e.to_string());
        if let Some(rescans) = rescans {
            rescans.abort();
        }
        if let Some(verification) = verification {
            // The cache written next must not hold what the check has yet to correct.
            let _ = verification.await;
        }
        if let Some(follower) = follower {
            follower.stop();
        }
        cache_writer.stop();
        tokio::task::spawn_blocking(move || catalog.save_caches()).await.map_err(|e| e.to_string())?;
        served
    }
}

/// Opens the storage the configuration names, and says what it is for messages.
fn open_storage(config: &Config) -> Result<(Arc<dyn Storage>, String), String> {
    let root = &config.storage_local_rootdir;
    if config.shared_storage() {
        let bucket = config.storage_amazon_bucket.clone().unwrap_or_default();
        let place = format!("bucket {bucket} (prefix {:?})", config.storage_amazon_prefix);
        let settings = BucketSettings {
            bucket,
            prefix: config.storage_amazon_prefix.clone(),
            region: config.storage_amazon_region.clone(),
            endpoint: config.storage_amazon_endpoint.clone(),
            path_style: config.storage_amazon_force_path_style,
            // Uploads are received on local disk before they go to the bucket.
            spool_dir: root.join(".spool"),
        };
        let storage = ObjectStorage::open(&settings).map_err(|e| {
            format!("cannot use {place} (STORAGE_AMAZON_BUCKET, STORAGE_AMAZON_ENDPOINT, AWS_ACCESS_KEY_ID): {e}")
        })?;
        if storage.conditional_create() {
            tracing::info!(storage = %place, "the bucket honours conditional writes: racing creates of one version get one 201 and 409s");
        } else {
            tracing::warn!(storage = %place,
                "the bucket ignores conditional writes (If-None-Match): racing creates of one version through two replicas can both answer 201, and the later write is kept");
        }
        return Ok((Arc::new(storage), place));
    }
    let storage = LocalStorage::open(root, config.depth)
        .map_err(|e| format!("cannot use STORAGE_LOCAL_ROOTDIR {}: {e}", root.display()))?;
    if let Err(error) = storage.check_writable() {
        // A read-only folder is a legitimate mirror: serve it, but say at once what will
        // fail, and who the server runs as.
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        tracing::warn!(root = %root.display(), uid, %error,
            "the storage folder is not writable by this user: uploads and deletes will fail, reads are served");
    }
    Ok((Arc::new(storage), format!("STORAGE_LOCAL_ROOTDIR {}", root.display())))
}

/// Raises the soft limit on open files to the hard one, as Go programs do at start: every
/// connection is a descriptor, and the usual soft limit of 1,024 would refuse clients long
/// before the machine runs short.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 || limit.rlim_cur >= limit.rlim_max {
            return;
        }
        let soft = limit.rlim_cur;
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
            tracing::info!(from = soft, to = limit.rlim_max, "raised the open files limit");
        }
    }
}

/// Hands memory freed by a burst of work (a start-up scan, a cache write) back to the
/// system now rather than whenever the allocator is next busy. The binary allocates with
/// mimalloc, because glibc's malloc kept gigabytes of freed start-up buffers resident on a
/// 130,000-version start (bench/README.md has the figures); elsewhere this does nothing.
fn release_freed_memory() {
    // SAFETY: mi_collect only walks the allocator's own free lists; any thread may call it.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// Checks storage against the index adopted from the start-up caches: a rescan, which
/// reads and publishes what changed behind the server's back while it was stopped.
async fn verify(catalog: Arc<Catalog>) {
    let started = Instant::now();
    let checked = tokio::task::spawn_blocking(move || {
        let checked = catalog.rescan();
        // The listing of every file is freed: hand its memory back, as after a start-up.
        release_freed_memory();
        checked
    });
    match checked.await {
        Ok(Ok(())) => tracing::info!(
            seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
            "storage checked against the start-up caches"
        ),
        Ok(Err(error)) => tracing::error!(%error, "checking storage against the start-up caches failed"),
        Err(error) => tracing::error!(%error, "checking storage against the start-up caches panicked"),
    }
}

/// `CACHE_INTERVAL`: picks up packages added, changed or removed behind the server's back.
async fn rescan_every(catalog: Arc<Catalog>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let catalog = catalog.clone();
        match tokio::task::spawn_blocking(move || catalog.rescan()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "rescan of storage failed"),
            Err(error) => tracing::error!(%error, "rescan panicked"),
        }
    }
}

/// On a shared bucket, the full rescan that backs up the journal when `CACHE_INTERVAL` is
/// not set: it finds what a record lost (its writer crashed between the object and the
/// record) or a replica away too long missed.
const SHARED_RESCAN_INTERVAL: Duration = Duration::from_secs(10 * 60);

/// A thread that takes in other replicas' changes every `REPLICA_POLL_INTERVAL`; it ends
/// when told to stop.
struct Follower {
    stop: crossbeam_channel::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Follower {
    fn start(catalog: Arc<Catalog>, every: Duration) -> Follower {
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let thread = std::thread::Builder::new()
            .name("follower".into())
            .spawn(move || {
                let mut last_read = Instant::now();
                let mut failing = false;
                while let Err(crossbeam_channel::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    match catalog.follow() {
                        Ok(changed) => {
                            if failing {
                                tracing::info!("reading the journal of other replicas' changes works again");
                            }
                            if last_read.elapsed() > crate::storage::JOURNAL_GAP {
                                // Records may have been swept before this replica read them.
                                tracing::warn!("the journal was out of reach for long: rescanning the bucket");
                                if let Err(error) = catalog.rescan() {
                                    tracing::warn!(%error, "rescan of storage failed");
                                    continue;
                                }
                            }
                            if changed > 0 {
                                tracing::debug!(changed, "took in other replicas' changes");
                            }
                            failing = false;
                            last_read = Instant::now();
                        }
                        Err(error) => {
                            if !failing {
                                tracing::warn!(%error, "cannot read the journal of other replicas' changes; retrying");
                            }
                            failing = true;
                        }
                    }
                }
            })
            .expect("spawn the follower thread");
        Follower { stop, thread }
    }

    fn stop(self) {
        drop(self.stop);
        let _ = self.thread.join();
    }
}

/// A thread that writes changed start-up caches every `CACHE_SAVE_INTERVAL`, off the
/// runtime (a write is long, blocking work); it ends when told to stop.
struct CacheWriter {
    stop: crossbeam_channel::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl CacheWriter {
    fn start(catalog: Arc<Catalog>) -> CacheWriter {
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let thread = std::thread::spawn(move || {
            while let Err(crossbeam_channel::RecvTimeoutError::Timeout) = stopped.recv_timeout(CACHE_SAVE_INTERVAL) {
                if catalog.save_caches() {
                    release_freed_memory();
                }
            }
        });
        CacheWriter { stop, thread }
    }

    /// Stops the thread, waiting for a write in progress.
    fn stop(self) {
        drop(self.stop);
        let _ = self.thread.join();
    }
}
