//! The OCI distribution API (`/v2/`), read side: every chart version in a repository is
//! also pullable as `oci://<host>/<repo>/<chart>:<version>` (`helm pull/show/install`).
//!
//! The mapping: repository name `<repo>/<chart>` (`<chart>` at `DEPTH=0`), tag = version
//! with `+` written `_`, the chart layer = the package file in storage (its sha256 is
//! both the layer digest and the index digest), config and manifest derived from the
//! index entry ([`crate::chart::oci`]), the same bytes on every replica and restart.
//! A pushed chart's manifest is served exactly as it was pushed ([`super::oci_push`]).

use std::sync::Arc;

use bytes::Bytes;

use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, LINK};
use hyper::{Response, StatusCode};

use super::body::Body;
use super::response::{self, Reply};
use super::{oci_push, App};
use crate::chart::oci::{self, Artifact};
use crate::index::{Chart, HeldVersion, VersionRef};
use crate::storage::{ObjectInfo, Opened};

const API_VERSION: HeaderValue = HeaderValue::from_static("registry/2.0");
const DISTRIBUTION_API_VERSION: &str = "docker-distribution-api-version";
const CONTENT_DIGEST: &str = "docker-content-digest";

/// An error as the spec shapes it: `{"errors":[{"code":…,"message":…}]}`.
pub fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Reply {
    let body = serde_json::json!({ "errors": [{ "code": code, "message": message.into(), "detail": null }] });
    let mut reply = response::json(status, &body);
    reply.headers_mut().insert(DISTRIBUTION_API_VERSION, API_VERSION);
    reply
}

/// `GET /v2/`: this is a registry (reached only with credentials, when auth is on).
pub fn base() -> Reply {
    let mut reply = response::bytes(StatusCode::OK, response::JSON, &b"{}"[..]);
    reply.headers_mut().insert(DISTRIBUTION_API_VERSION, API_VERSION);
    reply
}

/// Methods the API does not take on a route.
pub fn unsupported() -> Reply {
    error(StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED", "this method is not supported on this path")
}

/// The hex of a `sha256:` digest, if `digest` is one (64 lowercase hex digits): what names
/// a stored blob, so nothing else reaches storage as a name.
pub fn blob_hex(digest: &str) -> Option<&str> {
    digest.strip_prefix("sha256:").filter(|hex| is_lower_hex(hex, 64))
}

/// Whether `text` is `len` lowercase hex digits.
pub fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `chart` in `repo` (none for a chart not there, as after its last version was deleted),
/// or the spec's `NAME_UNKNOWN` when the repository is unknown.
fn find_chart(app: &App, repo: &str, chart: &str) -> Result<Option<Arc<Chart>>, Reply> {
    if !app.catalog.knows(repo) {
        return Err(error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            format!("repository name not known: {} (no repository {repo:?})", name(repo, chart)),
        ));
    }
    let snapshot = app.catalog.snapshot(repo);
    Ok(snapshot.charts.get(chart).cloned())
}

pub fn name(repo: &str, chart: &str) -> String {
    if repo.is_empty() {
        chart.to_string()
    } else {
        format!("{repo}/{chart}")
    }
}

