//! Durability and storage: what survives restarts and crashes, how an existing folder is
//! served, what start-up does with files that are not charts, `CACHE_INTERVAL` rescans,
//! configuration errors, and index reads racing uploads.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

/// The index of `repo` (`""` at depth 0), parsed.
fn repo_index(server: &Server, repo: &str) -> serde_yaml::Value {
    index_of(server, &if repo.is_empty() { "/index.yaml".to_string() } else { format!("/{repo}/index.yaml") })
}

/// The version entry `name`/`version` of an index, if listed.
fn entry<'a>(index: &'a serde_yaml::Value, name: &str, version: &str) -> Option<&'a serde_yaml::Value> {
    index["entries"][name].as_sequence()?.iter().find(|v| v["version"].as_str() == Some(version))
}

/// name → version → digest, for every version of an index.
fn digests(index: &serde_yaml::Value) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if let Some(entries) = index["entries"].as_mapping() {
        for (name, versions) in entries {
            let versions = versions
                .as_sequence()
                .unwrap()
                .iter()
                .map(|v| (v["version"].as_str().unwrap().to_string(), v["digest"].as_str().unwrap().to_string()))
                .collect();
            out.insert(name.as_str().unwrap().to_string(), versions);
        }
    }
    out
}

/// Every version entry of an index without its `created` (which may be re-derived).
fn entries_without_created(index: &serde_yaml::Value) -> serde_yaml::Value {
    let mut entries = index["entries"].clone();
    if let Some(map) = entries.as_mapping_mut() {
        for (_, versions) in map.iter_mut() {
            for version in versions.as_sequence_mut().unwrap() {
                let created = version.as_mapping_mut().unwrap().remove("created").expect("every version has `created`");
                assert!(!created.as_str().unwrap_or("").is_empty(), "created is a non-empty string: {created:?}");
            }
        }
    }
    entries
}

/// Polls `check` until it holds or `limit` passes; returns whether it held.
fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Files under `root` whose path has a component starting with `.`.
/// Dot-files (other than the start-up cache, which `files_under` leaves out): leftovers of
/// interrupted writes.
fn dot_files(root: &Path) -> Vec<String> {
    files_under(root)
        .into_iter()
        .filter(|f| Path::new(f).components().any(|c| c.as_os_str().to_string_lossy().starts_with('.')))
        .collect()
}

/// A fresh folder for a server to start in (kept alive by the returned TempDir).
fn prepared_root() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    std::fs::create_dir_all(&root).unwrap();
    (dir, root)
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Lines of the server log at WARN level (or above) that mention `needle`.
fn warned_about(log: &str, needle: &str) -> bool {
    log.lines().any(|l| (l.contains("WARN") || l.contains("ERROR")) && l.contains(needle))
}

fn assert_package_served(server: &Server, repo: &str, url: &str, bytes: &[u8]) {
    let path = if repo.is_empty() { format!("/{url}") } else { format!("/{repo}/{url}") };
    let response = server.get(&path);
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    assert_eq!(response.bytes().unwrap().as_ref(), bytes, "bytes of {path}");
}

// ---------------------------------------------------------------------------------------
// restarts and crashes
// ---------------------------------------------------------------------------------------

