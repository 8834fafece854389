//! The package reader on its own, without a server: every class of refused package with the
//! exact text the reader answers, and what it keeps from a package it accepts.
//!
//! Packages are built in memory. Entries are written with raw tar headers, because
//! `tar::Header::set_path` refuses exactly the hostile names these tests need (`..`,
//! absolute paths, empty names). tests/uploads.rs checks the same refusals through HTTP.

use std::io::{Read, Write};

use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

use super::*;

const CHART_YAML: &str = "apiVersion: v2\nname: web\nversion: 1.2.3\n";
const MIB: u64 = 1024 * 1024;

/// One tar entry, written as given: the name and link bytes go into the header unchecked.
struct Entry {
    name: String,
    kind: EntryType,
    data: Vec<u8>,
    link: Option<String>,
    /// The size the header claims, when it is not `data.len()`.
    size: Option<u64>,
}

fn entry(name: &str, kind: EntryType, data: impl Into<Vec<u8>>) -> Entry {
    Entry { name: name.to_string(), kind, data: data.into(), link: None, size: None }
}

fn file(name: &str, data: impl Into<Vec<u8>>) -> Entry {
    entry(name, EntryType::Regular, data)
}

fn dir(name: &str) -> Entry {
    entry(name, EntryType::Directory, Vec::new())
}

fn link(kind: EntryType, name: &str, target: &str) -> Entry {
    Entry { link: Some(target.to_string()), ..entry(name, kind, Vec::new()) }
}

/// A PAX extended header (`x` for the next entry, `g` global) holding these records.
fn pax(kind: EntryType, records: &[(&str, &str)]) -> Entry {
    let mut data = Vec::new();
    for (key, value) in records {
        // Each record is "<length> <key>=<value>\n", the length counting its own digits.
        let body = format!(" {key}={value}\n");
        let mut length = body.len() + 1;
        while format!("{length}{body}").len() != length {
            length += 1;
        }
        data.extend_from_slice(format!("{length}{body}").as_bytes());
    }
    entry("PaxHeader", kind, data)
}

fn header(entry: &Entry) -> Header {
    let mut header = Header::new_gnu();
    let raw = header.as_old_mut();
    raw.name[..entry.name.len()].copy_from_slice(entry.name.as_bytes());
    if let Some(link) = &entry.link {
        raw.linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    header.set_entry_type(entry.kind);
    header.set_mode(if entry.kind.is_dir() { 0o755 } else { 0o644 });
    header.set_size(entry.size.unwrap_or(entry.data.len() as u64));
    header.set_mtime(1_700_000_000);
    header.set_cksum();
    header
}

fn tar(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        builder.append(&header(entry), entry.data.as_slice()).unwrap();
    }
    builder.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn tgz(entries: &[Entry]) -> Vec<u8> {
    gzip(&tar(entries))
}

/// A chart as `helm package` lays it out, with this `Chart.yaml`.
fn chart(chart_yaml: &str) -> Vec<Entry> {
    vec![
        file("web/Chart.yaml", chart_yaml),
        file("web/values.yaml", "replicas: 1\n"),
        file("web/templates/configmap.yaml", "kind: ConfigMap\n"),
    ]
}

fn package(chart_yaml: &str) -> Vec<u8> {
    tgz(&chart(chart_yaml))
}

/// A valid `Chart.yaml` first, then `hostile`.
fn after_chart_yaml(hostile: Entry) -> Vec<u8> {
    tgz(&[file("web/Chart.yaml", CHART_YAML), hostile])
}

/// `hostile` first, then a valid chart: refused whatever the reader keeps.
fn before_chart(hostile: Entry) -> Vec<u8> {
    let mut entries = vec![hostile];
    entries.extend(chart(CHART_YAML));
    tgz(&entries)
}

/// A valid package with one more `line` in `Chart.yaml`.
fn with_field(line: &str) -> Vec<u8> {
    package(&format!("{CHART_YAML}{line}\n"))
}

fn chart_yaml_with(name: &str, version: &str) -> Vec<u8> {
    package(&format!("apiVersion: v2\nname: {name}\nversion: {version}\n"))
}

/// Deterministic bytes that do not compress.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// The reader refuses `bytes` with exactly `expected`, whatever it keeps and with or
/// without the digest.
#[track_caller]
fn assert_refused(bytes: &[u8], strict: bool, expected: &str) {
    for keep in [Keep::Validate, Keep::Contents, Keep::ChartYaml] {
        match read(bytes, keep, strict) {
            Ok(package) => panic!("accepted in {} mode: {package:?}", mode(keep)),
            Err(error) => assert_eq!(error, expected, "in {} mode", mode(keep)),
        }
    }
    match read_with_digest(bytes, Keep::Validate, strict) {
        Ok(read) => panic!("read_with_digest accepted: {:?}", read.package),
        Err(error) => assert_eq!(error, expected, "read_with_digest"),
    }
}

fn mode(keep: Keep) -> &'static str {
    match keep {
        Keep::ChartYaml => "ChartYaml",
        Keep::Validate => "Validate",
        Keep::Contents => "Contents",
    }
}

