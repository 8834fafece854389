//! `GET /metrics`: what the server has done, in the Prometheus text format.
//!
//! Requests are counted where they end (see [`super::record`]) into plain atomics, one
//! set per shard of worker threads, so two cores serving 150,000 index GETs a second do
//! not bounce one counter's cache line between them; a scrape sums the shards. Label
//! values come from fixed lists (route classes, status codes, upload outcomes) or from
//! the repositories the server holds: never from a request's path, so no client can grow
//! the exposition. Repository figures are read from the snapshots at scrape time.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use hyper::Method;

use super::route::Route;
use crate::index::{Catalog, ScanProgress};

/// What a request was for, as metrics and logs group it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    Index,
    Package,
    ApiRead,
    Upload,
    Delete,
    Root,
    Health,
    Info,
    Metrics,
    /// The OCI distribution API (`/v2/`).
    Oci,
    Other,
}

impl RouteClass {
    /// The class of a request for `route` with `method`.
    pub fn of(route: &Route, method: &Method) -> RouteClass {
        match route {
            Route::Index { .. } => RouteClass::Index,
            Route::Package { .. } => RouteClass::Package,
            Route::ApiCharts { .. } | Route::ApiProvenance { .. } if method == Method::POST => RouteClass::Upload,
            Route::ApiVersion { .. } if method == Method::DELETE => RouteClass::Delete,
            Route::ApiCharts { .. }
            | Route::ApiProvenance { .. }
            | Route::ApiSummary { .. }
            | Route::ApiChart { .. }
            | Route::ApiVersion { .. }
            | Route::ApiTemplates { .. }
            | Route::ApiValues { .. } => RouteClass::ApiRead,
            Route::Root => RouteClass::Root,
            Route::Health => RouteClass::Health,
            Route::Info => RouteClass::Info,
            Route::Metrics => RouteClass::Metrics,
            Route::OciBase | Route::Oci { .. } => RouteClass::Oci,
            Route::WrongDepth | Route::NotFound => RouteClass::Other,
        }
    }

    const ALL: [RouteClass; CLASSES] = [
        RouteClass::Index,
        RouteClass::Package,
        RouteClass::ApiRead,
        RouteClass::Upload,
        RouteClass::Delete,
        RouteClass::Root,
        RouteClass::Health,
        RouteClass::Info,
        RouteClass::Metrics,
        RouteClass::Oci,
        RouteClass::Other,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RouteClass::Index => "index",
            RouteClass::Package => "package",
            RouteClass::ApiRead => "api_read",
            RouteClass::Upload => "upload",
            RouteClass::Delete => "delete",
            RouteClass::Root => "root",
            RouteClass::Health => "health",
            RouteClass::Info => "info",
            RouteClass::Metrics => "metrics",
            RouteClass::Oci => "oci",
            RouteClass::Other => "other",
        }
    }
}

const CLASSES: usize = 11;

/// The status codes this server answers, each counted apart; anything else is `other`.
const CODES: [u16; 20] =
    [200, 201, 204, 206, 304, 400, 401, 403, 404, 405, 409, 412, 413, 416, 429, 500, 502, 503, 504, 507];
const STATUSES: usize = CODES.len() + 1;

fn status_slot(code: u16) -> usize {
    CODES.iter().position(|&c| c == code).unwrap_or(CODES.len())
}

/// Upper bounds of the latency histogram's buckets, in microseconds: index GETs take tens
/// of microseconds, big downloads and uploads seconds.
const BUCKETS_US: [u64; 14] =
    [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000, 5_000_000, 30_000_000];

/// How an upload ended, for `charthall_uploads_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadOutcome {
    Saved,
    /// Not a valid chart package (or provenance file).
    Invalid,
    /// A multipart form that could not be read, or without the package field.
    Malformed,
    Exists,
    TooLarge,
    /// `MAX_STORAGE_OBJECTS` reached.
    Full,
    StorageError,
}

impl UploadOutcome {
    const ALL: [UploadOutcome; OUTCOMES] = [
        UploadOutcome::Saved,
        UploadOutcome::Invalid,
        UploadOutcome::Malformed,
        UploadOutcome::Exists,
        UploadOutcome::TooLarge,
        UploadOutcome::Full,
        UploadOutcome::StorageError,
    ];

    fn name(self) -> &'static str {
        match self {
            UploadOutcome::Saved => "saved",
            UploadOutcome::Invalid => "invalid",
            UploadOutcome::Malformed => "malformed",
            UploadOutcome::Exists => "exists",
            UploadOutcome::TooLarge => "too_large",
            UploadOutcome::Full => "full",
            UploadOutcome::StorageError => "storage_error",
        }
    }
}

const OUTCOMES: usize = 7;