#[test]
fn restart_keeps_the_index() {
    let mut server = Server::start(&[]);
    let uploads: &[(&str, &str, &str)] = &[
        ("team", "web", "1.0.0"),
        ("team", "web", "1.1.0"),
        ("team", "web", "2.0.0-rc.1"),
        ("team", "db", "0.1.0"),
        ("ops", "web", "1.0.0"),
        ("ops", "monitor", "3.2.1"),
        ("ops", "monitor", "v3.3"),
        ("infra", "dns", "10.0.0"),
    ];
    for (repo, name, version) in uploads {
        let response = server.upload(repo, &ChartBuilder::new(name, version).build());
        assert_eq!(response.status(), StatusCode::CREATED, "{repo}/{name}-{version}");
    }
    // An overwrite (`?force`) and a delete must survive the restart too.
    let forced = ChartBuilder::new("db", "0.1.0").file("values.yaml", "forced: true\n").build();
    let response = client().post(server.url("/api/team/charts?force")).body(forced.clone()).send().unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "forced overwrite");
    let response = client().delete(server.url("/api/ops/charts/web/1.0.0")).send().unwrap();
    assert_eq!(response.status(), StatusCode::OK, "delete");
    let uploads: Vec<_> = uploads.iter().filter(|u| *u != &("ops", "web", "1.0.0")).collect();

    let repos = ["team", "ops", "infra"];
    let before: Vec<_> = repos.iter().map(|r| repo_index(&server, r)).collect();
    for (repo, index) in repos.iter().zip(&before) {
        let expected = uploads.iter().filter(|u| u.0 == *repo).count();
        let listed: usize = digests(index).values().map(|v| v.len()).sum();
        assert_eq!(listed, expected, "versions of {repo} before restart");
    }

    server.restart();

    let team = repo_index(&server, "team");
    assert_eq!(
        entry(&team, "db", "0.1.0").unwrap()["digest"].as_str().unwrap(),
        sha256_hex(&forced),
        "the overwritten bytes are what is served after restart"
    );
    assert!(repo_index(&server, "ops")["entries"]["web"].is_null(), "deleted stays deleted");
    for (repo, before) in repos.iter().zip(&before) {
        let after = repo_index(&server, repo);
        assert_eq!(digests(&after), digests(before), "{repo}: same versions and digests after restart");
        assert_eq!(
            entries_without_created(&after),
            entries_without_created(before),
            "{repo}: same version entries after restart"
        );
        for name in after["entries"].as_mapping().unwrap().keys() {
            let name = name.as_str().unwrap();
            assert_eq!(
                index_versions(&after, name),
                index_versions(before, name),
                "{repo}/{name}: same order after restart"
            );
        }
    }
    let root = yaml(&server.get("/").text().unwrap());
    let listed: Vec<&str> = root["repos"].as_sequence().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(listed, ["infra", "ops", "team"]);
}

#[test]
fn kill9_after_sequential_burst_loses_nothing() {
    let mut server = Server::start(&[]);
    let mut saved = Vec::new();
    for i in 0..50 {
        let version = format!("1.0.{i}");
        let package = ChartBuilder::new("app", &version).file("values.yaml", format!("n: {i}\n")).build();
        let response = server.upload("burst", &package);
        assert_eq!(response.status(), StatusCode::CREATED, "upload {version}");
        saved.push((version, package));
    }
    server.kill9();
    server.restart();

    let index = repo_index(&server, "burst");
    assert_eq!(index_versions(&index, "app").len(), 50);
    for (version, package) in &saved {
        let listed = entry(&index, "app", version).unwrap_or_else(|| panic!("app {version} lost after kill -9"));
        assert_eq!(listed["digest"].as_str().unwrap(), sha256_hex(package));
        let on_disk = std::fs::read(server.root.join(format!("burst/app-{version}.tgz")))
            .unwrap_or_else(|e| panic!("app-{version}.tgz on disk: {e}"));
        assert_eq!(&on_disk, package, "bytes of app-{version}.tgz");
        assert_package_served(&server, "burst", &format!("charts/app-{version}.tgz"), package);
    }
    assert_eq!(dot_files(&server.root), Vec::<String>::new());
}

