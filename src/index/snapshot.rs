//! The immutable, pre-built answer to every read of one repository.
//!
//! A writer builds a new snapshot after each change and publishes it with `ArcSwap`; a
//! reader loads the current one and clones `Bytes` out of it (a reference-count bump).
//! No lock, no copy and no serialization on the read path.

use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use bytes::{BufMut, Bytes, BytesMut};
use flate2::write::GzEncoder;
use flate2::Compression;
use hyper::header::HeaderValue;

use super::state::Charts;

/// One encoding of the index with its validator.
#[derive(Debug)]
pub struct Representation {
    pub body: Bytes,
    /// Strong ETag, distinct per encoding: CRC32 and length of the bytes sent.
    pub etag: HeaderValue,
}

impl Representation {
    fn new(body: Bytes, suffix: &str) -> Representation {
        let crc = crc32fast::hash(&body);
        let etag = HeaderValue::from_str(&format!("\"{crc:08x}-{:x}{suffix}\"", body.len()))
            .expect("ASCII ETag");
        Representation { body, etag }
    }
}

#[derive(Debug)]
pub struct RepoSnapshot {
    pub charts: Charts,
    pub index: Representation,
    pub index_gzip: Representation,
    /// When this snapshot's content was generated (the index's `generated`).
    pub modified: SystemTime,
    pub last_modified: HeaderValue,
    /// `GET /api/<repo>/charts` without paging, built on first use: rarely asked for, and
    /// proportional to the whole repository.
    all_charts_json: OnceLock<Bytes>,
}

/// What every repository's index shares: where packages are linked from and what
/// `serverInfo` says.
#[derive(Debug, Clone, Default)]
pub struct IndexSettings {
    /// `CHART_URL` (no trailing slash), empty for relative `charts/<file>` links.
    pub chart_url: String,
    /// `CONTEXT_PATH` (`/x` or empty).
    pub context_path: String,
    pub strict_semver: bool,
}

impl IndexSettings {
    /// What goes before the file name in a version's `urls`.
    pub fn url_prefix(&self, repo: &str) -> String {
        if self.chart_url.is_empty() {
            return "charts/".into();
        }
        let repo = if repo.is_empty() {
            String::new()
        } else {
            format!("/{repo}")
        };
        format!("{}{}{repo}/charts/", self.chart_url, self.context_path)
    }

    fn server_info(&self) -> String {
        if self.context_path.is_empty() {
            "serverInfo: {}\n".into()
        } else {
            format!(
                "serverInfo:\n  contextPath: {}\n",
                yaml_scalar(&self.context_path)
            )
        }
    }
}

impl RepoSnapshot {
    pub fn build(
        charts: Charts,
        settings: &IndexSettings,
        modified: SystemTime,
    ) -> Arc<RepoSnapshot> {
        let identity = render_index(&charts, settings, modified);
        let mut encoder = GzEncoder::new(
            Vec::with_capacity(identity.len() / 6 + 64),
            Compression::new(6),
        );
        encoder.write_all(&identity).expect("writing to memory");
        let gzip = Bytes::from(encoder.finish().expect("writing to memory"));
        let last_modified =
            HeaderValue::from_str(&httpdate::fmt_http_date(modified)).expect("ASCII date");
        Arc::new(RepoSnapshot {
            charts,
            index: Representation::new(identity, ""),
            index_gzip: Representation::new(gzip, ".gz"),
            modified,
            last_modified,
            all_charts_json: OnceLock::new(),
        })
    }

    /// `{ "<name>": [versions…], … }` over the charts named by `names` (all when `None`).
    pub fn charts_json(&self, page: Option<(usize, usize)>) -> Bytes {
        match page {
            None => self
                .all_charts_json
                .get_or_init(|| charts_json(self.charts.iter()))
                .clone(),
            Some((offset, limit)) => charts_json(self.charts.iter().skip(offset).take(limit)),
        }
    }
}

fn charts_json<'a>(
    charts: impl Iterator<Item = (&'a String, &'a Arc<super::state::Chart>)>,
) -> Bytes {
    let mut out = BytesMut::new();
    out.put_u8(b'{');
    for (i, (name, chart)) in charts.enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        out.put_slice(&serde_json::to_vec(name).expect("a string serializes"));
        out.put_u8(b':');
        out.put_slice(&chart.json);
    }
    out.put_u8(b'}');
    out.freeze()
}

/// The whole `index.yaml`, concatenated from each version's cached fragment.
fn render_index(charts: &Charts, settings: &IndexSettings, generated: SystemTime) -> Bytes {
    let size: usize = charts
        .values()
        .flat_map(|c| c.versions.iter())
        .map(|v| v.yaml.len())
        .sum();
    let mut out = BytesMut::with_capacity(size + 64 * charts.len() + 256);
    out.put_slice(b"apiVersion: v1\n");
    if charts.is_empty() {
        out.put_slice(b"entries: {}\n");
    } else {
        out.put_slice(b"entries:\n");
        for (name, chart) in charts.iter() {
            out.put_slice(format!("  {}:\n", yaml_scalar(name)).as_bytes());
            for version in &chart.versions {
                out.put_slice(&version.yaml);
            }
        }
    }
    let generated = humantime::format_rfc3339_nanos(generated);
    out.put_slice(format!("generated: \"{generated}\"\n").as_bytes());
    out.put_slice(settings.server_info().as_bytes());
    out.freeze()
}

/// A string as a YAML scalar, quoted when plain text would read as something else.
fn yaml_scalar(text: &str) -> String {
    serde_yaml::to_string(text)
        .expect("a string serializes")
        .trim_end()
        .to_string()
}
