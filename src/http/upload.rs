//! `POST /api/<repo>/charts` and `POST /api/<repo>/prov`.
//!
//! An upload streams into spools, temporary files of the storage's own (one per part of a
//! form), bounded by `MAX_UPLOAD_SIZE`: memory holds a batch of it, never the whole, however
//! many arrive at once. The index checks and saves it off the async runtime, and answers
//! only once the package is durable and in the published index. Its refusals become
//! statuses here, in one place.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use http_body_util::BodyDataStream;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, StatusCode};

use super::metrics::UploadOutcome;
use super::query::form_pairs;
use super::response::{self, Reply};
use super::App;
use crate::index::{Catalog, SaveError, Upload};
use crate::storage::Spool;

/// Which route the body came to: a raw body is a package on `/charts`, a provenance file
/// on `/prov`; a multipart form may carry both on either.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Chart,
    Provenance,
}

pub async fn upload(app: &App, repo: String, request: Request<Incoming>, target: Target) -> Reply {
    let (outcome, reply) = save(app, repo, request, target).await;
    app.count_upload(outcome);
    reply
}

/// Receives, checks and saves an upload; says how it ended.
async fn save(app: &App, repo: String, request: Request<Incoming>, target: Target) -> (UploadOutcome, Reply) {
    let force = form_pairs(request.uri().query().unwrap_or("")).any(|(key, _)| key == "force");
    let upload = match receive(app, request, target).await {
        Ok(upload) => upload,
        Err(refused) => return refused,
    };
    let overwrite = app.config.may_overwrite(force);
    let catalog = app.catalog.clone();
    let _turn = app.saving.acquire().await.expect("the semaphore is never closed");
    let saved = tokio::task::spawn_blocking(move || catalog.save(&repo, upload, overwrite)).await.expect("upload task");
    match saved {
        Ok(()) => (UploadOutcome::Saved, response::json(StatusCode::CREATED, &serde_json::json!({ "saved": true }))),
        Err(SaveError::Invalid(message)) => {
            (UploadOutcome::Invalid, response::upload_error(StatusCode::BAD_REQUEST, message))
        }
        Err(SaveError::Exists) => {
            (UploadOutcome::Exists, response::upload_error(StatusCode::CONFLICT, "file already exists"))
        }
        Err(SaveError::Full) => (
            UploadOutcome::Full,
            response::upload_error(StatusCode::INSUFFICIENT_STORAGE, "repo has reached storage limit"),
        ),
        Err(SaveError::Storage(error)) => {
            tracing::error!(%error, "saving an upload failed");
            let reply = response::upload_error(StatusCode::INTERNAL_SERVER_ERROR, format!("storage error: {error}"));
            (UploadOutcome::StorageError, reply)
        }
    }
}

/// The request body received into spools: the raw body as the route's part, or each file
/// of a multipart form. A 413 past `MAX_UPLOAD_SIZE` (checked against `Content-Length`
/// first, so an oversized upload is refused before it is read).
async fn receive(app: &App, request: Request<Incoming>, target: Target) -> Result<Upload, (UploadOutcome, Reply)> {
    let limit = app.config.max_upload_size;
    let too_large = || {
        let reply = response::upload_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request too large: the body is over MAX_UPLOAD_SIZE ({limit} bytes)"),
        );
        (UploadOutcome::TooLarge, reply)
    };
    let declared = request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let content_type = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let over_limit = Arc::new(AtomicBool::new(false));
    let body = counted(request.into_body(), limit, over_limit.clone());
    let received = match content_type.as_deref().filter(|t| is_multipart(t)) {
        Some(content_type) => form_files(app, content_type, body).await,
        None => match raw_body(app, body).await {
            Ok(spool) if target == Target::Chart => Ok(Upload { chart: Some(spool), provenance: None }),
            Ok(spool) => Ok(Upload { chart: None, provenance: Some(spool) }),
            Err(error) => Err(error),
        },
    };
    received.map_err(|error| match error {
        _ if over_limit.load(Ordering::Relaxed) => too_large(),
        Received::Malformed(message) => {
            (UploadOutcome::Malformed, response::upload_error(StatusCode::BAD_REQUEST, message))
        }
        Received::Storage(error) => (UploadOutcome::StorageError, response::storage_error(&error)),
    })
}

/// Why a body could not be received.
pub(super) enum Received {
    Malformed(String),
    Storage(std::io::Error),
}

