//! The start-up cache: a restart adopts it and re-reads only packages whose size or
//! modification time changed; a cache that does not fit is ignored, never trusted.
mod common;
use common::*;

use std::time::{Duration, SystemTime};

/// `index.yaml` without its `generated:` line, which every start changes.
fn entries(server: &Server, repo: &str) -> String {
    let text = server.get(&format!("/{repo}/index.yaml")).text().unwrap();
    text.lines().filter(|l| !l.starts_with("generated:")).collect::<Vec<_>>().join("\n")
}

/// How many packages the start-up scan read, from its log line (0 when it read none).
fn packages_read(server: &Server) -> usize {
    server
        .log()
        .lines()
        .filter(|l| l.contains("read packages"))
        .filter_map(|l| l.split("packages=").nth(1)?.split_whitespace().next()?.parse::<usize>().ok())
        .sum()
}

fn server_with_charts() -> Server {
    let server = Server::start(&[]);
    for (name, version) in [("web", "1.0.0"), ("web", "1.1.0"), ("db", "2.0.0"), ("cache", "0.1.0")] {
        assert_eq!(server.upload("team", &ChartBuilder::new(name, version).build()).status(), StatusCode::CREATED);
    }
    server
}

#[test]
fn a_restart_adopts_the_cache_and_reads_no_package() {
    let mut server = server_with_charts();
    let before = entries(&server, "team");
    server.stop();
    assert!(server.root.join("team/.charthall-index.cache").is_file(), "SIGTERM writes the cache");
    server.start_again();
    assert!(server.log().contains("loaded the start-up cache"), "{}", server.log());
    assert_eq!(packages_read(&server), 0, "{}", server.log());
    assert_eq!(entries(&server, "team"), before, "same entries, created times included");
    let gzip = client().get(server.url("/team/index.yaml")).header("Accept-Encoding", "gzip").send().unwrap();
    let plain = server.get("/team/index.yaml").bytes().unwrap();
    assert_eq!(gunzip(&gzip.bytes().unwrap()), plain.to_vec(), "the cached gzip still matches the text");
}

#[test]
fn a_package_changed_behind_the_servers_back_is_read_again() {
    let mut server = server_with_charts();
    server.stop();
    // Another package under the same file name: another size, another digest.
    let replacement = ChartBuilder::new("web", "1.0.0").file("values.yaml", "replicas: 3\nmore: values\n").build();
    std::fs::write(server.root.join("team/web-1.0.0.tgz"), &replacement).unwrap();
    server.start_again();
    assert_eq!(packages_read(&server), 1, "{}", server.log());
    let index = yaml(&server.get("/team/index.yaml").text().unwrap());
    assert_eq!(index["entries"]["web"][1]["version"].as_str(), Some("1.0.0"));
    assert_eq!(index["entries"]["web"][1]["digest"].as_str().unwrap(), sha256_hex(&replacement));
}

#[test]
fn the_same_size_with_a_new_mtime_is_read_again() {
    let mut server = server_with_charts();
    server.stop();
    let path = server.root.join("team/db-2.0.0.tgz");
    let later = SystemTime::now() + Duration::from_secs(60);
    std::fs::File::options().write(true).open(&path).unwrap().set_modified(later).unwrap();
    server.start_again();
    assert_eq!(packages_read(&server), 1, "{}", server.log());
    let index = yaml(&server.get("/team/index.yaml").text().unwrap());
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(index["entries"]["db"][0]["digest"].as_str().unwrap(), sha256_hex(&bytes));
}

#[test]
fn files_removed_or_added_behind_its_back_are_noticed() {
    let mut server = server_with_charts();
    server.stop();
    std::fs::remove_file(server.root.join("team/cache-0.1.0.tgz")).unwrap();
    std::fs::write(server.root.join("team/new-3.0.0.tgz"), ChartBuilder::new("new", "3.0.0").build()).unwrap();
    server.start_again();
    let index = yaml(&server.get("/team/index.yaml").text().unwrap());
    assert!(index_versions(&index, "cache").is_empty());
    assert_eq!(index_versions(&index, "new"), ["3.0.0"]);
    assert_eq!(index_versions(&index, "web"), ["1.1.0", "1.0.0"]);
    assert_eq!(packages_read(&server), 1);
}

#[test]
fn a_corrupt_cache_is_ignored() {
    let mut server = server_with_charts();
    let before = yaml(&server.get("/team/index.yaml").text().unwrap());
    server.stop();
    let cache = server.root.join("team/.charthall-index.cache");
    let mut bytes = std::fs::read(&cache).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&cache, bytes).unwrap();
    server.start_again();
    assert!(server.log().contains("ignoring the start-up cache"), "{}", server.log());
    assert_eq!(packages_read(&server), 4);
    let after = yaml(&server.get("/team/index.yaml").text().unwrap());
    for name in ["web", "db", "cache"] {
        assert_eq!(index_versions(&after, name), index_versions(&before, name));
    }
}

#[test]
fn a_cache_written_with_other_urls_is_ignored() {
    let mut server = server_with_charts();
    server.stop();
    server.restart_with(&[("CHART_URL", "https://charts.example.com")]);
    assert!(server.log().contains("ignoring the start-up cache"), "{}", server.log());
    let index = yaml(&server.get("/team/index.yaml").text().unwrap());
    assert_eq!(
        index["entries"]["db"][0]["urls"][0].as_str(),
        Some("https://charts.example.com/team/charts/db-2.0.0.tgz")
    );
}

