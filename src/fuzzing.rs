//! The checks the `cargo fuzz` targets in `fuzz/` run, kept here so the normal test suite
//! replays the inputs under `fuzz/regressions/<target>/` through exactly the same code.
//!
//! Not an API: hidden from the docs, and each check panics when its property fails, which
//! is what a fuzzer (and a test) wants.

use std::cmp::Ordering;
use std::io::Write;
use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::chart::package::{self, Keep};
use crate::chart::version;
use crate::index::{FileStamp, Format, IndexedVersion};

pub use crate::http::route::{resolve, Route};

/// The fuzz targets, by the name of their folder under `fuzz/regressions/`.
pub const TARGETS: [(&str, fn(&[u8])); 4] =
    [("package_reader", package_reader), ("route", route), ("version", version), ("multipart", multipart)];

/// The package reader must never panic, and a package it accepts must render to an index
/// entry that parses back with the same name, version and description.
///
/// An input whose first byte is odd is a raw tar stream (the rest), gzipped here first, so
/// the fuzzer can reach tar and `Chart.yaml` without having to forge deflate streams and
/// CRCs; an even first byte means the rest goes to the reader as it is.
pub fn package_reader(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let gzipped;
    let bytes = if mode & 1 == 1 {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(rest).expect("gzip into memory");
        gzipped = encoder.finish().expect("gzip into memory");
        &gzipped[..]
    } else {
        rest
    };
    let strict = mode & 2 == 2;
    let validated = package::read(bytes, Keep::Validate, strict);
    let contents = package::read(bytes, Keep::Contents, strict);
    match (&validated, &contents) {
        (Ok(a), Ok(b)) => {
            assert_eq!((&a.metadata.name, &a.metadata.version), (&b.metadata.name, &b.metadata.version));
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "Validate and Contents refuse alike"),
        _ => panic!("Validate and Contents disagree: {:?} vs {:?}", validated.is_ok(), contents.is_ok()),
    }
    let Ok(package) = validated else {
        return;
    };
    let metadata = package.metadata;
    let file_name = metadata.file_name();
    let stamp = FileStamp { size: bytes.len() as u64, modified: SystemTime::UNIX_EPOCH, tag: 0 };
    let created = SystemTime::UNIX_EPOCH + Duration::from_nanos(1_234_567_890);
    let new = |format| {
        let version = package.version.clone();
        IndexedVersion::new(metadata.clone(), version, file_name.clone(), stamp, [9; 32], created, "charts/", format)
    };
    // `entry()` parses the rendered YAML (or JSON) back, and panics if it does not parse.
    let back = new(Format::Yaml).entry();
    assert_eq!(new(Format::Json).entry(), back, "the JSON entry reads back as the YAML one");
    assert_eq!(back.name, metadata.name, "name read back from the index entry");
    assert_eq!(back.version, metadata.version, "version read back from the index entry");
    assert_eq!(back.description, metadata.description, "description read back from the index entry");
    assert_eq!(back.urls, [format!("charts/{file_name}")]);
}

/// Route resolution must never panic, and the repository of a resolved route is a
/// folder path that stays inside the storage root: exactly `depth` segments, none empty,
/// `..` or a dot-folder, and no `\` or NUL anywhere.
pub fn route(data: &[u8]) {
    let path = String::from_utf8_lossy(data);
    for context_path in ["", "/helm"] {
        for depth in 0..=3u8 {
            let route = resolve(&path, context_path, depth);
            let repo = route.repo();
            assert!(!repo.contains(['\\', '\0']), "repo {repo:?} from {path:?} at depth {depth}");
            assert!(!repo.starts_with('.'), "repo {repo:?} from {path:?} at depth {depth}");
            let has_repo = !matches!(
                route,
                Route::Health | Route::Info | Route::Metrics | Route::WrongDepth | Route::Root | Route::NotFound
            );
            if has_repo && depth > 0 {
                let segments: Vec<&str> = repo.split('/').collect();
                assert_eq!(segments.len(), usize::from(depth), "repo {repo:?} from {path:?} at depth {depth}");
                for segment in segments {
                    assert!(
                        !segment.is_empty() && segment != ".." && !segment.starts_with('.'),
                        "repo {repo:?} from {path:?} at depth {depth}"
                    );
                }
            } else {
                assert_eq!(repo, "", "route {route:?} from {path:?} at depth {depth}");
            }
        }
    }
}