#[track_caller]
fn accepted(bytes: &[u8], keep: Keep, strict: bool) -> ChartPackage {
    read(bytes, keep, strict).unwrap_or_else(|error| panic!("refused in {} mode: {error}", mode(keep)))
}

/// One test per refusal class, so a failure names the class: `name: package => error`.
macro_rules! refusals {
    ($($name:ident: $bytes:expr => $error:expr;)*) => {$(
        #[test]
        fn $name() {
            assert_refused(&$bytes, false, $error);
        }
    )*};
}

/// The same with `strict_semver` on.
macro_rules! strict_refusals {
    ($($name:ident: $bytes:expr => $error:expr;)*) => {$(
        #[test]
        fn $name() {
            assert_refused(&$bytes, true, $error);
        }
    )*};
}

fn two_tops(first: &str, then: &str) -> String {
    format!("chart has more than one top-level directory ({first:?} and {then:?}): a package holds exactly one")
}

const NOT_GZIP: &str =
    "gzip: invalid header: the chart package is not gzip-compressed (expected a .tgz made by `helm package`)";
const NOT_TAR: &str = "archive/tar: invalid tar header: the chart package is not a tar archive";
const BAD_NAME: &str = "is invalid: use only ASCII letters, digits, '-', '_' and '.'";

/// Text that is no tar: its first 512 bytes are read as a tar header.
fn text() -> String {
    "A gzipped text file is not a chart package.\n".repeat(16)
}

// ---------------------------------------------------------------------------------------
// the body: empty, not gzip, not tar

refusals! {
    refuses_empty_body: Vec::<u8>::new()
        => "empty chart package: the request body holds no bytes";
    refuses_plain_text_as_not_gzip: b"apiVersion: v2\nname: web\nversion: 1.2.3\n".to_vec()
        => NOT_GZIP;
    refuses_a_bare_tar_as_not_gzip: tar(&chart(CHART_YAML))
        => NOT_GZIP;
    refuses_gzip_magic_shorter_than_a_gzip_header: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0]
        => NOT_GZIP;
    refuses_gzip_header_with_an_unknown_method: {
        let mut bytes = package(CHART_YAML);
        bytes[2] = 7; // compression method: only 8 (deflate) exists
        bytes
    } => "gzip: invalid gzip header: the chart package is not a valid gzip stream";
    refuses_corrupt_deflate_data: {
        let mut bytes = package(CHART_YAML)[..10].to_vec();
        bytes.extend([0xff; 32]); // block type 3 is reserved
        bytes
    } => "gzip: corrupt deflate stream: the chart package is not a valid gzip stream";
    refuses_truncated_gzip: {
        // Chart.yaml last, after incompressible bytes, so the cut comes before it.
        let mut entries = vec![file("web/files/noise.bin", noise(64 * 1024))];
        entries.extend(chart(CHART_YAML));
        let bytes = tgz(&entries);
        bytes[..bytes.len() / 2].to_vec()
    } => "unexpected EOF: the chart package is truncated";
    refuses_gzip_of_text_that_is_not_tar: gzip(text().as_bytes())
        // The tar crate's words: the text where the header's checksum and name would be.
        => &format!(
            "{NOT_TAR} (numeric field was not a number: {} when getting cksum for {})",
            &text()[148..156],
            &text()[..100]
        );
    refuses_gzip_of_less_than_one_tar_block: gzip(b"hello")
        => &format!("{NOT_TAR} (failed to read entire block)");
    refuses_tar_header_with_a_bad_checksum: {
        let mut tar = tar(&chart(CHART_YAML));
        tar[0] = b'X'; // the name changes, the checksum does not
        gzip(&tar)
    } => &format!("{NOT_TAR} (archive header checksum mismatch)");
}

