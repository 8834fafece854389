//! The OCI distribution API, push side: blob uploads (monolithic, chunked; a cross-repo
//! mount of a blob this server has, else "not mounted"), manifest PUTs — accepted only
//! when the chart layer is a valid chart package named as the repository and tag say,
//! which then saves it exactly as an HTTP upload would — and deletes.
//!
//! Where things live, all through the storage trait (a folder or a bucket alike):
//! - a completed blob: `.oci-blobs/<hex>` (a dot-folder, never a repository), until a
//!   manifest takes it or [`BLOB_AGE`] passes (then it is swept);
//! - a pushed manifest, exactly as sent, and its config blob: beside the package,
//!   `<repo>/.oci-<file>.manifest` and `.config`, written before the package is saved,
//!   so any replica that lists the version finds them;
//! - the chart layer is the package file itself.
//!
//! Uploads in progress are spools of the replica that started them (so a load balancer
//! must keep one push on one replica), at most [`MAX_SESSIONS`] at once, each at most
//! `MAX_UPLOAD_SIZE` and [`SESSION_AGE`] old; older ones are dropped with their spools.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, LOCATION, RANGE};
use hyper::{Request, Response, StatusCode};
use sha2::{Digest, Sha256};

use super::body::Body;
use super::oci::{error, insert_digest, name};
use super::query::form_pairs;
use super::response::Reply;
use super::upload::{Filler, Received};
use super::App;
use crate::chart::oci::{digest_of, tag_of, CHART_LAYER_MEDIA_TYPE};
use crate::chart::package::{self, Keep};
use crate::index::{DeleteError, HeldVersion, SaveError, Upload, VersionRef};
use crate::storage::{Placing, Spool};

/// The storage "repository" that holds completed blobs.
pub const BLOBS: &str = ".oci-blobs";
/// Uploads in progress at once.
pub const MAX_SESSIONS: usize = 64;
/// An upload untouched for this long is dropped.
pub const SESSION_AGE: Duration = Duration::from_secs(3600);
/// A completed blob no manifest took within this long is deleted.
pub const BLOB_AGE: Duration = Duration::from_secs(3600);
/// How often a replica looks for such blobs (on the next upload it starts).
const SWEEP_EVERY: Duration = Duration::from_secs(600);
/// A manifest is a small JSON document.
const MAX_MANIFEST: usize = 4 * 1024 * 1024;

/// Where the pushed manifest of a package file is kept, beside it.
pub fn manifest_file(package_file: &str) -> String {
    format!(".oci-{package_file}.manifest")
}

/// Where the config blob of a pushed package file is kept, beside it.
pub fn config_file(package_file: &str) -> String {
    format!(".oci-{package_file}.config")
}

/// Uploads in progress on this replica.
#[derive(Default)]
pub struct OciState {
    sessions: Mutex<HashMap<String, Session>>,
    next: AtomicU64,
    /// When completed blobs were last swept (`None`: not since start).
    swept: Mutex<Option<Instant>>,
}

struct Session {
    name: String,
    /// `None` while a request is appending to it.
    spool: Option<Spool>,
    touched: Instant,
}

impl OciState {
    fn new_id(&self) -> String {
        let seed = format!("{:?} {} {}", Instant::now(), std::process::id(), self.next.fetch_add(1, Ordering::Relaxed));
        hex::encode(&Sha256::digest(seed)[..16])
    }

    fn sweep(&self) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|_, session| session.touched.elapsed() < SESSION_AGE);
    }

    /// Whether completed blobs are due for a sweep (and notes that one starts).
    fn blobs_due(&self) -> bool {
        let mut swept = self.swept.lock().unwrap_or_else(|p| p.into_inner());
        let due = swept.is_none_or(|at| at.elapsed() >= SWEEP_EVERY);
        if due {
            *swept = Some(Instant::now());
        }
        due
    }

    /// Takes a session's spool for a request, or says why not.
    fn take(&self, id: &str, name: &str) -> Result<Spool, Reply> {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        match sessions.get_mut(id) {
            Some(session) if session.name == name => session.spool.take().ok_or_else(|| {
                error(StatusCode::CONFLICT, "BLOB_UPLOAD_INVALID", "another request is writing this upload")
            }),
            _ => Err(error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN", format!("blob upload unknown: {id}"))),
        }
    }

    fn give_back(&self, id: &str, spool: Spool) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(session) = sessions.get_mut(id) {
            session.spool = Some(spool);
            session.touched = Instant::now();
        }
    }

    fn holds(&self, id: &str) -> bool {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner()).contains_key(id)
    }

    fn remove(&self, id: &str) -> bool {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner()).remove(id).is_some()
    }

    fn len_of(&self, id: &str, name: &str) -> Option<u64> {
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let session = sessions.get(id).filter(|s| s.name == name)?;
        Some(session.spool.as_ref().map_or(0, Spool::len))
    }
}

