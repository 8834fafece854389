//! What each request leaves behind when its response ends: one log line and its share of
//! the metrics.
//!
//! A request is recorded when its response body is over (sent whole, or dropped because
//! the client went away or the server shut down), so the line tells the bytes that really
//! left and the time the client really waited, a 6 MB download's whole transfer included.
//! Lines go through `tracing` (human or JSON like every other line) to a writer on its own
//! thread (`main.rs`), so a slow log reader never stalls a request.

use std::time::Instant;

use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};

use super::metrics::{RequestStats, RouteClass};

/// The `tracing` target of request lines, so filters can tell them from the rest.
pub const TARGET: &str = "charthall::request";

/// One request, from its head to the end of its response.
pub struct RequestRecord {
    started: Instant,
    method: Method,
    /// The path, kept only when request lines are logged.
    path: Option<Box<str>>,
    pub request_id: HeaderValue,
    pub class: RouteClass,
    pub status: StatusCode,
}

impl RequestRecord {
    /// Starts the record of a request to `path`, when `log` says lines are written.
    pub fn begin(method: &Method, path: &str, request_id: HeaderValue, log: bool) -> RequestRecord {
        RequestRecord {
            started: Instant::now(),
            method: method.clone(),
            path: log.then(|| path.into()),
            request_id,
            class: RouteClass::Other,
            status: StatusCode::OK,
        }
    }

    /// The response is over, after `sent` body bytes: counts it and logs its line.
    pub fn finish(self, sent: u64, stats: Option<&RequestStats>, log_health: bool) {
        let took = self.started.elapsed();
        if let Some(stats) = stats {
            stats.request(self.class, self.status.as_u16(), sent, took);
        }
        let Some(path) = self.path else {
            return;
        };
        if self.class == RouteClass::Health && !log_health {
            return;
        }
        tracing::info!(
            target: TARGET,
            method = %self.method,
            path = &*path,
            status = self.status.as_u16(),
            bytes = sent,
            duration_us = took.as_micros() as u64,
            request_id = String::from_utf8_lossy(self.request_id.as_bytes()).as_ref(),
            route = self.class.name(),
            "request"
        );
    }
}

/// Whether lines for requests are written at all (the log level lets `info` through).
pub fn logging() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::INFO)
}

/// Whether an incoming `X-Request-Id` is kept: short, visible ASCII. Anything else (it
/// goes into every log line of the request) is replaced by one of the server's.
pub fn usable_request_id(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| b.is_ascii_graphic())
}