// ---------------------------------------------------------------------------------------
// the archive's layout: one top-level directory holding Chart.yaml

refusals! {
    refuses_an_empty_tar: gzip(&[0; 1024])
        => "no files in chart archive";
    refuses_a_tar_of_directories_only: tgz(&[dir("web/"), dir("web/templates/")])
        => "no files in chart archive";
    refuses_a_chart_without_chart_yaml: tgz(&chart(CHART_YAML)[1..])
        => "Chart.yaml file is missing";
    refuses_chart_yaml_only_in_a_subdirectory: tgz(&[file("web/sub/Chart.yaml", CHART_YAML)])
        => "Chart.yaml file is missing";
    refuses_chart_yaml_at_the_archive_root: tgz(&[file("Chart.yaml", CHART_YAML)])
        => "chart illegally contains content outside the base directory: \"Chart.yaml\"";
    refuses_a_file_outside_the_top_directory: before_chart(file("README.md", "hi\n"))
        => "chart illegally contains content outside the base directory: \"README.md\"";
    refuses_two_top_level_directories: before_chart(file("other/values.yaml", "a: 1\n"))
        => &two_tops("other", "web/Chart.yaml");
    refuses_a_second_top_level_directory_entry:
        tgz(&[dir("web/"), dir("other/"), file("web/Chart.yaml", CHART_YAML)])
        => &two_tops("web", "other/");
}

// ---------------------------------------------------------------------------------------
// entries that could escape the chart directory, and entries that are not files

refusals! {
    refuses_a_parent_directory_entry: before_chart(file("web/../../evil.txt", "evil"))
        => "chart illegally references parent directory";
    refuses_a_parent_directory_as_first_component: before_chart(file("../web/Chart.yaml", CHART_YAML))
        => "chart illegally references parent directory";
    refuses_a_directory_entry_with_parent_directory: before_chart(dir("web/templates/../../../"))
        => "chart illegally references parent directory";
    refuses_a_pax_path_with_parent_directory: {
        // The ustar name is harmless; the PAX `path` record, which wins, is not.
        before_chart(pax(EntryType::XHeader, &[("path", "web/../../evil.txt")]))
    } => "chart illegally references parent directory";
    refuses_an_absolute_path: before_chart(file("/etc/cron.d/evil", "evil"))
        => "chart illegally contains absolute paths";
    refuses_an_absolute_directory_entry: before_chart(dir("/web/"))
        => "chart illegally contains absolute paths";
    refuses_an_entry_with_an_empty_name: before_chart(file("", "x"))
        => "chart contains an entry with an empty name";
    refuses_an_entry_named_dot_slash: before_chart(file("./", "x"))
        => "chart contains an entry with an empty name";
    refuses_a_symlink: before_chart(link(EntryType::Symlink, "web/templates/passwd.yaml", "/etc/passwd"))
        => "chart contains a link \"web/templates/passwd.yaml\": links are not allowed in a chart package";
    refuses_a_symlink_to_the_parent_directory: before_chart(link(EntryType::Symlink, "web/up", "../.."))
        => "chart contains a link \"web/up\": links are not allowed in a chart package";
    refuses_a_hard_link: before_chart(link(EntryType::Link, "web/values.yaml", "/etc/shadow"))
        => "chart contains a link \"web/values.yaml\": links are not allowed in a chart package";
    refuses_a_fifo: before_chart(entry("web/pipe", EntryType::Fifo, Vec::new()))
        => "chart contains \"web/pipe\", which is not a regular file";
    refuses_a_character_device: before_chart(entry("web/null", EntryType::Char, Vec::new()))
        => "chart contains \"web/null\", which is not a regular file";
}

// ---------------------------------------------------------------------------------------
// sizes (the total over 100 MiB is `refuses_a_gzip_bomb_over_100_mib` below)

