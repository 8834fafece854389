//! The index text kept in step with the charts through every kind of change: both
//! encodings exact, the gzip a valid member no bigger than one `gzip -6` pass, and the
//! text held once — in YAML, and in JSON (`JSON_INDEX`), where it must read as the same
//! document as the YAML.

use std::io::{Read, Write};
use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::chart::ChartVersionEntry;
use crate::index::render::{Format, PREFIX_EMPTY};

fn digest(seed: usize) -> [u8; 32] {
    let mut digest = [0; 32];
    digest[..8].copy_from_slice(&(seed as u64).to_le_bytes());
    digest
}

fn version(name: &str, version: &str, seed: usize) -> IndexedVersion {
    build(Format::Yaml, name, version, seed, false)
}

/// A version in `format`; every fifth holds text that needs escaping, in YAML and in JSON.
fn version_in(format: Format, name: &str, version: &str, seed: usize) -> IndexedVersion {
    build(format, name, version, seed, seed.is_multiple_of(5))
}

fn build(format: Format, name: &str, version: &str, seed: usize, awkward: bool) -> IndexedVersion {
    let mut entry = ChartVersionEntry {
        name: name.into(),
        version: version.into(),
        api_version: "v2".into(),
        description: Some(format!("Chart {name} for service number {seed} with a description of realistic length")),
        keywords: vec!["web".into(), format!("team-{}", seed % 17)],
        ..Default::default()
    };
    if awkward {
        entry.annotations.insert("note \"quoted\"".into(), format!("line\nbreak\ttab \\ é\u{2028} {seed}"));
        entry.app_version = Some("true".into());
        entry.maintainers =
            vec![crate::chart::metadata::Maintainer { name: "Ann: \"#1\"".into(), ..Default::default() }];
    }
    let stamp = FileStamp { size: seed as u64, modified: UNIX_EPOCH, tag: 0 };
    let created = UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seed as u64);
    let semver = crate::chart::version::parse(version, false).unwrap();
    let file = format!("{name}-{version}.tgz");
    IndexedVersion::new(entry, semver, file, stamp, digest(seed), created, "charts/", format)
}

/// A state whose segments are small, so a few hundred versions make many segments.
fn state(names: usize, versions: usize) -> RepoState {
    state_in(Format::Yaml, names, versions)
}

pub(crate) fn state_in(format: Format, names: usize, versions: usize) -> RepoState {
    let mut state = RepoState { segments: Segments::with_target(2048, format), ..Default::default() };
    for n in 0..names {
        for v in 0..versions {
            state.insert(version_in(format, &format!("chart-{:04}", n * 10), &format!("1.{v}.0"), n * 100 + v));
        }
    }
    state
}

/// The index as a from-scratch render would write it.
fn expected(state: &RepoState, snapshot: &RepoSnapshot) -> Vec<u8> {
    let format = state.segments.format();
    let mut out = Vec::new();
    out.extend_from_slice(format.prefix(state.charts.is_empty()));
    for (i, chart) in state.charts.values().enumerate() {
        chart.write_text(&mut out, format, i == 0);
    }
    let text = snapshot.index.to_vec();
    let marker: &[u8] = match format {
        Format::Yaml => b"generated: ",
        Format::Json => b"},\"generated\":",
    };
    let suffix_at = text.windows(marker.len()).rposition(|w| w == marker).unwrap();
    out.extend_from_slice(&text[suffix_at..]);
    out
}

