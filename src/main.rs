//! The `charthall` binary: read the configuration, set up logging, run the server until
//! SIGINT or SIGTERM — or, with `GEN_INDEX`, print the index and exit.

use charthall::config::Config;
use charthall::log_sink;
use charthall::server::Server;

/// mimalloc, because glibc's malloc kept gigabytes of freed start-up buffers resident on a
/// 130,000-version start (bench/README.md has the figures).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let config = match Config::load() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("charthall: {}", message.trim_end());
            std::process::exit(2);
        }
    };
    let log_writer = init_logging(config.log_json, config.log_level());
    for note in &config.notes {
        tracing::warn!("{note}");
    }
    // GEN_INDEX prints the index and exits instead of serving.
    let result = if config.gen_index { charthall::gen_index::print(&config) } else { run(config) };
    if let Err(message) = &result {
        tracing::error!("{message}");
    }
    // Writes out what the log writer still holds.
    drop(log_writer);
    if let Err(message) = result {
        eprintln!("charthall: {message}");
        std::process::exit(1);
    }
}

fn run(config: Config) -> Result<(), String> {
    let server = Server::open(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Blocking work is storage I/O and package checks: 16 threads keep 2 cores and a
        // disk busy. Each thread costs its stack and an allocator heap, ~8 MB measured:
        // with tokio's default of 512, 300 concurrent 19 MB uploads peaked at 1.5 GB
        // resident; with 64 at 617 MB; with 16 at 230 MB (tests/upload_memory.rs).
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let listener = server.listen().await?;
        server.run(listener, shutdown_signal()).await
    })
}

/// Threads for blocking work (storage, package checks) at most.
const BLOCKING_THREADS: usize = 16;

/// SIGINT or SIGTERM, as a terminal or an orchestrator stops the server.
async fn shutdown_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

/// Logs to standard error through the log sink: lines are buffered and written by a
/// thread of their own, so a slow reader of the log (a full pipe, a busy log shipper)
/// never stalls a request. The returned guard writes out what is left when dropped.
fn init_logging(json: bool, level: &str) -> log_sink::Guard {
    let guard = log_sink::install(json);
    let sink = log_sink::get().expect("just installed");
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let filter = tracing_subscriber::EnvFilter::new(level);
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(sink.make_writer()).with_ansi(ansi);
    if json {
        // Fields at the top level of each object, next to `timestamp`, `level` and
        // `target`, as log shippers expect them.
        builder.json().flatten_event(true).with_current_span(false).init();
    } else {
        builder.init();
    }
    guard
}
