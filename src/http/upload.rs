//! `POST /api/<repo>/charts`, `POST /api/<repo>/prov` and `DELETE …/<name>/<version>`.
//!
//! An upload is read whole (bounded by `MAX_UPLOAD_SIZE`), validated off the async
//! runtime, then saved by the index's writer, which answers only once the package is
//! durable and in the published index.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, StatusCode};

use super::api::form_pairs;
use super::response::{self, Reply};
use super::App;
use crate::chart::package::{self, Keep};
use crate::chart::provenance;
use crate::index::{UploadedChart, UploadedProvenance, WriteError};

/// Which route the body came to: a raw body is a package on `/charts`, a provenance file
/// on `/prov`; a multipart form may carry both on either.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Chart,
    Provenance,
}

pub async fn upload(app: &App, repo: String, request: Request<Incoming>, target: Target) -> Reply {
    let force = form_pairs(request.uri().query().unwrap_or("")).any(|(key, _)| key == "force");
    let content_type = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = match read_body(app, request).await {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let (chart, prov) = match content_type.as_deref().filter(|t| is_multipart(t)) {
        Some(content_type) => match form_files(app, content_type, body).await {
            Ok(files) => files,
            Err(message) => return response::upload_error(StatusCode::BAD_REQUEST, message),
        },
        None if target == Target::Chart => (Some(body), None),
        None => (None, Some(body)),
    };
    let strict = app.config.enforce_semver2;
    let overwrite = app.config.may_overwrite(force);
    let catalog = app.catalog.clone();
    let invalid = |message: String| (StatusCode::BAD_REQUEST, message);
    let saved = tokio::task::spawn_blocking(move || {
        let chart = match chart {
            Some(bytes) => Some(UploadedChart {
                read: package::read_with_digest(&bytes, Keep::Validate, strict).map_err(invalid)?,
                bytes,
            }),
            None => None,
        };
        let provenance = match prov {
            Some(bytes) => {
                Some(UploadedProvenance { file_name: provenance::file_name(&bytes).map_err(invalid)?, bytes })
            }
            None => None,
        };
        let described = chart.as_ref().map(|c| c.read.package.metadata.file_name());
        catalog.save(&repo, chart, provenance, overwrite).map_err(|e| match e {
            WriteError::Exists => (StatusCode::CONFLICT, "file already exists".to_string()),
            WriteError::NotFound(message) => (StatusCode::NOT_FOUND, message),
            WriteError::Storage(error) => {
                tracing::error!(%repo, %error, "saving an upload failed");
                (StatusCode::INTERNAL_SERVER_ERROR, format!("storage error: {error}"))
            }
        })?;
        if let Some(file) = described {
            tracing::info!(repo = %repo, %file, "chart saved");
        }
        Ok::<(), (StatusCode, String)>(())
    })
    .await
    .expect("upload task");
    match saved {
        Ok(()) => response::json(StatusCode::CREATED, &serde_json::json!({ "saved": true })),
        Err((status, message)) => response::upload_error(status, message),
    }
}

pub async fn delete(app: &App, repo: String, name: String, version: String) -> Reply {
    let catalog = app.catalog.clone();
    let deleted =
        tokio::task::spawn_blocking(move || catalog.delete(&repo, &name, &version)).await.expect("delete task");
    match deleted {
        Ok(()) => response::json(StatusCode::OK, &serde_json::json!({ "deleted": true })),
        Err(WriteError::NotFound(message)) => response::delete_error(StatusCode::NOT_FOUND, message),
        Err(WriteError::Storage(error)) => {
            tracing::error!(%error, "delete failed");
            response::delete_error(StatusCode::INTERNAL_SERVER_ERROR, format!("storage error: {error}"))
        }
        Err(WriteError::Exists) => unreachable!("a delete never finds a conflict"),
    }
}

/// The whole body, or a 413 past `MAX_UPLOAD_SIZE` (checked against `Content-Length`
/// first, so an oversized upload is refused before it is read).
async fn read_body(app: &App, request: Request<Incoming>) -> Result<Bytes, Reply> {
    let limit = app.config.max_upload_size;
    let too_large = || {
        response::upload_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request too large: the body is over MAX_UPLOAD_SIZE ({limit} bytes)"),
        )
    };
    let declared = request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    match Limited::new(request.into_body(), limit as usize).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(error) => {
            Err(response::upload_error(StatusCode::BAD_REQUEST, format!("could not read the request body: {error}")))
        }
    }
}

fn is_multipart(content_type: &str) -> bool {
    content_type.trim_start().to_ascii_lowercase().starts_with("multipart/form-data")
}

/// The package and provenance parts of a multipart form.
async fn form_files(app: &App, content_type: &str, body: Bytes) -> Result<(Option<Bytes>, Option<Bytes>), String> {
    let boundary = multer::parse_boundary(content_type).map_err(|e| format!("malformed multipart form: {e}"))?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let chart_fields = ["chart", app.config.chart_post_form_field_name.as_str()];
    let prov_fields = ["prov", app.config.prov_post_form_field_name.as_str()];
    let (mut chart, mut prov) = (None, None);
    while let Some(field) = form.next_field().await.map_err(|e| format!("malformed multipart form: {e}"))? {
        let name = field.name().unwrap_or_default().to_string();
        let slot = if chart_fields.contains(&name.as_str()) {
            &mut chart
        } else if prov_fields.contains(&name.as_str()) {
            &mut prov
        } else {
            continue;
        };
        *slot = Some(field.bytes().await.map_err(|e| format!("malformed multipart form: {e}"))?);
    }
    if chart.is_none() && prov.is_none() {
        return Err(format!(
            "no package or provenance file found in form fields {} and {}",
            app.config.chart_post_form_field_name, app.config.prov_post_form_field_name
        ));
    }
    Ok((chart, prov))
}
