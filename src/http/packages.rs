//! `GET /<repo>/charts/<file>`: a package or provenance file, streamed from storage in
//! bounded chunks (memory stays flat however large the folder).
//!
//! An indexed package carries its digest as ETag. When no upload can replace it
//! (`ALLOW_OVERWRITE` off and `?force` disabled) it is immutable, and says so, so CDNs
//! and proxies keep it for a year; otherwise caches must revalidate, which costs a 304.

use hyper::header::{HeaderMap, HeaderValue, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, LAST_MODIFIED};
use hyper::{Response, StatusCode};

use super::body::Body;
use super::conditional::is_fresh;
use super::response::{self, Reply};
use super::App;
use crate::storage::{is_chart_object, Opened};

pub async fn download(app: &App, repo: String, file: String, headers: &HeaderMap, head: bool) -> Reply {
    if !is_chart_object(&file) {
        return response::error(
            StatusCode::NOT_FOUND,
            format!(
                "unsupported file extension: {file:?} is not a chart package (.tgz) or provenance file (.tgz.prov)"
            ),
        );
    }
    let etag = indexed_etag(app, &repo, &file);
    let cache_control = cache_control(app, etag.is_some());
    if let Some(etag) = &etag {
        if is_fresh(headers, etag, None) {
            let mut reply = Response::new(Body::Empty);
            *reply.status_mut() = StatusCode::NOT_MODIFIED;
            reply.headers_mut().insert(ETAG, etag.clone());
            reply.headers_mut().insert(CACHE_CONTROL, cache_control);
            return reply;
        }
    }
    let catalog = app.catalog.clone();
    let (opening_repo, opening_file) = (repo.clone(), file.clone());
    let opened =
        tokio::task::spawn_blocking(move || catalog.open(&opening_repo, &opening_file)).await.expect("storage task");
    let (opened, info) = match opened {
        Ok(found) => found,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return response::error(StatusCode::NOT_FOUND, "object not found")
        }
        Err(e) => return response::storage_error(&e),
    };
    let content_type = if info.name.ends_with(".prov") { "application/pgp-signature" } else { "application/gzip" };
    // Opening may have indexed the file again (a bucket's copy replaced by another replica).
    let etag = indexed_etag(app, &repo, &file);
    let body = match opened {
        _ if head => Body::Empty,
        Opened::File(file) => Body::file(file, info.size),
        Opened::Stream(stream) => Body::stream(stream, info.size),
    };
    let mut reply = Response::new(body);
    let headers = reply.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(info.size));
    headers.insert(CACHE_CONTROL, cache_control);
    if let Some(etag) = etag {
        headers.insert(ETAG, etag);
    }
    if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(info.modified)) {
        headers.insert(LAST_MODIFIED, date);
    }
    reply
}

/// The indexed digest of `file`, as an ETag.
fn indexed_etag(app: &App, repo: &str, file: &str) -> Option<HeaderValue> {
    let snapshot = app.catalog.snapshot(repo);
    let version = snapshot.by_file(file)?;
    HeaderValue::from_str(&format!("\"{}\"", version.digest_hex())).ok()
}

fn cache_control(app: &App, indexed: bool) -> HeaderValue {
    let config = &app.config;
    let immutable = indexed && !config.allow_overwrite && config.disable_force_overwrite;
    // Behind auth, shared caches must not hand packages to anyone who asks.
    let private = config.requires_auth() && !config.auth_anonymous_get;
    HeaderValue::from_static(match (immutable, private) {
        (true, false) => "public, max-age=31536000, immutable",
        (true, true) => "private, max-age=31536000, immutable",
        (false, _) => "no-cache",
    })
}
