//! The immutable, pre-built answer to every read of one repository.
//!
//! A writer publishes a new snapshot after each change with `ArcSwap`; a reader loads the
//! current one and clones `Bytes` out of it (a reference-count bump). No lock, no copy
//! and no serialization on the read path. A snapshot is made only from immutable inputs:
//! the charts (a persistent map) and the segments, already brought up to date by the
//! writer.

use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use bytes::{BufMut, Bytes, BytesMut};

use super::blocks::Blocks;
use super::charts::{by_usual_file, Chart, Charts, VersionRef};
use super::encoding::Representation;
use super::settings::IndexSettings;
use super::stitch::stitch;

#[derive(Debug)]
pub struct RepoSnapshot {
    pub charts: Charts,
    pub index: Representation,
    pub index_gzip: Representation,
    /// When this snapshot's content was generated (the index's `generated`).
    pub modified: SystemTime,
    /// `GET /api/<repo>/charts` without paging, built on first use: rarely asked for, and
    /// proportional to the whole repository.
    all_charts_json: OnceLock<Bytes>,
}

impl RepoSnapshot {
    /// The snapshot of `charts`, whose index text `segments` hold: the cost is one pointer
    /// and one CRC join per block of segments.
    pub fn new(charts: Charts, segments: &Blocks, settings: &IndexSettings, modified: SystemTime) -> RepoSnapshot {
        let generated = humantime::format_rfc3339_nanos(modified);
        let suffix = settings.suffix(&generated.to_string());
        let ((text, text_crc), (gzip, gzip_crc)) = stitch(segments, Bytes::from(suffix), settings.format);
        RepoSnapshot {
            charts,
            index: Representation::new(text, text_crc, "", modified),
            index_gzip: Representation::new(gzip, gzip_crc, ".gz", modified),
            modified,
            all_charts_json: OnceLock::new(),
        }
    }

    /// An index with no entries: what a repository that does not exist serves.
    pub fn empty(settings: &IndexSettings) -> RepoSnapshot {
        RepoSnapshot::new(Charts::default(), &Blocks::default(), settings, SystemTime::now())
    }

    /// The indexed version stored as `file`, when it is named as uploads name it
    /// (`<name>-<version>.tgz`).
    pub fn by_file(&self, file: &str) -> Option<VersionRef<'_>> {
        by_usual_file(&self.charts, file)
    }

    /// `{ "<name>": [versions…], … }` over the page `(offset, limit)` of chart names, or all
    /// of them (built once per snapshot) when `None`.
    pub fn charts_json(&self, page: Option<(usize, usize)>) -> Bytes {
        match page {
            None => self.all_charts_json.get_or_init(|| charts_json(self.charts.iter())).clone(),
            Some((offset, limit)) => charts_json(self.charts.iter().skip(offset).take(limit)),
        }
    }

    /// [`RepoSnapshot::charts_json`] over the page `(offset, limit)` of the chart names
    /// `keep` keeps.
    pub fn charts_json_where(&self, keep: impl Fn(&str) -> bool, offset: usize, limit: usize) -> Bytes {
        charts_json(self.charts.iter().filter(|(name, _)| keep(name)).skip(offset).take(limit))
    }
}

fn charts_json<'a>(charts: impl Iterator<Item = (&'a String, &'a Arc<Chart>)>) -> Bytes {
    let mut out = BytesMut::new();
    out.put_u8(b'{');
    for (i, (name, chart)) in charts.enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        out.put_slice(&serde_json::to_vec(name).expect("a string serializes"));
        out.put_u8(b':');
        out.put_slice(&chart.json());
    }
    out.put_u8(b'}');
    out.freeze()
}