#[test]
fn the_cache_is_never_served_or_listed() {
    let mut server = server_with_charts();
    server.stop();
    server.start_again();
    assert_eq!(server.get("/team/charts/.charthall-index.cache").status(), StatusCode::NOT_FOUND);
    assert!(!server.get("/team/index.yaml").text().unwrap().contains("charthall-index"));
}

/// The cache file with its payload changed by `change` and its CRC-32 made right again, so
/// only what the payload says can refuse it.
fn rewrite_cache(path: &std::path::Path, change: impl FnOnce(&mut Vec<u8>)) {
    let bytes = std::fs::read(path).unwrap();
    let mut payload = bytes[..bytes.len() - 4].to_vec();
    assert_eq!(crc32fast::hash(&payload).to_le_bytes(), bytes[bytes.len() - 4..], "the file ends in its CRC-32");
    change(&mut payload);
    let crc = crc32fast::hash(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    std::fs::write(path, payload).unwrap();
}

#[test]
fn a_cache_from_another_version_of_charthall_is_rebuilt_and_then_adopted() {
    let mut server = server_with_charts();
    let before = entries(&server, "team");
    server.stop();
    let cache = server.root.join("team/.charthall-index.cache");
    // The format number leads the payload (one varint byte): an older server's.
    rewrite_cache(&cache, |payload| {
        assert!(payload[0] > 1, "a format number");
        payload[0] -= 1;
    });
    server.start_again();
    assert!(server.log().contains("written by another version"), "{}", server.log());
    assert_eq!(packages_read(&server), 4);
    // Read again from the packages: the same entries, but `created` from the files' times.
    let without_created = |text: &str| text.lines().filter(|l| !l.contains("created:")).collect::<Vec<_>>().join("\n");
    let rebuilt = entries(&server, "team");
    assert_eq!(without_created(&rebuilt), without_created(&before));
    // The rebuilt index wrote a cache of this version, which the next start adopts.
    server.stop();
    server.start_again();
    assert!(server.log().contains("loaded the start-up cache"), "{}", server.log());
    assert_eq!(packages_read(&server), 0, "{}", server.log());
    assert_eq!(entries(&server, "team"), rebuilt);
}

#[test]
fn a_cache_changed_in_place_is_ignored() {
    let mut server = server_with_charts();
    server.stop();
    let cache = server.root.join("team/.charthall-index.cache");
    let mut bytes = std::fs::read(&cache).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&cache, bytes).unwrap();
    server.start_again();
    assert!(server.log().contains("CRC-32 does not match"), "{}", server.log());
    assert_eq!(packages_read(&server), 4);
}

#[test]
fn a_package_under_a_file_name_of_its_own_keeps_it_across_restarts() {
    let mut server = server_with_charts();
    server.stop();
    std::fs::write(server.root.join("team/renamed.tgz"), ChartBuilder::new("odd", "1.0.0").build()).unwrap();
    server.start_again();
    assert_eq!(packages_read(&server), 1);
    server.stop();
    server.start_again();
    assert_eq!(packages_read(&server), 0, "{}", server.log());
    let index = yaml(&server.get("/team/index.yaml").text().unwrap());
    assert_eq!(index["entries"]["odd"][0]["urls"][0].as_str(), Some("charts/renamed.tgz"));
    assert_eq!(index["entries"]["web"][0]["urls"][0].as_str(), Some("charts/web-1.1.0.tgz"));
    assert_eq!(server.get("/team/charts/renamed.tgz").status(), StatusCode::OK);
}

#[test]
fn a_restart_serves_the_cache_first_and_then_brings_in_what_changed() {
    let mut server = server_with_charts();
    server.stop();
    let replacement = ChartBuilder::new("db", "2.0.0").file("values.yaml", "size: large\n").build();
    std::fs::write(server.root.join("team/db-2.0.0.tgz"), &replacement).unwrap();
    std::fs::remove_file(server.root.join("team/cache-0.1.0.tgz")).unwrap();
    server.start_again();
    let log = server.log();
    let serving = log.find("INFO charthall::server: serving address=").expect("a serving line");
    let checked = log.find(CHECKED_AGAINST_CACHES).expect("the check's line");
    assert!(log.find(SERVING_FROM_CACHES).unwrap() < serving, "{log}");
    assert!(serving < checked, "the port opens before storage is checked: {log}");
    let index = yaml(&server.get("/team/index.yaml").text().unwrap());
    assert_eq!(index["entries"]["db"][0]["digest"].as_str().unwrap(), sha256_hex(&replacement));
    assert!(index_versions(&index, "cache").is_empty());
    assert_eq!(packages_read(&server), 1, "{log}");
}

#[test]
fn a_repository_without_a_usable_cache_is_scanned_before_serving() {
    let mut server = server_with_charts();
    server.stop();
    std::fs::remove_file(server.root.join("team/.charthall-index.cache")).unwrap();
    server.start_again();
    server.wait_for_log("serving address=");
    let log = server.log();
    assert!(!log.contains(SERVING_FROM_CACHES), "{log}");
    assert!(
        log.find("storage indexed").unwrap() < log.find("INFO charthall::server: serving address=").unwrap(),
        "{log}"
    );
    assert_eq!(index_versions(&index_of(&server, "/team/index.yaml"), "web"), ["1.1.0", "1.0.0"]);
}