#[test]
fn kill9_after_concurrent_burst_loses_nothing() {
    let mut server = Server::start(&[]);
    let url = server.url("");
    // Threads 0-2 race on one repository and one chart; threads 3-5 each have their own.
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let url = url.clone();
            std::thread::spawn(move || {
                let client = client();
                let repo = if t < 3 { "shared".to_string() } else { format!("own{t}") };
                let mut saved = Vec::new();
                for i in 0..12 {
                    let version = format!("{t}.{i}.0");
                    let package = ChartBuilder::new("svc", &version).build();
                    let response =
                        client.post(format!("{url}/api/{repo}/charts")).body(package.clone()).send().unwrap();
                    assert_eq!(
                        response.status(),
                        StatusCode::CREATED,
                        "{repo} svc {version}: {}",
                        response.text().unwrap_or_default()
                    );
                    saved.push((repo.clone(), version, package));
                }
                saved
            })
        })
        .collect();
    let saved: Vec<_> = threads.into_iter().flat_map(|t| t.join().expect("upload thread")).collect();
    server.kill9();
    server.restart();

    let mut per_repo: BTreeMap<&str, usize> = BTreeMap::new();
    for (repo, _, _) in &saved {
        *per_repo.entry(repo).or_default() += 1;
    }
    for (repo, count) in &per_repo {
        let index = repo_index(&server, repo);
        assert_eq!(index_versions(&index, "svc").len(), *count, "versions in {repo}");
    }
    for (repo, version, package) in &saved {
        let index = repo_index(&server, repo);
        let listed = entry(&index, "svc", version).unwrap_or_else(|| panic!("{repo} svc {version} lost after kill -9"));
        assert_eq!(listed["digest"].as_str().unwrap(), sha256_hex(package));
        let on_disk = std::fs::read(server.root.join(format!("{repo}/svc-{version}.tgz"))).unwrap();
        assert_eq!(&on_disk, package);
    }
    assert_eq!(dot_files(&server.root), Vec::<String>::new());
}

#[test]
fn crash_leftover_upload_file_is_removed_and_never_served() {
    for (depth, repo) in [("1", "team"), ("0", ""), ("2", "acme/team")] {
        let (dir, root) = prepared_root();
        let repo_dir = if repo.is_empty() { root.clone() } else { root.join(repo) };
        let good = ChartBuilder::new("web", "1.0.0").build();
        write(&repo_dir.join("web-1.0.0.tgz"), &good);
        // What a crash mid-upload leaves: a complete-looking package under a temporary name.
        let leftover = repo_dir.join(".upload-123-0-x-1.0.0.tgz");
        write(&leftover, &ChartBuilder::new("x", "1.0.0").build());
        let server = Server::start_in(root.clone(), &[("DEPTH", depth)], Some(dir));

        assert!(!leftover.exists(), "DEPTH={depth}: the leftover is removed at start-up");
        let index = repo_index(&server, repo);
        assert_eq!(index_versions(&index, "web"), ["1.0.0"], "DEPTH={depth}");
        assert!(index["entries"]["x"].is_null(), "DEPTH={depth}: x is not indexed: {index:?}");
        let prefix = if repo.is_empty() { String::new() } else { format!("/{repo}") };
        let response = server.get(&format!("{prefix}/charts/.upload-123-0-x-1.0.0.tgz"));
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "DEPTH={depth}");
        assert_eq!(server.get(&api_path(repo, "charts/x/1.0.0")).status(), StatusCode::NOT_FOUND, "DEPTH={depth}");
        assert_eq!(dot_files(&root), Vec::<String>::new(), "DEPTH={depth}");
    }
}

// ---------------------------------------------------------------------------------------
// existing folders
// ---------------------------------------------------------------------------------------

#[test]
fn chartmuseum_folder_depth0_is_served_as_is() {
    let (dir, root) = prepared_root();
    let alpha = ChartBuilder::new("alpha", "1.2.3").build();
    let beta = ChartBuilder::new("beta", "0.1.0").build();
    let beta2 = ChartBuilder::new("beta", "0.2.0").build();
    write(&root.join("weird-name.tgz"), &alpha);
    write(&root.join("beta-0.1.0.tgz"), &beta);
    write(&root.join("beta-0.2.0.tgz"), &beta2);
    // What ChartMuseum keeps next to the packages.
    write(&root.join("index-cache.yaml"), b"apiVersion: v1\nentries: {}\n");
    let server = Server::start_in(root, &[("DEPTH", "0")], Some(dir));

    let index = repo_index(&server, "");
    assert_eq!(index_versions(&index, "alpha"), ["1.2.3"]);
    assert_eq!(index_versions(&index, "beta"), ["0.2.0", "0.1.0"]);
    let alpha_entry = entry(&index, "alpha", "1.2.3").unwrap();
    assert_eq!(alpha_entry["digest"].as_str().unwrap(), sha256_hex(&alpha));
    assert_eq!(alpha_entry["urls"], yaml("- charts/weird-name.tgz"), "url names the file as stored");
    assert_package_served(&server, "", "charts/weird-name.tgz", &alpha);
    assert_package_served(&server, "", "charts/beta-0.1.0.tgz", &beta);
    let api = json(server.get("/api/charts/alpha/1.2.3"));
    assert_eq!(api["digest"], sha256_hex(&alpha).as_str());
}

