//! Closing connections that stall: `READ_TIMEOUT` without a byte moving while the
//! server waits for the client to send (a request head, a body, the next request), like
//! nginx's `client_header_timeout`, which counts between two successive reads.
//!
//! Waiting for the client to read is not a stall: with megabytes in the socket buffer, a
//! slow but steady download can leave the server unable to write for longer than the
//! timeout, and cutting it off would be wrong.
//!
//! hyper's own header-read timeout arms a new timer for every request: a clock read and a
//! boxed sleep put into tokio's timer wheel and taken out again under its lock. Serving a
//! small index 120,000 times a second, that was about 1.5 % of the core. Here each
//! connection has one timer that ticks every half timeout, and the hot path only counts
//! progress.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// A connection's I/O whose reads fail with `TimedOut` once the server has waited for
/// the client to send for the timeout (up to one and a half times it) with no byte
/// moving either way.
pub struct Idle<S> {
    inner: S,
    /// Half the timeout, `None` when there is none.
    tick: Option<Duration>,
    /// Made the first time the connection waits, then re-armed at every tick.
    timer: Option<Pin<Box<Sleep>>>,
    /// Reads and writes that moved bytes, and the count at the last tick.
    progress: u64,
    seen: u64,
    /// Ticks in a row that saw no progress.
    quiet: u8,
    /// The last write found the socket buffer full: the client is reading, however slowly.
    sending: bool,
}

impl<S> Idle<S> {
    /// `timeout` zero means never.
    pub fn new(inner: S, timeout: Duration) -> Idle<S> {
        let tick = (!timeout.is_zero()).then(|| timeout / 2);
        Idle { inner, tick, timer: None, progress: 0, seen: 0, quiet: 0, sending: false }
    }

    /// Called when there is nothing to read: `Pending` until two ticks in a row have seen
    /// no progress, then the error that ends the connection.
    fn poll_stalled(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(tick) = self.tick.filter(|_| !self.sending) else {
            return Poll::Pending;
        };
        let timer = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(tick)));
        while timer.as_mut().poll(cx).is_ready() {
            if self.progress == self.seen {
                self.quiet += 1;
            } else {
                self.seen = self.progress;
                self.quiet = 0;
            }
            if self.quiet >= 2 {
                let message = format!("no bytes moved for {:?} (READ_TIMEOUT)", tick * 2);
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, message)));
            }
            timer.as_mut().reset(Instant::now() + tick);
        }
        Poll::Pending
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
                self.progress += u64::from(buf.filled().len() > before);
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
