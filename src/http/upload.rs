//! `POST /api/<repo>/charts` and `POST /api/<repo>/prov`.
//!
//! An upload is read whole (bounded by `MAX_UPLOAD_SIZE`) and split into its parts here;
//! the index checks and saves it off the async runtime, and answers only once the package
//! is durable and in the published index. Its refusals become statuses here, in one place.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, StatusCode};

use super::query::form_pairs;
use super::response::{self, Reply};
use super::App;
use crate::index::{SaveError, Upload};

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
    let upload = match content_type.as_deref().filter(|t| is_multipart(t)) {
        Some(content_type) => match form_files(app, content_type, body).await {
            Ok(upload) => upload,
            Err(message) => return response::upload_error(StatusCode::BAD_REQUEST, message),
        },
        None if target == Target::Chart => Upload { chart: Some(body), provenance: None },
        None => Upload { chart: None, provenance: Some(body) },
    };
    let overwrite = app.config.may_overwrite(force);
    let catalog = app.catalog.clone();
    let saved = tokio::task::spawn_blocking(move || catalog.save(&repo, upload, overwrite)).await.expect("upload task");
    match saved {
        Ok(()) => response::json(StatusCode::CREATED, &serde_json::json!({ "saved": true })),
        Err(SaveError::Invalid(message)) => response::upload_error(StatusCode::BAD_REQUEST, message),
        Err(SaveError::Exists) => response::upload_error(StatusCode::CONFLICT, "file already exists"),
        Err(SaveError::Full) => {
            response::upload_error(StatusCode::INSUFFICIENT_STORAGE, "repo has reached storage limit")
        }
        Err(SaveError::Storage(error)) => {
            tracing::error!(%error, "saving an upload failed");
            response::upload_error(StatusCode::INTERNAL_SERVER_ERROR, format!("storage error: {error}"))
        }
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
async fn form_files(app: &App, content_type: &str, body: Bytes) -> Result<Upload, String> {
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
    Ok(Upload { chart, provenance: prov })
}
