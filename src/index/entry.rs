//! One chart version as a scan or an upload reads it, rendered once when it arrives.
//!
//! Its index entry is rendered at write time, in the index's [`Format`]; its chart then
//! keeps only that text (once the repository's segments are built, as a slice of a
//! segment's text, so the index is held in memory once). The JSON API, which is rarely
//! hot, parses a YAML entry back on demand (a JSON one it serves as it is).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// A chart version as a scan or an upload reads it, before it joins its chart (which
/// keeps only its text and a row of offsets, see [`super::charts::Chart`]).
#[derive(Debug, Clone)]
pub struct IndexedVersion {
    pub name: String,
    pub version: String,
    pub semver: semver::Version,
    /// The storage file it came from when that is not `<name>-<version>.tgz`, as uploads
    /// name it (a file put there by hand).
    odd_file: Option<Box<str>>,
    pub stamp: FileStamp,
    /// The entry as an item of the index's `entries.<name>` list, ready to concatenate: in
    /// YAML `  - key: value` lines, in JSON one object.
    pub text: Bytes,
    /// Where `text` spells the version and the digest's hex.
    version_at: u32,
    digest_at: u32,
}

/// What a chart keeps of one version: its entry's text, where the entry spells its version
/// and digest, and its file.
#[derive(Debug, Clone)]
pub struct Part<'a> {
    pub text: &'a [u8],
    pub version_at: u32,
    pub version_len: u32,
    pub digest_at: u32,
    pub stamp: FileStamp,
    pub odd_file: Option<&'a str>,
    /// Its OCI artifact, when one was made already.
    pub oci: Option<Arc<Artifact>>,
}

/// `file`, when it is not the usual `<name>-<version>.tgz`.
fn odd_file(name: &str, version: &str, file: String) -> Option<Box<str>> {
    (!is_usual_file(&file, name, version)).then(|| file.into_boxed_str())
}

/// Whether `file` is `<name>-<version>.tgz`.
pub fn is_usual_file(file: &str, name: &str, version: &str) -> bool {
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
        let text = format.version_item(&entry);
        // Both are written as they are (a version is SemVer characters, a digest hex): any
        // place the text spells them serves.
        let spelled = |what: &str| {
            let at = find(&text, what.as_bytes()).expect("an entry spells its version and digest");
            u32::try_from(at).expect("an entry is under 4 GiB")
        };
        let (version_at, digest_at) = (spelled(&entry.version), spelled(&entry.digest));
        IndexedVersion {
            odd_file: odd_file(&entry.name, &entry.version, file),
            name: entry.name,
            version: entry.version,
            semver,
            stamp,
            text,
            version_at,
            digest_at,
        }
    }

    /// The storage file it was read from.
    pub fn file_name(&self) -> Cow<'_, str> {
        match &self.odd_file {
            Some(file) => Cow::Borrowed(file),
            None => Cow::Owned(file_name(&self.name, &self.version)),
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

    /// What its chart keeps of it.
    pub fn part(&self) -> Part<'_> {
        Part {
            text: &self.text,
            version_at: self.version_at,
            version_len: self.version.len() as u32,
            digest_at: self.digest_at,
            stamp: self.stamp,
            odd_file: self.odd_file(),
            oci: None,
        }
    }

    /// The entry, read back from its rendered text.
    pub fn entry(&self) -> ChartVersionEntry {
        entry_of(&self.text)
    }
}

/// Where `text` first spells `what`: from each place its first byte occurs. (Building a
/// `memmem` finder cost more than scanning a ~600-byte entry: 441 against 114 ns a
/// search, measured on 50,000 index entries.)
fn find(text: &[u8], what: &[u8]) -> Option<usize> {
    let (&first, _) = what.split_first()?;
    memchr::memchr_iter(first, text).find(|&at| text[at..].starts_with(what))
}

/// An entry read back from the text we rendered it as.
pub fn entry_of(text: &[u8]) -> ChartVersionEntry {
    if Format::of_item(text) == Format::Json {
        return serde_json::from_slice(text).expect("an entry we rendered parses back");
    }
    let text = String::from_utf8_lossy(text);
    let unindented: String =
        text.lines().map(|line| line.get(INDENT..).unwrap_or("")).flat_map(|l| [l, "\n"]).collect();
    serde_yaml::from_str(&unindented).expect("an entry we rendered parses back")
}

/// An entry as a JSON object, for the API: a JSON entry as it is.
pub fn json_of(text: &[u8]) -> Vec<u8> {
    if Format::of_item(text) == Format::Json {
        return text.to_vec();
    }
    serde_json::to_vec(&entry_of(text)).expect("a chart entry serializes to JSON")
}

/// `time` as nanoseconds since the Unix epoch, negative before it (a row keeps 8 bytes,
/// not a 16-byte `SystemTime`; exact from 1678 to 2262).
pub fn nanos_since_epoch(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i64,
        Err(before) => -(before.duration().as_nanos() as i64),
    }
}

/// The time [`nanos_since_epoch`] gave `nanos` for.
pub fn time_from_nanos(nanos: i64) -> SystemTime {
    match nanos >= 0 {
        true => UNIX_EPOCH + Duration::from_nanos(nanos as u64),
        false => UNIX_EPOCH - Duration::from_nanos(nanos.unsigned_abs()),
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
