//! `GET /<repo>/index.yaml` — the hot path.
//!
//! The index answer is a snapshot load and a `Bytes` clone. Gzip only when the client
//! says it can read it (Helm does not ask, and cannot read unasked gzip); every answer
//! carries a strong ETag per encoding so caches and CI jobs can revalidate for free.

use hyper::header::{
    HeaderMap, HeaderValue, ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG,
    LAST_MODIFIED, VARY,
};
use hyper::{Response, StatusCode};

use super::body::Body;
use super::conditional::is_fresh;
use super::response::{self, Reply};
use super::App;
use crate::index::Representation;

pub fn get(app: &App, repo: &str, headers: &HeaderMap, head: bool) -> Reply {
    let snapshot = app.catalog.snapshot(repo);
    let gzip = accepts_gzip(headers);
    let representation = if gzip { &snapshot.index_gzip } else { &snapshot.index };
    let mut reply = Response::new(Body::Empty);
    if is_fresh(headers, &representation.etag, Some(snapshot.modified)) {
        *reply.status_mut() = StatusCode::NOT_MODIFIED;
        validators(reply.headers_mut(), representation);
        return reply;
    }
    let full = representation.response_headers.get_or_init(|| {
        let mut full = HeaderMap::with_capacity(8);
        full.insert(CONTENT_TYPE, response::YAML);
        full.insert(CONTENT_LENGTH, representation.content_length.clone());
        if gzip {
            full.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        validators(&mut full, representation);
        // A slot for the request id every answer gets, so that filling it in does not
        // grow the copy.
        full.insert(super::X_REQUEST_ID.clone(), HeaderValue::from_static(""));
        full
    });
    *reply.headers_mut() = full.clone();
    if !head {
        *reply.body_mut() = Body::chunks(representation.chunks.clone(), representation.len);
    }
    reply
}

/// What a `304` repeats of the full answer: how to revalidate and what it varies on.
fn validators(headers: &mut HeaderMap, representation: &Representation) {
    headers.insert(ETAG, representation.etag.clone());
    headers.insert(LAST_MODIFIED, representation.last_modified.clone());
    headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

/// Whether `Accept-Encoding` allows gzip (`gzip`, `x-gzip` or `*` with a non-zero q).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    for value in headers.get_all(ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()) {
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
                .next()
                .unwrap_or(1.0);
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(q > 0.0);
            } else if coding == "*" {
                any = Some(q > 0.0);
            }
        }
    }
    gzip.or(any).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn gzip_negotiation() {
        assert!(!accepts_gzip(&HeaderMap::new()));
        assert!(accepts_gzip(&with("gzip")));
        assert!(accepts_gzip(&with("br, gzip;q=0.5")));
        assert!(!accepts_gzip(&with("gzip;q=0")));
        assert!(accepts_gzip(&with("*")));
        assert!(!accepts_gzip(&with("*, gzip;q=0")));
        assert!(!accepts_gzip(&with("identity")));
        assert!(accepts_gzip(&with("GZip")));
    }
}
