//! One chart version as the repository serves it, rendered once when it arrives.
//!
//! Rendering (YAML for the index, JSON for the API) happens here, at write time, so a
//! snapshot is assembled from cached fragments and no read ever serializes anything.

use std::time::SystemTime;

use bytes::Bytes;

use crate::chart::ChartVersionEntry;

/// What identifies the bytes a version was read from, to notice changes behind our back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub size: u64,
    pub modified: SystemTime,
}

/// A chart version in a repository's index.
#[derive(Debug)]
pub struct IndexedVersion {
    pub entry: ChartVersionEntry,
    pub semver: semver::Version,
    /// The storage file it came from (usually `<name>-<version>.tgz`).
    pub file_name: String,
    pub stamp: FileStamp,
    /// The entry as an item of the index's `entries.<name>` list, indented and ready to
    /// concatenate.
    pub yaml: Bytes,
    /// The entry as a JSON object, for the API.
    pub json: Bytes,
}

impl IndexedVersion {
    /// Completes `entry` with the repository's fields and renders it.
    pub fn new(
        mut entry: ChartVersionEntry,
        semver: semver::Version,
        file_name: String,
        stamp: FileStamp,
        digest: String,
        created: SystemTime,
        url_prefix: &str,
    ) -> IndexedVersion {
        entry.urls = vec![format!("{url_prefix}{file_name}")];
        entry.digest = digest;
        entry.created = humantime::format_rfc3339_nanos(created).to_string();
        let yaml = render_yaml_item(&entry);
        let json = Bytes::from(serde_json::to_vec(&entry).expect("a chart entry always serializes to JSON"));
        IndexedVersion { entry, semver, file_name, stamp, yaml, json }
    }

    pub fn name(&self) -> &str {
        &self.entry.name
    }

    pub fn version(&self) -> &str {
        &self.entry.version
    }
}

/// `- key: value` lines at the depth of a version under `entries.<name>`.
fn render_yaml_item(entry: &ChartVersionEntry) -> Bytes {
    let yaml = serde_yaml::to_string(entry).expect("a chart entry always serializes to YAML");
    let mut out = String::with_capacity(yaml.len() + 8 * yaml.lines().count());
    for (i, line) in yaml.lines().enumerate() {
        out.push_str(if i == 0 { "  - " } else { "    " });
        // Helm's own index quotes the timestamp; a plain one is a YAML timestamp to some
        // parsers, not a string.
        match line.strip_prefix("created: ") {
            Some(value) if !value.starts_with('"') && !value.starts_with('\'') => {
                out.push_str("created: \"");
                out.push_str(value);
                out.push('"');
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    Bytes::from(out)
}
