//! The JSON API's reads: `/api/<repo>/charts[/<name>[/<version>[/templates|/values]]]`.
//!
//! Chart and version lookups answer from the snapshot's pre-rendered JSON; templates and
//! values need the package itself, read from storage on demand.

use std::sync::Arc;

use base64::Engine;
use hyper::StatusCode;

use super::query::Listing;
use super::response::{self, Reply};
use super::App;
use crate::chart::version::{self, SelectError};
use crate::index::{Chart, HeldVersion, RepoSnapshot, VersionRef};

/// `GET /api/<repo>/charts`: chart name → versions, the whole repository or the page and
/// name filter the query asks for (`offset`, `limit`, `q`).
pub fn charts(app: &App, repo: &str, query: Option<&str>, head: bool) -> Reply {
    let listing = match Listing::parse(query) {
        Ok(listing) => listing,
        Err(message) => return response::error(StatusCode::BAD_REQUEST, message),
    };
    let snapshot = app.catalog.snapshot(repo);
    let body = match listing.filter {
        None => snapshot.charts_json(listing.page()),
        Some(_) => {
            let (offset, limit) = listing.page().unwrap_or((0, usize::MAX));
            snapshot.charts_json_where(|name| listing.keeps(name), offset, limit)
        }
    };
    let reply = response::bytes(StatusCode::OK, response::JSON, body);
    if head {
        response::without_body(reply)
    } else {
        reply
    }
}

pub fn chart(app: &App, repo: &str, name: &str, head: bool) -> Reply {
    let snapshot = app.catalog.snapshot(repo);
    let reply = match snapshot.charts.get(name) {
        Some(chart) => response::bytes(StatusCode::OK, response::JSON, chart.json()),
        None => response::error(StatusCode::NOT_FOUND, "chart not found"),
    };
    if head {
        response::without_body(reply)
    } else {
        reply
    }
}

pub fn version(app: &App, repo: &str, name: &str, wanted: &str, head: bool) -> Reply {
    let reply = match select(&app.catalog.snapshot(repo), name, wanted) {
        Ok(version) => response::bytes(StatusCode::OK, response::JSON, version.get().json()),
        Err(reply) => reply,
    };
    if head {
        response::without_body(reply)
    } else {
        reply
    }
}

pub enum Contents {
    Templates,
    Values,
}

pub async fn contents(app: &App, repo: String, name: String, wanted: String, contents: Contents) -> Reply {
    let version = match select(&app.catalog.snapshot(&repo), &name, &wanted) {
        Ok(version) => version,
        Err(reply) => return reply,
    };
    let catalog = app.catalog.clone();
    let read = tokio::task::spawn_blocking(move || catalog.read_package(&repo, &version.get().file_name()))
        .await
        .expect("package task");
    let package = match read {
        Ok(package) => package,
        Err(problem) => {
            return response::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read the chart package: {problem}"),
            )
        }
    };
    match contents {
        Contents::Values => match package.values {
            Some(values) => {
                response::bytes(StatusCode::OK, hyper::header::HeaderValue::from_static("application/yaml"), values)
            }
            None => response::error(StatusCode::NOT_FOUND, "values.yaml not found"),
        },
        Contents::Templates => {
            let values: serde_json::Value = package
                .values
                .and_then(|v| serde_yaml::from_slice::<serde_json::Value>(&v).ok())
                .unwrap_or(serde_json::Value::Null);
            let templates: Vec<serde_json::Value> = package
                .templates
                .iter()
                .map(|(path, data)| {
                    serde_json::json!({ "name": path, "data": base64::engine::general_purpose::STANDARD.encode(data) })
                })
                .collect();
            response::json(StatusCode::OK, &serde_json::json!({ "templates": templates, "values": values }))
        }
    }
}

/// Finds a version as Helm's `IndexFile.Get` would: exact, `latest`, or a constraint.
fn select(snapshot: &RepoSnapshot, name: &str, wanted: &str) -> Result<HeldVersion, Reply> {
    let chart: &Arc<Chart> =
        snapshot.charts.get(name).ok_or_else(|| response::error(StatusCode::NOT_FOUND, "no chart name found"))?;
    let versions: Vec<(VersionRef, semver::Version)> = chart.versions().map(|v| (v, v.semver())).collect();
    let found = version::select(&versions, wanted, |(v, _)| v.version(), |(_, semver)| semver);
    found.map(|(v, _)| HeldVersion::new(chart.clone(), v.index())).map_err(|e| match e {
        SelectError::NoMatch => {
            response::error(StatusCode::NOT_FOUND, format!("no chart version found for {name}-{wanted}"))
        }
        SelectError::BadConstraint => response::error(StatusCode::NOT_FOUND, format!("improper constraint: {wanted}")),
    })
}
