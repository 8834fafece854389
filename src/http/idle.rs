//! Closing connections that stall: `READ_TIMEOUT` without a byte moving while the
//! server waits for the client to send (a request head, a body, the next request), like
//! nginx's `client_header_timeout`, which counts between two successive reads; and
//! `READ_HEADER_TIMEOUT` for a whole request head, like Go's `ReadHeaderTimeout`, so a
//! client that dribbles a head one byte at a time cannot hold a connection forever.
//!
//! Only the service knows where one request ends and the next head begins: it counts the
//! requests it has begun and the responses whose bodies have ended ([`Exchanges`]), and a
//! connection is reading a head while the two are equal.
//!
//! Waiting for the client to read is not a stall: with megabytes in the socket buffer, a
//! slow but steady download can leave the server unable to write for longer than the
//! timeout, and cutting it off would be wrong.
//!
//! hyper's own header-read timeout arms a new timer for every request: a clock read and a
//! boxed sleep put into tokio's timer wheel and taken out again under its lock. Serving a
//! small index 120,000 times a second, that was about 1.5 % of the core. Here each
//! connection has one timer that ticks every quarter of the shorter timeout while it
//! waits, and the hot path only counts progress.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Requests begun and responses ended on one connection, counted by the service.
#[derive(Debug, Default)]
pub struct Exchanges {
    begun: AtomicU32,
    ended: AtomicU32,
}

impl Exchanges {
    /// A request head has been read whole.
    pub fn begin(&self) {
        self.begun.fetch_add(1, Ordering::Relaxed);
    }

    /// A response has been sent whole (or dropped).
    pub fn end(&self) {
        self.ended.fetch_add(1, Ordering::Relaxed);
    }

    /// When no request is in progress (the connection is reading the next head), the
    /// number of requests so far, which names this wait.
    fn between(&self) -> Option<u32> {
        let begun = self.begun.load(Ordering::Relaxed);
        (self.ended.load(Ordering::Relaxed) == begun).then_some(begun)
    }
}

/// The limits a connection's I/O enforces; zero durations mean none.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `READ_TIMEOUT`: silence while the server waits for the client.
    pub read: Duration,
    /// `READ_HEADER_TIMEOUT`: a whole request head, once its first byte came.
    pub header: Duration,
}

/// A connection's I/O whose reads fail with `TimedOut` once the server has waited for
/// the client to send for the read timeout with no byte moving either way, or once a
/// request head has taken longer than the header timeout (each up to a quarter more).
pub struct Idle<S> {
    inner: S,
    /// A quarter of the shorter timeout, `None` when there is none.
    tick: Option<Duration>,
    /// Made the first time the connection waits, then re-armed at every tick.
    timer: Option<Pin<Box<Sleep>>>,
    /// Reads and writes that moved bytes, and the count at the last tick.
    progress: u64,
    seen: u64,
    /// Ticks in a row that saw no progress, and how many make the read timeout.
    quiet: u32,
    quiet_limit: Option<u32>,
    /// The last write found the socket buffer full: the client is reading, however slowly.
    sending: bool,
    /// The service's count of requests, when there is a header timeout.
    exchanges: Option<Arc<Exchanges>>,
    /// Ticks a head may take.
    head_limit: u32,
    /// Reads that moved bytes: a head is being sent when they change between requests.
    reads: u64,
    head: HeadWatch,
}

/// The current wait between requests, as seen at the ticks.
#[derive(Default)]
struct HeadWatch {
    /// Which wait (the request count when it began), `None` while a request runs.
    wait: Option<u32>,
    /// Reads when the wait was first seen: once they change, a head is coming.
    reads_at_start: u64,
    /// Ticks since the head's first bytes were seen, as Go counts `ReadHeaderTimeout`
    /// from the first byte of a head, not from the end of the answer before it.
    ticks: Option<u32>,
}

impl<S> Idle<S> {
    /// `exchanges` is the service's count for this connection (`None` for no header
    /// deadline, as during a TLS handshake, which has a deadline of its own).
    pub fn new(inner: S, limits: Limits, exchanges: Option<Arc<Exchanges>>) -> Idle<S> {
        let exchanges = exchanges.filter(|_| !limits.header.is_zero());
        let shortest = [limits.read, if exchanges.is_some() { limits.header } else { Duration::ZERO }]
            .into_iter()
            .filter(|d| !d.is_zero())
            .min();
        let tick = shortest.map(|d| d / 4);
        let ticks_in = |d: Duration| tick.map_or(0.0, |tick| d.as_secs_f64() / tick.as_secs_f64()).ceil() as u32;
        Idle {
            inner,
            tick,
            timer: None,
            progress: 0,
            seen: 0,
            quiet: 0,
            quiet_limit: (!limits.read.is_zero()).then(|| ticks_in(limits.read)),
            sending: false,
            head_limit: ticks_in(limits.header),
            exchanges,
            reads: 0,
            head: HeadWatch::default(),
        }
    }

    /// Called when there is nothing to read: `Pending` until a tick finds a limit passed,
    /// then the error that ends the connection.
    fn poll_stalled(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(tick) = self.tick.filter(|_| !self.sending) else {
            return Poll::Pending;
        };
        let mut timer = self.timer.take().unwrap_or_else(|| Box::pin(tokio::time::sleep(tick)));
        while timer.as_mut().poll(cx).is_ready() {
            if let Some(message) = self.on_tick(tick) {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, message)));
            }
            timer.as_mut().reset(Instant::now() + tick);
        }
        self.timer = Some(timer);
        Poll::Pending
    }

    /// What a tick finds: why to close the connection, if a limit has passed.
    fn on_tick(&mut self, tick: Duration) -> Option<String> {
        if self.progress == self.seen {
            self.quiet += 1;
        } else {
            self.seen = self.progress;
            self.quiet = 0;
        }
        if self.quiet_limit.is_some_and(|limit| self.quiet >= limit) {
            return Some(format!("no bytes moved for {:?} (READ_TIMEOUT)", tick * self.quiet));
        }
        let wait = self.exchanges.as_ref()?.between();
        if wait != self.head.wait || wait.is_none() {
            // A new wait; a connection's first counts every byte it has read.
            let reads_at_start = if wait == Some(0) { 0 } else { self.reads };
            self.head = HeadWatch { wait, reads_at_start, ticks: None };
        }
        self.head.wait?;
        let ticks = match self.head.ticks {
            Some(ticks) => ticks + 1,
            None if self.reads != self.head.reads_at_start => 0,
            None => return None,
        };
        self.head.ticks = Some(ticks);
        (ticks >= self.head_limit)
            .then(|| format!("a request head still incomplete after {:?} (READ_HEADER_TIMEOUT)", tick * ticks))
    }

    /// Notes a write's outcome: progress, or a full socket buffer.
    fn written(&mut self, result: Poll<io::Result<usize>>) -> Poll<io::Result<usize>> {
        self.sending = result.is_pending();
        self.progress += u64::from(matches!(result, Poll::Ready(Ok(n)) if n > 0));
        result
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Idle<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Pending => self.poll_stalled(cx),
            ready => {
                let moved = u64::from(buf.filled().len() > before);
                self.progress += moved;
                self.reads += moved;
                ready
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Idle<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.written(result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.written(result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