/// One shard's counters, on cache lines of their own.
#[repr(align(128))]
#[derive(Default)]
struct Shard {
    requests: [[AtomicU64; STATUSES]; CLASSES],
    bytes: [AtomicU64; CLASSES],
    /// Per class, requests at or under each bucket's bound (not cumulative: summed at scrape).
    latency: [[AtomicU64; BUCKETS_US.len() + 1]; CLASSES],
    latency_sum_us: [AtomicU64; CLASSES],
    uploads: [AtomicU64; OUTCOMES],
}

const SHARDS: usize = 8;

/// The counters requests and uploads add to.
#[derive(Default)]
pub struct RequestStats {
    shards: [Shard; SHARDS],
}

impl std::fmt::Debug for RequestStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestStats")
    }
}

impl RequestStats {
    /// This thread's shard: threads take shards in turn as they first count something.
    fn shard(&self) -> &Shard {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
        }
        let index = SHARD.with(|shard| {
            if shard.get() == usize::MAX {
                shard.set(NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS);
            }
            shard.get()
        });
        &self.shards[index]
    }

    /// Counts a finished request.
    pub fn request(&self, class: RouteClass, code: u16, bytes: u64, took: Duration) {
        let shard = self.shard();
        let class = class as usize;
        let us = took.as_micros().min(u64::MAX as u128) as u64;
        shard.requests[class][status_slot(code)].fetch_add(1, Ordering::Relaxed);
        shard.bytes[class].fetch_add(bytes, Ordering::Relaxed);
        let bucket = BUCKETS_US.iter().position(|&bound| us <= bound).unwrap_or(BUCKETS_US.len());
        shard.latency[class][bucket].fetch_add(1, Ordering::Relaxed);
        shard.latency_sum_us[class].fetch_add(us, Ordering::Relaxed);
    }

    pub fn upload(&self, outcome: UploadOutcome) {
        self.shard().uploads[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn sum(&self, read: impl Fn(&Shard) -> &AtomicU64) -> u64 {
        self.shards.iter().map(|shard| read(shard).load(Ordering::Relaxed)).sum()
    }
}

impl Collector for RequestStats {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut requests = encoder.encode_descriptor(
            "charthall_http_requests",
            "HTTP requests answered, by route class and status code",
            None,
            MetricType::Counter,
        )?;
        for class in RouteClass::ALL {
            for slot in 0..STATUSES {
                let count = self.sum(|s| &s.requests[class as usize][slot]);
                if count > 0 {
                    let code = CODES.get(slot).map_or("other".to_string(), |c| c.to_string());
                    let labels = [("route", class.name()), ("code", code.as_str())];
                    requests.encode_family(&labels)?.encode_counter::<NoLabelSet, _, u64>(&count, None)?;
                }
            }
        }
        let mut bytes = encoder.encode_descriptor(
            "charthall_http_response_body_bytes",
            "Response body bytes sent, by route class",
            None,
            MetricType::Counter,
        )?;
        for class in RouteClass::ALL {
            let sent = self.sum(|s| &s.bytes[class as usize]);
            bytes.encode_family(&[("route", class.name())])?.encode_counter::<NoLabelSet, _, u64>(&sent, None)?;
        }
        let mut latency = encoder.encode_descriptor(
            "charthall_http_request_duration_seconds",
            "From the request's head to the last byte of its response, by route class",
            None,
            MetricType::Histogram,
        )?;
        for class in RouteClass::ALL {
            let c = class as usize;
            // Per bucket, not cumulative: the encoder adds them up, and writes `+Inf` with
            // the count.
            let buckets: Vec<(f64, u64)> = BUCKETS_US
                .iter()
                .enumerate()
                .map(|(i, &bound)| (bound as f64 / 1e6, self.sum(|s| &s.latency[c][i])))
                .collect();
            let count = (0..=BUCKETS_US.len()).map(|i| self.sum(|s| &s.latency[c][i])).sum();
            let sum = self.sum(|s| &s.latency_sum_us[c]) as f64 / 1e6;
            latency
                .encode_family(&[("route", class.name())])?
                .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }
        let mut uploads = encoder.encode_descriptor(
            "charthall_uploads",
            "Uploads (packages and provenance files) by outcome: saved, or why they were refused",
            None,
            MetricType::Counter,
        )?;
        for outcome in UploadOutcome::ALL {
            let count = self.sum(|s| &s.uploads[outcome as usize]);
            uploads
                .encode_family(&[("outcome", outcome.name())])?
                .encode_counter::<NoLabelSet, _, u64>(&count, None)?;
        }
        Ok(())
    }
}

/// One repository's figures at a scrape.
struct RepoFigures {
    name: String,
    charts: u64,
    versions: u64,
    index_bytes: u64,
    gzip_bytes: u64,
}

/// A per-repository gauge: its name, its help, and its value from a repository's figures.
type RepoGauge = (&'static str, &'static str, fn(&RepoFigures) -> u64);

/// Figures read from the catalog at scrape time: each repository's index, and the scans.
struct Repositories(Arc<Catalog>);

impl std::fmt::Debug for Repositories {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Repositories")
    }
}