refusals! {
    refuses_a_file_one_byte_over_5_mib: before_chart(file("web/files/big.bin", vec![0; 5 * MIB as usize + 1]))
        => "decompressed chart file \"files/big.bin\" is larger than the maximum file size 5242880";
    refuses_a_6_mib_file: before_chart(file("web/files/big.bin", vec![0; 6 * MIB as usize]))
        => "decompressed chart file \"files/big.bin\" is larger than the maximum file size 5242880";
    refuses_a_6_mib_chart_yaml: {
        let mut yaml = CHART_YAML.as_bytes().to_vec();
        yaml.resize(6 * MIB as usize, b'\n');
        tgz(&[file("web/Chart.yaml", yaml)])
    } => "decompressed chart file \"Chart.yaml\" is larger than the maximum file size 5242880";
    refuses_a_header_claiming_a_huge_file_before_reading_it: {
        // 1 TiB claimed, nothing behind it: refused on the header alone.
        let huge = Entry { size: Some(1 << 40), ..file("web/files/huge.bin", Vec::new()) };
        let mut tar = tar(&[huge]);
        tar.truncate(512);
        gzip(&tar)
    } => "decompressed chart file \"files/huge.bin\" is larger than the maximum file size 5242880";
}

// ---------------------------------------------------------------------------------------
// Chart.yaml: YAML, name, version and the other validated fields

refusals! {
    refuses_bad_yaml: package("name: [unclosed\nversion: 1.0.0\n")
        // serde_yaml's words after the reader's
        => "cannot load Chart.yaml: did not find expected ',' or ']' at line 2 column 8, \
            while parsing a flow sequence at line 1 column 7";
    refuses_chart_yaml_that_is_a_list: package("- name: web\n- version: 1.2.3\n")
        => "cannot load Chart.yaml: invalid type: sequence, expected struct ChartVersionEntry";
    refuses_null_maintainers: with_field("maintainers: [~]")
        => "cannot load Chart.yaml: lists must not contain empty or null nodes";
    refuses_a_missing_name: package("apiVersion: v2\nversion: 1.2.3\n")
        => "validation: chart.metadata.name is required";
    refuses_an_empty_chart_yaml: package("")
        => "validation: chart.metadata.name is required";
    refuses_a_name_of_control_characters_only: chart_yaml_with("\"\\u0007\\u0000\"", "1.2.3")
        => "validation: chart.metadata.name is required";
    refuses_a_missing_version: package("apiVersion: v2\nname: web\n")
        => "validation: chart.metadata.version is required";
    refuses_an_invalid_version: chart_yaml_with("web", "abc")
        => "validation: chart.metadata.version \"abc\" is invalid: it is not semantic versioning";
    refuses_a_version_with_four_parts: chart_yaml_with("web", "1.2.3.4")
        => "validation: chart.metadata.version \"1.2.3.4\" is invalid: it is not semantic versioning";
    refuses_a_version_with_a_path: chart_yaml_with("web", "1.0.0-a/../../b")
        => "validation: chart.metadata.version \"1.0.0-a/../../b\" is invalid: it is not semantic versioning";
    refuses_a_name_with_a_slash: chart_yaml_with("a/b", "1.2.3")
        => &format!("validation: chart.metadata.name \"a/b\" {BAD_NAME}");
    refuses_a_name_with_a_backslash: chart_yaml_with("'a\\b'", "1.2.3")
        => &format!("validation: chart.metadata.name \"a\\\\b\" {BAD_NAME}");
    refuses_a_name_climbing_directories: chart_yaml_with("../../evil", "1.2.3")
        => &format!("validation: chart.metadata.name \"../../evil\" {BAD_NAME}");
    refuses_a_name_containing_dot_dot: chart_yaml_with("a..b", "1.2.3")
        => &format!("validation: chart.metadata.name \"a..b\" {BAD_NAME}");
    refuses_the_name_dot_dot: chart_yaml_with("'..'", "1.2.3")
        => "validation: chart.metadata.name \"..\" is not allowed";
    refuses_the_name_dot: chart_yaml_with("'.'", "1.2.3")
        => "validation: chart.metadata.name \".\" is not allowed";
    refuses_a_name_starting_with_a_dot: chart_yaml_with(".hidden", "1.2.3")
        => &format!("validation: chart.metadata.name \".hidden\" {BAD_NAME}");
    refuses_a_name_with_a_space: chart_yaml_with("my chart", "1.2.3")
        => &format!("validation: chart.metadata.name \"my chart\" {BAD_NAME}");
    refuses_a_name_with_a_tab_or_newline_as_spaces: chart_yaml_with("\"a\\tb\\nc\"", "1.2.3")
        => &format!("validation: chart.metadata.name \"a b c\" {BAD_NAME}");
    refuses_a_non_ascii_name: chart_yaml_with("wéb", "1.2.3")
        => &format!("validation: chart.metadata.name \"wéb\" {BAD_NAME}");
    refuses_an_unknown_chart_type: with_field("type: plugin")
        => "validation: chart.metadata.type must be application or library";
    refuses_two_dependencies_with_one_name:
        with_field("dependencies:\n- name: db\n  repository: https://a\n- name: db\n  repository: https://b")
        => "validation: more than one dependency with name or alias \"db\"";
    refuses_a_dependency_alias_with_a_slash:
        with_field("dependencies:\n- name: db\n  alias: a/b\n  repository: https://a")
        => "validation: dependency \"db\" has disallowed characters in the alias";
}

