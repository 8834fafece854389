//! What each request leaves behind when its response ends: one log line and its share of
//! the metrics.
//!
//! A request is recorded when its response body is over (sent whole, or dropped because
//! the client went away or the server shut down), so the line tells the bytes that really
//! left and the time the client really waited, a 6 MB download's whole transfer included.
//! Lines are written in `tracing`'s shapes (human, or JSON with `LOG_JSON`) straight into
//! the log sink's buffer ([`crate::log_sink`]), so a slow log reader never stalls a request.

use std::io::Write;
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
        let Some(sink) = crate::log_sink::get() else {
            return;
        };
        let line = Line {
            method: self.method.as_str(),
            path: &path,
            status: self.status.as_u16(),
            bytes: sent,
            duration_us: took.as_micros() as u64,
            request_id: self.request_id.to_str().unwrap_or("-"),
            route: self.class.name(),
        };
        sink.append(|buffer| if sink.json { line.write_json(buffer) } else { line.write_text(buffer) });
    }
}

/// A request line's fields, written as `tracing` writes its own lines (same timestamp,
/// level and target; human or flattened JSON), but straight into the log buffer: this
/// runs for every request.
struct Line<'a> {
    method: &'a str,
    path: &'a str,
    status: u16,
    bytes: u64,
    duration_us: u64,
    request_id: &'a str,
    route: &'a str,
}

impl Line<'_> {
    fn write_text(&self, out: &mut Vec<u8>) {
        let now = humantime::format_rfc3339_micros(std::time::SystemTime::now());
        let _ = writeln!(
            out,
            "{now}  INFO {TARGET}: request method={} path={:?} status={} bytes={} duration_us={} request_id={:?} route={:?}",
            self.method, self.path, self.status, self.bytes, self.duration_us, self.request_id, self.route
        );
    }

    fn write_json(&self, out: &mut Vec<u8>) {
        let now = humantime::format_rfc3339_micros(std::time::SystemTime::now());
        let _ = write!(out, "{{\"timestamp\":\"{now}\",\"level\":\"INFO\",\"message\":\"request\",\"method\":");
        let _ = serde_json::to_writer(&mut *out, self.method);
        out.extend_from_slice(b",\"path\":");
        let _ = serde_json::to_writer(&mut *out, self.path);
        let _ = write!(
            out,
            ",\"status\":{},\"bytes\":{},\"duration_us\":{},\"request_id\":",
            self.status, self.bytes, self.duration_us
        );
        let _ = serde_json::to_writer(&mut *out, self.request_id);
        let _ = writeln!(out, ",\"route\":\"{}\",\"target\":\"{TARGET}\"}}", self.route);
    }
}

/// Whether lines for requests are written at all: there is a log sink (the binary's), and
/// the log level lets `info` through.
pub fn logging() -> bool {
    crate::log_sink::get().is_some() && tracing::enabled!(target: TARGET, tracing::Level::INFO)
}

/// Whether an incoming `X-Request-Id` is kept: short, visible ASCII. Anything else (it
/// goes into every log line of the request) is replaced by one of the server's.
pub fn usable_request_id(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| b.is_ascii_graphic())
}