pub(crate) fn check(state: &mut RepoState) -> RepoSnapshot {
    let settings = IndexSettings { format: state.segments.format(), ..IndexSettings::default() };
    let snapshot = state.publish(&settings, UNIX_EPOCH);
    let identity = snapshot.index.to_vec();
    assert_eq!(identity, expected(state, &snapshot), "segments out of step with the charts");
    assert_eq!(identity.len() as u64, snapshot.index.len);
    let gzip = snapshot.index_gzip.to_vec();
    assert_eq!(gzip.len() as u64, snapshot.index_gzip.len);
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(&gzip[..]).read_to_end(&mut inflated).expect("stitched gzip decodes");
    assert_eq!(inflated, identity, "stitched gzip inflates to the identity bytes");
    assert_eq!(format!("\"{:08x}-{:x}\"", crc32fast::hash(&identity), identity.len()), snapshot.index.etag);
    assert_eq!(format!("\"{:08x}-{:x}.gz\"", crc32fast::hash(&gzip), gzip.len()), snapshot.index_gzip.etag);
    serde_yaml::from_slice::<serde_yaml::Value>(&identity).expect("the index is YAML");
    if settings.format == Format::Json {
        serde_json::from_slice::<serde_json::Value>(&identity).expect("the index is JSON");
    }
    // The text is held once: every version's YAML is a slice of a segment's text.
    let inside = |bytes: &[u8]| {
        let at = bytes.as_ptr() as usize;
        state.segments.blocks().iter().any(|s| {
            let text = s.piece.text.as_ptr() as usize;
            at >= text && at + bytes.len() <= text + s.piece.text.len()
        })
    };
    for chart in state.charts.values() {
        assert!(inside(chart.text()), "a chart's text outside the segments");
        assert!(chart.versions().all(|v| inside(v.text())), "a version's text outside the segments");
    }
    snapshot
}

fn gzip_t(gzip: &[u8]) {
    let mut child = std::process::Command::new("gzip")
        .arg("-t")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("gzip(1) is installed");
    child.stdin.take().unwrap().write_all(gzip).unwrap();
    assert!(child.wait().unwrap().success(), "gzip -t refuses the stitched stream");
}

#[test]
fn every_kind_of_change_keeps_both_encodings_exact() {
    let mut state = state(60, 4);
    let before = check(&mut state);
    assert!(state.segments.blocks().len() > 10, "the test needs many segments");
    gzip_t(&before.index_gzip.to_vec());

    let changes: Vec<(&str, Box<dyn Fn(&mut RepoState)>)> = vec![
        ("add a version", Box::new(|s| drop(s.insert(version("chart-0200", "9.0.0", 1))))),
        ("add a name at the start", Box::new(|s| drop(s.insert(version("a-first", "1.0.0", 2))))),
        ("add a name in the middle", Box::new(|s| drop(s.insert(version("chart-0305", "1.0.0", 3))))),
        ("add a name at the end", Box::new(|s| drop(s.insert(version("zz-last", "1.0.0", 4))))),
        ("replace a version", Box::new(|s| drop(s.insert(version("chart-0100", "1.1.0", 5))))),
        ("delete a version", Box::new(|s| drop(s.remove("chart-0400", "1.2.0")))),
        (
            "delete the last version of a name",
            Box::new(|s| (0..4).for_each(|v| drop(s.remove("chart-0010", &format!("1.{v}.0"))))),
        ),
        ("delete the first chart", Box::new(|s| drop(s.remove("a-first", "1.0.0")))),
        (
            "grow one chart a lot",
            Box::new(|s| (0..40).for_each(|v| drop(s.insert(version("chart-0250", &format!("2.{v}.0"), v))))),
        ),
        ("shrink it again", Box::new(|s| (0..40).for_each(|v| drop(s.remove("chart-0250", &format!("2.{v}.0")))))),
    ];
    for (what, change) in changes {
        change(&mut state);
        let snapshot = check(&mut state);
        gzip_t(&snapshot.index_gzip.to_vec());
        eprintln!("{what}: {} segments", state.segments.blocks().len());
    }
    // Everything deleted: the empty index.
    let all: Vec<(String, String)> = state
        .charts
        .iter()
        .flat_map(|(n, c)| c.versions().map(move |v| (n.clone(), v.version().to_string())))
        .collect();
    for (name, v) in all {
        state.remove(&name, &v);
    }
    let snapshot = check(&mut state);
    assert!(snapshot.index.to_vec().starts_with(PREFIX_EMPTY));
}

#[test]
fn changes_anywhere_in_full_size_segments_keep_the_gzip_exact() {
    // Real segment size: a change early in a segment leaves the next one's dictionary
    // as it was, and that segment is not recompressed.
    let mut state = RepoState::default();
    for n in 0..400 {
        for v in 0..4 {
            state.insert(version(&format!("svc-{n:04}"), &format!("0.{v}.0"), n * 4 + v));
        }
    }
    check(&mut state);
    for (i, n) in [0, 1, 17, 120, 121, 250, 398, 399].into_iter().enumerate() {
        state.insert(version(&format!("svc-{n:04}"), "7.0.0", 9000 + i));
        check(&mut state);
        state.remove(&format!("svc-{:04}", (n + 5) % 400), "0.1.0");
        check(&mut state);
    }
}