/// `GET /v2/<name>/tags/list[?n=&last=]`: tags in lexical order (the spec's rule, not
/// the index's newest-first), paged with a `Link` to the next page.
pub fn tags(app: &App, repo: &str, chart: &str, query: Option<&str>, head: bool) -> Reply {
    if query.is_none_or(str::is_empty) {
        // Every tag (what `helm show oci://…` without a version asks): made once per chart.
        if let Some(found) = app.catalog.snapshot(repo).charts.get(chart) {
            let body = found.oci().tags.get_or_init(|| tags_body(&name(repo, chart), &sorted_tags(found)));
            return finish(response::bytes(StatusCode::OK, response::JSON, body.clone()), head);
        }
    }
    let found = match find_chart(app, repo, chart) {
        Ok(found) => found,
        Err(reply) => return reply,
    };
    let mut limit = None;
    let mut last = None;
    for (key, value) in query.map(|q| form_pairs(q)).unwrap_or_default() {
        match key.as_str() {
            "n" => match value.parse::<usize>() {
                Ok(n) => limit = Some(n),
                Err(_) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "PAGINATION_NUMBER_INVALID",
                        format!("n={value} is not a number"),
                    )
                }
            },
            "last" => last = Some(value),
            _ => {}
        }
    }
    let mut page: Vec<String> = found
        .map(|chart| sorted_tags(&chart))
        .unwrap_or_default()
        .into_iter()
        .filter(|tag| last.as_ref().is_none_or(|last| tag.as_str() > last.as_str()))
        .collect();
    let more = limit.is_some_and(|n| page.len() > n);
    if let Some(n) = limit {
        page.truncate(n);
    }
    let name = name(repo, chart);
    let mut reply = response::bytes(StatusCode::OK, response::JSON, tags_body(&name, &page));
    if let (true, Some(n), Some(last)) = (more, limit, page.last()) {
        if let Ok(link) = HeaderValue::from_str(&format!("</v2/{name}/tags/list?n={n}&last={last}>; rel=\"next\"")) {
            reply.headers_mut().insert(LINK, link);
        }
    }
    finish(reply, head)
}

/// The tags of `chart`'s versions, in lexical order (the spec's rule, not the index's newest-first).
fn sorted_tags(chart: &Chart) -> Vec<String> {
    let mut tags: Vec<String> = chart.versions().map(|v| oci::tag_of(v.version())).collect();
    tags.sort();
    tags
}

fn tags_body(name: &str, tags: &[String]) -> Bytes {
    Bytes::from(serde_json::to_vec(&serde_json::json!({ "name": name, "tags": tags })).expect("JSON"))
}

/// The artifact a version is served as: its pushed manifest, or one derived from its
/// index entry; made once and kept with the version. The first time may read storage.
fn served(app: &App, repo: &str, version: VersionRef) -> Arc<Artifact> {
    version
        .oci()
        .get_or_init(|| {
            Arc::new(match oci_push::pushed_manifest(app, repo, version) {
                Some(pushed) => {
                    let config = app.catalog.storage().read(repo, &oci_push::config_file(&version.file_name())).ok();
                    Artifact::pushed(pushed, config)
                }
                None => oci::derive(&version.entry(), version.digest_hex(), version.stamp().size),
            })
        })
        .clone()
}

/// The artifacts of the versions of `chart` that `wanted` keeps: at once when each was
/// served before (the hot path: a pointer copy each), else made on the blocking pool.
async fn artifacts(
    app: &Arc<App>,
    repo: &str,
    chart: Option<Arc<Chart>>,
    wanted: impl Fn(VersionRef) -> bool,
) -> Vec<(HeldVersion, Arc<Artifact>)> {
    let Some(chart) = chart else { return Vec::new() };
    let picked: Vec<usize> = chart.versions().filter(|v| wanted(*v)).map(|v| v.index()).collect();
    if picked.iter().all(|&at| chart.version(at).oci().get().is_some()) {
        return picked
            .into_iter()
            .map(|at| {
                let artifact = chart.version(at).oci().get().expect("checked").clone();
                (HeldVersion::new(chart.clone(), at), artifact)
            })
            .collect();
    }
    let (app, repo) = (app.clone(), repo.to_string());
    let made = move || {
        picked
            .into_iter()
            .map(|at| {
                let artifact = served(&app, &repo, chart.version(at));
                (HeldVersion::new(chart.clone(), at), artifact)
            })
            .collect()
    };
    tokio::task::spawn_blocking(made).await.expect("manifest task")
}

/// The version a tag or manifest digest names, with its artifact.
async fn find_served(app: &Arc<App>, repo: &str, chart: &str, reference: &str) -> Option<(HeldVersion, Arc<Artifact>)> {
    let found = find_chart(app, repo, chart).ok()?;
    let by_digest = reference.starts_with("sha256:");
    let tagged = |v: VersionRef| by_digest || oci::tag_of(v.version()) == reference;
    artifacts(app, repo, found, tagged).await.into_iter().find(|(_, a)| !by_digest || a.manifest_digest == reference)
}

