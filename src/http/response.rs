//! Building responses: JSON bodies and errors in the shape ChartMuseum clients parse
//! (`{"error": "…"}`), plus the headers every response carries.

use bytes::Bytes;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Response, StatusCode};

use super::body::Body;

pub type Reply = Response<Body>;

pub const JSON: HeaderValue = HeaderValue::from_static("application/json; charset=utf-8");
pub const YAML: HeaderValue = HeaderValue::from_static("application/x-yaml");

/// A response with a whole body, its type and length.
pub fn bytes(status: StatusCode, content_type: HeaderValue, body: impl Into<Bytes>) -> Reply {
    let body: Bytes = body.into();
    let length = HeaderValue::from(body.len());
    let mut response = Response::new(Body::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response.headers_mut().insert(CONTENT_LENGTH, length);
    response
}

pub fn json(status: StatusCode, value: &serde_json::Value) -> Reply {
    bytes(status, JSON, serde_json::to_vec(value).expect("JSON values serialize"))
}

/// `{"error": message}`.
pub fn error(status: StatusCode, message: impl Into<String>) -> Reply {
    json(status, &serde_json::json!({ "error": message.into() }))
}

/// A failed upload: `{"error": message, "saved": false}`, as the original ChartHall.
pub fn upload_error(status: StatusCode, message: impl Into<String>) -> Reply {
    json(status, &serde_json::json!({ "error": message.into(), "saved": false }))
}

/// A failed delete: `{"error": message, "deleted": false}`.
pub fn delete_error(status: StatusCode, message: impl Into<String>) -> Reply {
    json(status, &serde_json::json!({ "error": message.into(), "deleted": false }))
}

pub fn not_found() -> Reply {
    error(StatusCode::NOT_FOUND, "not found")
}

/// Drops the body of a GET answer for a HEAD request, keeping every header.
pub fn without_body(mut response: Reply) -> Reply {
    *response.body_mut() = Body::Empty;
    response
}

/// A 500 for a storage failure: logged in full, told in short.
pub fn storage_error(error: &std::io::Error) -> Reply {
    tracing::error!(%error, "storage error");
    self::error(StatusCode::INTERNAL_SERVER_ERROR, format!("storage error: {error}"))
}