#[test]
fn etag_changes_iff_bytes_change() {
    let mut state = state(20, 2);
    let a = check(&mut state);
    let b = check(&mut state);
    assert_eq!(a.index.etag, b.index.etag, "same bytes, same tag");
    assert_eq!(a.index_gzip.etag, b.index_gzip.etag);
    state.insert(version("chart-0050", "3.0.0", 9));
    let c = check(&mut state);
    assert_ne!(a.index.etag, c.index.etag);
    assert_ne!(a.index_gzip.etag, c.index_gzip.etag);
    assert_ne!(a.index.etag, a.index_gzip.etag, "each encoding has its own tag");
}

#[test]
fn stitched_gzip_is_as_small_as_one_pass() {
    let mut state = RepoState::default(); // the real segment size
    for n in 0..1500 {
        for v in 0..4 {
            state.insert(version(&format!("service-{n:05}"), &format!("0.{v}.1"), n * 7 + v));
        }
    }
    let snapshot = check(&mut state);
    let identity = snapshot.index.to_vec();
    let mut one_pass = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    one_pass.write_all(&identity).unwrap();
    let one_pass = one_pass.finish().unwrap().len() as f64;
    let ratio = snapshot.index_gzip.len as f64 / one_pass;
    assert!(state.segments.blocks().len() > 5);
    // Each 24 KiB segment starts from a 16 KiB dictionary and ends in a sync flush: on this
    // small, repetitive index that costs ~2.5% (1.021x at 32 KiB segments); on the bench's
    // million-version index the stitched gzip is still 0.993x one pass.
    assert!(ratio <= 1.03, "stitched gzip is {ratio:.4}x one gzip -6 pass");
}

/// The JSON index as a value, and the YAML index read as the same kind of value.
fn documents(yaml: &RepoSnapshot, json: &RepoSnapshot) -> (serde_json::Value, serde_json::Value) {
    let from_yaml: serde_json::Value = serde_yaml::from_slice(&yaml.index.to_vec()).expect("the YAML index parses");
    let from_json: serde_json::Value = serde_json::from_slice(&json.index.to_vec()).expect("the JSON index parses");
    (from_yaml, from_json)
}