/// Whether `id` has the shape [`OciState::new_id`] gives ids (32 lowercase hex digits).
fn is_upload_id(id: &str) -> bool {
    super::oci::is_lower_hex(id, 32)
}

/// The pushed manifest of `version` of `repo`, if it has one. Blocks on storage; the
/// caller keeps the answer with the version.
pub fn pushed_manifest(app: &App, repo: &str, version: VersionRef) -> Option<Bytes> {
    let read = app.catalog.storage().read(repo, &manifest_file(&version.file_name())).ok()?;
    // Only a manifest whose chart layer is this very package describes it.
    let layer = format!("sha256:{}", version.digest_hex());
    chart_layer(&read).is_some_and(|(digest, _)| digest == layer).then_some(read)
}

/// The chart layer's digest and the config's digest of a manifest.
fn chart_layer(manifest: &[u8]) -> Option<(String, String)> {
    let value: serde_json::Value = serde_json::from_slice(manifest).ok()?;
    let layer = value["layers"].as_array()?.iter().find(|l| l["mediaType"] == CHART_LAYER_MEDIA_TYPE)?;
    Some((layer["digest"].as_str()?.to_string(), value["config"]["digest"].as_str()?.to_string()))
}

fn upload_location(name: &str, id: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("/v2/{name}/blobs/uploads/{id}")).expect("a path")
}

/// An answer with no body.
fn empty(status: StatusCode) -> Reply {
    let mut reply = Response::new(Body::Empty);
    *reply.status_mut() = status;
    reply.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(0));
    reply
}

/// `202` for an upload in progress, saying how much it holds.
fn in_progress(status: StatusCode, name: &str, id: &str, len: u64) -> Reply {
    let mut reply = empty(status);
    let headers = reply.headers_mut();
    headers.insert(LOCATION, upload_location(name, id));
    headers.insert(RANGE, HeaderValue::from_str(&format!("0-{}", len.saturating_sub(1))).expect("digits"));
    headers.insert("docker-upload-uuid", HeaderValue::from_str(id).expect("hex"));
    reply
}

/// `201` for a blob now stored.
fn blob_created(name: &str, digest: &str) -> Reply {
    let mut reply = empty(StatusCode::CREATED);
    if let Ok(location) = HeaderValue::from_str(&format!("/v2/{name}/blobs/{digest}")) {
        reply.headers_mut().insert(LOCATION, location);
    }
    insert_digest(&mut reply, digest);
    reply
}

/// Appends the request body to `spool`, up to `MAX_UPLOAD_SIZE` in all.
async fn append(app: &App, spool: Spool, request: Request<Incoming>) -> Result<Spool, (Option<Spool>, Reply)> {
    let limit = app.config.max_upload_size;
    let mut filler = Filler::resume(spool);
    let mut body = http_body_util::BodyDataStream::new(request.into_body());
    let mut total = 0u64;
    while let Some(data) = body.next().await {
        let data = match data {
            Ok(data) => data,
            Err(e) => {
                return Err((
                    None,
                    error(StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID", format!("could not read the body: {e}")),
                ))
            }
        };
        total += data.len() as u64;
        if total > limit {
            return Err((
                None,
                error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "SIZE_INVALID",
                    format!("a blob is at most MAX_UPLOAD_SIZE ({limit} bytes)"),
                ),
            ));
        }
        if let Err(received) = filler.push(data).await {
            return Err((None, received_error(received)));
        }
    }
    filler.finish().await.map_err(|received| (None, received_error(received)))
}

