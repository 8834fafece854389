//! The `charthall` binary: read the configuration, index storage, serve.

use std::sync::Arc;
use std::time::Instant;

use charthall::config::Config;
use charthall::http::{serve, tls_acceptor, App};
use charthall::index::{Catalog, IndexSettings};
use charthall::storage::LocalStorage;

/// mimalloc, because glibc's malloc kept gigabytes of freed start-up buffers resident on a
/// 130,000-version start (bench/README.md has the figures).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hands memory freed by a burst of work (a start-up scan, a cache write) back to the
/// system now rather than whenever the allocator is next busy.
fn release_freed_memory() {
    // SAFETY: mi_collect only walks the allocator's own free lists; any thread may call it.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

fn main() {
    let config = match Config::load() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("charthall: {}", message.trim_end());
            std::process::exit(2);
        }
    };
    init_logging(config.log_json);
    if let Err(message) = run(config) {
        tracing::error!("{message}");
        eprintln!("charthall: {message}");
        std::process::exit(1);
    }
}

fn run(config: Config) -> Result<(), String> {
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(tls_acceptor(cert, key)?),
        _ => None,
    };
    let root = &config.storage_local_rootdir;
    let storage = LocalStorage::open(root, config.depth)
        .map_err(|e| format!("cannot use STORAGE_LOCAL_ROOTDIR {}: {e}", root.display()))?;
    charthall::sendfile::spool_in(root);
    let settings = IndexSettings {
        chart_url: config.chart_url.clone(),
        context_path: config.context_path.clone(),
        strict_semver: config.enforce_semver2,
    };
    let catalog = Arc::new(Catalog::new(Arc::new(storage), settings, config.index_limit, config.depth));
    let started = Instant::now();
    catalog.start().map_err(|e| format!("cannot read STORAGE_LOCAL_ROOTDIR {}: {e}", root.display()))?;
    release_freed_memory();
    tracing::info!(
        repositories = catalog.names().len(),
        seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
        root = %root.display(),
        "storage indexed"
    );

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let address = format!("{}:{}", config.listen_host, config.port);
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .map_err(|e| format!("cannot listen on {address} (LISTEN_HOST, PORT): {e}"))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(address = %listener.local_addr().map(|a| a.to_string()).unwrap_or(address), scheme, "serving");
        if !config.cache_interval.is_zero() {
            tokio::spawn(rescan_every(catalog.clone(), config.cache_interval));
        }
        std::thread::spawn({
            let catalog = catalog.clone();
            move || loop {
                if catalog.save_caches() {
                    release_freed_memory();
                }
                std::thread::sleep(CACHE_SAVE_INTERVAL);
            }
        });
        let app = Arc::new(App::new(config, catalog.clone()));
        serve(app, listener, tls).await.map_err(|e| e.to_string())
    })?;
    catalog.save_caches();
    Ok(())
}

/// How often changed repositories' start-up caches are written.
/// Each write is the whole index (~85 MB at 130,000 versions), and a stale cache only costs
/// the next start re-reading what changed since: once a minute is plenty.
const CACHE_SAVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// `CACHE_INTERVAL`: picks up packages added, changed or removed behind the server's back.
async fn rescan_every(catalog: Arc<Catalog>, interval: std::time::Duration) {
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

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOG_LEVEL")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