/// Version parsing and ordering must never panic and must agree with the `semver` crate:
/// strict parsing is SemVer's; whatever SemVer accepts, the lenient parse reads to the
/// same value; a lenient parse is always valid SemVer once written out; and `newest_first`
/// is SemVer's order reversed (precedence first, build metadata only to break ties).
/// The input is up to 8 versions, one a line; the first is also tried as a `select` query.
pub fn version(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parsed = Vec::new();
    for line in text.split('\n').take(8) {
        let reference = semver::Version::parse(line).ok();
        let strict = version::parse(line, true);
        assert_eq!(strict, reference, "strict parse of {line:?}");
        let lenient = version::parse(line, false);
        if let Some(reference) = &reference {
            assert_eq!(lenient.as_ref(), Some(reference), "lenient parse of {line:?}, which SemVer accepts");
        }
        if let Some(lenient) = lenient {
            let written = lenient.to_string();
            assert_eq!(semver::Version::parse(&written).ok().as_ref(), Some(&lenient), "{line:?} → {written:?}");
            parsed.push(lenient);
        }
    }
    for a in &parsed {
        for b in &parsed {
            let ours = version::newest_first(a, b);
            assert_eq!(ours, b.cmp(a), "newest_first({a}, {b})");
            assert_eq!(ours, version::newest_first(b, a).reverse(), "antisymmetry of {a}, {b}");
            if a.cmp_precedence(b) != Ordering::Equal {
                assert_eq!(ours, b.cmp_precedence(a), "precedence of {a}, {b}");
            }
        }
    }
    let mut sorted = parsed.clone();
    sorted.sort_by(version::newest_first);
    assert!(sorted.windows(2).all(|pair| pair[0] >= pair[1]), "sorted newest first: {sorted:?}");
    if let Some(wanted) = text.split('\n').next() {
        let listed: Vec<(String, semver::Version)> = sorted.iter().map(|v| (v.to_string(), v.clone())).collect();
        if let Ok(found) = version::select(&listed, wanted, |(t, _)| t.as_str(), |(_, v)| v) {
            assert!(listed.contains(found));
        }
    }
}

/// The content type the multipart check parses its body under.
pub const MULTIPART_CONTENT_TYPE: &str = "multipart/form-data; boundary=X-CHARTHALL-BOUNDARY";

/// What [`multipart`] collects from a form: the `chart` and `prov` fields, or the error.
type Form = Result<(Option<Bytes>, Option<Bytes>), String>;

/// The multipart form parser, driven as `http::upload::form_files` drives it (that
/// function needs a whole `App`, so this mirrors it: the boundary from a fixed content
/// type, the body as one chunk, fields named `chart` and `prov` kept, the last one of each
/// winning, others skipped). It must never panic, a field holds no more bytes than the
/// body, and the body fed in several chunks (cut where the first byte says) is read
/// exactly as the body in one.
pub fn multipart(data: &[u8]) {
    let Some((&cut, body)) = data.split_first() else {
        return;
    };
    let body = Bytes::copy_from_slice(body);
    let whole = read_form(vec![body.clone()]);
    if let Ok((chart, prov)) = &whole {
        for field in [chart, prov].into_iter().flatten() {
            assert!(field.len() <= body.len());
        }
    }
    let step = usize::from(cut).max(1);
    let chunks: Vec<Bytes> =
        (0..body.len()).step_by(step).map(|at| body.slice(at..(at + step).min(body.len()))).collect();
    let chunked = read_form(chunks);
    assert_eq!(whole.is_ok(), chunked.is_ok(), "one chunk {whole:?} vs chunks of {step}: {chunked:?}");
    if let (Ok(a), Ok(b)) = (&whole, &chunked) {
        assert_eq!(a, b, "the same form, whole and in chunks of {step}");
    }
}

fn read_form(chunks: Vec<Bytes>) -> Form {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime =
            tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime");
    }
    RUNTIME.with(|runtime| {
        runtime.block_on(async move {
            let boundary = multer::parse_boundary(MULTIPART_CONTENT_TYPE).map_err(|e| e.to_string())?;
            let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<Bytes, std::convert::Infallible>));
            let mut form = multer::Multipart::new(stream, boundary);
            let (mut chart, mut prov) = (None, None);
            while let Some(field) = form.next_field().await.map_err(|e| e.to_string())? {
                let slot = match field.name().unwrap_or_default() {
                    "chart" => &mut chart,
                    "prov" => &mut prov,
                    _ => continue,
                };
                *slot = Some(field.bytes().await.map_err(|e| e.to_string())?);
            }
            Ok((chart, prov))
        })
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Every input kept under `fuzz/regressions/<target>/` (the crashes the fuzzers found
    /// and a few interesting corpus entries) passes its target's checks.
    #[test]
    fn fuzz_regressions_replay() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
        let mut replayed = 0;
        for (target, check) in TARGETS {
            let Ok(dir) = std::fs::read_dir(root.join(target)) else {
                continue;
            };
            for file in dir {
                let path = file.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                eprintln!("replaying {}", path.display()); // names the input when a check panics
                check(&data);
                replayed += 1;
            }
        }
        assert!(replayed > 0, "no inputs under {}", root.display());
    }
}