strict_refusals! {
    strict_refuses_a_v_prefix: chart_yaml_with("web", "v1.2.3")
        => "validation: chart.metadata.version \"v1.2.3\" is invalid: it is not strict SemVer 2 (MAJOR.MINOR.PATCH)";
    strict_refuses_a_missing_patch: chart_yaml_with("web", "v1.2")
        => "validation: chart.metadata.version \"v1.2\" is invalid: it is not strict SemVer 2 (MAJOR.MINOR.PATCH)";
    strict_refuses_leading_zeros: chart_yaml_with("web", "01.2.3")
        => "validation: chart.metadata.version \"01.2.3\" is invalid: it is not strict SemVer 2 (MAJOR.MINOR.PATCH)";
}

// ---------------------------------------------------------------------------------------
// a gzip bomb

/// A gzip stream assembled from pieces compressed once each, so that a bomb costs one
/// compression of each distinct piece however often it repeats. Every piece comes from a
/// fresh encoder and ends on a flush: its deflate blocks refer to nothing before them and
/// are not final, so pieces can follow each other in any order.
struct SplicedGzip {
    bytes: Vec<u8>,
    crc: flate2::Crc,
}

struct Piece {
    deflated: Vec<u8>,
    crc: flate2::Crc,
}

impl Piece {
    fn new(data: &[u8]) -> Piece {
        let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(data).unwrap();
        encoder.flush().unwrap(); // a sync flush: byte-aligned, not final
        let mut crc = flate2::Crc::new();
        crc.update(data);
        Piece { deflated: std::mem::take(encoder.get_mut()), crc }
    }
}

impl SplicedGzip {
    fn new() -> SplicedGzip {
        // magic, deflate, no flags, no time, no extra flags, unknown OS
        SplicedGzip { bytes: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff], crc: flate2::Crc::new() }
    }

    fn push(&mut self, piece: &Piece) {
        self.bytes.extend_from_slice(&piece.deflated);
        self.crc.combine(&piece.crc);
    }

    fn finish(mut self) -> Vec<u8> {
        self.bytes.extend_from_slice(&[0x03, 0x00]); // an empty final block
        self.bytes.extend_from_slice(&self.crc.sum().to_le_bytes());
        self.bytes.extend_from_slice(&self.crc.amount().to_le_bytes());
        self.bytes
    }
}

/// `Chart.yaml`, then `files` files of 5 MiB of zeros, about 5 KiB compressed each.
fn zeros_bomb(files: usize) -> Vec<u8> {
    let mut bomb = SplicedGzip::new();
    bomb.push(&Piece::new(&tar(&[file("web/Chart.yaml", CHART_YAML)])[..1024])); // no end marker
    let zeros = Piece::new(&vec![0; MAX_DECOMPRESSED_FILE as usize]);
    for i in 0..files {
        let name = format!("web/files/zeros-{i:02}.bin");
        bomb.push(&Piece::new(
            header(&Entry { size: Some(MAX_DECOMPRESSED_FILE), ..file(&name, Vec::new()) }).as_bytes(),
        ));
        bomb.push(&zeros);
    }
    bomb.push(&Piece::new(&[0; 1024])); // the end of the archive
    bomb.finish()
}

