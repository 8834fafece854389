//! Reading a chart package: a gzipped tar with one top-level directory holding
//! `Chart.yaml`.
//!
//! Uploads come from strangers, so every limit is Helm's own and checked while streaming:
//! at most 100 MiB decompressed in all, 5 MiB per file, nothing outside the one top-level
//! directory, no absolute paths, no `..`, no links. A gzip bomb stops at the limit rather
//! than eating memory. Error texts are Helm's where Helm has one, so users recognise them.

use std::io::{self, BufRead, Read};
use std::path::{Component, Path};

use flate2::bufread::GzDecoder;
use sha2::{Digest, Sha256};

use super::metadata::ChartVersionEntry;

/// Helm's `MaxDecompressedChartSize`.
pub const MAX_DECOMPRESSED_TOTAL: u64 = 100 * 1024 * 1024;
/// Helm's `MaxDecompressedFileSize`.
pub const MAX_DECOMPRESSED_FILE: u64 = 5 * 1024 * 1024;
/// The whole decompressed tar stream, headers and padding included: room for the files'
/// 100 MiB and far more entries than a chart has.
const MAX_DECOMPRESSED_STREAM: u64 = MAX_DECOMPRESSED_TOTAL + 64 * 1024 * 1024;

/// What to keep while reading a package.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Only `Chart.yaml`; stop reading as soon as it is found (indexing trusted storage).
    ChartYaml,
    /// Read and check every entry, keep `Chart.yaml` (validating an upload).
    Validate,
    /// Also keep `values.yaml` and the files under `templates/` (the API routes).
    Contents,
}

/// A package's parsed contents.
#[derive(Debug)]
pub struct ChartPackage {
    /// `Chart.yaml`, validated; `urls`, `created`, `digest` still empty.
    pub metadata: ChartVersionEntry,
    pub version: semver::Version,
    /// Raw `values.yaml`, with [`Keep::Contents`].
    pub values: Option<Vec<u8>>,
    /// `(path inside the chart, bytes)` of `templates/…`, with [`Keep::Contents`].
    pub templates: Vec<(String, Vec<u8>)>,
}

/// A package with its digest, as the index needs it.
pub struct ReadPackage {
    pub package: ChartPackage,
    /// SHA-256 of the whole package, Helm's `digest`.
    pub digest: [u8; 32],
}

/// [`read`], plus the package's digest.
pub fn read_with_digest(bytes: &[u8], keep: Keep, strict_semver: bool) -> Result<ReadPackage, String> {
    let package = read(bytes, keep, strict_semver)?;
    Ok(ReadPackage { package, digest: Sha256::digest(bytes).into() })
}

/// Reads and validates a package from its bytes.
pub fn read(bytes: &[u8], keep: Keep, strict_semver: bool) -> Result<ChartPackage, String> {
    read_from(bytes, keep, strict_semver)
}

