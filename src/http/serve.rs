//! Accepting connections and running the service on each, until told to stop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::idle::Idle;
use super::App;
use crate::sendfile::SendfileStream;

/// Serves until `shutdown` completes, then stops accepting. Connections already open are
/// not waited for; writes in flight finish on the blocking pool, and a write cut short by
/// the exit leaves only a dot-file that the next start removes.
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
    let read_timeout = app.config.read_timeout;
    let builder = Arc::new(builder);
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
                tracing::info!("shutting down");
                return Ok(());
            }
        };
        let _ = stream.set_nodelay(true);
        let (app, builder, tls) = (app.clone(), builder.clone(), tls.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| app.handle(request));
            let served = match tls {
                None => {
                    let io = Idle::new(SendfileStream::new(stream), read_timeout);
                    builder.serve_connection(TokioIo::new(io), service).await
                }
                Some(tls) => {
                    match tokio::time::timeout(Duration::from_secs(30), tls.accept(Idle::new(stream, read_timeout)))
                        .await
                    {
                        Ok(Ok(stream)) => builder.serve_connection(TokioIo::new(stream), service).await,
                        Ok(Err(error)) => Err(error.into()),
                        Err(_) => Err("TLS handshake timed out".into()),
                    }
                }
            };
            if let Err(error) = served {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
}
