//! Accepting connections and running the service on each, until told to stop; then
//! letting the requests in flight finish, for `SHUTDOWN_TIMEOUT` at most.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Buf;
use futures_util::FutureExt;
use http_body::{Frame, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::idle::{Exchanges, Idle, Limits};
use super::record::RequestRecord;
use super::App;
use crate::sendfile::SendfileStream;

/// Serves until `shutdown` completes, then stops accepting and lets every connection
/// finish the request it is serving (idle keep-alive connections close at once), for
/// `SHUTDOWN_TIMEOUT` at most: an orchestrator's rollout then cuts no download and no
/// upload short. What is still open after that is cut, and said in the log; a write cut
/// short by the exit leaves only a dot-file that the next start removes.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // No hyper header-read timeout (and so no hyper timer): `Idle` closes stalled
    // connections for less.
    builder.http1().header_read_timeout(None);
    // hyper lets a connection's read buffer grow to ~400 KiB while a body streams in: with
    // hundreds of uploads at once that alone is over 100 MB. 64 KiB still holds any
    // sensible request head (nginx allows 32 KiB by default).
    builder.http1().max_buf_size(READ_BUFFER);
    let limits = Limits { read: app.config.read_timeout, header: app.config.read_header_timeout };
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    // Connections being served, to say how many a shutdown cuts.
    let open = Arc::new(AtomicUsize::new(0));
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => {
                drop(listener);
                finish(graceful, &open, app.config.shutdown_timeout).await;
                return Ok(());
            }
        };
        let _ = stream.set_nodelay(true);
        let (app, builder, tls, watcher) = (app.clone(), builder.clone(), tls.clone(), graceful.watcher());
        let open = OpenConnection::new(&open);
        tokio::spawn(async move {
            let _open = open;
            let exchanges = Arc::new(Exchanges::default());
            let service = {
                let connection = Arc::new(Connection { exchanges: exchanges.clone(), app });
                service_fn(move |request| {
                    connection.exchanges.begin();
                    let connection = connection.clone();
                    connection.app.handle(request).map(|answered| {
                        answered.map(|(reply, record)| {
                            reply.map(|body| Ending { body, connection, record: Some(record), sent: 0 })
                        })
                    })
                })
            };
            let served = match tls {
                None => {
                    let io = Idle::new(SendfileStream::new(stream), limits, Some(exchanges));
                    watcher.watch(builder.serve_connection(TokioIo::new(io), service)).await
                }
                Some(tls) => {
                    // The handshake has the head's deadline; under TLS the head's own is
                    // counted on the encrypted bytes, which arrive as the head does.
                    let handshake = tls.accept(Idle::new(stream, limits, Some(exchanges)));
                    let deadline =
                        if limits.header.is_zero() { HANDSHAKE_WITHOUT_HEADER_TIMEOUT } else { limits.header };
                    match tokio::time::timeout(deadline, handshake).await {
                        Ok(Ok(stream)) => watcher.watch(builder.serve_connection(TokioIo::new(stream), service)).await,
                        Ok(Err(error)) => Err(error.into()),
                        Err(_) => Err("TLS handshake timed out (READ_HEADER_TIMEOUT)".into()),
                    }
                }
            };
            if let Err(error) = served {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
}

/// Waits for the connections to finish what they are serving, for `timeout` at most.
async fn finish(graceful: GracefulShutdown, open: &AtomicUsize, timeout: Duration) {
    let connections = open.load(Ordering::Relaxed);
    tracing::info!(connections, ?timeout, "shutting down: no new connections; finishing the requests in flight");
    if tokio::time::timeout(timeout, graceful.shutdown()).await.is_err() {
        let connections = open.load(Ordering::Relaxed);
        tracing::warn!(connections, ?timeout, "SHUTDOWN_TIMEOUT passed: cutting the connections still open");
    }
}

/// Counts a connection as open for as long as it lives.
struct OpenConnection(Arc<AtomicUsize>);

impl OpenConnection {
    fn new(open: &Arc<AtomicUsize>) -> OpenConnection {
        open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(open.clone())
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The most a connection buffers of what its client sends.
const READ_BUFFER: usize = 64 * 1024;

/// How long a TLS handshake may take when `READ_HEADER_TIMEOUT` is off.
const HANDSHAKE_WITHOUT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// What the responses of one connection share: cloning it per request touches no
/// reference count other connections touch.
struct Connection {
    exchanges: Arc<Exchanges>,
    app: Arc<App>,
}

/// A response body that says when it is over (sent whole, or dropped): to its connection's
/// [`Exchanges`], so the connection knows the next bytes are a new request head, and to
/// the request's record, with the bytes it sent.
struct Ending<B> {
    body: B,
    connection: Arc<Connection>,
    record: Option<RequestRecord>,
    sent: u64,
}

impl<B> Drop for Ending<B> {
    fn drop(&mut self) {
        self.connection.exchanges.end();
        if let Some(record) = self.record.take() {
            self.connection.app.finish(record, self.sent);
        }
    }
}

impl<B: http_body::Body + Unpin> http_body::Body for Ending<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            this.sent += frame.data_ref().map_or(0, |data| data.remaining() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