/// Reads and validates a package from `input` (its bytes in memory, or a buffered file:
/// an upload spooled to disk is read without ever being whole in memory).
pub fn read_from<R: BufRead>(mut input: R, keep: Keep, strict_semver: bool) -> Result<ChartPackage, String> {
    let start = input.fill_buf().map_err(|e| format!("cannot read the chart package: {e}"))?;
    if start.is_empty() {
        return Err("empty chart package: the request body holds no bytes".into());
    }
    if start.len() < 10 || start[0] != 0x1f || start[1] != 0x8b {
        return Err(
            "gzip: invalid header: the chart package is not gzip-compressed (expected a .tgz made by `helm package`)"
                .into(),
        );
    }
    // The bound on the whole decompressed stream (tar headers and padding included) keeps a
    // bomb made of empty entries from running forever; file contents are checked below.
    // The bufread decoder reads a slice in place (no 32 KiB buffer per package).
    let stream = Capped { inner: GzDecoder::new(input), left: MAX_DECOMPRESSED_STREAM };
    let mut archive = tar::Archive::new(stream);
    let entries = archive.entries().map_err(tar_error)?;

    let mut top_dir: Option<String> = None;
    let mut chart_yaml: Option<Vec<u8>> = None;
    let mut values = None;
    let mut templates = Vec::new();
    let mut total: u64 = 0;
    let mut files = 0usize;
    for entry in entries {
        let mut entry = entry.map_err(tar_error)?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() || kind.is_gnu_longname() {
            continue;
        }
        let path = entry.path().map_err(tar_error)?.into_owned();
        let (top, inner) = split_top(&path)?;
        if kind.is_dir() {
            check_top(&mut top_dir, &top, &path)?;
            continue;
        }
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(format!(
                "chart contains a link {:?}: links are not allowed in a chart package",
                path.display().to_string()
            ));
        }
        if !kind.is_file() {
            return Err(format!("chart contains {:?}, which is not a regular file", path.display().to_string()));
        }
        let Some(inner) = inner else {
            return Err(format!("chart illegally contains content outside the base directory: {:?}", top));
        };
        check_top(&mut top_dir, &top, &path)?;
        files += 1;
        // The size the tar reader goes by: a PAX record's when there is one, not the header's.
        let size = entry.size();
        if size > MAX_DECOMPRESSED_FILE {
            return Err(format!(
                "decompressed chart file {inner:?} is larger than the maximum file size {MAX_DECOMPRESSED_FILE}"
            ));
        }
        total += size;
        if total > MAX_DECOMPRESSED_TOTAL {
            return Err(too_large());
        }
        let wanted = inner == "Chart.yaml"
            || keep == Keep::Contents && (inner == "values.yaml" || inner.starts_with("templates/"));
        if !wanted {
            continue; // the tar reader skips the unread body
        }
        let mut data = Vec::with_capacity(size as usize);
        entry.by_ref().take(MAX_DECOMPRESSED_FILE + 1).read_to_end(&mut data).map_err(tar_error)?;
        match inner.as_str() {
            "Chart.yaml" => {
                // Two would be read differently: the last here, the first by a scan that
                // stops at the first (Keep::ChartYaml).
                if chart_yaml.is_some() {
                    return Err(format!(
                        "chart contains {:?} twice: a package holds one Chart.yaml",
                        path.display().to_string()
                    ));
                }
                chart_yaml = Some(data);
                if keep == Keep::ChartYaml {
                    break;
                }
            }
            "values.yaml" => values = Some(data),
            _ => templates.push((inner, data)),
        }
    }
    if files == 0 {
        return Err("no files in chart archive".into());
    }
    let chart_yaml = chart_yaml.ok_or("Chart.yaml file is missing")?;
    let mut metadata = ChartVersionEntry::from_chart_yaml(&chart_yaml)?;
    let version = metadata.validate(strict_semver)?;
    Ok(ChartPackage { metadata, version, values, templates })
}

/// Splits `top/rest…` into its first component and the rest, refusing paths that could
/// escape the chart directory.
fn split_top(path: &Path) -> Result<(String, Option<String>), String> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => return Err("chart illegally references parent directory".into()),
            Component::RootDir | Component::Prefix(_) => return Err("chart illegally contains absolute paths".into()),
        }
    }
    if parts.is_empty() {
        return Err("chart contains an entry with an empty name".into());
    }
    let top = parts.remove(0);
    let inner = (!parts.is_empty()).then(|| parts.join("/"));
    Ok((top, inner))
}

fn check_top(seen: &mut Option<String>, top: &str, path: &Path) -> Result<(), String> {
    match seen {
        None => {
            *seen = Some(top.to_string());
            Ok(())
        }
        Some(first) if first == top => Ok(()),
        Some(first) => Err(format!(
            "chart has more than one top-level directory ({first:?} and {:?}): a package holds exactly one",
            path.display().to_string()
        )),
    }
}

/// Helm's words for a chart over its total limit.
fn too_large() -> String {
    format!("decompressed chart is larger than the maximum size {MAX_DECOMPRESSED_TOTAL} bytes")
}

/// A reader that fails, rather than ends, after `left` more bytes: the tar reader takes a
/// clean end on a block boundary for the end of the archive, and whatever came after it
/// would be accepted unread.
struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return match self.inner.read(&mut [0])? {
                0 => Ok(0),
                _ => Err(io::Error::new(io::ErrorKind::FileTooLarge, too_large())),
            };
        }
        let wanted = buf.len().min(self.left.try_into().unwrap_or(usize::MAX));
        let read = self.inner.read(&mut buf[..wanted])?;
        self.left -= read as u64;
        Ok(read)
    }
}

fn tar_error(error: io::Error) -> String {
    match error.kind() {
        io::ErrorKind::FileTooLarge => too_large(),
        io::ErrorKind::UnexpectedEof => "unexpected EOF: the chart package is truncated".into(),
        _ if error.to_string().contains("invalid gzip header") || error.to_string().contains("corrupt deflate") => {
            format!("gzip: {error}: the chart package is not a valid gzip stream")
        }
        _ => format!("archive/tar: invalid tar header: the chart package is not a tar archive ({error})"),
    }
}

#[cfg(test)]
#[path = "package_tests.rs"]
mod tests;