#[test]
fn existing_folder_depth1_is_served_as_is() {
    let (dir, root) = prepared_root();
    let web = ChartBuilder::new("web", "1.0.0").build();
    let web2 = ChartBuilder::new("web", "1.10.0").build();
    let db = ChartBuilder::new("db", "2.0.0").build();
    let odd = ChartBuilder::new("cache", "0.0.1").build();
    write(&root.join("team/web-1.0.0.tgz"), &web);
    write(&root.join("team/web-1.10.0.tgz"), &web2);
    write(&root.join("ops/db-2.0.0.tgz"), &db);
    write(&root.join("ops/renamed-by-hand.tgz"), &odd);
    let server = Server::start_in(root, &[], Some(dir));

    let team = repo_index(&server, "team");
    assert_eq!(index_versions(&team, "web"), ["1.10.0", "1.0.0"]);
    assert_eq!(entry(&team, "web", "1.0.0").unwrap()["digest"].as_str().unwrap(), sha256_hex(&web));
    let ops = repo_index(&server, "ops");
    assert_eq!(index_versions(&ops, "db"), ["2.0.0"]);
    assert_eq!(index_versions(&ops, "cache"), ["0.0.1"]);
    assert_eq!(entry(&ops, "cache", "0.0.1").unwrap()["urls"], yaml("- charts/renamed-by-hand.tgz"));
    assert_package_served(&server, "team", "charts/web-1.10.0.tgz", &web2);
    assert_package_served(&server, "ops", "charts/renamed-by-hand.tgz", &odd);
    let list = yaml(&server.get("/").text().unwrap());
    assert_eq!(list["repos"], yaml("- ops\n- team"));
}

#[test]
fn existing_folder_depth2_is_served_as_is() {
    let (dir, root) = prepared_root();
    let web = ChartBuilder::new("web", "1.0.0").build();
    let db = ChartBuilder::new("db", "0.3.0").build();
    write(&root.join("acme/team/web-1.0.0.tgz"), &web);
    write(&root.join("acme/ops/db-0.3.0.tgz"), &db);
    write(&root.join("other/prod/web-1.0.0.tgz"), &web);
    let server = Server::start_in(root, &[("DEPTH", "2")], Some(dir));

    let team = repo_index(&server, "acme/team");
    assert_eq!(index_versions(&team, "web"), ["1.0.0"]);
    assert_eq!(entry(&team, "web", "1.0.0").unwrap()["digest"].as_str().unwrap(), sha256_hex(&web));
    assert_eq!(index_versions(&repo_index(&server, "acme/ops"), "db"), ["0.3.0"]);
    assert_eq!(index_versions(&repo_index(&server, "other/prod"), "web"), ["1.0.0"]);
    assert!(repo_index(&server, "acme/team")["entries"]["db"].is_null());
    assert_package_served(&server, "acme/ops", "charts/db-0.3.0.tgz", &db);
    let api = json(server.get("/api/acme/team/charts"));
    assert_eq!(api["web"][0]["version"], "1.0.0");
}

