//! `GET /<repo>/charts/<file>`: a package or provenance file, streamed from storage.

use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, LAST_MODIFIED};
use hyper::{Response, StatusCode};

use super::body::Body;
use super::response::{self, Reply};
use super::App;
use crate::storage::is_chart_object;

pub async fn download(app: &App, repo: String, file: String, head: bool) -> Reply {
    if !is_chart_object(&file) {
        return response::error(
            StatusCode::NOT_FOUND,
            format!(
                "unsupported file extension: {file:?} is not a chart package (.tgz) or provenance file (.tgz.prov)"
            ),
        );
    }
    let storage = app.catalog.storage.clone();
    let opened = tokio::task::spawn_blocking(move || storage.open(&repo, &file)).await.expect("storage task");
    let (file, info) = match opened {
        Ok(found) => found,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return response::error(StatusCode::NOT_FOUND, "object not found")
        }
        Err(e) => return response::storage_error(&e),
    };
    let content_type = if info.name.ends_with(".prov") { "application/pgp-signature" } else { "application/gzip" };
    let mut reply = Response::new(if head { Body::Empty } else { Body::file(file, info.size) });
    let headers = reply.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(info.size));
    if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(info.modified)) {
        headers.insert(LAST_MODIFIED, date);
    }
    reply
}
