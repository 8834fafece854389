//! ChartMuseum's large-repository settings: `JSON_INDEX` serves the index as JSON through
//! the same segments, gzip and validators as the YAML one; `GEN_INDEX` prints the index of
//! the storage folder and exits without serving.

mod common;
use common::*;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Charts with text that needs escaping, uploaded to `repo`.
fn upload_charts(server: &Server, repo: &str) -> Vec<(String, Vec<u8>)> {
    let mut uploaded = Vec::new();
    for (name, version) in [("web", "1.0.0"), ("web", "1.2.0"), ("api", "0.1.0"), ("zeta", "2.0.0-rc.1")] {
        let package = ChartBuilder::new(name, version)
            .file(
                "Chart.yaml",
                format!(
                    "apiVersion: v2\nname: {name}\nversion: {version}\ndescription: \"quotes \\\" and \\\\ é\\nnew line\"\n\
                     annotations:\n  \"a: b\": \"yes\"\nkeywords: [\"true\", \"1.0\"]\n"
                ),
            )
            .build();
        put(server, repo, &package);
        uploaded.push((format!("{name}-{version}.tgz"), package));
    }
    uploaded
}

/// The index's content as a JSON value, without `generated` (the time of the build) and
/// the versions' `created` (an upload's time, a rescan's file time).
fn content(mut index: serde_json::Value) -> serde_json::Value {
    index.as_object_mut().expect("the index is a mapping").remove("generated").expect("generated is set");
    for versions in index["entries"].as_object_mut().unwrap().values_mut() {
        for version in versions.as_array_mut().unwrap() {
            version.as_object_mut().unwrap().remove("created").expect("created is set");
        }
    }
    index
}

#[test]
fn json_index_is_served_as_json_and_reads_as_the_yaml_index() {
    let mut server = Server::start(&[("JSON_INDEX", "true")]);
    upload_charts(&server, "team");

    let response = server.get("/team/index.yaml");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-type"), "application/x-yaml", "ChartMuseum's content type");
    let etag = header(&response, "etag");
    let body = response.bytes().unwrap().to_vec();
    assert!(body.starts_with(b"{\"apiVersion\":\"v1\",\"entries\":{\"api\":[{"), "{}", String::from_utf8_lossy(&body));
    assert!(!body.contains(&b'\n'), "compact JSON");
    let json: serde_json::Value = serde_json::from_slice(&body).expect("the index is JSON");
    let versions: Vec<&str> =
        json["entries"]["web"].as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap()).collect();
    assert_eq!(versions, ["1.2.0", "1.0.0"], "newest first");
    // (Helm turns the line break into a space when it validates the chart.)
    assert_eq!(json["entries"]["web"][0]["description"], "quotes \" and \\ é new line");
    assert_eq!(json["serverInfo"], serde_json::json!({}));

    // The gzip body is the same JSON; validators and HEAD as for YAML.
    let gzipped = get_gzip(&server, "/team/index.yaml");
    assert_eq!(header(&gzipped, "content-encoding"), "gzip");
    assert_eq!(gunzip(&gzipped.bytes().unwrap()), body);
    let not_modified = client().get(server.url("/team/index.yaml")).header("If-None-Match", &etag).send().unwrap();
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    let head = client().head(server.url("/team/index.yaml")).send().unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, "content-length"), body.len().to_string());

    // A delete of the first chart keeps the text valid JSON.
    let deleted = client().delete(server.url("/api/team/charts/api/0.1.0")).send().unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    let after: serde_json::Value = serde_json::from_slice(&server.get("/team/index.yaml").bytes().unwrap()).unwrap();
    assert_eq!(after["entries"].as_object().unwrap().keys().collect::<Vec<_>>(), ["web", "zeta"]);
    put(&server, "team", &ChartBuilder::new("api", "0.1.0").build());

    // The same folder served as YAML after a restart says the same; the JSON server's
    // start-up cache is not served as YAML (nor the YAML one as JSON after it).
    let json_index = content(serde_json::from_slice(&server.get("/team/index.yaml").bytes().unwrap()).unwrap());
    server.stop();
    server.restart_with(&[]);
    let text = server.get("/team/index.yaml").text().unwrap();
    assert!(text.starts_with("apiVersion: v1\nentries:\n"), "{text}");
    let yaml_index: serde_json::Value = serde_yaml::from_str(&text).expect("the index is YAML");
    assert_eq!(content(yaml_index), json_index, "the JSON index says what the YAML one says");
    assert!(server.log().contains("JSON_INDEX"), "the JSON cache was set aside: {}", server.log());
    server.stop();
    server.restart_with(&[("JSON_INDEX", "true")]);
    let again = server.get("/team/index.yaml").bytes().unwrap();
    assert_eq!(content(serde_json::from_slice(&again).expect("JSON again")), json_index);
}