fn received_error(received: Received) -> Reply {
    match received {
        Received::Malformed(message) => error(StatusCode::BAD_REQUEST, "BLOB_UPLOAD_INVALID", message),
        Received::Storage(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", format!("storage error: {e}")),
    }
}

/// Checks a finished upload against `digest` and stores it as a blob.
async fn complete(app: &App, name: &str, spool: Spool, digest: &str) -> Reply {
    let expected = format!("sha256:{}", hex::encode(spool.digest()));
    if digest != expected {
        return error(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            format!("the upload's digest is {expected}, not {digest}"),
        );
    }
    let storage = app.catalog.storage().clone();
    let hex = expected["sha256:".len()..].to_string();
    let placed = tokio::task::spawn_blocking(move || storage.place(BLOBS, &hex, spool, Placing::Replace))
        .await
        .expect("storage task");
    match placed {
        Ok(_) => blob_created(name, digest),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", format!("storage error: {e}")),
    }
}

/// Whether a blob with this digest is stored (an upload, or a package of the repository).
async fn blob_exists(app: &App, repo: &str, digest: &str) -> bool {
    let Some(hex) = super::oci::blob_hex(digest).map(str::to_string) else { return false };
    let snapshot = app.catalog.snapshot(repo);
    if snapshot.charts.values().any(|chart| chart.versions().any(|v| v.digest_hex() == hex)) {
        return true;
    }
    let storage = app.catalog.storage().clone();
    tokio::task::spawn_blocking(move || storage.stat(BLOBS, &hex)).await.expect("storage task").ok().flatten().is_some()
}

/// `POST /v2/<name>/blobs/uploads/[?digest=…|?mount=…&from=…]`.
pub async fn start(app: &App, repo: String, chart: String, request: Request<Incoming>) -> Reply {
    let name = name(&repo, &chart);
    let query: Vec<(String, String)> = form_pairs(request.uri().query().unwrap_or("")).collect();
    let get = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    if let Some(mount) = get("mount") {
        if blob_exists(app, &repo, &mount).await {
            return blob_created(&name, &mount);
        }
    }
    app.oci.sweep();
    if app.oci.blobs_due() {
        let storage = app.catalog.storage().clone();
        tokio::task::spawn_blocking(move || sweep_blobs(&*storage));
    }
    if app.oci.sessions.lock().unwrap_or_else(|p| p.into_inner()).len() >= MAX_SESSIONS {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "TOOMANYREQUESTS",
            format!("{MAX_SESSIONS} uploads are in progress already"),
        );
    }
    let spool = match new_spool(app).await {
        Ok(spool) => spool,
        Err(reply) => return reply,
    };
    if let Some(digest) = get("digest") {
        // Monolithic: the whole blob in this request.
        return match append(app, spool, request).await {
            Ok(spool) => complete(app, &name, spool, &digest).await,
            Err((_, reply)) => reply,
        };
    }
    let id = app.oci.new_id();
    let session = Session { name: name.clone(), spool: Some(spool), touched: Instant::now() };
    app.oci.sessions.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), session);
    in_progress(StatusCode::ACCEPTED, &name, &id, 0)
}

/// An empty spool for an upload.
async fn new_spool(app: &App) -> Result<Spool, Reply> {
    let catalog = app.catalog.clone();
    match tokio::task::spawn_blocking(move || catalog.spool()).await.expect("spool task") {
        Ok(spool) => Ok(spool),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", format!("storage error: {e}"))),
    }
}

/// Deletes completed blobs older than [`BLOB_AGE`]: pushed for a manifest that never came
/// (a manifest keeps its config beside it, and its layer becomes the package).
fn sweep_blobs(storage: &dyn crate::storage::Storage) {
    let blobs = match storage.list_own(BLOBS) {
        Ok(blobs) => blobs,
        Err(error) => return tracing::warn!(%error, "cannot list the OCI blobs to sweep"),
    };
    let cutoff = std::time::SystemTime::now() - BLOB_AGE;
    for blob in blobs.into_iter().filter(|b| b.modified < cutoff) {
        match storage.delete(BLOBS, &blob.name) {
            Ok(_) => tracing::info!(blob = %blob.name, "deleted an OCI blob no manifest took within an hour"),
            Err(error) => tracing::warn!(blob = %blob.name, %error, "cannot delete an old OCI blob"),
        }
    }
}

