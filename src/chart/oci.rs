//! A chart version as an OCI artifact, the way `helm push oci://` lays one out: a config
//! blob (the chart's metadata as JSON), one layer (the package file itself), and a
//! manifest naming both.
//!
//! For a chart that came in over HTTP, the config and manifest are derived from its index
//! entry, deterministically — no times, fields in a fixed order — so every replica and
//! every restart serves the same bytes under the same digest.

use bytes::Bytes;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::ChartVersionEntry;

pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
pub const CHART_LAYER_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// The manifest of one chart version and its config, with their digests
/// (`sha256:<hex>`): derived, or as pushed.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The config blob, when known: derived here, or kept beside a pushed manifest.
    pub config: Option<Bytes>,
    pub config_digest: String,
    pub manifest: Bytes,
    pub manifest_digest: String,
}

impl Artifact {
    /// A pushed manifest, kept as it is, and its config blob if it was kept too.
    pub fn pushed(manifest: Bytes, config: Option<Bytes>) -> Artifact {
        let config_digest = serde_json::from_slice::<serde_json::Value>(&manifest)
            .ok()
            .and_then(|m| m["config"]["digest"].as_str().map(str::to_string))
            .unwrap_or_default();
        let config = config.filter(|c| digest_of(c) == config_digest);
        Artifact { config, config_digest, manifest_digest: digest_of(&manifest), manifest }
    }
}

/// A version as an OCI tag: Helm writes `+` (build metadata), which tags cannot hold, as `_`.
pub fn tag_of(version: &str) -> String {
    version.replace('+', "_")
}

pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[derive(Serialize)]
struct Descriptor<'a> {
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    digest: &'a str,
    size: u64,
}

#[derive(Serialize)]
struct Manifest<'a> {
    #[serde(rename = "schemaVersion")]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    config: Descriptor<'a>,
    layers: [Descriptor<'a>; 1],
    annotations: std::collections::BTreeMap<&'a str, &'a str>,
}

/// The artifact of `entry`, whose package has `package_digest` (hex) and `package_size`.
pub fn derive(entry: &ChartVersionEntry, package_digest: &str, package_size: u64) -> Artifact {
    // The metadata Helm puts in a config blob: Chart.yaml's fields, without what only an
    // index entry has.
    let mut metadata = entry.clone();
    metadata.urls.clear();
    metadata.digest.clear();
    metadata.created.clear();
    let config = serde_json::to_vec(&metadata).expect("chart metadata serializes");
    let config_digest = digest_of(&config);
    let layer_digest = format!("sha256:{package_digest}");
    let mut annotations = std::collections::BTreeMap::new();
    annotations.insert("org.opencontainers.image.title", entry.name.as_str());
    annotations.insert("org.opencontainers.image.version", entry.version.as_str());
    if let Some(description) = entry.description.as_deref() {
        annotations.insert("org.opencontainers.image.description", description);
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: MANIFEST_MEDIA_TYPE,
        config: Descriptor { media_type: CONFIG_MEDIA_TYPE, digest: &config_digest, size: config.len() as u64 },
        layers: [Descriptor { media_type: CHART_LAYER_MEDIA_TYPE, digest: &layer_digest, size: package_size }],
        annotations,
    };
    let manifest = serde_json::to_vec(&manifest).expect("a manifest serializes");
    Artifact {
        manifest_digest: digest_of(&manifest),
        manifest: Bytes::from(manifest),
        config: Some(Bytes::from(config)),
        config_digest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_bytes_are_stable_and_leave_index_fields_out() {
        let mut entry =
            ChartVersionEntry::from_chart_yaml(b"apiVersion: v2\nname: web\nversion: 1.0.0+b.1\ndescription: d\n")
                .unwrap();
        entry.validate(false).unwrap();
        let first = derive(&entry, &"ab".repeat(32), 100);
        entry.created = "2026-01-01T00:00:00Z".into();
        entry.urls = vec!["charts/web-1.0.0+b.1.tgz".into()];
        let second = derive(&entry, &"ab".repeat(32), 100);
        assert_eq!(first.manifest, second.manifest, "index-only fields change nothing");
        let config: serde_json::Value = serde_json::from_slice(first.config.as_ref().unwrap()).unwrap();
        assert_eq!(config["name"], "web");
        assert!(config.get("created").is_none() && config.get("urls").is_none());
        let manifest: serde_json::Value = serde_json::from_slice(&first.manifest).unwrap();
        assert_eq!(manifest["layers"][0]["digest"], format!("sha256:{}", "ab".repeat(32)));
        assert_eq!(manifest["layers"][0]["size"], 100);
        assert_eq!(manifest["config"]["digest"], first.config_digest);
        assert_eq!(tag_of("1.0.0+b.1"), "1.0.0_b.1");
    }
}
