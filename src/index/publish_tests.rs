//! The index text kept in step with the charts through every kind of change: both
//! encodings exact, the gzip a valid member no bigger than one `gzip -6` pass, and the
//! text held once.

use std::io::{Read, Write};
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;

use super::*;
use crate::chart::ChartVersionEntry;
use crate::index::render::{PREFIX, PREFIX_EMPTY};

fn digest(seed: usize) -> [u8; 32] {
    let mut digest = [0; 32];
    digest[..8].copy_from_slice(&(seed as u64).to_le_bytes());
    digest
}

fn version(name: &str, version: &str, seed: usize) -> IndexedVersion {
    let entry = ChartVersionEntry {
        name: name.into(),
        version: version.into(),
        api_version: "v2".into(),
        description: Some(format!("Chart {name} for service number {seed} with a description of realistic length")),
        keywords: vec!["web".into(), format!("team-{}", seed % 17)],
        ..Default::default()
    };
    let stamp = FileStamp { size: seed as u64, modified: UNIX_EPOCH };
    let created = UNIX_EPOCH + Duration::from_secs(1_700_000_000 + seed as u64);
    let semver = crate::chart::version::parse(version, false).unwrap();
    IndexedVersion::new(entry, semver, format!("{name}-{version}.tgz"), stamp, digest(seed), created, "charts/")
}

/// A state whose segments are small, so a few hundred versions make many segments.
fn state(names: usize, versions: usize) -> RepoState {
    let mut state = RepoState { segments: Segments::with_target(2048), ..Default::default() };
    for n in 0..names {
        for v in 0..versions {
            state.insert(version(&format!("chart-{:04}", n * 10), &format!("1.{v}.0"), n * 100 + v));
        }
    }
    state
}

/// The index as a from-scratch render would write it.
fn expected(state: &RepoState, snapshot: &RepoSnapshot) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(if state.charts.is_empty() { PREFIX_EMPTY } else { PREFIX });
    state.charts.values().for_each(|chart| chart.write_text(&mut out));
    let text = snapshot.index.to_vec();
    let suffix_at = text.windows(11).rposition(|w| w == b"generated: ").unwrap();
    out.extend_from_slice(&text[suffix_at..]);
    out
}

fn check(state: &mut RepoState) -> RepoSnapshot {
    let snapshot = state.publish(&IndexSettings::default(), UNIX_EPOCH);
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
    // The text is held once: every version's YAML is a slice of a segment's text.
    let inside = |bytes: &Bytes| {
        let at = bytes.as_ptr() as usize;
        state.segments.blocks().iter().any(|s| {
            let text = s.piece.text.as_ptr() as usize;
            at >= text && at + bytes.len() <= text + s.piece.text.len()
        })
    };
    for chart in state.charts.values() {
        assert!(inside(&chart.key), "a chart key outside the segments");
        assert!(chart.versions.iter().all(|v| inside(&v.yaml)), "a version's YAML outside the segments");
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
    let all: Vec<(String, String)> =
        state.charts.iter().flat_map(|(n, c)| c.versions.iter().map(move |v| (n.clone(), v.version.clone()))).collect();
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
    assert!(ratio <= 1.02, "stitched gzip is {ratio:.4}x one gzip -6 pass");
}