/// `PATCH /v2/<name>/blobs/uploads/<id>`: a chunk; with `Content-Range`, it must start
/// where the upload ends (else `416`).
pub async fn patch(app: &App, repo: String, chart: String, id: String, request: Request<Incoming>) -> Reply {
    let name = name(&repo, &chart);
    let spool = match app.oci.take(&id, &name) {
        Ok(spool) => spool,
        Err(reply) => return reply,
    };
    if let Some(range) = request.headers().get("content-range").and_then(|v| v.to_str().ok()) {
        let start = range.split('-').next().and_then(|s| s.trim().parse::<u64>().ok());
        if start != Some(spool.len()) {
            let len = spool.len();
            app.oci.give_back(&id, spool);
            let mut reply = error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "BLOB_UPLOAD_INVALID",
                format!("the upload holds {len} bytes; a chunk must start there, not at {range}"),
            );
            reply.headers_mut().insert(LOCATION, upload_location(&name, &id));
            reply
                .headers_mut()
                .insert(RANGE, HeaderValue::from_str(&format!("0-{}", len.saturating_sub(1))).expect("digits"));
            return reply;
        }
    }
    match append(app, spool, request).await {
        Ok(spool) => {
            let len = spool.len();
            app.oci.give_back(&id, spool);
            in_progress(StatusCode::ACCEPTED, &name, &id, len)
        }
        Err((_, reply)) => {
            app.oci.remove(&id);
            reply
        }
    }
}

/// `PUT /v2/<name>/blobs/uploads/<id>?digest=…`: the last chunk, if any, and the end.
pub async fn finish(app: &App, repo: String, chart: String, id: String, request: Request<Incoming>) -> Reply {
    let name = name(&repo, &chart);
    let digest = form_pairs(request.uri().query().unwrap_or("")).find(|(k, _)| k == "digest").map(|(_, v)| v);
    let Some(digest) = digest else {
        return error(StatusCode::BAD_REQUEST, "DIGEST_INVALID", "the closing PUT of an upload needs ?digest=");
    };
    let started_elsewhere = app.catalog.is_shared() && is_upload_id(&id) && !app.oci.holds(&id);
    let spool = if started_elsewhere {
        // Another replica on the bucket took the POST (a load balancer without sticky
        // sessions, as Helm's POST-then-PUT push meets it). An upload's state is its bytes
        // alone, so a PUT that carries the whole blob completes here; one that does not
        // fails the digest check.
        match new_spool(app).await {
            Ok(spool) => spool,
            Err(reply) => return reply,
        }
    } else {
        let spool = match app.oci.take(&id, &name) {
            Ok(spool) => spool,
            Err(reply) => return reply,
        };
        app.oci.remove(&id);
        spool
    };
    match append(app, spool, request).await {
        Ok(spool) => complete(app, &name, spool, &digest).await,
        Err((_, reply)) => reply,
    }
}

/// `GET /v2/<name>/blobs/uploads/<id>`: how much an upload holds.
pub fn status(app: &App, repo: &str, chart: &str, id: &str) -> Reply {
    let name = name(repo, chart);
    match app.oci.len_of(id, &name) {
        Some(len) => in_progress(StatusCode::NO_CONTENT, &name, id, len),
        None => error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN", format!("blob upload unknown: {id}")),
    }
}

/// `DELETE /v2/<name>/blobs/uploads/<id>`: cancels an upload.
pub fn cancel(app: &App, id: &str) -> Reply {
    if app.oci.remove(id) {
        empty(StatusCode::NO_CONTENT)
    } else {
        error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN", format!("blob upload unknown: {id}"))
    }
}

