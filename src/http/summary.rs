//! `GET /api/<repo>/summary`: one page of a repository's charts, each told by its newest
//! version — what the browse page lists.
//!
//! It stays small whatever the repository's size: a page holds at most [`MAX_LIMIT`]
//! charts, and only their newest entries are read back from the index text. Matching
//! `q` scans every chart name of the snapshot (no storage, no lock); that is the cost
//! of a keystroke in the page's filter.

use hyper::StatusCode;

use super::query::Listing;
use super::response::{self, Reply};
use super::App;

/// Charts in a page when the query names no `limit`.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest page; a larger `limit` is lowered to it (the answer says so).
pub const MAX_LIMIT: usize = 200;

/// `{"total", "offset", "limit", "charts": [{name, version, appVersion, description,
/// icon, created, deprecated, versions}]}`: `total` counts the charts that match `q`.
pub fn summary(app: &App, repo: &str, query: Option<&str>, head: bool) -> Reply {
    let listing = match Listing::parse(query) {
        Ok(listing) => listing,
        Err(message) => return response::error(StatusCode::BAD_REQUEST, message),
    };
    let offset = listing.offset.unwrap_or(0);
    let limit = listing.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let snapshot = app.catalog.snapshot(repo);
    let mut total = 0;
    let mut charts = Vec::new();
    for (name, chart) in snapshot.charts.iter().filter(|(name, _)| listing.keeps(name)) {
        if total >= offset && charts.len() < limit {
            let newest = chart.newest().map(|v| v.entry()).unwrap_or_default();
            charts.push(serde_json::json!({
                "name": name,
                "version": newest.version,
                "appVersion": newest.app_version,
                "description": newest.description,
                "icon": newest.icon,
                "created": newest.created,
                "deprecated": newest.deprecated,
                "versions": chart.len(),
            }));
        }
        total += 1;
    }
    let reply = response::json(
        StatusCode::OK,
        &serde_json::json!({ "total": total, "offset": offset, "limit": limit, "charts": charts }),
    );
    if head {
        response::without_body(reply)
    } else {
        reply
    }
}