/// The body's data, failing once more than `limit` bytes have come (and saying so in
/// `over_limit`, since a form parser reports the failure in its own words).
fn counted(
    body: Incoming,
    limit: u64,
    over_limit: Arc<AtomicBool>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin + 'static {
    let mut seen = 0u64;
    BodyDataStream::new(body).map(move |data| {
        let data = data.map_err(|e| std::io::Error::other(format!("could not read the request body: {e}")))?;
        seen += data.len() as u64;
        if seen > limit {
            over_limit.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other("request too large"));
        }
        Ok(data)
    })
}

/// A raw body into one spool.
async fn raw_body(
    app: &App,
    mut body: impl Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
) -> Result<Spool, Received> {
    let mut filler = Filler::new(app);
    while let Some(data) = body.next().await {
        filler.push(data.map_err(|e| Received::Malformed(e.to_string()))?).await?;
    }
    filler.finish().await
}

fn is_multipart(content_type: &str) -> bool {
    content_type.trim_start().to_ascii_lowercase().starts_with("multipart/form-data")
}

/// The package and provenance parts of a multipart form, each into its own spool.
async fn form_files(
    app: &App,
    content_type: &str,
    body: impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin + 'static,
) -> Result<Upload, Received> {
    let malformed = |e: multer::Error| Received::Malformed(format!("malformed multipart form: {e}"));
    let boundary = multer::parse_boundary(content_type).map_err(malformed)?;
    let mut form = multer::Multipart::new(body, boundary);
    let chart_fields = ["chart", app.config.chart_post_form_field_name.as_str()];
    let prov_fields = ["prov", app.config.prov_post_form_field_name.as_str()];
    let (mut chart, mut prov) = (None, None);
    while let Some(mut field) = form.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_string();
        let slot = if chart_fields.contains(&name.as_str()) {
            &mut chart
        } else if prov_fields.contains(&name.as_str()) {
            &mut prov
        } else {
            continue;
        };
        let mut filler = Filler::new(app);
        while let Some(data) = field.chunk().await.map_err(malformed)? {
            filler.push(data).await?;
        }
        *slot = Some(filler.finish().await?);
    }
    if chart.is_none() && prov.is_none() {
        return Err(Received::Malformed(format!(
            "no package or provenance file found in form fields {} and {}",
            app.config.chart_post_form_field_name, app.config.prov_post_form_field_name
        )));
    }
    Ok(Upload { chart, provenance: prov })
}

/// Fills a spool from the body's data, writing it in batches on the blocking pool: the
/// upload holds at most a batch in memory. The spool is created by the first write, so a
/// package smaller than a batch costs one trip to the blocking pool, not two.
pub(super) struct Filler {
    /// `None` until the first write, which creates it in `catalog`.
    spool: Option<Spool>,
    catalog: Option<Arc<Catalog>>,
    batch: Vec<Bytes>,
    batched: usize,
}

/// Bytes gathered before they are written: with hundreds of uploads arriving at once,
/// this times their number is the memory they take.
const BATCH: usize = 64 * 1024;

impl Filler {
    /// Goes on filling `spool`.
    pub(super) fn resume(spool: Spool) -> Filler {
        Filler { spool: Some(spool), catalog: None, batch: Vec::new(), batched: 0 }
    }

    fn new(app: &App) -> Filler {
        Filler { spool: None, catalog: Some(app.catalog.clone()), batch: Vec::new(), batched: 0 }
    }

    pub(super) async fn push(&mut self, data: Bytes) -> Result<(), Received> {
        self.batched += data.len();
        self.batch.push(data);
        if self.batched >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Received> {
        let batch = std::mem::take(&mut self.batch);
        self.batched = 0;
        let (spool, catalog) = (self.spool.take(), self.catalog.clone());
        let written = tokio::task::spawn_blocking(move || {
            let mut spool = match spool {
                Some(spool) => spool,
                None => catalog.expect("a filler without a spool has a catalog").spool()?,
            };
            batch.iter().try_for_each(|data| spool.append(data))?;
            Ok::<_, std::io::Error>(spool)
        });
        self.spool = Some(written.await.expect("spool task").map_err(Received::Storage)?);
        Ok(())
    }

    pub(super) async fn finish(mut self) -> Result<Spool, Received> {
        self.flush().await?;
        Ok(self.spool.take().expect("a flushed filler has a spool"))
    }
}