impl Collector for Repositories {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let catalog = &self.0;
        let figures: Vec<RepoFigures> = catalog
            .names()
            .into_iter()
            .map(|name| {
                let snapshot = catalog.snapshot(&name);
                RepoFigures {
                    charts: snapshot.charts.len() as u64,
                    versions: snapshot.charts.values().map(|chart| chart.len() as u64).sum(),
                    index_bytes: snapshot.index.len,
                    gzip_bytes: snapshot.index_gzip.len,
                    name,
                }
            })
            .collect();
        let gauges: [RepoGauge; 6] = [
            ("charthall_charts", "Charts in the repository's index", |f| f.charts),
            ("charthall_chart_versions", "Chart versions in the repository's index", |f| f.versions),
            ("charthall_index_bytes", "Size of the repository's index.yaml", |f| f.index_bytes),
            ("charthall_index_gzip_bytes", "Size of the repository's gzipped index.yaml", |f| f.gzip_bytes),
            // ChartMuseum's names, so its users' dashboards keep working.
            ("chartmuseum_charts_served", "Charts in the repository's index (ChartMuseum's name)", |f| f.charts),
            (
                "chartmuseum_chart_versions_served",
                "Chart versions in the repository's index (ChartMuseum's name)",
                |f| f.versions,
            ),
        ];
        for (name, help, value) in gauges {
            let mut gauge = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for figure in &figures {
                gauge.encode_family(&[("repo", figure.name.as_str())])?.encode_gauge(&value(figure))?;
            }
        }
        let progress: &ScanProgress = catalog.progress();
        let scans: [(&str, &str, MetricType, u64); 4] = [
            (
                "charthall_scan_packages_planned",
                "Packages the running or last storage scan (start-up, CACHE_INTERVAL) set out to read",
                MetricType::Gauge,
                progress.planned(),
            ),
            (
                "charthall_scan_packages_read",
                "Packages the running or last storage scan has read so far",
                MetricType::Gauge,
                progress.read(),
            ),
            (
                "charthall_scan_packages_cached",
                "Packages the start-up took from the start-up cache instead of reading them",
                MetricType::Gauge,
                progress.cached(),
            ),
            (
                "charthall_scans_completed",
                "Storage scans completed (start-up and CACHE_INTERVAL)",
                MetricType::Counter,
                progress.completed(),
            ),
        ];
        for (name, help, kind, value) in scans {
            let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
            match kind {
                MetricType::Counter => metric.encode_counter::<NoLabelSet, _, u64>(&value, None)?,
                _ => metric.encode_gauge(&value)?,
            }
        }
        let mut seconds = encoder.encode_descriptor(
            "charthall_startup_seconds",
            "How long the start-up took to index storage",
            None,
            MetricType::Gauge,
        )?;
        seconds.encode_gauge(&progress.startup_seconds())?;
        Ok(())
    }
}

/// The registry `/metrics` encodes.
pub struct Metrics {
    registry: Registry,
    pub requests: Arc<RequestStats>,
}

impl Metrics {
    pub fn new(catalog: Arc<Catalog>) -> Metrics {
        let requests = Arc::new(RequestStats::default());
        let mut registry = Registry::default();
        registry.register_collector(Box::new(requests.clone()));
        registry.register_collector(Box::new(Repositories(catalog)));
        Metrics { registry, requests }
    }

    /// The exposition, in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut text = String::with_capacity(16 * 1024);
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_lands_in_its_class_code_and_bucket() {
        let stats = Arc::new(RequestStats::default());
        stats.request(RouteClass::Index, 200, 1_000, Duration::from_micros(300));
        stats.request(RouteClass::Index, 200, 500, Duration::from_secs(100));
        stats.request(RouteClass::Upload, 418, 10, Duration::from_micros(1));
        let mut registry = Registry::default();
        registry.register_collector(Box::new(stats));
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        let line = |prefix: &str| {
            text.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix} in\n{text}")).to_string()
        };
        assert_eq!(
            line("charthall_http_requests_total{route=\"index\",code=\"200\"}"),
            "charthall_http_requests_total{route=\"index\",code=\"200\"} 2"
        );
        assert!(line("charthall_http_requests_total{route=\"upload\",code=\"other\"}").ends_with(" 1"));
        assert!(line("charthall_http_response_body_bytes_total{route=\"index\"}").ends_with(" 1500"));
        let bucket =
            |le: &str| line(&format!("charthall_http_request_duration_seconds_bucket{{route=\"index\",le=\"{le}\"}}"));
        assert!(bucket("0.00025").ends_with(" 0"));
        assert!(bucket("0.0005").ends_with(" 1"));
        assert!(bucket("30").ends_with(" 1"));
        assert!(bucket("+Inf").ends_with(" 2"));
        assert!(line("charthall_http_request_duration_seconds_count{route=\"index\"}").ends_with(" 2"));
        assert!(!text.contains("code=\"418\""), "codes outside the list are `other`");
    }
}