#[test]
fn json_index_honours_chart_url_and_context_path() {
    let env = [("JSON_INDEX", "1"), ("CHART_URL", "https://charts.example.com"), ("CONTEXT_PATH", "/helm")];
    let server = Server::start(&env);
    let package = ChartBuilder::new("web", "1.0.0").build();
    let saved = client().post(server.url("/helm/api/team/charts")).body(package).send().unwrap();
    assert_eq!(saved.status(), StatusCode::CREATED);
    let index: serde_json::Value =
        serde_json::from_slice(&server.get("/helm/team/index.yaml").bytes().unwrap()).unwrap();
    assert_eq!(index["entries"]["web"][0]["urls"][0], "https://charts.example.com/helm/team/charts/web-1.0.0.tgz");
    assert_eq!(index["serverInfo"]["contextPath"], "/helm");
}

// ---------------------------------------------------------------------------------------
// GEN_INDEX

/// Runs `charthall` with `GEN_INDEX` on `root`; it must exit by itself.
fn gen_index(root: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = charthall(root, [("GEN_INDEX", "true"), ("DEPTH", "0")].into_iter().chain(env.iter().copied()));
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("GEN_INDEX kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A repository folder with packages put there by hand, as a static site's would be.
fn folder_with_charts(root: &Path) -> Vec<(String, Vec<u8>)> {
    std::fs::create_dir_all(root).unwrap();
    let charts: Vec<(String, Vec<u8>)> = [("web", "1.0.0"), ("web", "1.1.0"), ("db", "3.2.1")]
        .into_iter()
        .map(|(name, version)| (format!("{name}-{version}.tgz"), ChartBuilder::new(name, version).build()))
        .collect();
    for (file, bytes) in &charts {
        std::fs::write(root.join(file), bytes).unwrap();
    }
    charts
}

fn digests(index: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = index["entries"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|versions| versions.as_array().unwrap())
        .map(|v| (v["urls"][0].as_str().unwrap().to_string(), v["digest"].as_str().unwrap().to_string()))
        .collect();
    out.sort();
    out
}

#[test]
fn gen_index_prints_the_folders_index_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let charts = folder_with_charts(&root);
    let mut expected: Vec<(String, String)> =
        charts.iter().map(|(file, bytes)| (format!("charts/{file}"), sha256_hex(bytes))).collect();
    expected.sort();
    let listing = |dir: &Path| {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    };
    let before = listing(&root);

    let output = gen_index(&root, &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("apiVersion: v1\nentries:\n"), "nothing but the index on stdout:\n{text}");
    let index: serde_json::Value = serde_yaml::from_str(&text).expect("the printed index is YAML");
    assert_eq!(digests(&index), expected, "every package, with its sha256");
    assert_eq!(index["entries"]["web"][0]["version"], "1.1.0");
    assert_eq!(listing(&root), before, "the folder is left as it was (no start-up cache, no spool folder)");

    // As JSON, with the served index's links and serverInfo.
    let env = [("JSON_INDEX", "true"), ("CHART_URL", "https://x.example"), ("CONTEXT_PATH", "/helm")];
    let output = gen_index(&root, &env);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let index: serde_json::Value = serde_json::from_slice(&output.stdout).expect("the printed index is JSON");
    let linked: Vec<(String, String)> = expected
        .iter()
        .map(|(url, digest)| (url.replace("charts/", "https://x.example/helm/charts/"), digest.clone()))
        .collect();
    assert_eq!(digests(&index), linked);
    assert_eq!(index["serverInfo"]["contextPath"], "/helm");

    // An empty folder: an index with no entries.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = gen_index(&empty, &[]);
    assert!(output.status.success());
    assert!(String::from_utf8(output.stdout).unwrap().starts_with("apiVersion: v1\nentries: {}\n"));
}

#[test]
fn gen_index_of_a_folder_it_cannot_read_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let output = gen_index(&missing, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "no index on stdout");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("cannot read STORAGE_LOCAL_ROOTDIR {}", missing.display())), "{stderr}");
    assert!(!missing.exists(), "GEN_INDEX creates no folder");

    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let output = gen_index(&file, &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a folder"));

    // Deeper layouts: one repository is the folder, so DEPTH must be 0.
    let mut command = charthall(dir.path(), [("GEN_INDEX", "true"), ("DEPTH", "1")].into_iter());
    let output = command.stdin(Stdio::null()).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("GEN_INDEX prints the index of one repository"));
}

#[test]
fn gen_index_as_a_chartmuseum_flag_and_config_key() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    folder_with_charts(&root);
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "genindex: true\njson-index: true\ndepth: 0\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_charthall"))
        .env_clear()
        .args(["--config", config.to_str().unwrap(), "--storage-local-rootdir", root.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let index: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON from the config file's keys");
    assert_eq!(index["entries"].as_object().unwrap().len(), 2);
    let output = Command::new(env!("CARGO_BIN_EXE_charthall"))
        .env_clear()
        .args(["--gen-index", "--depth=0", "--storage-local-rootdir", root.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert!(output.stdout.starts_with(b"apiVersion: v1\n"));
}