#[test]
fn a_spliced_gzip_is_a_valid_package() {
    // What the bomb below is made of, small enough to inflate in full: gzip checks the CRC
    // and length at the end, tar the headers.
    let bytes = zeros_bomb(2);
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut tar).unwrap();
    assert_eq!(tar.len(), 512 * 2 + 2 * (512 + MAX_DECOMPRESSED_FILE as usize) + 1024);
    let package = accepted(&bytes, Keep::Validate, false);
    assert_eq!(package.metadata.name, "web");
}

/// 21 files of 5 MiB (105 MiB) in about 100 KiB: each file is within the per-file limit,
/// together they are over the total.
#[test]
fn refuses_a_gzip_bomb_over_100_mib() {
    let bomb = zeros_bomb(21);
    assert!(bomb.len() < 200 * 1024, "a bomb is small: {} bytes", bomb.len());
    assert_eq!(
        read(&bomb, Keep::Validate, false).unwrap_err(),
        "decompressed chart is larger than the maximum size 104857600 bytes"
    );
}

// ---------------------------------------------------------------------------------------
// accepted packages

#[test]
fn reads_name_version_and_semver() {
    let bytes = package("apiVersion: v2\nname: web\nversion: 1.2.3-rc.1+build.5\nappVersion: 1.16\n");
    for keep in [Keep::ChartYaml, Keep::Validate, Keep::Contents] {
        let package = accepted(&bytes, keep, true);
        assert_eq!(package.metadata.name, "web");
        assert_eq!(package.metadata.version, "1.2.3-rc.1+build.5");
        assert_eq!(package.metadata.app_version.as_deref(), Some("1.16"));
        assert_eq!(package.metadata.api_version, "v2");
        assert_eq!(package.version, semver::Version::parse("1.2.3-rc.1+build.5").unwrap());
        assert!(package.metadata.urls.is_empty() && package.metadata.created.is_empty());
        assert!(package.metadata.digest.is_empty());
    }
}

#[test]
fn api_version_defaults_to_v1() {
    let package = accepted(&package("name: web\nversion: 1.2.3\n"), Keep::Validate, false);
    assert_eq!(package.metadata.api_version, "v1");
}

#[test]
fn lenient_versions_are_accepted_unless_strict() {
    for (written, parsed) in [("v1.2", "1.2.0"), ("1.2", "1.2.0"), ("1", "1.0.0"), ("v1.2.3", "1.2.3")] {
        let bytes = chart_yaml_with("web", written);
        let package = accepted(&bytes, Keep::Validate, false);
        assert_eq!(package.version.to_string(), parsed, "{written}");
        assert_eq!(package.metadata.version, written, "the text stays as written");
        assert_eq!(package.metadata.file_name(), format!("web-{written}.tgz"));
        assert!(read(&bytes, Keep::Validate, true).is_err(), "{written} is not strict SemVer 2");
    }
}

#[test]
fn validate_keeps_only_chart_yaml() {
    let package = accepted(&package(CHART_YAML), Keep::Validate, false);
    assert_eq!(package.values, None);
    assert!(package.templates.is_empty());
}

#[test]
fn contents_keeps_values_and_templates() {
    let bytes = tgz(&[
        dir("web/"),
        file("web/Chart.yaml", CHART_YAML),
        file("web/values.yaml", "replicas: 1\n"),
        dir("web/templates/"),
        file("web/templates/configmap.yaml", "kind: ConfigMap\n"),
        file("web/templates/sub/_helpers.tpl", "{{- define \"x\" }}{{ end }}\n"),
        file("web/charts/db/templates/secret.yaml", "kind: Secret\n"),
        file("web/charts/db/values.yaml", "db: 1\n"),
        file("web/README.md", "# web\n"),
    ]);
    let package = accepted(&bytes, Keep::Contents, false);
    assert_eq!(package.values.as_deref(), Some(&b"replicas: 1\n"[..]));
    let templates: Vec<(&str, &[u8])> =
        package.templates.iter().map(|(path, data)| (path.as_str(), data.as_slice())).collect();
    assert_eq!(
        templates,
        [
            ("templates/configmap.yaml", &b"kind: ConfigMap\n"[..]),
            ("templates/sub/_helpers.tpl", &b"{{- define \"x\" }}{{ end }}\n"[..]),
        ]
    );
    assert_eq!(package.metadata.name, "web");
}

