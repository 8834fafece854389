//! Where log lines go: buffered per thread, written to standard error by a thread of
//! their own, in batches — what nginx's `access_log … buffer=64k flush=1s` does.
//!
//! A request line is formatted straight into its thread's buffer (no allocation, no
//! channel operation per line): through `tracing`'s formatter and a channel per line,
//! the log cost a fifth of a small index GET (bench/README.md). A buffer goes to the
//! writer when it holds 64 KiB, and every 200 ms whatever it holds. The writer is the
//! only thread that waits on standard error: if its reader stalls, full buffers that find
//! the writer's queue full are dropped and counted, and requests go on.
//!
//! `tracing`'s other lines come here too ([`LogSink::make_writer`]), so each line is
//! written whole and nothing interleaves.

use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

/// A buffer goes to the writer once it holds this much.
const BATCH: usize = 64 * 1024;
/// Whatever the buffers hold is written at least this often.
const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Full buffers waiting for the writer, at most (2 MiB): past that, lines are dropped.
const QUEUE: usize = 32;
const SHARDS: usize = 8;

/// The process's log sink, once [`install`]ed.
static SINK: OnceLock<Arc<LogSink>> = OnceLock::new();

pub struct LogSink {
    /// Lines not yet handed to the writer; a thread appends to its own shard.
    shards: [Mutex<Vec<u8>>; SHARDS],
    queue: Sender<Vec<u8>>,
    /// One JSON object per line (`LOG_JSON`), for lines formatted here.
    pub json: bool,
    dropped_lines: AtomicU64,
}

/// Writes out what is buffered when dropped; keep it for as long as the process logs.
pub struct Guard {
    writer: Option<std::thread::JoinHandle<()>>,
    stop: Option<Sender<Vec<u8>>>,
}

/// Installs the process's sink (once) and starts its writer thread.
pub fn install(json: bool) -> Guard {
    let (queue, batches) = crossbeam_channel::bounded(QUEUE);
    let sink =
        Arc::new(LogSink { shards: Default::default(), queue: queue.clone(), json, dropped_lines: AtomicU64::new(0) });
    if SINK.set(sink.clone()).is_err() {
        return Guard { writer: None, stop: None };
    }
    let (stop, stopped) = crossbeam_channel::bounded::<Vec<u8>>(0);
    let writer = std::thread::Builder::new()
        .name("charthall-log".into())
        .spawn(move || write_until_stopped(&sink, &batches, &stopped))
        .expect("start the log writer thread");
    Guard { writer: Some(writer), stop: Some(stop) }
}

/// The process's sink, if [`install`] was called (the binary does; in-process tests don't).
pub fn get() -> Option<&'static LogSink> {
    SINK.get().map(|sink| &**sink)
}

impl LogSink {
    /// Appends one line, written by `line` into the calling thread's buffer.
    pub fn append(&self, line: impl FnOnce(&mut Vec<u8>)) {
        let mut buffer = self.shard().lock().unwrap_or_else(|p| p.into_inner());
        line(&mut buffer);
        if buffer.len() >= BATCH {
            let full = std::mem::replace(&mut *buffer, Vec::with_capacity(BATCH + 1024));
            drop(buffer);
            self.hand_over(full);
        }
    }

    /// Lines dropped because the writer could not keep up (its reader stalled).
    pub fn dropped_lines(&self) -> u64 {
        self.dropped_lines.load(Ordering::Relaxed)
    }

    /// A `tracing_subscriber` writer that appends each formatted event here.
    pub fn make_writer(&'static self) -> impl for<'a> tracing_subscriber::fmt::MakeWriter<'a> + 'static {
        move || SinkWriter(self)
    }

    fn hand_over(&self, batch: Vec<u8>) {
        if let Err(refused) = self.queue.try_send(batch) {
            let lines = refused.into_inner().iter().filter(|&&b| b == b'\n').count();
            self.dropped_lines.fetch_add(lines as u64, Ordering::Relaxed);
        }
    }

    /// This thread's shard: threads take shards in turn as they first log.
    fn shard(&self) -> &Mutex<Vec<u8>> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
        }
        &self.shards[SHARD.with(|shard| *shard)]
    }

    /// Takes every shard's lines.
    fn take_all(&self) -> Vec<Vec<u8>> {
        self.shards
            .iter()
            .filter_map(|shard| {
                let mut buffer = shard.lock().unwrap_or_else(|p| p.into_inner());
                (!buffer.is_empty()).then(|| std::mem::take(&mut *buffer))
            })
            .collect()
    }
}

/// The writer thread: full buffers as they come, every buffer at least every
/// [`FLUSH_EVERY`], and at the stop everything left.
fn write_until_stopped(sink: &LogSink, batches: &Receiver<Vec<u8>>, stopped: &Receiver<Vec<u8>>) {
    let mut out = std::io::stderr().lock();
    let mut flushed = Instant::now();
    loop {
        if let Ok(batch) = batches.recv_timeout(FLUSH_EVERY) {
            let _ = out.write_all(&batch);
        }
        let stopping = matches!(stopped.try_recv(), Err(TryRecvError::Disconnected));
        if stopping || flushed.elapsed() >= FLUSH_EVERY {
            while let Ok(batch) = batches.try_recv() {
                let _ = out.write_all(&batch);
            }
            for batch in sink.take_all() {
                let _ = out.write_all(&batch);
            }
            let _ = out.flush();
            flushed = Instant::now();
        }
        if stopping {
            return;
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Dropping the sender ends the writer's wait; then it writes what is left. A
        // writer stuck on a stalled reader is not waited for past a second.
        drop(self.stop.take());
        if let Some(writer) = self.writer.take() {
            let deadline = std::time::Instant::now() + Duration::from_secs(1);
            while !writer.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Appends what `tracing` formats (one whole event per write) to the sink.
struct SinkWriter(&'static LogSink);

impl Write for SinkWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.append(|buffer| buffer.extend_from_slice(bytes));
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