/// The version a tag or manifest digest names.
pub async fn find_version(app: &Arc<App>, repo: &str, chart: &str, reference: &str) -> Option<HeldVersion> {
    find_served(app, repo, chart, reference).await.map(|(version, _)| version)
}

/// `GET|HEAD /v2/<name>/manifests/<tag or digest>`.
pub async fn manifest(app: &Arc<App>, repo: String, chart: String, reference: String, head: bool) -> Reply {
    if let Err(reply) = find_chart(app, &repo, &chart) {
        return reply;
    }
    let Some((_, artifact)) = find_served(app, &repo, &chart, &reference).await else {
        return error(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            format!("manifest unknown: {} has no tag or digest {reference}", name(&repo, &chart)),
        );
    };
    let mut reply =
        response::bytes(StatusCode::OK, HeaderValue::from_static(oci::MANIFEST_MEDIA_TYPE), artifact.manifest.clone());
    insert_digest(&mut reply, &artifact.manifest_digest);
    finish(reply, head)
}

/// `GET|HEAD /v2/<name>/blobs/<digest>`: the package file (streamed from storage, as a
/// chart download) or a config blob.
pub async fn blob(app: &Arc<App>, repo: String, chart: String, digest: String, head: bool) -> Reply {
    // A blob pushed before any manifest refers to it belongs to no chart yet.
    let found = find_chart(app, &repo, &chart).unwrap_or_default();
    let full_name = name(&repo, &chart);
    let unknown = || error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", format!("blob unknown to {full_name}: {digest}"));
    let Some(hex) = blob_hex(&digest) else {
        return error(StatusCode::BAD_REQUEST, "DIGEST_INVALID", format!("not a sha256 digest: {digest}"));
    };
    let package = found.as_ref().and_then(|chart| chart.versions().find(|v| v.digest_hex() == hex));
    if let Some(file) = package.map(|version| version.file_name().into_owned()) {
        let catalog = app.catalog.clone();
        let opened = tokio::task::spawn_blocking(move || catalog.open(&repo, &file)).await.expect("storage task");
        return stored_blob(opened, &digest, head, unknown);
    }
    let derived_config = artifacts(app, &repo, found, |_| true)
        .await
        .into_iter()
        .find_map(|(_, a)| a.config.clone().filter(|_| a.config_digest == digest));
    if let Some(config) = derived_config {
        let mut reply = response::bytes(StatusCode::OK, HeaderValue::from_static(oci::CONFIG_MEDIA_TYPE), config);
        insert_digest(&mut reply, &digest);
        return finish(reply, head);
    }
    // A blob pushed lately, that no manifest (or not yet) refers to.
    let storage = app.catalog.storage().clone();
    let hex = hex.to_string();
    let opened = tokio::task::spawn_blocking(move || storage.open(oci_push::BLOBS, &hex)).await.expect("storage task");
    stored_blob(opened, &digest, head, unknown)
}

/// A blob in storage (a package, or a pushed blob) as the answer, streamed.
fn stored_blob(
    opened: std::io::Result<(Opened, ObjectInfo)>,
    digest: &str,
    head: bool,
    unknown: impl FnOnce() -> Reply,
) -> Reply {
    let (opened, info) = match opened {
        Ok(found) => found,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return unknown(),
        Err(e) => return response::storage_error(&e),
    };
    let body = match opened {
        _ if head => Body::Empty,
        Opened::File(file) => Body::file(file, info.size),
        Opened::Stream(stream) => Body::stream(stream, info.size),
    };
    let mut reply = Response::new(body);
    reply.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    reply.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(info.size));
    insert_digest(&mut reply, digest);
    reply
}

pub fn insert_digest(reply: &mut Reply, digest: &str) {
    if let Ok(value) = HeaderValue::from_str(digest) {
        reply.headers_mut().insert(CONTENT_DIGEST, value);
    }
    reply.headers_mut().insert(DISTRIBUTION_API_VERSION, API_VERSION);
}

fn finish(reply: Reply, head: bool) -> Reply {
    if head {
        response::without_body(reply)
    } else {
        reply
    }
}

fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
            Some((decode(key), decode(value)))
        })
        .collect()
}
