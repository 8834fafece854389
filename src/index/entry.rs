//! One chart version as the repository serves it, rendered once when it arrives.
//!
//! Its index entry is rendered at write time, in the index's [`Format`], and kept only as
//! that text — once the repository's segments are built, as a slice of a segment's text,
//! so the index is held in memory once. The JSON API, which is rarely hot, parses a YAML
//! entry back on demand (a JSON one it serves as it is).

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use bytes::Bytes;

use super::render::Format;
use crate::chart::metadata::file_name;
use crate::chart::oci::Artifact;
use crate::chart::ChartVersionEntry;
use crate::storage::ObjectInfo;

/// What identifies the bytes a version was read from, to notice changes behind our back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    pub size: u64,
    pub modified: SystemTime,
    /// The storage's own version tag ([`ObjectInfo::tag`]): 0 in a folder.
    pub tag: u64,
}

impl FileStamp {
    /// The stamp of an object as storage describes it.
    pub fn of(object: &ObjectInfo) -> FileStamp {
        FileStamp { size: object.size, modified: object.modified, tag: object.tag }
    }
}

/// A chart version in a repository's index.
#[derive(Debug, Clone)]
pub struct IndexedVersion {
    /// The chart's name, one allocation shared by the chart's versions in the index
    /// ([`super::state::RepoState`] shares it as versions arrive).
    pub name: Arc<str>,
    pub version: String,
    pub semver: semver::Version,
    /// The storage file it came from when that is not `<name>-<version>.tgz`, as uploads
    /// name it (a file put there by hand): kept for the few, derived for the rest, as a
    /// string per version was ~50 bytes of every version's cost.
    odd_file: Option<Box<str>>,
    pub stamp: FileStamp,
    /// SHA-256 of the package.
    pub digest: [u8; 32],
    /// The entry as an item of the index's `entries.<name>` list, ready to concatenate: in
    /// YAML `  - key: value` lines, in JSON one object.
    pub text: Bytes,
    /// The version as an OCI artifact, made on its first OCI request and kept with the
    /// version (a new upload is a new version, with its own).
    pub oci: OnceLock<Arc<Artifact>>,
}

/// `file`, when it is not the usual `<name>-<version>.tgz`.
fn odd_file(name: &str, version: &str, file: String) -> Option<Box<str>> {
    (!is_usual_file(&file, name, version)).then(|| file.into_boxed_str())
}

/// Whether `file` is `<name>-<version>.tgz`.
fn is_usual_file(file: &str, name: &str, version: &str) -> bool {
    let rest = file.strip_prefix(name).and_then(|r| r.strip_prefix('-'));
    rest.and_then(|r| r.strip_prefix(version)) == Some(".tgz")
}

/// How deep a version's lines are indented in the index (`  - ` then `    `).
const INDENT: usize = 4;

impl IndexedVersion {
    /// Completes `entry` with the repository's fields and renders it in `format`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        mut entry: ChartVersionEntry,
        semver: semver::Version,
        file: String,
        stamp: FileStamp,
        digest: [u8; 32],
        created: SystemTime,
        url_prefix: &str,
        format: Format,
    ) -> IndexedVersion {
        entry.urls = vec![format!("{url_prefix}{file}")];
        entry.digest = hex::encode(digest);
        entry.created = humantime::format_rfc3339_nanos(created).to_string();
        IndexedVersion {
            text: format.version_item(&entry),
            odd_file: odd_file(&entry.name, &entry.version, file),
            name: Arc::from(entry.name),
            version: entry.version,
            semver,
            stamp,
            digest,
            oci: OnceLock::new(),
        }
    }

    /// A version whose entry's `text` is already rendered, read from `odd_file` or, when
    /// `None`, from `<name>-<version>.tgz`.
    pub fn restore(
        name: Arc<str>,
        version: String,
        semver: semver::Version,
        odd_file: Option<String>,
        stamp: FileStamp,
        digest: [u8; 32],
        text: Bytes,
    ) -> IndexedVersion {
        let odd_file = odd_file.and_then(|file| self::odd_file(&name, &version, file));
        IndexedVersion { name, version, semver, odd_file, stamp, digest, text, oci: OnceLock::new() }
    }

    /// The storage file it was read from.
    pub fn file_name(&self) -> Cow<'_, str> {
        match &self.odd_file {
            Some(file) => Cow::Borrowed(file),
            None => Cow::Owned(file_name(&self.name, &self.version)),
        }
    }

    /// Whether it was read from `file`, without making its file name.
    pub fn is_stored_as(&self, file: &str) -> bool {
        match &self.odd_file {
            Some(odd) => **odd == *file,
            None => is_usual_file(file, &self.name, &self.version),
        }
    }

    /// Its file, when that is not named `<name>-<version>.tgz`.
    pub fn odd_file(&self) -> Option<&str> {
        self.odd_file.as_deref()
    }

    /// The same version read from another file (a test's way to make odd files).
    #[cfg(test)]
    pub fn stored_as(mut self, file: &str) -> IndexedVersion {
        self.odd_file = odd_file(&self.name, &self.version, file.to_string());
        self
    }

    pub fn digest_hex(&self) -> String {
        hex::encode(self.digest)
    }

    /// The entry, read back from its rendered text.
    pub fn entry(&self) -> ChartVersionEntry {
        if Format::of_item(&self.text) == Format::Json {
            return serde_json::from_slice(&self.text).expect("an entry we rendered parses back");
        }
        let text = String::from_utf8_lossy(&self.text);
        let unindented: String =
            text.lines().map(|line| line.get(INDENT..).unwrap_or("")).flat_map(|l| [l, "\n"]).collect();
        serde_yaml::from_str(&unindented).expect("an entry we rendered parses back")
    }

    /// The entry as a JSON object, for the API.
    pub fn json(&self) -> Vec<u8> {
        if Format::of_item(&self.text) == Format::Json {
            return self.text.to_vec();
        }
        serde_json::to_vec(&self.entry()).expect("a chart entry serializes to JSON")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trips_through_its_yaml() {
        let yaml = b"apiVersion: v2\nname: web\nversion: 1.0.0\ndescription: \"multi\\nline: yes\"\n\
annotations:\n  note: |\n    first\n\n    third\nmaintainers:\n- name: Ann\n";
        let mut entry = ChartVersionEntry::from_chart_yaml(yaml).unwrap();
        let semver = entry.validate(false).unwrap();
        let stamp = FileStamp { size: 1, modified: SystemTime::UNIX_EPOCH, tag: 0 };
        let version = IndexedVersion::new(
            entry.clone(),
            semver,
            "web-1.0.0.tgz".into(),
            stamp,
            [7; 32],
            SystemTime::UNIX_EPOCH,
            "charts/",
            Format::Yaml,
        );
        let back = version.entry();
        assert_eq!(back.annotations, entry.annotations);
        assert_eq!(back.description, entry.description);
        assert_eq!(back.urls, ["charts/web-1.0.0.tgz"]);
        assert_eq!(back.digest, hex::encode([7u8; 32]));
        assert_eq!(back.created, "1970-01-01T00:00:00.000000000Z");
    }
}