#[test]
fn json_index_reads_as_the_yaml_index_through_every_change() {
    let (mut yaml, mut json) = (state_in(Format::Yaml, 60, 4), state_in(Format::Json, 60, 4));
    let both = |yaml: &mut RepoState, json: &mut RepoState, what: &str| {
        let (a, b) = (check(yaml), check(json));
        let (from_yaml, from_json) = documents(&a, &b);
        assert_eq!(from_json, from_yaml, "{what}: the JSON index says something else than the YAML one");
        gzip_t(&b.index_gzip.to_vec());
        b
    };
    let first = both(&mut yaml, &mut json, "start");
    assert!(json.segments.blocks().len() > 10, "the test needs many segments");
    let text = first.index.to_vec();
    assert!(
        text.starts_with(b"{\"apiVersion\":\"v1\",\"entries\":{\"chart-0000\":[{\"apiVersion\":\"v2\",\"created\":"),
        "compact"
    );
    assert!(text.ends_with(b"]},\"generated\":\"1970-01-01T00:00:00.000000000Z\",\"serverInfo\":{}}"));

    type Change = Box<dyn Fn(&mut RepoState, Format)>;
    let add = |name: &'static str, v: &'static str, seed| -> Change {
        Box::new(move |s: &mut RepoState, f| drop(s.insert(version_in(f, name, v, seed))))
    };
    let remove = |name: &'static str, v: &'static str| -> Change {
        Box::new(move |s: &mut RepoState, _| drop(s.remove(name, v)))
    };
    let remove_chart = |name: &'static str| -> Change {
        Box::new(move |s: &mut RepoState, _| {
            let versions: Vec<String> =
                s.charts.get(name).unwrap().versions().map(|v| v.version().to_string()).collect();
            versions.iter().for_each(|v| drop(s.remove(name, v)));
        })
    };
    let changes: Vec<(&str, Change)> = vec![
        ("insert a chart before the first", add("a-first", "1.0.0", 1)),
        ("insert another before it", add("a-a-first", "0.1.0", 5)),
        ("delete the first chart", remove("a-a-first", "0.1.0")),
        ("add a newest version to the first chart", add("a-first", "2.0.0", 2)),
        ("delete the first chart's newest version", remove("a-first", "2.0.0")),
        ("delete the first chart again", remove_chart("a-first")),
        ("delete the first chart of the scan", remove_chart("chart-0000")),
        ("delete the last chart", remove_chart("chart-0590")),
        ("add a last chart", add("zz-last", "1.0.0", 10)),
        ("add a middle version", add("chart-0300", "1.1.5", 15)),
        ("replace a version", add("chart-0100", "1.1.0", 20)),
        ("delete a middle chart", remove_chart("chart-0250")),
    ];
    for (what, change) in changes {
        change(&mut yaml, Format::Yaml);
        change(&mut json, Format::Json);
        both(&mut yaml, &mut json, what);
    }
    // Every chart deleted: empty entries in both.
    let names: Vec<String> = json.charts.keys().cloned().collect();
    for name in &names {
        for state in [&mut yaml, &mut json] {
            let versions: Vec<String> = state.charts[name].versions().map(|v| v.version().to_string()).collect();
            versions.iter().for_each(|v| drop(state.remove(name, v)));
        }
    }
    let empty = both(&mut yaml, &mut json, "delete everything");
    assert_eq!(
        empty.index.to_vec(),
        b"{\"apiVersion\":\"v1\",\"entries\":{},\"generated\":\"1970-01-01T00:00:00.000000000Z\",\"serverInfo\":{}}"
    );
    // And uploads into the empty index again.
    for (i, name) in ["m-chart", "b-chart", "x-chart"].into_iter().enumerate() {
        yaml.insert(version_in(Format::Yaml, name, "1.0.0", 100 + i));
        json.insert(version_in(Format::Json, name, "1.0.0", 100 + i));
        both(&mut yaml, &mut json, "re-upload");
    }
    assert_eq!(json.charts.len(), 3);
}

#[test]
fn json_index_big_segments_and_server_info() {
    // Real segment size and a first scan (`fill`), as a start-up builds it.
    let fill = |format: Format| {
        let mut state = RepoState::new(format);
        let charts = (0..800)
            .map(|n| {
                let name = format!("svc-{n:04}");
                let versions = (0..3).rev().map(|v| version_in(format, &name, &format!("0.{v}.0"), n * 3 + v));
                (name.clone(), versions.collect())
            })
            .collect();
        state.fill(charts);
        state
    };
    let (mut yaml, mut json) = (fill(Format::Yaml), fill(Format::Json));
    let settings = |format| IndexSettings { context_path: "/helm \"x\"".into(), format, ..IndexSettings::default() };
    let (a, b) = (yaml.publish(&settings(Format::Yaml), UNIX_EPOCH), json.publish(&settings(Format::Json), UNIX_EPOCH));
    assert!(json.segments.blocks().len() > 5, "several full-size segments");
    let (from_yaml, from_json) = documents(&a, &b);
    assert_eq!(from_json, from_yaml);
    assert_eq!(from_json["serverInfo"]["contextPath"], "/helm \"x\"");
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(&b.index_gzip.to_vec()[..]).read_to_end(&mut inflated).unwrap();
    assert_eq!(inflated, b.index.to_vec(), "the gzip body inflates to the identity body");
    // The API's JSON of a version is the index's own text.
    let chart = &json.charts["svc-0007"];
    assert_eq!(chart.version(0).json(), chart.version(0).text());
    assert_eq!(chart.version(0).entry(), yaml.charts["svc-0007"].version(0).entry());
}