#[test]
fn one_version_in_two_files_is_indexed_once_from_the_canonical_file() {
    let (dir, root) = prepared_root();
    let canonical = ChartBuilder::new("alpha", "1.2.3").build();
    let copy = ChartBuilder::new("alpha", "1.2.3").file("values.yaml", "copied: by-hand\n").build();
    write(&root.join("team/alpha-1.2.3.tgz"), &canonical);
    write(&root.join("team/zz-copy.tgz"), &copy);
    write(&root.join("team/aa-copy.tgz"), &copy);
    let server = Server::start_in(root, &[("CACHE_INTERVAL", "1s")], Some(dir));
    let check = |when: &str| {
        let index = repo_index(&server, "team");
        assert_eq!(index_versions(&index, "alpha"), ["1.2.3"], "{when}");
        let listed = entry(&index, "alpha", "1.2.3").unwrap();
        assert_eq!(listed["urls"], yaml("- charts/alpha-1.2.3.tgz"), "{when}");
        assert_eq!(listed["digest"].as_str().unwrap(), sha256_hex(&canonical), "{when}");
    };
    check("at start-up");
    // Rescans keep the same answer (no flapping between the files).
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        check("after a rescan");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn invalid_files_are_skipped_with_a_warning() {
    let (dir, root) = prepared_root();
    let good = ChartBuilder::new("good", "1.0.0").build();
    let other = ChartBuilder::new("other", "2.0.0").build();
    write(&root.join("team/good-1.0.0.tgz"), &good);
    write(&root.join("team/empty.tgz"), b"");
    let random: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    write(&root.join("team/random.tgz"), &random);
    write(&root.join("team/nochart.tgz"), &ChartBuilder::new("nochart", "1.0.0").without("Chart.yaml").build());
    write(&root.join("team/README.md"), b"# not a chart\n");
    write(&root.join("team/.hidden.tgz"), &ChartBuilder::new("hidden", "1.0.0").build());
    write(&root.join("team/.cache/inner-1.0.0.tgz"), &ChartBuilder::new("inner", "1.0.0").build());
    write(&root.join(".cache/dot-1.0.0.tgz"), &ChartBuilder::new("dot", "1.0.0").build());
    write(&root.join(".cache/sub/dot-1.0.0.tgz"), &ChartBuilder::new("dot", "1.0.0").build());
    write(&root.join("ops/other-2.0.0.tgz"), &other);
    let server = Server::start_in(root, &[], Some(dir));

    let team = repo_index(&server, "team");
    let names: Vec<&str> = team["entries"].as_mapping().unwrap().keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(names, ["good"], "only the valid chart is indexed");
    assert_eq!(entry(&team, "good", "1.0.0").unwrap()["digest"].as_str().unwrap(), sha256_hex(&good));
    assert_package_served(&server, "team", "charts/good-1.0.0.tgz", &good);
    assert_eq!(index_versions(&repo_index(&server, "ops"), "other"), ["2.0.0"]);

    let log = server.log();
    for file in ["empty.tgz", "random.tgz", "nochart.tgz"] {
        assert!(warned_about(&log, file), "a warning names {file}; log:\n{log}");
    }
    // Dot-files and dot-directories are not charts and not repositories.
    assert_eq!(server.get("/team/charts/.hidden.tgz").status(), StatusCode::NOT_FOUND);
    let list = yaml(&server.get("/").text().unwrap());
    assert_eq!(list["repos"], yaml("- ops\n- team"), "no .cache repository");
    let dot = server.get("/.cache/index.yaml");
    if dot.status() == StatusCode::OK {
        let dot = yaml(&dot.text().unwrap());
        assert!(dot["entries"].as_mapping().map_or(true, |m| m.is_empty()), ".cache is not a repository: {dot:?}");
    } else {
        assert_eq!(dot.status(), StatusCode::NOT_FOUND);
    }
    assert_eq!(server.get("/health").status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// CACHE_INTERVAL
// ---------------------------------------------------------------------------------------

#[test]
fn cache_interval_picks_up_changes_behind_the_servers_back() {
    let server = Server::start(&[("CACHE_INTERVAL", "1s")]);
    let web = ChartBuilder::new("web", "1.0.0").build();
    assert_eq!(server.upload("team", &web).status(), StatusCode::CREATED);
    let limit = Duration::from_secs(10);

    // Added by hand, in a known repository and in a new one.
    let added = ChartBuilder::new("added", "0.5.0").build();
    write(&server.root.join("team/added-0.5.0.tgz"), &added);
    let fresh = ChartBuilder::new("fresh", "1.0.0").build();
    write(&server.root.join("newrepo/fresh-1.0.0.tgz"), &fresh);
    assert!(
        wait_until(limit, || entry(&repo_index(&server, "team"), "added", "0.5.0").is_some()),
        "a package copied into storage appears"
    );
    assert_eq!(
        entry(&repo_index(&server, "team"), "added", "0.5.0").unwrap()["digest"].as_str().unwrap(),
        sha256_hex(&added)
    );
    assert!(
        wait_until(limit, || { entry(&repo_index(&server, "newrepo"), "fresh", "1.0.0").is_some() }),
        "a repository created in storage appears"
    );

    // Replaced in place with other bytes for that file.
    let rebuilt = ChartBuilder::new("web", "1.0.0")
        .file("values.yaml", "replicas: 3\nimage: nginx\nextra: rebuilt-by-hand\n")
        .build();
    assert_ne!(sha256_hex(&rebuilt), sha256_hex(&web));
    write(&server.root.join("team/web-1.0.0.tgz"), &rebuilt);
    assert!(
        wait_until(limit, || {
            entry(&repo_index(&server, "team"), "web", "1.0.0").and_then(|e| e["digest"].as_str().map(String::from))
                == Some(sha256_hex(&rebuilt))
        }),
        "a file replaced in place is re-read"
    );

    // Replaced in place with another version's bytes: the file now holds web 1.1.0.
    let other_version = ChartBuilder::new("web", "1.1.0").build();
    write(&server.root.join("team/web-1.0.0.tgz"), &other_version);
    assert!(
        wait_until(limit, || {
            let index = repo_index(&server, "team");
            index_versions(&index, "web") == ["1.1.0"]
        }),
        "a file whose bytes became another version is re-read: {:?}",
        repo_index(&server, "team")["entries"]["web"]
    );

    // Removed by hand.
    std::fs::remove_file(server.root.join("team/added-0.5.0.tgz")).unwrap();
    assert!(
        wait_until(limit, || entry(&repo_index(&server, "team"), "added", "0.5.0").is_none()),
        "a package removed from storage disappears"
    );
    assert_eq!(server.get("/api/team/charts/added").status(), StatusCode::NOT_FOUND);
}

#[test]
fn without_cache_interval_changes_behind_the_servers_back_are_not_seen() {
    let server = Server::start(&[]);
    assert_eq!(server.upload("team", &ChartBuilder::new("web", "1.0.0").build()).status(), StatusCode::CREATED);
    write(&server.root.join("team/added-0.5.0.tgz"), &ChartBuilder::new("added", "0.5.0").build());
    std::thread::sleep(Duration::from_secs(2));
    let index = repo_index(&server, "team");
    assert!(index["entries"]["added"].is_null(), "no rescan without CACHE_INTERVAL");
    assert_eq!(index_versions(&index, "web"), ["1.0.0"]);
}

// ---------------------------------------------------------------------------------------
// configuration
// ---------------------------------------------------------------------------------------

/// Runs the binary with only these settings (plus a temp storage folder); returns its
/// exit code and stderr. Fails the test if it is still running after 10 s.
fn run_binary(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = charthall(&dir.path().join("data"), env.iter().copied());
    command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!("charthall {args:?} {env:?} kept running; stderr:\n{}", String::from_utf8_lossy(&output.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    (output.status.code(), text)
}

#[test]
fn bad_configuration_stops_start_up_naming_the_variable() {
    let cases =
        [("PORT", "abc"), ("PORT", "70000"), ("CACHE_INTERVAL", "soon"), ("DEPTH", "x"), ("ALLOW_OVERWRITE", "maybe")];
    for (variable, value) in cases {
        let (code, stderr) = run_binary(&[], &[(variable, value)]);
        assert!(code.is_some_and(|c| c != 0), "{variable}={value}: exits non-zero, got {code:?}; output:\n{stderr}");
        assert!(stderr.contains(variable), "{variable}={value}: the message names {variable}:\n{stderr}");
        assert!(stderr.contains(value), "{variable}={value}: the message shows the value:\n{stderr}");
        assert!(!stderr.contains("serving"), "{variable}={value} never serves");
    }
}

#[test]
fn help_lists_flags_with_env_names_and_defaults() {
    let (code, help) = run_binary(&["--help"], &[]);
    assert_eq!(code, Some(0), "--help exits 0:\n{help}");
    for (flag, variable, default) in [
        ("--port", "PORT", Some("8080")),
        ("--storage-local-rootdir", "STORAGE_LOCAL_ROOTDIR", Some("./charts-data")),
        ("--depth", "DEPTH", Some("1")),
        ("--context-path", "CONTEXT_PATH", None),
        ("--chart-url", "CHART_URL", None),
        ("--basic-auth-user", "BASIC_AUTH_USER", None),
        ("--basic-auth-pass", "BASIC_AUTH_PASS", None),
        ("--allow-overwrite", "ALLOW_OVERWRITE", Some("false")),
        ("--cache-interval", "CACHE_INTERVAL", Some("0")),
        ("--max-upload-size", "MAX_UPLOAD_SIZE", Some("20971520")),
        ("--chart-post-form-field-name", "CHART_POST_FORM_FIELD_NAME", Some("chart")),
    ] {
        // The flag's lines: from its definition up to the next option.
        let lines: Vec<&str> = help.lines().collect();
        let Some(at) = lines.iter().position(|l| l.trim_start().split([' ', ',', '=']).any(|w| w == flag)) else {
            panic!("--help lists {flag}:\n{help}");
        };
        let end =
            lines[at + 1..].iter().position(|l| l.trim_start().starts_with('-')).map_or(lines.len(), |i| at + 1 + i);
        let paragraph = lines[at..end].join("\n");
        assert!(paragraph.contains(&format!("env: {variable}")), "{flag} names {variable}:\n{paragraph}");
        if let Some(default) = default {
            assert!(
                paragraph.contains(&format!("default: {default}")),
                "{flag} shows its default {default}:\n{paragraph}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// reads racing writes
// ---------------------------------------------------------------------------------------

#[test]
fn index_reads_during_uploads_always_parse_and_never_go_back() {
    let server = Server::start(&[]);
    let url = server.url("/race/index.yaml");
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|t| {
            let (url, done) = (url.clone(), done.clone());
            std::thread::spawn(move || {
                let client = client();
                let mut seen = 0usize;
                let mut reads = 0usize;
                let mut last_round = false;
                loop {
                    // Stop after one full read that started once the uploads were over.
                    if last_round {
                        break;
                    }
                    last_round = done.load(std::sync::atomic::Ordering::SeqCst);
                    for gzip in [false, true] {
                        let mut request = client.get(&url);
                        if gzip {
                            request = request.header("Accept-Encoding", "gzip");
                        }
                        let response = request.send().unwrap();
                        assert_eq!(response.status(), StatusCode::OK);
                        let encoding =
                            response.headers().get("content-encoding").map(|v| v.to_str().unwrap().to_string());
                        let body = response.bytes().unwrap().to_vec();
                        let text = if gzip {
                            assert_eq!(encoding.as_deref(), Some("gzip"), "reader {t}");
                            String::from_utf8(gunzip(&body)).unwrap()
                        } else {
                            assert_eq!(encoding, None, "reader {t}: no gzip unasked");
                            String::from_utf8(body).unwrap()
                        };
                        let index = yaml(&text);
                        let count = index_versions(&index, "app").len();
                        assert!(count >= seen, "reader {t} (gzip {gzip}): saw {count} versions after {seen}");
                        seen = count;
                        reads += 1;
                    }
                }
                (seen, reads)
            })
        })
        .collect();
    for i in 0..30 {
        let response = server.upload("race", &ChartBuilder::new("app", &format!("0.{i}.0")).build());
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    for reader in readers {
        let (seen, reads) = reader.join().expect("reader thread");
        assert_eq!(seen, 30, "the last read sees every upload");
        assert!(reads >= 2);
    }
}