/// `PUT /v2/<name>/manifests/<reference>`: a chart pushed. Checked as an HTTP upload is,
/// and saved as one (so it is in `index.yaml` when this answers `201`).
pub async fn put_manifest(
    app: &Arc<App>,
    repo: String,
    chart: String,
    reference: String,
    request: Request<Incoming>,
) -> Reply {
    let name = name(&repo, &chart);
    let invalid = |message: String| error(StatusCode::BAD_REQUEST, "MANIFEST_INVALID", message);
    let body = match http_body_util::Limited::new(request.into_body(), MAX_MANIFEST).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return invalid(format!("could not read the manifest (at most {MAX_MANIFEST} bytes): {e}")),
    };
    let digest = digest_of(&body);
    if reference.starts_with("sha256:") && reference != digest {
        return error(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            format!("the manifest's digest is {digest}, not {reference}"),
        );
    }
    // The very manifest a version is served with already (Helm pushes by digest, then
    // by tag; or a push repeated later): nothing to change.
    let mut known = super::oci::find_version(app, &repo, &chart, &digest).await;
    if known.is_none() && app.catalog.is_shared() {
        // Another replica may have saved this very manifest a moment ago (Helm's two PUTs
        // can reach two replicas behind a load balancer), and taken its layer blob: its
        // 201 came after its journal record, so catching up with the journal now sees it.
        let catalog = app.catalog.clone();
        if let Err(error) = tokio::task::spawn_blocking(move || catalog.follow()).await.expect("follow task") {
            tracing::warn!(%error, "cannot read the bucket's journal before a manifest PUT");
        }
        known = super::oci::find_version(app, &repo, &chart, &digest).await;
    }
    if let Some(version) = known {
        let version = version.get().version();
        let tag = tag_of(version);
        if reference.starts_with("sha256:") || reference == tag {
            return manifest_created(&name, &digest);
        }
        // A tag is the chart's version: no other tag can name it.
        return invalid(format!("the chart's version is {} (tag {tag}), but it was pushed as {reference}", version));
    }
    let Some((layer, config)) = chart_layer(&body) else {
        return invalid(format!(
            "not a Helm chart manifest: it needs a config and a layer of type {CHART_LAYER_MEDIA_TYPE}"
        ));
    };
    for blob in [&config, &layer] {
        if !blob_exists(app, &repo, blob).await {
            return error(
                StatusCode::BAD_REQUEST,
                "MANIFEST_BLOB_UNKNOWN",
                format!("blob unknown: {blob}; push it before the manifest"),
            );
        }
    }
    // The layer, into a spool, read as an HTTP upload would be.
    let layer_hex = layer["sha256:".len()..].to_string();
    let catalog = app.catalog.clone();
    let (repo_for_read, hex) = (repo.clone(), layer_hex.clone());
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<Spool> {
        let storage = catalog.storage();
        let bytes = match storage.read(BLOBS, &hex) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let snapshot = catalog.snapshot(&repo_for_read);
                let file = snapshot
                    .charts
                    .values()
                    .find_map(|c| c.versions().find(|v| v.digest_hex() == hex).map(|v| v.file_name().into_owned()))
                    .ok_or(e)?;
                storage.read(&repo_for_read, &file)?
            }
            Err(e) => return Err(e),
        };
        let mut spool = catalog.spool()?;
        spool.append(&bytes)?;
        Ok(spool)
    });
    let spool = match read.await.expect("storage task") {
        Ok(spool) => spool,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", format!("storage error: {e}")),
    };
    let bytes = match spool.read_to_vec() {
        Ok(bytes) => bytes,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", format!("storage error: {e}")),
    };
    let metadata = match package::read(&bytes, Keep::ChartYaml, app.config.enforce_semver2) {
        Ok(read) => read.metadata,
        Err(problem) => return invalid(format!("the chart layer is not a valid chart package: {problem}")),
    };
    if metadata.name != chart {
        return invalid(format!("the chart is named {}, but was pushed to {name}", metadata.name));
    }
    if !reference.starts_with("sha256:") && tag_of(&metadata.version) != reference {
        return invalid(format!(
            "the chart's version is {} (tag {}), but it was pushed as {reference}",
            metadata.version,
            tag_of(&metadata.version)
        ));
    }
    let file = metadata.file_name();
    let storage = app.catalog.storage().clone();
    let (repo_w, file_w, body_w) = (repo.clone(), manifest_file(&file), body.clone());
    // The same manifest again (Helm PUTs by digest, then by tag): nothing to change.
    let found = app.catalog.snapshot(&repo).charts.get(&chart).cloned();
    let existing = found.and_then(|c| c.position(&metadata.version).map(|at| HeldVersion::new(c, at)));
    if let Some(existing) = &existing {
        let (app_r, repo_r, existing_r) = (app.clone(), repo.clone(), existing.clone());
        let stored = tokio::task::spawn_blocking(move || pushed_manifest(&app_r, &repo_r, existing_r.get()))
            .await
            .expect("storage task");
        if stored.as_deref() == Some(&body[..]) {
            return manifest_created(&name, &digest);
        }
    }
    let overwrite = app.config.may_overwrite(false);
    if existing.is_some() && !overwrite {
        return error(
            StatusCode::CONFLICT,
            "DENIED",
            format!("{} {} exists and ALLOW_OVERWRITE is off", metadata.name, metadata.version),
        );
    }
    let (config_hex, package_file) = (config["sha256:".len()..].to_string(), file.clone());
    let written = tokio::task::spawn_blocking(move || {
        // The config first, then the manifest that names it: both before the package.
        let config = storage.read(BLOBS, &config_hex)?;
        storage.write_with(&repo_w, &config_file(&package_file), &mut |out| std::io::Write::write_all(out, &config))?;
        storage.write_with(&repo_w, &file_w, &mut |out| std::io::Write::write_all(out, &body_w))
    })
    .await
    .expect("storage task");
    if let Err(e) = written {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", format!("storage error: {e}"));
    }
    let catalog = app.catalog.clone();
    let repo_s = repo.clone();
    let _turn = app.saving.acquire().await.expect("the semaphore is never closed");
    let saved = tokio::task::spawn_blocking(move || {
        catalog.save(&repo_s, Upload { chart: Some(spool), provenance: None }, overwrite)
    })
    .await
    .expect("upload task");
    let refused = match saved {
        Ok(()) => {
            // The layer is the package now: its upload's copy is not needed.
            let storage = app.catalog.storage().clone();
            let _ = tokio::task::spawn_blocking(move || storage.delete(BLOBS, &layer_hex)).await;
            return manifest_created(&name, &digest);
        }
        Err(SaveError::Invalid(message)) => invalid(format!("the chart layer is not a valid chart package: {message}")),
        Err(SaveError::Exists) => {
            error(StatusCode::CONFLICT, "DENIED", format!("{} {} exists", metadata.name, metadata.version))
        }
        Err(SaveError::Full) => error(StatusCode::INSUFFICIENT_STORAGE, "DENIED", "repo has reached storage limit"),
        Err(SaveError::Storage(e)) => {
            error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", format!("storage error: {e}"))
        }
    };
    // Refused: the manifest and config written for it go too.
    let storage = app.catalog.storage().clone();
    let _ = tokio::task::spawn_blocking(move || {
        let _ = storage.delete(&repo, &manifest_file(&file));
        storage.delete(&repo, &config_file(&file))
    })
    .await;
    refused
}