#[test]
fn files_are_found_by_their_usual_name_and_odd_ones_by_a_map_of_their_own() {
    let mut state = state(3, 2);
    let usual = "chart-0010-1.1.0.tgz";
    assert_eq!(state.by_file(usual).map(|v| v.version()), Some("1.1.0"));
    assert!(state.by_file("chart-0010-9.9.9.tgz").is_none());
    let odd = version("odd-name", "1.0.0-rc.1", 7).stored_as("renamed.tgz");
    assert_eq!(odd.file_name(), "renamed.tgz");
    state.insert(odd);
    let indexed = state.find("odd-name", "1.0.0-rc.1").unwrap();
    assert!(indexed.is_stored_as("renamed.tgz") && !indexed.is_stored_as("odd-name-1.0.0-rc.1.tgz"));
    assert_eq!(state.odd_files.len(), 1);
    assert_eq!(state.by_file("renamed.tgz").map(|v| v.name()), Some("odd-name"));
    assert_eq!(state.stamp_of("renamed.tgz").map(|s| s.size), Some(7));
    // The usual name of that version is not its file.
    assert!(state.by_file("odd-name-1.0.0-rc.1.tgz").is_none());
    // The same version read again from its usual file replaces the odd one.
    state.insert(version("odd-name", "1.0.0-rc.1", 8));
    assert!(state.odd_files.is_empty());
    assert!(state.by_file("renamed.tgz").is_none());
    assert_eq!(state.by_file("odd-name-1.0.0-rc.1.tgz").map(|v| v.stamp().size), Some(8));
    let again = version("odd-name", "2.0.0", 9);
    assert_eq!(again.file_name(), "odd-name-2.0.0.tgz");
    assert!(again.odd_file().is_none());
    state.insert(again.clone());
    assert!(!state.find("odd-name", "2.0.0").unwrap().is_stored_as("odd-name-2.0.0.tgz.tgz"));
    state.insert(again.stored_as("other.tgz"));
    assert_eq!(state.remove_file("other.tgz").map(|v| v.get().version().to_string()), Some("2.0.0".into()));
    assert!(state.odd_files.is_empty());
    assert_eq!(state.remove_file(usual).map(|v| v.get().version().to_string()), Some("1.1.0".into()));
    assert!(state.by_file(usual).is_none());
    check(&mut state);
}

#[test]
fn a_chart_reads_each_version_back_from_its_row_through_every_change() {
    let mut state = state(2, 2);
    let before_epoch = UNIX_EPOCH - std::time::Duration::new(3, 7);
    let mut odd = version("chart-0010", "1.5.0-rc.1+b.7", 41).stored_as("by-hand.tgz");
    odd.stamp = FileStamp { size: 41, modified: before_epoch, tag: 99 };
    state.insert(odd);
    // Newest first, each version's text, digest, stamp and file where its row says.
    let expect = |state: &RepoState| {
        let chart = state.charts().get("chart-0010").unwrap();
        let versions: Vec<&str> = chart.versions().map(|v| v.version()).collect();
        assert_eq!(versions, ["1.5.0-rc.1+b.7", "1.1.0", "1.0.0"]);
        for v in chart.versions() {
            let entry = v.entry();
            assert_eq!((entry.version.as_str(), entry.digest.as_str()), (v.version(), v.digest_hex()));
            assert_eq!(v.semver(), semver::Version::parse(v.version()).unwrap());
        }
        let odd = chart.version(0);
        assert_eq!(odd.stamp(), FileStamp { size: 41, modified: before_epoch, tag: 99 });
        assert_eq!((odd.file_name().as_ref(), odd.digest_hex()), ("by-hand.tgz", hex::encode(digest(41)).as_str()));
        assert_eq!(chart.version(1).file_name(), "chart-0010-1.1.0.tgz");
    };
    expect(&state);
    check(&mut state);
    expect(&state);
    // A restamp changes one row only; a nanosecond survives it.
    let later = UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 123_456_789);
    state.restamp("chart-0010", "1.1.0", FileStamp { size: 5, modified: later, tag: 0 });
    assert_eq!(state.find("chart-0010", "1.1.0").unwrap().stamp().modified, later);
    expect(&state);
    // Removing the middle version leaves the others' rows right.
    let removed = state.remove("chart-0010", "1.1.0").unwrap();
    assert_eq!((removed.get().version(), removed.get().stamp().size), ("1.1.0", 5));
    let chart = state.charts().get("chart-0010").unwrap();
    assert_eq!(chart.versions().map(|v| v.version()).collect::<Vec<_>>(), ["1.5.0-rc.1+b.7", "1.0.0"]);
    assert_eq!(chart.version(0).file_name(), "by-hand.tgz");
    assert_eq!(chart.version(1).entry().urls, ["charts/chart-0010-1.0.0.tgz"]);
    // Put back, it is where it was.
    state.put_back(&removed);
    expect(&state);
    check(&mut state);
}