#[test]
fn chart_yaml_mode_stops_at_chart_yaml() {
    // Everything after Chart.yaml is refused when read, so only a reader that stops early
    // accepts these; the other modes read on and refuse.
    let truncated = tgz(&[file("web/Chart.yaml", CHART_YAML), file("web/values.yaml", noise(64 * 1024))]);
    let cases = [
        (
            after_chart_yaml(file("web/../../evil.txt", "evil")),
            "chart illegally references parent directory".to_string(),
        ),
        (
            after_chart_yaml(link(EntryType::Symlink, "web/x", "/etc/passwd")),
            "chart contains a link \"web/x\": links are not allowed in a chart package".to_string(),
        ),
        (
            after_chart_yaml(file("web/big.bin", vec![0; 6 * MIB as usize])),
            "decompressed chart file \"big.bin\" is larger than the maximum file size 5242880".to_string(),
        ),
        (after_chart_yaml(file("other/values.yaml", "a: 1\n")), two_tops("web", "other/values.yaml")),
        // cut inside values.yaml
        (truncated[..truncated.len() / 2].to_vec(), "unexpected EOF: the chart package is truncated".to_string()),
    ];
    for (bytes, refusal) in cases {
        let package = accepted(&bytes, Keep::ChartYaml, false);
        assert_eq!((package.metadata.name.as_str(), package.version.to_string().as_str()), ("web", "1.2.3"));
        assert_eq!(package.values, None);
        assert!(package.templates.is_empty());
        for keep in [Keep::Validate, Keep::Contents] {
            assert_eq!(read(&bytes, keep, false).unwrap_err(), refusal, "in {} mode", mode(keep));
        }
    }
}

#[test]
fn read_with_digest_answers_the_sha256_of_the_bytes() {
    let bytes = package(CHART_YAML);
    let expected: [u8; 32] = Sha256::digest(&bytes).into();
    for keep in [Keep::ChartYaml, Keep::Validate, Keep::Contents] {
        let read = read_with_digest(&bytes, keep, false).unwrap();
        assert_eq!(read.digest, expected);
        assert_eq!(read.package.metadata, accepted(&bytes, keep, false).metadata);
    }
    // Another package, another digest: it is the bytes', not a constant.
    let other = package("apiVersion: v2\nname: web\nversion: 1.2.4\n");
    assert_eq!(
        read_with_digest(&other, Keep::Validate, false).unwrap().digest,
        <[u8; 32]>::from(Sha256::digest(&other))
    );
    assert_ne!(Sha256::digest(&other), Sha256::digest(&bytes));
}

#[test]
fn a_file_of_exactly_5_mib_is_accepted() {
    let mut entries = chart(CHART_YAML);
    entries.push(file("web/files/five.bin", vec![0; MAX_DECOMPRESSED_FILE as usize]));
    accepted(&tgz(&entries), Keep::Validate, false);
}

#[test]
fn long_names_and_pax_headers_are_read_as_tar_means_them() {
    let long = format!("templates/{}.yaml", "a".repeat(120));
    let mut tar = tar::Builder::new(Vec::new());
    let global = pax(EntryType::XGlobalHeader, &[("comment", "made by a test")]);
    tar.append(&header(&global), global.data.as_slice()).unwrap();
    for (path, data) in [("Chart.yaml", CHART_YAML), (long.as_str(), "kind: Service\n")] {
        let mut header = Header::new_gnu(); // GNU long-name entry for the long path
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        tar.append_data(&mut header, format!("web/{path}"), data.as_bytes()).unwrap();
    }
    // A PAX `path` record names the entry, whatever its ustar name says.
    let renamed = pax(EntryType::XHeader, &[("path", "web/values.yaml")]);
    tar.append(&header(&renamed), renamed.data.as_slice()).unwrap();
    let values = file("ignored-name", "replicas: 2\n");
    tar.append(&header(&values), values.data.as_slice()).unwrap();
    let package = accepted(&gzip(&tar.into_inner().unwrap()), Keep::Contents, false);
    assert_eq!(package.templates, [(long, b"kind: Service\n".to_vec())]);
    assert_eq!(package.values.as_deref(), Some(&b"replicas: 2\n"[..]));
}