fn manifest_created(name: &str, digest: &str) -> Reply {
    let mut reply = empty(StatusCode::CREATED);
    if let Ok(location) = HeaderValue::from_str(&format!("/v2/{name}/manifests/{digest}")) {
        reply.headers_mut().insert(LOCATION, location);
    }
    insert_digest(&mut reply, digest);
    reply
}

/// `DELETE /v2/<name>/blobs/<digest>`: not taken (`405 UNSUPPORTED`, as the spec allows
/// when blob deletion is off). A chart's layer and config are parts of its version, and
/// deleting one alone would leave a version that cannot be pulled; they go with the
/// version's manifest. A blob no manifest took is swept after [`BLOB_AGE`].
pub fn delete_blob(name: &str) -> Reply {
    let hours = BLOB_AGE.as_secs() / 3600;
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "UNSUPPORTED",
        format!(
            "blobs are not deleted one by one: a chart's layer and config go with its version \
             (DELETE /v2/{name}/manifests/<tag>), and a blob no manifest took is deleted after {hours} h"
        ),
    )
}

/// `DELETE /v2/<name>/manifests/<tag or digest>`: deletes the chart version, from both
/// APIs, as `DELETE /api/<repo>/charts/<name>/<version>` does.
pub async fn delete_manifest(app: &Arc<App>, repo: String, chart: String, reference: String) -> Reply {
    if app.config.disable_delete {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "deleting is disabled on this server (DISABLE_DELETE)",
        );
    }
    let Some(version) = super::oci::find_version(app, &repo, &chart, &reference).await else {
        return error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN", format!("manifest unknown: {reference}"));
    };
    let catalog = app.catalog.clone();
    let (repo_d, chart_d, version_d) = (repo.clone(), chart.clone(), version.get().version().to_string());
    let deleted =
        tokio::task::spawn_blocking(move || catalog.delete(&repo_d, &chart_d, &version_d)).await.expect("delete task");
    match deleted {
        Ok(()) => {
            let storage = app.catalog.storage().clone();
            let file = version.get().file_name().into_owned();
            let _ = tokio::task::spawn_blocking(move || {
                let _ = storage.delete(&repo, &manifest_file(&file));
                storage.delete(&repo, &config_file(&file))
            })
            .await;
            empty(StatusCode::ACCEPTED)
        }
        Err(DeleteError::NotFound(message)) => error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN", message),
        Err(DeleteError::Storage(e)) => {
            error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", format!("storage error: {e}"))
        }
    }
}