#[test]
fn control_characters_in_the_name_are_dropped_as_helm_does() {
    // Helm's Metadata.Validate sanitizes before validating: unprintable characters go.
    let package = accepted(&chart_yaml_with("\"w\\u0007e\\u007fb\"", "1.2.3"), Keep::Validate, false);
    assert_eq!(package.metadata.name, "web");
}

// ---------------------------------------------------------------------------------------
// Holes these tests found in the reader, each closed: the tests stand guard.

#[test]
fn a_pax_size_record_does_not_hide_a_file_from_the_limits() {
    // The ustar header says 0 bytes, the PAX record 6 MiB; the tar crate reads 6 MiB (the
    // PAX size wins), the reader checks `header().size()`, 0. 6 KiB compressed.
    let mut entries = vec![
        pax(EntryType::XHeader, &[("size", &(6 * MIB).to_string())]),
        Entry { size: Some(0), ..file("web/files/big.bin", vec![0; 6 * MIB as usize]) },
    ];
    entries.extend(chart(CHART_YAML));
    assert_refused(
        &tgz(&entries),
        false,
        "decompressed chart file \"files/big.bin\" is larger than the maximum file size 5242880",
    );
}

#[test]
fn refuses_two_chart_yaml() {
    // Read to the end, the last would describe it (evil-9.9.9.tgz); a scan that stops at
    // the first (Keep::ChartYaml) would list that file as web 1.0.0.
    let bytes = tgz(&[
        file("web/Chart.yaml", "name: web\nversion: 1.0.0\n"),
        file("web/Chart.yaml", "name: evil\nversion: 9.9.9\n"),
    ]);
    for keep in [Keep::Validate, Keep::Contents] {
        assert_eq!(
            read(&bytes, keep, false).unwrap_err(),
            "chart contains \"web/Chart.yaml\" twice: a package holds one Chart.yaml"
        );
    }
}

#[test]
fn a_stream_past_the_decompression_cap_is_refused_not_cut_short() {
    // Chart.yaml, 164 MiB of empty files (under 1 MiB compressed), then a `..` entry: a
    // stream that simply ended at the cap, on a block boundary, was taken by tar for the
    // end of the archive, and the `..` entry went unread.
    let mut bomb = SplicedGzip::new();
    bomb.push(&Piece::new(&tar(&[file("web/Chart.yaml", CHART_YAML)])[..1024]));
    let empty = header(&file("web/empty", Vec::new()));
    let mib_of_headers: Vec<u8> = (0..2048).flat_map(|_| empty.as_bytes().to_vec()).collect();
    let headers = Piece::new(&mib_of_headers);
    for _ in 0..(MAX_DECOMPRESSED_TOTAL / MIB + 64) {
        bomb.push(&headers);
    }
    bomb.push(&Piece::new(&tar(&[file("web/../../evil.txt", "evil")])));
    let bomb = bomb.finish();
    assert!(bomb.len() < MIB as usize, "{} bytes", bomb.len());
    // (Keep::ChartYaml stops at Chart.yaml by design: an upload is read with Keep::Validate.)
    assert_eq!(
        read(&bomb, Keep::Validate, false).unwrap_err(),
        "decompressed chart is larger than the maximum size 104857600 bytes"
    );
}

#[test]
fn a_chart_yaml_with_a_byte_order_mark_is_read_as_helm_reads_it() {
    // It was refused: "cannot load Chart.yaml: deserializing from YAML containing more than
    // one document is not supported".
    let mut yaml = "\u{feff}".as_bytes().to_vec();
    yaml.extend_from_slice(CHART_YAML.as_bytes());
    accepted(&tgz(&[file("web/Chart.yaml", yaml)]), Keep::Validate, false);
}
